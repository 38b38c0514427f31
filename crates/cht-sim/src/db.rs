//! Raw CouchDB paths under `/medic` and `/medic-logs`: single docs, `_all_docs`, `_bulk_docs`
//! and the two contact views, with CouchDB's query semantics and `{error, reason}` bodies.

use std::ops::Bound;
use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::collate::{IdBound, Key};
use crate::errors::ApiError;
use crate::server::{ReqCtx, Sim, json_response, ok_json};
use crate::settings::is_online;
use crate::store::{DbName, RevCheck, Store, ViewIndex};
use crate::util::{ancestor_ids, random_id, str_field, type_id};
use crate::version::Version;

type Result<T> = std::result::Result<T, ApiError>;

fn query_error(reason: &str) -> ApiError {
    ApiError::couch(400, "query_parse_error", reason)
}

/// View and `_all_docs` parameters.
#[derive(Debug, Default)]
struct ViewQuery {
    keys: Option<Vec<Value>>,
    start: Option<Value>,
    end: Option<Value>,
    start_docid: Option<String>,
    end_docid: Option<String>,
    inclusive_end: bool,
    descending: bool,
    limit: Option<usize>,
    skip: usize,
    include_docs: bool,
    reduce: Option<bool>,
    group_level: Option<usize>,
}

fn parse_json_param(name: &str, raw: &str) -> Result<Value> {
    serde_json::from_str(raw).map_err(|_| {
        ApiError::couch(
            400,
            "bad_request",
            &format!("Invalid JSON in query parameter {name}"),
        )
    })
}

fn parse_bool(name: &str, raw: &str) -> Result<bool> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(query_error(&format!(
            "Invalid boolean parameter: \"{raw}\" for {name}"
        ))),
    }
}

fn parse_uint(name: &str, raw: &str) -> Result<usize> {
    raw.parse::<usize>().map_err(|_| {
        query_error(&format!(
            "Invalid value for positive integer: \"{raw}\" ({name})"
        ))
    })
}

impl ViewQuery {
    fn parse(ctx: &ReqCtx, post_body: Option<&Value>) -> Result<Self> {
        let mut q = ViewQuery {
            inclusive_end: true,
            ..Default::default()
        };
        let mut key = None;
        for (k, v) in ctx.query_pairs() {
            match k.as_str() {
                "key" => key = Some(parse_json_param(&k, &v)?),
                "keys" => match parse_json_param(&k, &v)? {
                    Value::Array(a) => q.keys = Some(a),
                    _ => return Err(query_error("`keys` member must be an array.")),
                },
                "startkey" | "start_key" => q.start = Some(parse_json_param(&k, &v)?),
                "endkey" | "end_key" => q.end = Some(parse_json_param(&k, &v)?),
                "startkey_docid" | "start_key_doc_id" => q.start_docid = Some(v),
                "endkey_docid" | "end_key_doc_id" => q.end_docid = Some(v),
                "inclusive_end" => q.inclusive_end = parse_bool(&k, &v)?,
                "descending" => q.descending = parse_bool(&k, &v)?,
                "limit" => q.limit = Some(parse_uint(&k, &v)?),
                "skip" => q.skip = parse_uint(&k, &v)?,
                "include_docs" => q.include_docs = parse_bool(&k, &v)?,
                "reduce" => q.reduce = Some(parse_bool(&k, &v)?),
                "group" if parse_bool(&k, &v)? => q.group_level = Some(usize::MAX),
                "group_level" => q.group_level = Some(parse_uint(&k, &v)?),
                _ => {}
            }
        }
        if let Some(Value::Object(body)) = post_body {
            match body.get("keys") {
                Some(Value::Array(a)) => q.keys = Some(a.clone()),
                Some(_) => return Err(query_error("`keys` member must be an array.")),
                None => {}
            }
            if let Some(b) = body.get("include_docs").and_then(Value::as_bool) {
                q.include_docs = b;
            }
        }
        if q.keys.is_some() && (key.is_some() || q.start.is_some() || q.end.is_some()) {
            return Err(query_error(
                "`keys` is incompatible with `key`, `start_key` and `end_key`",
            ));
        }
        if let Some(k) = key {
            q.start = Some(k.clone());
            q.end = Some(k);
        }
        Ok(q)
    }
}

