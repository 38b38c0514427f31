//! User endpoints (contract §6): create (v1/v3 by version), read, list, update, delete.

use http::Method;
use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{ChtClient, Req, seg, with_query};
use crate::docs::{AllDocsRow, DocRef};
use crate::errors::ChtError;
use crate::outcome::{ReadBack, Resolved, create_resolving};
use crate::secret::Secret;
use crate::transport::Safety;
use crate::version::ChtVersion;

const CREATE_PERMS: &[&str] = &["can_edit", "can_create_users"];
const UPDATE_PERMS: &[&str] = &["can_edit", "can_update_users"];
const DELETE_PERMS: &[&str] = &["can_edit", "can_delete_users"];
const VIEW_PERMS: &[&str] = &["can_view_users"];

/// The user's place(s).
#[derive(Debug, Clone, PartialEq)]
pub enum UserPlace {
    /// Existing place ids (more than one needs CHT 4.9 and `can_have_multiple_places`).
    Existing(Vec<String>),
    /// A new place object created inline (v1 only). Gets a generated `_id` if it has none.
    New(Map<String, Value>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum UserContact {
    Existing(String),
    /// A new person created inline under the place (v1 only); must not carry `parent`.
    New(Map<String, Value>),
}

/// Input of a user create (`UserInput`, contract §6.1).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub password: Option<Secret>,
    pub roles: Vec<String>,
    pub place: Option<UserPlace>,
    pub contact: Option<UserContact>,
    pub fullname: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub known: Option<bool>,
    pub password_change_required: Option<bool>,
    pub token_login: Option<bool>,
    pub oidc_username: Option<String>,
    /// Any other field CHT accepts (e.g. `language`).
    pub extra: Map<String, Value>,
}

fn put_opt<T: Serialize>(m: &mut Map<String, Value>, k: &str, v: &Option<T>) {
    if let Some(v) = v
        && let Ok(v) = serde_json::to_value(v)
    {
        m.insert(k.to_string(), v);
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn obj_id(o: &Map<String, Value>) -> Option<&str> {
    o.get("_id").and_then(Value::as_str)
}

impl NewUser {
    /// Inline objects get deterministic ids so a lost answer can be resolved.
    fn assign_ids(&mut self) {
        if let Some(UserPlace::New(o)) = &mut self.place
            && obj_id(o).is_none()
        {
            o.insert("_id".into(), Value::String(new_id()));
        }
        if let Some(UserContact::New(o)) = &mut self.contact
            && obj_id(o).is_none()
        {
            o.insert("_id".into(), Value::String(new_id()));
        }
    }

    fn needs_v1(&self) -> bool {
        matches!(self.place, Some(UserPlace::New(_)))
            || matches!(self.contact, Some(UserContact::New(_)))
    }

    fn place_ids(&self) -> Vec<&str> {
        match &self.place {
            Some(UserPlace::Existing(ids)) => ids.iter().map(String::as_str).collect(),
            Some(UserPlace::New(o)) => obj_id(o).into_iter().collect(),
            None => Vec::new(),
        }
    }

    fn contact_id(&self) -> Option<&str> {
        match &self.contact {
            Some(UserContact::Existing(id)) => Some(id),
            Some(UserContact::New(o)) => obj_id(o),
            None => None,
        }
    }

    /// The request body. `place` is a string when there is one id (all versions accept it).
    fn body(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("username".into(), Value::String(self.username.clone()));
        if let Some(p) = &self.password {
            m.insert("password".into(), Value::String(p.expose().to_string()));
        }
        if !self.roles.is_empty() {
            m.insert("roles".into(), serde_json::json!(self.roles));
        }
        match &self.place {
            Some(UserPlace::Existing(ids)) if ids.len() == 1 => {
                m.insert("place".into(), Value::String(ids[0].clone()));
            }
            Some(UserPlace::Existing(ids)) => {
                m.insert("place".into(), serde_json::json!(ids));
            }
            Some(UserPlace::New(o)) => {
                m.insert("place".into(), Value::Object(o.clone()));
            }
            None => {}
        }
        match &self.contact {
            Some(UserContact::Existing(id)) => {
                m.insert("contact".into(), Value::String(id.clone()));
            }
            Some(UserContact::New(o)) => {
                m.insert("contact".into(), Value::Object(o.clone()));
            }
            None => {}
        }
        put_opt(&mut m, "fullname", &self.fullname);
        put_opt(&mut m, "email", &self.email);
        put_opt(&mut m, "phone", &self.phone);
        put_opt(&mut m, "external_id", &self.external_id);
        put_opt(&mut m, "known", &self.known);
        put_opt(
            &mut m,
            "password_change_required",
            &self.password_change_required,
        );
        put_opt(&mut m, "token_login", &self.token_login);
        put_opt(&mut m, "oidc_username", &self.oidc_username);
        Value::Object(m)
    }
}

/// What a create returned (or, when `recovered`, what reading back established).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedUser {
    pub username: String,
    pub user: DocRef,
    /// Absent when recovered by reading back (the read does not expose it).
    pub user_settings: Option<DocRef>,
    pub contact_id: Option<String>,
}

#[derive(Deserialize)]
struct CreateResponse {
    user: DocRef,
    #[serde(rename = "user-settings")]
    user_settings: Option<DocRef>,
    contact: Option<DocRef>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => vec![other],
    })
}

