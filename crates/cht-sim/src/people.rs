//! The cht-datasource endpoints: `GET /api/v1/place|person|contact`, and the 5.2 writers
//! `POST /api/v1/place|person` and `PUT /api/v1/place|person/{id}` (ids only, current `_rev`).

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::places::parse_reported_date;
use crate::server::{ReqCtx, Sim, ok_json};
use crate::settings::is_online;
use crate::store::{RevCheck, Store};
use crate::util::{ancestor_ids, lineage_of, random_id, str_field, type_id};

type Result<T> = std::result::Result<T, ApiError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Place,
    Person,
    Any,
}

impl Kind {
    fn matches(self, store: &Store, doc: &Value) -> bool {
        match self {
            Kind::Place => store.settings.is_place(doc),
            Kind::Person => store.settings.is_person(doc),
            Kind::Any => store.settings.is_place(doc) || store.settings.is_person(doc),
        }
    }

    fn not_found(self) -> ApiError {
        ApiError::not_found(match self {
            Kind::Place => "Place not found",
            Kind::Person => "Person not found",
            Kind::Any => "Contact not found",
        })
    }
}

/// Online callers holding one of `perms` (any of them suffices).
fn require_online_any(sim: &Sim, ctx: &ReqCtx, perms: &[&str]) -> Result<()> {
    let user = ctx.user()?;
    let store = sim.read();
    let ok = is_online(&user.roles)
        && perms
            .iter()
            .any(|p| store.settings.has_permission(&user.roles, p, sim.version()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::insufficient_privileges())
    }
}

/// Replaces each `parent` stub with the full ancestor doc, nearest first.
fn with_lineage(store: &Store, doc: &Value) -> Value {
    let ancestors: Vec<Value> = ancestor_ids(doc)
        .iter()
        .map(|id| {
            store
                .medic
                .live(id)
                .map_or(json!({"_id": id}), |d| (**d).clone())
        })
        .collect();
    let mut parent: Option<Value> = None;
    for mut a in ancestors.into_iter().rev() {
        match parent.take() {
            Some(p) => a["parent"] = p,
            None => {
                if let Value::Object(m) = &mut a {
                    m.remove("parent");
                }
            }
        }
        parent = Some(a);
    }
    let mut out = doc.clone();
    if let Some(p) = parent {
        out["parent"] = p;
    }
    out
}

fn get_one(sim: &Sim, ctx: &ReqCtx, id: &str, kind: Kind) -> Result<Response> {
    require_online_any(sim, ctx, &["can_view_contacts"])?;
    let store = sim.read();
    let doc = store
        .medic
        .live(id)
        .filter(|d| kind.matches(&store, d))
        .ok_or_else(|| kind.not_found())?;
    if ctx.query_param("with_lineage").as_deref() == Some("true") {
        Ok(ok_json(&with_lineage(&store, doc)))
    } else {
        Ok(ok_json(doc))
    }
}

pub async fn get_place(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    get_one(&sim, &ctx, &id, Kind::Place)
}

pub async fn get_person(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    get_one(&sim, &ctx, &id, Kind::Person)
}

pub async fn get_contact(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    get_one(&sim, &ctx, &id, Kind::Any)
}

/// `?type=&limit=&cursor=` pages through `contacts_by_type`; the cursor is a row offset.
fn list(sim: &Sim, ctx: &ReqCtx, kind: Kind) -> Result<Response> {
    require_online_any(sim, ctx, &["can_view_contacts"])?;
    let store = sim.read();
    let t = ctx.query_param("type").unwrap_or_default();
    let valid = match kind {
        Kind::Place => store.settings.is_place_type(&t),
        _ => store.settings.is_person_type(&t),
    };
    if !valid {
        let what = if kind == Kind::Place {
            "place"
        } else {
            "person"
        };
        return Err(ApiError::bad_request(format!(
            "Invalid contact type [{t}] for {what}."
        )));
    }
    let limit = match ctx.query_param("limit") {
        None => 100,
        Some(l) => l.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::bad_request(format!("The limit must be a positive number: [{l}]."))
        })?,
    };
    let skip = match ctx.query_param("cursor") {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("Invalid cursor token: [{c}].")))?,
    };
    let key = crate::collate::Key::Arr(vec![crate::collate::Key::Str(Arc::from(t.as_str()))]);
    let ids: Vec<Arc<str>> = store
        .by_type
        .range((key.clone(), crate::collate::IdBound::Min)..=(key, crate::collate::IdBound::Max))
        .skip(skip)
        .take(limit + 1)
        .filter_map(|(_, id)| match id {
            crate::collate::IdBound::Id(i) => Some(i.clone()),
            _ => None,
        })
        .collect();
    let more = ids.len() > limit;
    let data: Vec<Value> = ids
        .iter()
        .take(limit)
        .filter_map(|id| store.medic.live(id).map(|d| (**d).clone()))
        .collect();
    let cursor = more.then(|| (skip + limit).to_string());
    Ok(ok_json(&json!({"data": data, "cursor": cursor})))
}

pub async fn list_places(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    list(&sim, &ctx, Kind::Place)
}

pub async fn list_people(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    list(&sim, &ctx, Kind::Person)
}

fn input_object(ctx: &ReqCtx) -> Result<Map<String, Value>> {
    match ctx.json_body()? {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::bad_request("The body must be an object.")),
    }
}