/// Visits the `(key, doc id)` entries a query selects, in CouchDB order, without copying
/// them; returns the offset of the first row in the whole view.
fn select<'a>(
    index: &'a ViewIndex,
    q: &ViewQuery,
    mut visit: impl FnMut(&'a Key, &'a str),
) -> Result<usize> {
    let id_of = |b: &'a IdBound| -> &'a str {
        match b {
            IdBound::Id(id) => id,
            _ => "",
        }
    };
    let limit = q.limit.unwrap_or(usize::MAX);
    if let Some(keys) = &q.keys {
        let (mut skipped, mut taken) = (0, 0);
        'keys: for k in keys {
            let k = Key::from_json(k);
            let lo = (k.clone(), IdBound::Min);
            let hi = (k, IdBound::Max);
            let range = index.range(lo..=hi);
            let rows: Box<dyn Iterator<Item = &'a (Key, IdBound)>> = if q.descending {
                Box::new(range.rev())
            } else {
                Box::new(range)
            };
            for (key, id) in rows {
                if skipped < q.skip {
                    skipped += 1;
                    continue;
                }
                if taken >= limit {
                    break 'keys;
                }
                taken += 1;
                visit(key, id_of(id));
            }
        }
        return Ok(0);
    }
    let start = q.start.as_ref().map(Key::from_json);
    let end = q.end.as_ref().map(Key::from_json);
    if let (Some(s), Some(e)) = (&start, &end) {
        let reversed = if q.descending { s < e } else { s > e };
        if reversed {
            let hint = if q.descending {
                "descending=false"
            } else {
                "descending=true"
            };
            return Err(query_error(&format!(
                "No rows can match your key range, reverse your start_key and end_key or set {hint}"
            )));
        }
    }
    let sid = |d: &Option<String>, dflt: IdBound| {
        d.as_ref()
            .map_or(dflt, |s| IdBound::Id(Arc::from(s.as_str())))
    };
    let mut offset = 0;
    if !q.descending {
        let lo = match start {
            Some(k) => Bound::Included((k, sid(&q.start_docid, IdBound::Min))),
            None => Bound::Unbounded,
        };
        let hi = match end {
            Some(k) if q.inclusive_end => Bound::Included((k, sid(&q.end_docid, IdBound::Max))),
            Some(k) => Bound::Excluded((k, sid(&q.end_docid, IdBound::Min))),
            None => Bound::Unbounded,
        };
        // `offset` costs a walk over the preceding rows (no order statistics in a BTreeSet).
        if let Bound::Included(b) = &lo {
            offset = index.range(..b.clone()).count();
        }
        for (key, id) in index.range((lo, hi)).skip(q.skip).take(limit) {
            visit(key, id_of(id));
        }
    } else {
        let hi = match start {
            Some(k) => Bound::Included((k, sid(&q.start_docid, IdBound::Max))),
            None => Bound::Unbounded,
        };
        let lo = match end {
            Some(k) if q.inclusive_end => Bound::Included((k, sid(&q.end_docid, IdBound::Min))),
            Some(k) => Bound::Excluded((k, sid(&q.end_docid, IdBound::Max))),
            None => Bound::Unbounded,
        };
        if let Bound::Included(b) = &hi {
            offset = index
                .range((Bound::Excluded(b.clone()), Bound::Unbounded))
                .count();
        }
        for (key, id) in index.range((lo, hi)).rev().skip(q.skip).take(limit) {
            visit(key, id_of(id));
        }
    }
    Ok(offset + q.skip)
}