/// A user as `GET /api/v2/users` returns it (`mapUser`). `place` is an array since 4.9 and a
/// single doc before; both end up in `places`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChtUser {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fullname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(rename = "place", default, deserialize_with = "one_or_many")]
    pub places: Vec<Value>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_username: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChtUser {
    pub fn facility_ids(&self) -> Vec<&str> {
        self.places
            .iter()
            .filter_map(|p| p.get("_id").and_then(Value::as_str))
            .collect()
    }

    pub fn contact_id(&self) -> Option<&str> {
        self.contact.as_ref()?.get("_id")?.as_str()
    }
}

/// Filters of `GET /api/v2/users` (ANDed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub facility_id: Option<String>,
    pub contact_id: Option<String>,
}

impl UserFilter {
    fn matches(&self, u: &ChtUser) -> bool {
        self.facility_id
            .as_deref()
            .is_none_or(|f| u.facility_ids().contains(&f))
            && self
                .contact_id
                .as_deref()
                .is_none_or(|c| u.contact_id() == Some(c))
    }
}

/// A partial update (`POST /api/v{1,3}/users/{u}`); `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub password: Option<Secret>,
    pub roles: Option<Vec<String>>,
    /// `Some(None)` detaches the place (online users only).
    pub place: Option<Option<Vec<String>>>,
    /// `Some(None)` detaches the contact.
    pub contact: Option<Option<String>>,
    pub fullname: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub known: Option<bool>,
    pub oidc_username: Option<String>,
    pub extra: Map<String, Value>,
}

