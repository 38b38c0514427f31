//! Places and people (contract §8): the legacy writers (all versions) and the 5.2
//! cht-datasource endpoints.
//!
//! Legacy creates always carry a client-chosen `_id`, which makes a lost answer resolvable by
//! reading that id back. The 5.2 `POST /api/v1/place|person` forbid `_id`, so their lost
//! answers cannot be resolved and surface as `OutcomeUnknown` (nothing is re-sent).

use http::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::{ChtClient, Req, seg};
use crate::docs::{BUILTIN_CONTACT_TYPES, ContactDoc, DocRef};
use crate::errors::ChtError;
use crate::outcome::{ReadBack, Resolved, create_resolving};
use crate::transport::Safety;
use crate::version::ChtVersion;

/// A place's primary contact at creation.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaceContact {
    Existing(String),
    /// A new person object; gets a generated `_id` if it has none.
    New(Map<String, Value>),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewPlace {
    /// The doc id; generated when `None` (legacy endpoint only).
    pub id: Option<String>,
    pub name: String,
    /// Contact type id (`health_center`, `c_community_health_unit`, …).
    pub contact_type: String,
    /// Existing parent place id.
    pub parent: Option<String>,
    pub contact: Option<PlaceContact>,
    pub place_id: Option<String>,
    pub reported_date: Option<Value>,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewPerson {
    pub id: Option<String>,
    pub name: String,
    /// Defaults to `person`.
    pub contact_type: Option<String>,
    /// Existing parent place id.
    pub place: Option<String>,
    pub phone: Option<String>,
    pub reported_date: Option<Value>,
    pub extra: Map<String, Value>,
}

/// Legacy place edit: only these fields are honoured by CHT (§8.1). Ids only, which keeps
/// the call idempotent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaceUpdate {
    pub name: Option<String>,
    pub parent: Option<String>,
    pub contact: Option<String>,
    pub place_id: Option<String>,
}

/// A created place or person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedContact {
    pub id: String,
    pub rev: Option<String>,
    /// The primary contact (places only).
    pub contact_id: Option<String>,
}

#[derive(Deserialize)]
struct LegacyCreated {
    id: String,
    #[serde(default)]
    rev: Option<String>,
    #[serde(default)]
    contact: Option<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// Legacy writers keep whatever `type` they get: built-in ids go in `type`, configured ones
/// as `type:"contact"` + `contact_type` (what CHT itself writes for them).
fn put_type(m: &mut Map<String, Value>, type_id: &str) {
    if BUILTIN_CONTACT_TYPES.contains(&type_id) {
        m.insert("type".into(), Value::String(type_id.into()));
    } else {
        m.insert("type".into(), Value::String("contact".into()));
        m.insert("contact_type".into(), Value::String(type_id.into()));
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn insert_opt(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.into(), Value::String(v.clone()));
    }
}

impl NewPlace {
    fn legacy_body(&self, id: &str, contact: Option<&PlaceContact>) -> Value {
        let mut m = self.extra.clone();
        m.insert("_id".into(), Value::String(id.into()));
        m.insert("name".into(), Value::String(self.name.clone()));
        put_type(&mut m, &self.contact_type);
        insert_opt(&mut m, "parent", &self.parent);
        insert_opt(&mut m, "place_id", &self.place_id);
        if let Some(d) = &self.reported_date {
            m.insert("reported_date".into(), d.clone());
        }
        match contact {
            Some(PlaceContact::Existing(c)) => {
                m.insert("contact".into(), Value::String(c.clone()));
            }
            Some(PlaceContact::New(o)) => {
                m.insert("contact".into(), Value::Object(o.clone()));
            }
            None => {}
        }
        Value::Object(m)
    }

    fn datasource_body(&self) -> Result<Value, ChtError> {
        if self.id.is_some() {
            return Err(ChtError::Config(
                "the 5.2 place endpoint does not accept a client _id".into(),
            ));
        }
        let mut m = self.extra.clone();
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("type".into(), Value::String(self.contact_type.clone()));
        insert_opt(&mut m, "parent", &self.parent);
        insert_opt(&mut m, "place_id", &self.place_id);
        match &self.contact {
            Some(PlaceContact::Existing(c)) => {
                m.insert("contact".into(), Value::String(c.clone()));
            }
            Some(PlaceContact::New(_)) => {
                return Err(ChtError::Config(
                    "the 5.2 place endpoint takes a contact id, not a new person".into(),
                ));
            }
            None => {}
        }
        if let Some(d) = &self.reported_date {
            m.insert("reported_date".into(), d.clone());
        }
        Ok(Value::Object(m))
    }
}

impl NewPerson {
    fn type_id(&self) -> &str {
        self.contact_type.as_deref().unwrap_or("person")
    }