/// `"<dead> <muted> <order> <lower-cased name>"`.
fn by_type_value(doc: &Value) -> Value {
    const ORDER: [&str; 4] = ["district_hospital", "health_center", "clinic", "person"];
    let t = type_id(doc).unwrap_or("");
    let order = ORDER
        .iter()
        .position(|o| *o == t)
        .map_or_else(|| t.to_string(), |i| i.to_string());
    let dead = doc.get("date_of_death").is_some_and(crate::util::truthy);
    let muted = doc.get("muted").is_some_and(crate::util::truthy);
    let name = str_field(doc, "name").unwrap_or("").to_lowercase();
    Value::String(format!("{dead} {muted} {order} {name}"))
}

/// `{shortcode, primary_contact}` (4.18+), with undefined members dropped as JSON does.
fn by_depth_value(doc: &Value) -> Value {
    let mut v = Map::new();
    if let Some(s) = doc.get("patient_id").or_else(|| doc.get("place_id")) {
        v.insert("shortcode".into(), s.clone());
    }
    let primary = match doc.get("contact") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(c) => str_field(c, "_id").map(String::from),
        None => None,
    };
    if let Some(p) = primary {
        v.insert("primary_contact".into(), Value::String(p));
    }
    Value::Object(v)
}

/// A view row, serialised by reference so `include_docs` never deep-copies documents.
#[derive(serde::Serialize)]
struct Row<'a> {
    id: &'a str,
    key: Value,
    value: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc: Option<&'a Value>,
}

#[derive(serde::Serialize)]
struct ViewBody<'a> {
    total_rows: usize,
    offset: usize,
    rows: Vec<Row<'a>>,
}

fn view_response(
    store: &Store,
    index: &ViewIndex,
    q: &ViewQuery,
    value: fn(&Value) -> Value,
) -> Result<Response> {
    let mut selected: Vec<(Value, &str)> = Vec::new();
    let offset = select(index, q, |key, id| {
        selected.push((key.to_json(), id));
    })?;
    let null = Value::Null;
    let rows = selected
        .into_iter()
        .map(|(key, id)| {
            let doc = store.medic.live(id);
            Row {
                id,
                key,
                value: doc.map_or(Value::Null, |d| value(d)),
                doc: q.include_docs.then(|| doc.map_or(&null, |d| &**d)),
            }
        })
        .collect();
    let body = ViewBody {
        total_rows: index.len(),
        offset,
        rows,
    };
    let bytes = serde_json::to_vec(&body).map_err(|_| ApiError::server_error())?;
    let mut res = (StatusCode::OK, bytes).into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(res)
}

/// `_count` over the selected rows, grouped when `group`/`group_level` ask for it.
fn count_reduce(index: &ViewIndex, q: &ViewQuery) -> Result<Value> {
    let unlimited = ViewQuery {
        keys: q.keys.clone(),
        start: q.start.clone(),
        end: q.end.clone(),
        start_docid: q.start_docid.clone(),
        end_docid: q.end_docid.clone(),
        inclusive_end: q.inclusive_end,
        descending: q.descending,
        ..Default::default()
    };
    if unlimited.keys.is_none()
        && unlimited.start.is_none()
        && unlimited.end.is_none()
        && q.group_level.is_none()
    {
        return Ok(json!({"rows": [{"key": null, "value": index.len()}]}));
    }
    let Some(level) = q.group_level else {
        let mut n = 0usize;
        select(index, &unlimited, |_, _| n += 1)?;
        return Ok(json!({"rows": [{"key": null, "value": n}]}));
    };
    let mut groups: Vec<(Key, usize)> = Vec::new();
    select(index, &unlimited, |k, _| match groups.last_mut() {
        Some((last, n)) if last.truncate(level) == k.truncate(level) => *n += 1,
        _ => groups.push((k.truncate(level), 1)),
    })?;
    let rows: Vec<Value> = groups
        .into_iter()
        .skip(q.skip)
        .take(q.limit.unwrap_or(usize::MAX))
        .map(|(k, n)| json!({"key": k.to_json(), "value": n}))
        .collect();
    Ok(json!({"rows": rows}))
}

