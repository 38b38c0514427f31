//! Typed CouchDB documents and raw `/medic` reads and writes (contract §10–§11).
//!
//! Typed structs cover the fixed part of each shape; everything else lands in `extra`
//! (`serde(flatten)`), so a read-modify-write never drops fields this crate does not know.

use std::collections::HashMap;

use http::Method;
use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::{ChtClient, Req, seg, with_query};
use crate::errors::ChtError;
use crate::transport::Safety;

/// Contact types CHT knows without `contact_types` (`type` holds the id directly).
pub const BUILTIN_CONTACT_TYPES: [&str; 4] =
    ["district_hospital", "health_center", "clinic", "person"];

/// A minified lineage `{_id, parent:{_id, …}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Box<Lineage>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Lineage {
    /// Ids from this node up to the root.
    pub fn ids(&self) -> Vec<&str> {
        let mut out = vec![self.id.as_str()];
        let mut cur = self.parent.as_deref();
        while let Some(p) = cur {
            out.push(&p.id);
            cur = p.parent.as_deref();
        }
        out
    }
}

/// A place's primary contact: a lineage object, or a bare id (legacy endpoint with an id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContactLink {
    Id(String),
    Lineage(Lineage),
}

impl ContactLink {
    pub fn id(&self) -> &str {
        match self {
            ContactLink::Id(id) => id,
            ContactLink::Lineage(l) => &l.id,
        }
    }
}

/// A place or person doc in either form: `type:"<id>"` or `type:"contact", contact_type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_rev", default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    #[serde(rename = "type")]
    pub doc_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Lineage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactLink>,
    /// Epoch ms, or a date string on docs written by other tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_date: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ContactDoc {
    /// The contact type id (`contact_type` for `type:"contact"`, else `type`).
    pub fn type_id(&self) -> &str {
        match (&*self.doc_type, &self.contact_type) {
            ("contact", Some(t)) => t,
            (t, _) => t,
        }
    }

    pub fn ancestor_ids(&self) -> Vec<&str> {
        self.parent.as_ref().map_or_else(Vec::new, Lineage::ids)
    }
}

/// `facility_id`: a string before 4.9, an array since (contract §7.7). The original shape is
/// kept so writing a doc back does not change it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(untagged)]
pub enum FacilityIds {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for FacilityIds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => FacilityIds::None,
            Some(Value::String(s)) => FacilityIds::One(s),
            Some(Value::Array(a)) => FacilityIds::Many(
                a.into_iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
            ),
            Some(other) => {
                return Err(serde::de::Error::custom(format!(
                    "facility_id must be a string or an array, got {other}"
                )));
            }
        })
    }
}

impl FacilityIds {
    pub fn ids(&self) -> Vec<&str> {
        match self {
            FacilityIds::None => Vec::new(),
            FacilityIds::One(s) if s.is_empty() => Vec::new(),
            FacilityIds::One(s) => vec![s.as_str()],
            FacilityIds::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids().contains(&id)
    }
}

/// `medic/org.couchdb.user:<name>` (`type:"user-settings"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSettingsDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_rev", default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub doc_type: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub facility_id: FacilityIds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fullname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{id, rev}` as CHT returns it for writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocRef {
    pub id: String,
    #[serde(default)]
    pub rev: Option<String>,
}

/// One row of `_all_docs` with `keys` (contract §11.4).
#[derive(Debug, Clone, PartialEq)]
pub enum AllDocsRow<T> {
    Found {
        id: String,
        rev: String,
        doc: Option<T>,
    },
    Deleted {
        id: String,
        rev: String,
    },
    Missing {
        key: String,
    },
}

/// One entry of a `_bulk_docs` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResult {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub rev: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Set when the client established this result by reading back after a lost answer.
    #[serde(skip)]
    pub recovered: bool,
}

impl BulkResult {
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Where to resume a view listing: CouchDB's `startkey` + `startkey_docid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewCursor {
    pub key: Value,
    pub doc_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<ViewCursor>,
    pub include_docs: bool,
}