/// Validates the type, parent and contact ids of a 5.2 create; returns the doc to store.
fn build_new(
    store: &Store,
    mut input: Map<String, Value>,
    kind: Kind,
    now: u64,
) -> Result<Map<String, Value>> {
    if input.contains_key("_id") || input.contains_key("_rev") {
        return Err(ApiError::bad_request(
            "Cannot provide an _id or _rev value when creating a contact.",
        ));
    }
    let t = input
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let valid = match kind {
        Kind::Place => store.settings.is_place_type(&t),
        _ => store.settings.is_person_type(&t),
    };
    if !valid {
        let what = if kind == Kind::Place {
            "place"
        } else {
            "person"
        };
        return Err(ApiError::bad_request(format!(
            "[{t}] is not a valid {what} type."
        )));
    }
    if input
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::bad_request(format!(
            "Missing or empty required field (name) [{}].",
            Value::Object(input.clone())
        )));
    }
    let reported = match input.get("reported_date") {
        None => now,
        Some(v) => parse_reported_date(v)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid reported_date [{v}].")))?,
    };
    let allowed = store.settings.parents_of(&t);
    match input.get("parent") {
        Some(Value::String(pid)) => {
            let parent = store.medic.live(pid).ok_or_else(|| {
                ApiError::bad_request(format!("Parent contact [{pid}] not found."))
            })?;
            let ptype = type_id(parent).unwrap_or("");
            if !allowed.iter().any(|a| a == ptype) {
                return Err(ApiError::bad_request(format!(
                    "Parent contact of type [{ptype}] is not allowed for type [{t}]."
                )));
            }
            input.insert("parent".into(), lineage_of(parent));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!("Invalid parent [{other}].")));
        }
        None if kind == Kind::Person || !allowed.is_empty() => {
            return Err(ApiError::bad_request(format!(
                "Missing or empty required field (parent) for [{t}]."
            )));
        }
        None => {}
    }
    if let Some(c) = input.get("contact").cloned() {
        let cid = c.as_str().unwrap_or("").to_string();
        let contact = store
            .medic
            .live(&cid)
            .filter(|d| store.settings.is_person(d))
            .ok_or_else(|| ApiError::bad_request(format!("Primary contact [{cid}] not found.")))?;
        input.insert("contact".into(), lineage_of(contact));
    }
    input.insert("type".into(), Value::String("contact".into()));
    input.insert("contact_type".into(), Value::String(t));
    input.insert("reported_date".into(), Value::from(reported));
    Ok(input)
}

fn create(sim: &Sim, ctx: &ReqCtx, kind: Kind) -> Result<Response> {
    let input = input_object(ctx)?;
    let perm = if kind == Kind::Place {
        "can_create_places"
    } else {
        "can_create_people"
    };
    require_online_any(sim, ctx, &[perm, "can_edit"])?;
    let now = sim.now_ms();
    let mut store = sim.write();
    let body = build_new(&store, input, kind, now)?;
    let id = random_id();
    store
        .put_medic(&id, body, RevCheck::Couch(None))
        .map_err(|_| ApiError::status(409, "Document update conflict."))?;
    Ok(ok_json(store.medic.live(&id).map_or(&Value::Null, |d| d)))
}

pub async fn create_place(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    create(&sim, &ctx, Kind::Place)
}

pub async fn create_person(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    create(&sim, &ctx, Kind::Person)
}

/// `PUT`: the full doc with its current `_rev`; immutable fields and the lineage must match,
/// and fields left out are removed.
fn replace(sim: &Sim, ctx: &ReqCtx, id: &str, kind: Kind) -> Result<Response> {
    let mut input = input_object(ctx)?;
    let perm = if kind == Kind::Place {
        "can_update_places"
    } else {
        "can_update_people"
    };
    require_online_any(sim, ctx, &[perm, "can_edit"])?;
    let mut store = sim.write();
    let current = store
        .medic
        .live(id)
        .filter(|d| kind.matches(&store, d))
        .cloned()
        .ok_or_else(|| kind.not_found())?;
    let changed: Vec<&str> = ["_rev", "type", "contact_type", "reported_date"]
        .into_iter()
        .filter(|f| input.get(*f) != current.get(*f))
        .collect();
    if !changed.is_empty() {
        return Err(ApiError::bad_request(format!(
            "The [{}] fields must not be changed.",
            changed.join(", ")
        )));
    }
    let current_parent = current.get("parent").map(crate::util::minify);
    let given_parent = match input.get("parent") {
        Some(Value::String(pid)) => current_parent
            .as_ref()
            .filter(|p| str_field(p, "_id") == Some(pid))
            .cloned(),
        Some(p) => Some(crate::util::minify(p)),
        None => None,
    };
    if given_parent != current_parent {
        return Err(ApiError::bad_request("Parent lineage does not match."));
    }
    if let Some(p) = current_parent {
        input.insert("parent".into(), p);
    }
    input.remove("_rev");
    input.remove("_id");
    store
        .put_medic(id, input, RevCheck::Ignore)
        .map_err(|_| ApiError::status(409, "Document update conflict."))?;
    Ok(ok_json(store.medic.live(id).map_or(&Value::Null, |d| d)))
}

pub async fn replace_place(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    replace(&sim, &ctx, &id, Kind::Place)
}

pub async fn replace_person(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    replace(&sim, &ctx, &id, Kind::Person)
}