/// Views are online-only in CHT (`offlineUserFirewall`).
fn online_reader(ctx: &ReqCtx) -> Result<&crate::auth::UserCtx> {
    let user = ctx.couch_user()?;
    if !is_online(&user.roles) {
        return Err(ApiError::offline_firewall());
    }
    Ok(user)
}

pub async fn view_contacts_by_type(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    online_reader(&ctx)?;
    let q = ViewQuery::parse(&ctx, None)?;
    // 5.0 added a `_count` reduce to this view, so reduce is on unless turned off.
    let has_reduce = sim.version() >= Version::V5_0;
    let reduce = q.reduce.unwrap_or(has_reduce);
    if reduce && !has_reduce {
        return Err(query_error("Reduce is invalid for map-only views."));
    }
    if reduce && q.include_docs {
        return Err(query_error("`include_docs` is invalid for reduce"));
    }
    let store = sim.read();
    let body = if reduce {
        count_reduce(&store.by_type, &q)?
    } else {
        return view_response(&store, &store.by_type, &q, by_type_value);
    };
    Ok(ok_json(&body))
}

pub async fn view_contacts_by_depth(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    online_reader(&ctx)?;
    let q = ViewQuery::parse(&ctx, None)?;
    if q.reduce == Some(true) {
        return Err(query_error("Reduce is invalid for map-only views."));
    }
    let store = sim.read();
    view_response(&store, &store.by_depth, &q, by_depth_value)
}

/// Offline users only see their facilities' subtrees through `_all_docs` (CHT filters it).
fn visible_to(user: &crate::auth::UserCtx, doc: &Value) -> bool {
    if is_online(&user.roles) {
        return true;
    }
    let id = str_field(doc, "_id").unwrap_or("");
    user.facility_id
        .iter()
        .any(|f| f == id || ancestor_ids(doc).contains(&f.as_str()))
}

fn all_docs_body(sim: &Sim, ctx: &ReqCtx, db: DbName) -> Result<Value> {
    let user = ctx.couch_user()?;
    let post_body = if ctx.method == axum::http::Method::POST {
        if !ctx.is_exact_json()
            && !ctx
                .content_type
                .as_deref()
                .unwrap_or("")
                .starts_with("application/json")
        {
            return Err(ApiError::couch(
                415,
                "bad_content_type",
                "Content-Type must be application/json",
            ));
        }
        Some(
            ctx.parse_json()
                .map_err(|_| ApiError::couch(400, "bad_request", "invalid UTF-8 JSON"))?,
        )
    } else {
        None
    };
    let q = ViewQuery::parse(ctx, post_body.as_ref())?;
    let store = sim.read();
    let d = store.db(db);
    let visible = |doc: &Value| db != DbName::Medic || visible_to(user, doc);
    let row_for = |id: &str, e: &crate::store::DocEntry| {
        let mut row = json!({"id": id, "key": id, "value": {"rev": e.rev}});
        if q.include_docs {
            row["doc"] = (*e.doc).clone();
        }
        row
    };
    let mut rows = Vec::new();
    if let Some(keys) = &q.keys {
        for k in keys.iter().skip(q.skip).take(q.limit.unwrap_or(usize::MAX)) {
            let id = k.as_str().unwrap_or("");
            rows.push(match d.get(id) {
                Some(e) if e.deleted => {
                    let mut row =
                        json!({"id": id, "key": id, "value": {"rev": e.rev, "deleted": true}});
                    if q.include_docs {
                        row["doc"] = Value::Null;
                    }
                    row
                }
                Some(e) if visible(&e.doc) => row_for(id, e),
                _ => json!({"key": k, "error": "not_found"}),
            });
        }
        return Ok(json!({"total_rows": d.live_count(), "offset": null, "rows": rows}));
    }
    let as_str = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(String::from);
    let (mut lo, mut hi) = (as_str(&q.start), as_str(&q.end));
    if q.descending {
        std::mem::swap(&mut lo, &mut hi);
    }
    let lo_b = lo.map_or(Bound::Unbounded, Bound::Included);
    let hi_b = match hi {
        Some(h) if q.inclusive_end || q.descending => Bound::Included(h),
        Some(h) => Bound::Excluded(h),
        None => Bound::Unbounded,
    };
    let iter: Box<dyn Iterator<Item = (&String, &crate::store::DocEntry)>> = if q.descending {
        Box::new(d.range(lo_b, hi_b).rev())
    } else {
        Box::new(d.range(lo_b, hi_b))
    };
    for (id, e) in iter
        .filter(|(_, e)| !e.deleted && visible(&e.doc))
        .skip(q.skip)
        .take(q.limit.unwrap_or(usize::MAX))
    {
        rows.push(row_for(id, e));
    }
    Ok(json!({"total_rows": d.live_count(), "offset": q.skip, "rows": rows}))
}