    fn body(&self, id: Option<&str>, parent_key: &str) -> Value {
        let mut m = self.extra.clone();
        if let Some(id) = id {
            m.insert("_id".into(), Value::String(id.into()));
        }
        m.insert("name".into(), Value::String(self.name.clone()));
        insert_opt(&mut m, parent_key, &self.place);
        insert_opt(&mut m, "phone", &self.phone);
        if let Some(d) = &self.reported_date {
            m.insert("reported_date".into(), d.clone());
        }
        Value::Object(m)
    }
}

/// Whether a doc read back under our id is the contact we asked to create.
fn read_back_contact(
    found: Option<ContactDoc>,
    name: &str,
    type_id: &str,
) -> ReadBack<CreatedContact> {
    match found {
        None => ReadBack::Absent,
        Some(doc) if doc.name.as_deref() == Some(name) && doc.type_id() == type_id => {
            ReadBack::Ours(CreatedContact {
                contact_id: doc.contact.as_ref().map(|c| c.id().to_string()),
                id: doc.id,
                rev: doc.rev,
            })
        }
        Some(doc) => ReadBack::Foreign(format!("doc {}", doc.id)),
    }
}

impl ChtClient {
    /// `POST /api/v1/places` with a deterministic `_id` (all versions; deprecated in 5.2 but
    /// routed). A new primary contact is created inline.
    pub async fn create_place(
        &self,
        place: &NewPlace,
    ) -> Result<Resolved<CreatedContact>, ChtError> {
        let id = place.id.clone().unwrap_or_else(new_id);
        let contact = match &place.contact {
            Some(PlaceContact::New(o)) if !o.contains_key("_id") => {
                let mut o = o.clone();
                o.insert("_id".into(), Value::String(new_id()));
                Some(PlaceContact::New(o))
            }
            other => other.clone(),
        };
        let body = place.legacy_body(&id, contact.as_ref());
        let max = self.inner.cfg.retry.max_attempts.max(1);
        create_resolving(
            max,
            async || {
                let req = Req::json(Method::POST, "/api/v1/places", &body, Safety::Create)?
                    .perms(&["can_edit", "can_create_places"]);
                let r: LegacyCreated = self.execute(req).await?.json()?;
                Ok(CreatedContact {
                    id: r.id,
                    rev: r.rev,
                    contact_id: r.contact.map(|c| c.id),
                })
            },
            async || {
                let found = self.get_doc_opt::<ContactDoc>(&id).await?;
                Ok(read_back_contact(found, &place.name, &place.contact_type))
            },
        )
        .await
    }

    /// `POST /api/v1/places/{id}`: edits name, parent, contact and place_id only; a parent
    /// change does not move descendants.
    pub async fn update_place(&self, id: &str, update: &PlaceUpdate) -> Result<DocRef, ChtError> {
        let mut m = Map::new();
        insert_opt(&mut m, "name", &update.name);
        insert_opt(&mut m, "parent", &update.parent);
        insert_opt(&mut m, "contact", &update.contact);
        insert_opt(&mut m, "place_id", &update.place_id);
        let req = Req::json(
            Method::POST,
            format!("/api/v1/places/{}", seg(id)),
            &Value::Object(m),
            Safety::IdempotentMerge,
        )?
        .perms(&["can_edit", "can_update_places"]);
        self.get_json(req).await
    }

    /// `POST /api/v1/people` with a deterministic `_id`.
    pub async fn create_person(
        &self,
        person: &NewPerson,
    ) -> Result<Resolved<CreatedContact>, ChtError> {
        let id = person.id.clone().unwrap_or_else(new_id);
        let mut body = person.body(Some(&id), "place");
        if let Value::Object(m) = &mut body {
            put_type(m, person.type_id());
        }
        let max = self.inner.cfg.retry.max_attempts.max(1);
        create_resolving(
            max,
            async || {
                let req = Req::json(Method::POST, "/api/v1/people", &body, Safety::Create)?
                    .perms(&["can_edit", "can_create_people"]);
                let r: LegacyCreated = self.execute(req).await?.json()?;
                Ok(CreatedContact {
                    id: r.id,
                    rev: r.rev,
                    contact_id: None,
                })
            },
            async || {
                let found = self.get_doc_opt::<ContactDoc>(&id).await?;
                Ok(read_back_contact(found, &person.name, person.type_id()))
            },
        )
        .await
    }

    /// A place by id: `GET /api/v1/place/{id}` on 4.10+, the raw doc before.
    pub async fn get_place(&self, id: &str) -> Result<ContactDoc, ChtError> {
        if self.version().await? >= ChtVersion::V4_10 {
            self.get_json(
                Req::get(format!("/api/v1/place/{}", seg(id))).perms(&["can_view_contacts"]),
            )
            .await
        } else {
            self.get_doc(id).await
        }
    }

    /// A person by id: `GET /api/v1/person/{id}` on 4.9+, the raw doc before.
    pub async fn get_person(&self, id: &str) -> Result<ContactDoc, ChtError> {
        if self.version().await? >= ChtVersion::V4_9 {
            self.get_json(
                Req::get(format!("/api/v1/person/{}", seg(id))).perms(&["can_view_contacts"]),
            )
            .await
        } else {
            self.get_doc(id).await
        }
    }