impl UserUpdate {
    fn body(&self) -> Value {
        let mut m = self.extra.clone();
        if let Some(p) = &self.password {
            m.insert("password".into(), Value::String(p.expose().to_string()));
        }
        put_opt(&mut m, "roles", &self.roles);
        match &self.place {
            Some(None) => {
                m.insert("place".into(), Value::Null);
            }
            Some(Some(ids)) if ids.len() == 1 => {
                m.insert("place".into(), Value::String(ids[0].clone()));
            }
            Some(Some(ids)) => {
                m.insert("place".into(), serde_json::json!(ids));
            }
            None => {}
        }
        if let Some(c) = &self.contact {
            m.insert(
                "contact".into(),
                c.clone().map_or(Value::Null, Value::String),
            );
        }
        put_opt(&mut m, "fullname", &self.fullname);
        put_opt(&mut m, "email", &self.email);
        put_opt(&mut m, "phone", &self.phone);
        put_opt(&mut m, "external_id", &self.external_id);
        put_opt(&mut m, "known", &self.known);
        put_opt(&mut m, "oidc_username", &self.oidc_username);
        Value::Object(m)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UpdatedUser {
    pub user: DocRef,
    #[serde(rename = "user-settings")]
    pub user_settings: Option<DocRef>,
}

/// Whether a user found by reading back is the one this create asked for.
pub(crate) fn is_same_user(asked: &NewUser, found: &ChtUser) -> bool {
    let roles_ok = asked
        .roles
        .iter()
        .filter(|r| *r != crate::settings::ONLINE_ROLE)
        .all(|r| found.roles.contains(r));
    let places = found.facility_ids();
    let places_ok = asked.place_ids().iter().all(|p| places.contains(p));
    let contact_ok = asked
        .contact_id()
        .is_none_or(|c| found.contact_id() == Some(c));
    found.username == asked.username && roles_ok && places_ok && contact_ok
}

impl ChtClient {
    /// Creates one user: `POST /api/v3/users` on 4.9+ when place and contact exist already,
    /// else `POST /api/v1/users` (inline place/contact, or older CHT). Never sent twice when
    /// the outcome is unknown: the username is read back first (see [`crate::outcome`]).
    pub async fn create_user(&self, user: NewUser) -> Result<Resolved<CreatedUser>, ChtError> {
        let version = self.version().await?;
        let mut user = user;
        user.assign_ids();
        let v3 = version.has_v3_users() && !user.needs_v1();
        if !v3 && matches!(&user.place, Some(UserPlace::Existing(ids)) if ids.len() > 1) {
            return Err(ChtError::Unsupported {
                operation: "a user with several places",
                required: ChtVersion::V4_9,
                actual: version,
            });
        }
        let path = if v3 { "/api/v3/users" } else { "/api/v1/users" };
        let max = self.inner.cfg.retry.max_attempts.max(1);
        let username = user.username.clone();
        let user_ref = &user;
        let mut round = 0u32;
        create_resolving(
            max,
            async || {
                round += 1;
                let mut body = user_ref.body();
                if round > 1 {
                    // v1 is not atomic: inline objects may exist from the lost attempt even though
                    // the user does not. Point at them instead of creating them again.
                    self.reuse_created_inline(&mut body).await?;
                }
                let req = Req::json(Method::POST, path, &body, Safety::Create)?.perms(CREATE_PERMS);
                let r: CreateResponse = self.execute(req).await?.json()?;
                Ok(CreatedUser {
                    username: username.clone(),
                    user: r.user,
                    user_settings: r.user_settings,
                    contact_id: r.contact.map(|c| c.id),
                })
            },
            async || {
                Ok(match self.get_user_opt(&username).await? {
                    None => ReadBack::Absent,
                    Some(found) if is_same_user(user_ref, &found) => ReadBack::Ours(CreatedUser {
                        username: username.clone(),
                        contact_id: found.contact_id().map(String::from),
                        user: DocRef {
                            id: found.id,
                            rev: found.rev,
                        },
                        user_settings: None,
                    }),
                    Some(_) => ReadBack::Foreign(format!("user {username}")),
                })
            },
        )
        .await
    }

    async fn reuse_created_inline(&self, body: &mut Value) -> Result<(), ChtError> {
        let ids: Vec<String> = ["place", "contact"]
            .iter()
            .filter_map(|k| body.get(*k)?.get("_id")?.as_str().map(String::from))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let rows = self.all_docs::<Value>(&ids, false).await?;
        for row in rows {
            if let AllDocsRow::Found { id, .. } = row {
                for k in ["place", "contact"] {
                    if body
                        .get(k)
                        .and_then(|v| v.get("_id"))
                        .and_then(Value::as_str)
                        == Some(&id)
                    {
                        body[k] = Value::String(id.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// `GET /api/v2/users/{u}` (4.7+; older versions filter the full list).
    pub async fn get_user(&self, username: &str) -> Result<ChtUser, ChtError> {
        if !self.version().await?.has_user_filters() {
            let all = self.list_users(&UserFilter::default()).await?;
            return all
                .into_iter()
                .find(|u| u.username == username)
                .ok_or_else(|| ChtError::NotFound {
                    endpoint: Req::get("/api/v2/users").endpoint(),
                    message: format!("no user named {username}"),
                });
        }
        self.get_json(Req::get(format!("/api/v2/users/{}", seg(username))).perms(VIEW_PERMS))
            .await
    }

    pub async fn get_user_opt(&self, username: &str) -> Result<Option<ChtUser>, ChtError> {
        match self.get_user(username).await {
            Ok(u) => Ok(Some(u)),
            Err(ChtError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v2/users[?facility_id=&contact_id=]`. Before 4.7 CHT ignores the filters, so
    /// they are applied here as well.
    pub async fn list_users(&self, filter: &UserFilter) -> Result<Vec<ChtUser>, ChtError> {
        let mut q = Vec::new();
        if let Some(f) = &filter.facility_id {
            q.push(("facility_id", f.clone()));
        }
        if let Some(c) = &filter.contact_id {
            q.push(("contact_id", c.clone()));
        }
        let users: Vec<ChtUser> = self
            .get_json(Req::get(with_query("/api/v2/users", &q)).perms(VIEW_PERMS))
            .await?;
        Ok(users.into_iter().filter(|u| filter.matches(u)).collect())
    }

    /// `POST /api/v3/users/{u}` (4.9+) or `/api/v1/users/{u}`: a server-side merge, so a
    /// repeat lands in the same state and is retried like a read.
    pub async fn update_user(
        &self,
        username: &str,
        update: &UserUpdate,
    ) -> Result<UpdatedUser, ChtError> {
        let version = self.version().await?;
        let prefix = if version.has_v3_users() {
            "/api/v3/users"
        } else {
            "/api/v1/users"
        };
        let req = Req::json(
            Method::POST,
            format!("{prefix}/{}", seg(username)),
            &update.body(),
            Safety::IdempotentMerge,
        )?
        .perms(UPDATE_PERMS);
        self.get_json(req).await
    }

    /// `DELETE /api/v1/users/{u}` ("disable"). A 404 after an attempt whose answer was lost
    /// counts as done: that attempt deleted the user.
    pub async fn delete_user(&self, username: &str) -> Result<(), ChtError> {
        let mut req = Req::get(format!("/api/v1/users/{}", seg(username))).perms(DELETE_PERMS);
        req.method = Method::DELETE;
        req.safety = Safety::IdempotentDelete;
        self.execute(req).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(v: Value) -> ChtUser {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn place_array_single_or_null() {
        let a = user(
            json!({"id":"org.couchdb.user:a","username":"a","place":[{"_id":"p1"},{"_id":"p2"}],"roles":["chw"]}),
        );
        assert_eq!(a.facility_ids(), vec!["p1", "p2"]);
        let b = user(
            json!({"id":"org.couchdb.user:b","username":"b","place":{"_id":"p1"},"type":"chw"}),
        );
        assert_eq!(b.facility_ids(), vec!["p1"]);
        assert_eq!(b.extra["type"], "chw");
        let c = user(json!({"id":"org.couchdb.user:c","username":"c","place":null}));
        assert!(c.facility_ids().is_empty());
    }

    #[test]
    fn read_back_matching() {
        let asked = NewUser {
            username: "mary".into(),
            roles: vec!["chw".into()],
            place: Some(UserPlace::Existing(vec!["hc1".into()])),
            contact: Some(UserContact::Existing("p1".into())),
            ..NewUser::default()
        };
        let found = user(
            json!({"id":"org.couchdb.user:mary","username":"mary","roles":["chw"],
            "place":[{"_id":"hc1"}],"contact":{"_id":"p1"}}),
        );
        assert!(is_same_user(&asked, &found));
        let other_place = user(
            json!({"id":"org.couchdb.user:mary","username":"mary","roles":["chw"],
            "place":[{"_id":"hc2"}],"contact":{"_id":"p1"}}),
        );
        assert!(!is_same_user(&asked, &other_place));
        let other_role = user(
            json!({"id":"org.couchdb.user:mary","username":"mary","roles":["national_admin"],
            "place":[{"_id":"hc1"}],"contact":{"_id":"p1"}}),
        );
        assert!(!is_same_user(&asked, &other_role));
    }

    #[test]
    fn bodies() {
        let mut u = NewUser {
            username: "mary".into(),
            password: Some(Secret::new("Secret12")),
            roles: vec!["chw".into()],
            place: Some(UserPlace::New(
                json!({"name":"X","type":"clinic","parent":"hc"})
                    .as_object()
                    .unwrap()
                    .clone(),
            )),
            contact: Some(UserContact::Existing("p1".into())),
            ..NewUser::default()
        };
        u.assign_ids();
        assert!(u.needs_v1());
        let b = u.body();
        assert_eq!(b["password"], "Secret12");
        assert!(b["place"]["_id"].as_str().is_some_and(|s| s.len() == 36));
        assert_eq!(b["contact"], "p1");
        assert!(!format!("{u:?}").contains("Secret12"));

        let upd = UserUpdate {
            place: Some(None),
            contact: Some(Some("p9".into())),
            fullname: Some("M".into()),
            ..UserUpdate::default()
        };
        assert_eq!(
            upd.body(),
            json!({"place": null, "contact": "p9", "fullname": "M"})
        );
    }
}