pub async fn all_docs(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    Ok(ok_json(&all_docs_body(&sim, &ctx, DbName::Medic)?))
}

/// `medic-logs`: last-connection docs (`connected-user-<name>`) and bulk upload logs.
pub async fn logs_all_docs(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    Ok(ok_json(&all_docs_body(&sim, &ctx, DbName::Logs)?))
}

fn not_found_doc(store: &Store, db: DbName, id: &str) -> ApiError {
    let reason = if store.db(db).get(id).is_some() {
        "deleted"
    } else {
        "missing"
    };
    ApiError::couch(404, "not_found", reason)
}

pub async fn get_doc(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    if id.starts_with('_') {
        return unknown_route(Extension(ctx)).await;
    }
    ctx.couch_user()?;
    let store = sim.read();
    match store.medic.live(&id) {
        Some(doc) => Ok(ok_json(doc)),
        None => Err(not_found_doc(&store, DbName::Medic, &id)),
    }
}

pub async fn get_log_doc(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    ctx.couch_user()?;
    let store = sim.read();
    match store.logs.live(&id) {
        Some(doc) => Ok(ok_json(doc)),
        None => Err(not_found_doc(&store, DbName::Logs, &id)),
    }
}

/// Raw writes need `can_edit` (CHT's generic write gate) before CouchDB sees them.
fn writer(sim: &Sim, ctx: &ReqCtx) -> Result<()> {
    let user = ctx.couch_user()?;
    if !sim
        .read()
        .settings
        .has_permission(&user.roles, "can_edit", sim.version())
    {
        return Err(ApiError::insufficient_privileges());
    }
    Ok(())
}

fn couch_json_body(ctx: &ReqCtx) -> Result<Value> {
    serde_json::from_slice(&ctx.body)
        .map_err(|_| ApiError::couch(400, "bad_request", "invalid UTF-8 JSON"))
}

pub async fn put_doc(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    if id.starts_with('_') {
        return unknown_route(Extension(ctx)).await;
    }
    writer(&sim, &ctx)?;
    let Value::Object(mut body) = couch_json_body(&ctx)? else {
        return Err(ApiError::couch(
            400,
            "bad_request",
            "Document must be a JSON object",
        ));
    };
    let rev = body
        .remove("_rev")
        .and_then(|r| r.as_str().map(String::from))
        .or_else(|| ctx.query_param("rev"));
    let deleting = body
        .get("_deleted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut store = sim.write();
    let result = if deleting {
        match store.delete_medic(&id, RevCheck::Couch(rev.as_deref())) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => return Err(not_found_doc(&store, DbName::Medic, &id)),
            Err(c) => Err(c),
        }
    } else {
        store.put_medic(&id, body, RevCheck::Couch(rev.as_deref()))
    };
    let new_rev = result.map_err(|_| ApiError::couch_conflict())?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"ok": true, "id": id, "rev": new_rev}),
    ))
}