    /// 5.2 `POST /api/v1/place`: ids only, stores `type:"contact"`, returns the stored doc.
    /// CHT picks the id, so a lost answer is `OutcomeUnknown`; prefer [`Self::create_place`]
    /// when exactly-once matters.
    pub async fn datasource_create_place(&self, place: &NewPlace) -> Result<ContactDoc, ChtError> {
        self.require_version("POST /api/v1/place", ChtVersion::V5_2)
            .await?;
        let req = Req::json(
            Method::POST,
            "/api/v1/place",
            &place.datasource_body()?,
            Safety::Create,
        )?
        .perms(&["can_create_places"]);
        self.get_json(req).await
    }

    /// 5.2 `POST /api/v1/person` (`parent` required).
    pub async fn datasource_create_person(
        &self,
        person: &NewPerson,
    ) -> Result<ContactDoc, ChtError> {
        self.require_version("POST /api/v1/person", ChtVersion::V5_2)
            .await?;
        if person.id.is_some() {
            return Err(ChtError::Config(
                "the 5.2 person endpoint does not accept a client _id".into(),
            ));
        }
        let mut body = person.body(None, "parent");
        if let Value::Object(m) = &mut body {
            m.insert("type".into(), Value::String(person.type_id().into()));
        }
        let req = Req::json(Method::POST, "/api/v1/person", &body, Safety::Create)?
            .perms(&["can_create_people"]);
        self.get_json(req).await
    }

    /// 5.2 `PUT /api/v1/place/{id}`: the full doc with its current `_rev`; fields left out are
    /// removed, so pass a doc you read (unknown fields are kept in `extra`).
    pub async fn datasource_replace_place(&self, doc: &ContactDoc) -> Result<ContactDoc, ChtError> {
        self.datasource_replace("place", doc).await
    }

    pub async fn datasource_replace_person(
        &self,
        doc: &ContactDoc,
    ) -> Result<ContactDoc, ChtError> {
        self.datasource_replace("person", doc).await
    }

    async fn datasource_replace(
        &self,
        kind: &'static str,
        doc: &ContactDoc,
    ) -> Result<ContactDoc, ChtError> {
        self.require_version("PUT /api/v1/place|person", ChtVersion::V5_2)
            .await?;
        let path = format!("/api/v1/{kind}/{}", seg(&doc.id));
        // With the current `_rev` a repeat cannot apply twice: CHT refuses the stale `_rev`.
        let req = Req::json(Method::PUT, path, doc, Safety::Idempotent)?.perms(&["can_edit"]);
        let tracked = self.execute_tracked(req).await;
        match tracked.result {
            Ok(r) => r.json(),
            // The lost attempt landed and bumped `_rev`; the repeat is refused as stale (400).
            Err(e @ ChtError::Validation { .. }) if tracked.uncertain => {
                let stored: ContactDoc = self.get_doc(&doc.id).await?;
                let same = |d: &ContactDoc| {
                    let mut d = d.clone();
                    d.rev = None;
                    d.parent = None;
                    d.contact = None;
                    d
                };
                if same(&stored) == same(doc) {
                    Ok(stored)
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn legacy_bodies_use_the_right_type_form() {
        let p = NewPlace {
            name: "Migori CHU".into(),
            contact_type: "c_community_health_unit".into(),
            parent: Some("sc1".into()),
            ..NewPlace::default()
        };
        let b = p.legacy_body("id1", None);
        assert_eq!(
            b,
            json!({"_id":"id1","name":"Migori CHU","type":"contact","contact_type":"c_community_health_unit","parent":"sc1"})
        );
        let hc = NewPlace {
            name: "HC".into(),
            contact_type: "health_center".into(),
            ..NewPlace::default()
        };
        assert_eq!(hc.legacy_body("x", None)["type"], "health_center");
        assert!(hc.datasource_body().is_ok());
        let with_id = NewPlace {
            id: Some("x".into()),
            ..hc
        };
        assert!(with_id.datasource_body().is_err());
    }

    #[test]
    fn read_back_distinguishes_ours_from_foreign() {
        let doc: ContactDoc = serde_json::from_value(
            json!({"_id":"a","_rev":"1-x","type":"clinic","name":"C","contact":"p"}),
        )
        .unwrap();
        assert_eq!(
            read_back_contact(Some(doc.clone()), "C", "clinic"),
            ReadBack::Ours(CreatedContact {
                id: "a".into(),
                rev: Some("1-x".into()),
                contact_id: Some("p".into())
            })
        );
        assert!(matches!(
            read_back_contact(Some(doc), "D", "clinic"),
            ReadBack::Foreign(_)
        ));
        assert_eq!(read_back_contact(None, "C", "clinic"), ReadBack::Absent);
    }
}