impl PageRequest {
    pub fn first(limit: usize) -> Self {
        Self {
            limit,
            after: None,
            include_docs: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ViewRow<V> {
    pub id: String,
    pub key: Value,
    pub value: V,
    #[serde(default)]
    pub doc: Option<ContactDoc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ViewPage<V> {
    pub rows: Vec<ViewRow<V>>,
    /// Rows in the whole view (not only this key range).
    pub total_rows: Option<u64>,
    /// `None` on the last page.
    pub next: Option<ViewCursor>,
}

/// `contacts_by_depth` value: an object since 4.18, a bare shortcode string or null before.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DepthValue {
    Current {
        #[serde(default)]
        shortcode: Option<String>,
        #[serde(default)]
        primary_contact: Option<String>,
    },
    Legacy(Option<String>),
}

/// Which rows of `contacts_by_depth` to read for an ancestor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthRange {
    /// Every descendant at any depth, plus the place itself (`key=[id]`).
    Any,
    /// Depths `min..=max` (`startkey=[id,min]&endkey=[id,max]`); depth 0 is the place.
    Between(u32, u32),
}

#[derive(Deserialize)]
struct RawViewPage<V> {
    #[serde(default)]
    total_rows: Option<u64>,
    rows: Vec<ViewRow<V>>,
}

fn without_rev(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(o) = &mut v {
        o.remove("_rev");
    }
    v
}

fn doc_id_of(v: &Value) -> Option<&str> {
    v.get("_id").and_then(Value::as_str)
}

impl ChtClient {
    /// `GET /medic/{id}`; `NotFound` when missing or deleted.
    pub async fn get_doc<T: DeserializeOwned>(&self, id: &str) -> Result<T, ChtError> {
        self.get_json(Req::get(format!("/medic/{}", seg(id)))).await
    }

    pub async fn get_doc_opt<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, ChtError> {
        match self.get_doc(id).await {
            Ok(d) => Ok(Some(d)),
            Err(ChtError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /medic/{id}` with the doc's `_rev` (or none for a new doc). A stale `_rev` is a
    /// `Conflict`. Retried on network errors and 5xx: a repeat of a PUT that landed answers
    /// 409, which is resolved by reading back and comparing contents.
    pub async fn put_doc<T: Serialize>(&self, id: &str, doc: &T) -> Result<DocRef, ChtError> {
        let mut body = serde_json::to_value(doc)
            .map_err(|e| ChtError::Config(format!("cannot encode doc {id}: {e}")))?;
        if let Value::Object(o) = &mut body {
            o.insert("_id".into(), Value::String(id.to_string()));
        }
        let req = Req::json(
            Method::PUT,
            format!("/medic/{}", seg(id)),
            &body,
            Safety::Idempotent,
        )?
        .perms(&["can_edit"]);
        let tracked = self.execute_tracked(req).await;
        match tracked.result {
            Ok(reply) => reply.json(),
            Err(e @ ChtError::Conflict { .. }) if tracked.uncertain => {
                match self.get_doc_opt::<Value>(id).await? {
                    Some(stored) if without_rev(&stored) == without_rev(&body) => Ok(DocRef {
                        id: id.to_string(),
                        rev: stored.get("_rev").and_then(Value::as_str).map(String::from),
                    }),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Read-modify-write with retries on `Conflict` (someone else wrote in between), as
    /// cht-user-management's `retryOnUpdateConflict` does.
    pub async fn update_doc_with<T, F>(&self, id: &str, mut change: F) -> Result<DocRef, ChtError>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(&mut T),
    {
        let max = self.inner.cfg.retry.max_attempts.max(1);
        let mut round = 0;
        loop {
            round += 1;
            let mut doc: T = self.get_doc(id).await?;
            change(&mut doc);
            match self.put_doc(id, &doc).await {
                Err(ChtError::Conflict { .. }) if round < max => continue,
                other => return other,
            }
        }
    }

    /// `POST /medic/_all_docs` with `keys`; rows in `keys` order.
    pub async fn all_docs<T: DeserializeOwned>(
        &self,
        keys: &[String],
        include_docs: bool,
    ) -> Result<Vec<AllDocsRow<T>>, ChtError> {
        let req = Req::json(
            Method::POST,
            "/medic/_all_docs",
            &json!({"keys": keys, "include_docs": include_docs}),
            // A read despite the POST.
            Safety::Idempotent,
        )?;
        let reply = self.execute(req).await?;
        let body: Value = reply.json()?;
        let rows = body.get("rows").and_then(Value::as_array).ok_or_else(|| {
            ChtError::UnexpectedResponse {
                endpoint: reply.endpoint.clone(),
                status: reply.status,
                detail: "no rows".into(),
            }
        })?;
        rows.iter()
            .map(|row| {
                let s = |k: &str| row.get(k).and_then(Value::as_str).map(String::from);
                let rev = row
                    .pointer("/value/rev")
                    .and_then(Value::as_str)
                    .map(String::from);
                let deleted = row.pointer("/value/deleted").and_then(Value::as_bool) == Some(true);
                Ok(match (s("id"), rev, row.get("error")) {
                    (Some(id), Some(rev), None) if deleted => AllDocsRow::Deleted { id, rev },
                    (Some(id), Some(rev), None) => {
                        let doc = match row.get("doc") {
                            Some(d) if !d.is_null() => {
                                Some(serde_json::from_value(d.clone()).map_err(|e| {
                                    ChtError::UnexpectedResponse {
                                        endpoint: reply.endpoint.clone(),
                                        status: reply.status,
                                        detail: format!("doc {id}: {e}"),
                                    }
                                })?)
                            }
                            _ => None,
                        };
                        AllDocsRow::Found { id, rev, doc }
                    }
                    _ => AllDocsRow::Missing {
                        key: row
                            .get("key")
                            .map(|k| k.as_str().map_or_else(|| k.to_string(), String::from))
                            .unwrap_or_default(),
                    },
                })
            })
            .collect()
    }

    /// `POST /medic/_bulk_docs`: per-doc results in input order (not atomic).
    ///
    /// Docs without `_id` get a UUID so a lost answer can be resolved: the client reads the
    /// ids back and counts a doc as written when the stored doc equals the sent one (apart
    /// from `_rev`), or is deleted for a deletion. Only the rest is sent again.
    pub async fn bulk_docs(&self, docs: Vec<Value>) -> Result<Vec<BulkResult>, ChtError> {
        let mut docs = docs;
        for d in &mut docs {
            if let Value::Object(o) = d
                && !o.contains_key("_id")
            {
                o.insert(
                    "_id".into(),
                    Value::String(uuid::Uuid::new_v4().simple().to_string()),
                );
            }
        }
        let mut results: Vec<Option<BulkResult>> = vec![None; docs.len()];
        let mut pending: Vec<usize> = (0..docs.len()).collect();
        let max = self.inner.cfg.retry.max_attempts.max(1);
        for round in 1..=max {
            let batch: Vec<&Value> = pending.iter().map(|&i| &docs[i]).collect();
            let req = Req::json(
                Method::POST,
                "/medic/_bulk_docs",
                &json!({"docs": batch}),
                Safety::Create,
            )?
            .perms(&["can_edit"]);
            match self.execute(req).await {
                Ok(reply) => {
                    let answers: Vec<BulkResult> = reply.json()?;
                    if answers.len() != pending.len() {
                        return Err(ChtError::UnexpectedResponse {
                            endpoint: reply.endpoint.clone(),
                            status: reply.status,
                            detail: format!("{} results for {} docs", answers.len(), pending.len()),
                        });
                    }
                    for (&i, a) in pending.iter().zip(answers) {
                        results[i] = Some(a);
                    }
                    break;
                }
                Err(e @ ChtError::OutcomeUnknown { .. }) => {
                    let ids: Vec<String> = pending
                        .iter()
                        .filter_map(|&i| doc_id_of(&docs[i]).map(String::from))
                        .collect();
                    let rows = match self.all_docs::<Value>(&ids, true).await {
                        Ok(r) => r,
                        Err(read_err) => {
                            return Err(ChtError::OutcomeUnknown {
                                endpoint: e.endpoint().cloned().unwrap_or_else(|| {
                                    crate::errors::Endpoint::new("POST", "/medic/_bulk_docs")
                                }),
                                cause: format!("{e}; reading back failed too: {read_err}"),
                            });
                        }
                    };
                    let by_id: HashMap<String, AllDocsRow<Value>> = rows
                        .into_iter()
                        .filter_map(|r| match &r {
                            AllDocsRow::Found { id, .. } | AllDocsRow::Deleted { id, .. } => {
                                Some((id.clone(), r))
                            }
                            AllDocsRow::Missing { .. } => None,
                        })
                        .collect();
                    let mut still = Vec::new();
                    for &i in &pending {
                        let sent = &docs[i];
                        let id = doc_id_of(sent).unwrap_or_default().to_string();
                        let deleting = sent.get("_deleted").and_then(Value::as_bool) == Some(true);
                        let applied = match by_id.get(&id) {
                            Some(AllDocsRow::Deleted { rev, .. }) if deleting => Some(rev.clone()),
                            Some(AllDocsRow::Found {
                                rev,
                                doc: Some(stored),
                                ..
                            }) if !deleting && without_rev(stored) == without_rev(sent) => {
                                Some(rev.clone())
                            }
                            _ => None,
                        };
                        match applied {
                            Some(rev) => {
                                results[i] = Some(BulkResult {
                                    id: Some(id),
                                    rev: Some(rev),
                                    error: None,
                                    reason: None,
                                    recovered: true,
                                });
                            }
                            None => still.push(i),
                        }
                    }
                    pending = still;
                    if pending.is_empty() {
                        break;
                    }
                    if round == max {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or(BulkResult {
                    id: None,
                    rev: None,
                    error: Some("unknown".into()),
                    reason: Some("no result".into()),
                    recovered: false,
                })
            })
            .collect())
    }

    async fn view_page<V: DeserializeOwned>(
        &self,
        path: &str,
        start: Value,
        end: Value,
        page: &PageRequest,
        extra: &[(&str, String)],
    ) -> Result<ViewPage<V>, ChtError> {
        let limit = page.limit.max(1);
        let (start_key, start_id) = match &page.after {
            Some(c) => (c.key.clone(), Some(c.doc_id.clone())),
            None => (start, None),
        };
        let mut q: Vec<(&str, String)> = vec![
            ("startkey", start_key.to_string()),
            ("endkey", end.to_string()),
            ("include_docs", page.include_docs.to_string()),
            // One extra row tells whether there is a next page and where it starts.
            ("limit", (limit + 1).to_string()),
        ];
        if let Some(id) = start_id {
            q.push(("startkey_docid", id));
        }
        q.extend(extra.iter().cloned());
        let raw: RawViewPage<V> = self
            .get_json(Req::get(with_query(path, &q)).perms(&["can_view_contacts"]))
            .await?;
        let mut rows = raw.rows;
        let next = if rows.len() > limit {
            let r = &rows[limit];
            let c = ViewCursor {
                key: r.key.clone(),
                doc_id: r.id.clone(),
            };
            rows.truncate(limit);
            Some(c)
        } else {
            None
        };
        Ok(ViewPage {
            rows,
            total_rows: raw.total_rows,
            next,
        })
    }

    /// `medic-client/_view/contacts_by_type` for one type id, paged. Always sends
    /// `reduce=false` (5.x has a `_count` reduce that refuses `include_docs`).
    pub async fn contacts_by_type(
        &self,
        type_id: &str,
        page: &PageRequest,
    ) -> Result<ViewPage<String>, ChtError> {
        let key = json!([type_id]);
        self.view_page(
            "/medic/_design/medic-client/_view/contacts_by_type",
            key.clone(),
            key,
            page,
            &[("reduce", "false".into())],
        )
        .await
    }

    /// `medic/_view/contacts_by_depth` under `ancestor_id`, paged.
    pub async fn contacts_by_depth(
        &self,
        ancestor_id: &str,
        depth: DepthRange,
        page: &PageRequest,
    ) -> Result<ViewPage<DepthValue>, ChtError> {
        let (start, end) = match depth {
            DepthRange::Any => (json!([ancestor_id]), json!([ancestor_id])),
            DepthRange::Between(a, b) => (json!([ancestor_id, a]), json!([ancestor_id, b])),
        };
        self.view_page(
            "/medic/_design/medic/_view/contacts_by_depth",
            start,
            end,
            page,
            &[],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_doc_round_trips_unknown_fields() {
        let raw = json!({
            "_id": "p1", "_rev": "2-a", "type": "contact", "contact_type": "c_chp",
            "name": "Mary", "parent": {"_id": "hc", "parent": {"_id": "dh"}},
            "reported_date": 1700000000000u64, "phone": "+254700000000",
            "user_for_contact": {"create": "true"}
        });
        let doc: ContactDoc = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(doc.type_id(), "c_chp");
        assert_eq!(doc.ancestor_ids(), vec!["hc", "dh"]);
        assert_eq!(doc.extra["phone"], "+254700000000");
        assert_eq!(serde_json::to_value(&doc).unwrap(), raw);
    }

    #[test]
    fn place_contact_may_be_id_or_lineage() {
        let a: ContactDoc =
            serde_json::from_value(json!({"_id":"c","type":"clinic","contact":"p1"})).unwrap();
        assert_eq!(a.contact.as_ref().map(ContactLink::id), Some("p1"));
        assert_eq!(a.type_id(), "clinic");
        let b: ContactDoc = serde_json::from_value(
            json!({"_id":"c","type":"clinic","contact":{"_id":"p2","parent":{"_id":"c"}}}),
        )
        .unwrap();
        assert_eq!(b.contact.as_ref().map(ContactLink::id), Some("p2"));
    }

    #[test]
    fn facility_id_string_array_or_null_keeps_its_shape() {
        let base = json!({"_id":"org.couchdb.user:a","name":"a","type":"user-settings"});
        for (fid, ids) in [
            (json!("hc1"), vec!["hc1"]),
            (json!(["hc1", "hc2"]), vec!["hc1", "hc2"]),
            (Value::Null, vec![]),
        ] {
            let mut v = base.clone();
            v["facility_id"] = fid.clone();
            let doc: UserSettingsDoc = serde_json::from_value(v).unwrap();
            assert_eq!(doc.facility_id.ids(), ids);
            assert_eq!(serde_json::to_value(&doc).unwrap()["facility_id"], fid);
        }
        let missing: UserSettingsDoc = serde_json::from_value(base).unwrap();
        assert_eq!(missing.facility_id, FacilityIds::None);
        let bad = json!({"_id":"x","name":"a","type":"user-settings","facility_id": 3});
        assert!(serde_json::from_value::<UserSettingsDoc>(bad).is_err());
    }

    #[test]
    fn depth_value_both_forms() {
        let v: DepthValue =
            serde_json::from_value(json!({"shortcode":"123","primary_contact":"p"})).unwrap();
        assert_eq!(
            v,
            DepthValue::Current {
                shortcode: Some("123".into()),
                primary_contact: Some("p".into())
            }
        );
        let v: DepthValue = serde_json::from_value(json!("123")).unwrap();
        assert_eq!(v, DepthValue::Legacy(Some("123".into())));
        let v: DepthValue = serde_json::from_value(Value::Null).unwrap();
        assert_eq!(v, DepthValue::Legacy(None));
    }
}