pub async fn delete_doc(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    if id.starts_with('_') {
        return unknown_route(Extension(ctx)).await;
    }
    writer(&sim, &ctx)?;
    let rev = ctx.query_param("rev");
    let mut store = sim.write();
    if store.medic.live(&id).is_none() {
        return Err(not_found_doc(&store, DbName::Medic, &id));
    }
    match store.delete_medic(&id, RevCheck::Couch(rev.as_deref())) {
        Ok(Some(r)) => Ok(ok_json(&json!({"ok": true, "id": id, "rev": r}))),
        Ok(None) => Err(not_found_doc(&store, DbName::Medic, &id)),
        Err(_) => Err(ApiError::couch_conflict()),
    }
}

/// `POST /medic/_bulk_docs`: 201, one result per doc in input order, not atomic.
pub async fn bulk_docs(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    writer(&sim, &ctx)?;
    let body = couch_json_body(&ctx)?;
    let Some(docs) = body.get("docs").and_then(Value::as_array) else {
        return Err(ApiError::couch(
            400,
            "bad_request",
            "POST body must include `docs` parameter.",
        ));
    };
    let mut store = sim.write();
    let results: Vec<Value> = docs
        .iter()
        .map(|doc| {
            let Value::Object(mut doc) = doc.clone() else {
                return json!({"error": "bad_request", "reason": "Document must be a JSON object"});
            };
            let id = doc
                .get("_id")
                .and_then(Value::as_str)
                .map_or_else(random_id, String::from);
            let rev = doc
                .remove("_rev")
                .and_then(|r| r.as_str().map(String::from));
            let res = if doc
                .get("_deleted")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                match store.delete_medic(&id, RevCheck::Couch(rev.as_deref())) {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) => return json!({"id": id, "error": "not_found", "reason": "missing"}),
                    Err(c) => Err(c),
                }
            } else {
                store.put_medic(&id, doc, RevCheck::Couch(rev.as_deref()))
            };
            match res {
                Ok(r) => json!({"ok": true, "id": id, "rev": r}),
                Err(_) => {
                    json!({"id": id, "error": "conflict", "reason": "Document update conflict."})
                }
            }
        })
        .collect();
    Ok(json_response(StatusCode::CREATED, &Value::Array(results)))
}

pub async fn db_info(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    ctx.couch_user()?;
    let store = sim.read();
    Ok(ok_json(&json!({
        "db_name": "medic",
        "doc_count": store.medic.live_count(),
        "doc_del_count": store.medic.deleted_count(),
        "update_seq": store.mutations.to_string(),
        "instance_start_time": "0"
    })))
}

/// Paths CHT does not route are proxied to CouchDB; the simulator answers as CouchDB would.
pub async fn unknown_route(Extension(ctx): Extension<Arc<ReqCtx>>) -> Result<Response> {
    let user = ctx.couch_user()?;
    let path = ctx.path.trim_start_matches('/');
    let (db, rest) = path.split_once('/').unwrap_or((path, ""));
    let firewalled = rest.starts_with("_design/") && rest.contains("/_view/")
        || ["_find", "_explain", "_index", "_security", "_purge"]
            .iter()
            .any(|p| rest.starts_with(p));
    if firewalled && !is_online(&user.roles) {
        return Err(ApiError::offline_firewall());
    }
    Err(match db {
        "medic" | "medic-logs" | "_users" | "medic-sentinel" | "medic-users-meta" => {
            ApiError::couch(404, "not_found", "missing")
        }
        d if d.starts_with('_') && !d.is_empty() => ApiError::couch(
            400,
            "illegal_database_name",
            &format!(
                "Name: '{d}'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter."
            ),
        ),
        _ => ApiError::couch(404, "not_found", "Database does not exist."),
    })
}
