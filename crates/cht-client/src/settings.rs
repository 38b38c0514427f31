//! `GET /api/v1/settings` and the service account's permission check (contract §3).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{ChtClient, Req};
use crate::errors::ChtError;
use crate::version::{ChtInfo, ChtVersion};

/// Roles that pass every permission check (`DB_ADMIN_ROLES`).
pub const ADMIN_ROLES: [&str; 2] = ["admin", "_admin"];
pub const ONLINE_ROLE: &str = "mm-online";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoleConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactType {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub person: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_form: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The parts of `app_settings` a portal reads; everything else is kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppSettings {
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
    #[serde(default)]
    pub permissions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub contact_types: Vec<ContactType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_login: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_provider: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AppSettings {
    /// §3.3: held when `permissions[p]` lists one of the roles; admins always pass; from 5.2
    /// only roles configured in `roles` count.
    pub fn has_permission(&self, roles: &[String], perm: &str, version: ChtVersion) -> bool {
        if roles.iter().any(|r| ADMIN_ROLES.contains(&r.as_str())) {
            return true;
        }
        let Some(granted) = self.permissions.get(perm) else {
            return false;
        };
        roles.iter().any(|r| {
            granted.contains(r)
                && (!version.counts_only_configured_roles() || self.roles.contains_key(r))
        })
    }

    /// §3.1: online roles, else offline when no role is configured or one is offline.
    pub fn is_offline(&self, roles: &[String]) -> bool {
        if is_online(roles) {
            return false;
        }
        let configured: Vec<&RoleConfig> = roles.iter().filter_map(|r| self.roles.get(r)).collect();
        configured.is_empty() || configured.iter().any(|c| c.offline == Some(true))
    }

    pub fn contact_type(&self, id: &str) -> Option<&ContactType> {
        self.contact_types.iter().find(|t| t.id == id)
    }
}

pub fn is_online(roles: &[String]) -> bool {
    roles
        .iter()
        .any(|r| r == ONLINE_ROLE || ADMIN_ROLES.contains(&r.as_str()))
}

/// The permissions a user-management portal needs from its service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Permission {
    CanEdit,
    CanCreateUsers,
    CanUpdateUsers,
    CanDeleteUsers,
    CanViewUsers,
    CanCreatePlaces,
    CanUpdatePlaces,
    CanCreatePeople,
    CanViewContacts,
}

impl Permission {
    pub const PORTAL: [Permission; 9] = [
        Permission::CanEdit,
        Permission::CanCreateUsers,
        Permission::CanUpdateUsers,
        Permission::CanDeleteUsers,
        Permission::CanViewUsers,
        Permission::CanCreatePlaces,
        Permission::CanUpdatePlaces,
        Permission::CanCreatePeople,
        Permission::CanViewContacts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CanEdit => "can_edit",
            Permission::CanCreateUsers => "can_create_users",
            Permission::CanUpdateUsers => "can_update_users",
            Permission::CanDeleteUsers => "can_delete_users",
            Permission::CanViewUsers => "can_view_users",
            Permission::CanCreatePlaces => "can_create_places",
            Permission::CanUpdatePlaces => "can_update_places",
            Permission::CanCreatePeople => "can_create_people",
            Permission::CanViewContacts => "can_view_contacts",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the service account may do on this instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionReport {
    pub username: String,
    pub roles: Vec<String>,
    /// `admin`/`_admin`: every check passes.
    pub is_admin: bool,
    /// Online users only may read raw views and use the 5.2 endpoints (§3.2).
    pub online: bool,
    /// Portal permissions the account lacks, in [`Permission::PORTAL`] order.
    pub missing: Vec<Permission>,
}

impl PermissionReport {
    pub fn is_sufficient(&self) -> bool {
        self.missing.is_empty() && self.online
    }
}

/// Computes the report from settings alone (the pure part of [`ChtClient::check_permissions`]).
pub fn permission_report(
    settings: &AppSettings,
    username: &str,
    roles: &[String],
    version: ChtVersion,
) -> PermissionReport {
    PermissionReport {
        username: username.to_string(),
        roles: roles.to_vec(),
        is_admin: roles.iter().any(|r| ADMIN_ROLES.contains(&r.as_str())),
        online: is_online(roles),
        missing: Permission::PORTAL
            .into_iter()
            .filter(|p| !settings.has_permission(roles, p.as_str(), version))
            .collect(),
    }
}

/// The result of the portal's "Test connection": version, account and permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionReport {
    pub info: ChtInfo,
    pub permissions: PermissionReport,
}

#[derive(Deserialize)]
struct SessionInfo {
    #[serde(rename = "userCtx")]
    user_ctx: UserCtx,
}

#[derive(Deserialize)]
struct UserCtx {
    name: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

impl ChtClient {
    /// `GET /api/v1/settings` (any authenticated user).
    pub async fn settings(&self) -> Result<AppSettings, ChtError> {
        self.get_json(Req::get("/api/v1/settings")).await
    }

    /// Which portal permissions the service account lacks, by name (§3.3 rules).
    pub async fn check_permissions(&self) -> Result<PermissionReport, ChtError> {
        let version = self.version().await?;
        // `GET /_session` gives the roles as CouchDB sees them now, not as at login.
        let session: SessionInfo = self.get_json(Req::get("/_session")).await?;
        let name = match session.user_ctx.name {
            Some(n) => n,
            None => self.session_user().await?.name,
        };
        let settings = self.settings().await?;
        Ok(permission_report(
            &settings,
            &name,
            &session.user_ctx.roles,
            version,
        ))
    }

    /// Version detection, login and the permission check in one call.
    pub async fn test_connection(&self) -> Result<ConnectionReport, ChtError> {
        let info = self.detect_version().await?;
        let permissions = self.check_permissions().await?;
        Ok(ConnectionReport { info, permissions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> AppSettings {
        serde_json::from_value(json!({
            "roles": {"program_officer": {"name": "x"}, "chw": {"offline": true}},
            "permissions": {
                "can_edit": ["program_officer", "ghost"],
                "can_view_users": ["program_officer"],
                "can_view_contacts": ["ghost"]
            },
            "contact_types": [{"id": "clinic", "parents": ["health_center"], "icon": "x"}],
            "locale": "en"
        }))
        .unwrap()
    }

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn permission_rules() {
        let s = settings();
        let v4 = ChtVersion::new(4, 22, 0);
        let v5 = ChtVersion::V5_2;
        assert!(s.has_permission(&roles(&["program_officer"]), "can_edit", v5));
        assert!(!s.has_permission(&roles(&["program_officer"]), "can_create_users", v5));
        // an unconfigured role counts before 5.2 only
        assert!(s.has_permission(&roles(&["ghost"]), "can_view_contacts", v4));
        assert!(!s.has_permission(&roles(&["ghost"]), "can_view_contacts", v5));
        assert!(s.has_permission(&roles(&["_admin"]), "anything", v5));

        let r = permission_report(&s, "po", &roles(&["program_officer", "mm-online"]), v5);
        assert!(!r.is_admin && r.online);
        assert_eq!(
            r.missing,
            vec![
                Permission::CanCreateUsers,
                Permission::CanUpdateUsers,
                Permission::CanDeleteUsers,
                Permission::CanCreatePlaces,
                Permission::CanUpdatePlaces,
                Permission::CanCreatePeople,
                Permission::CanViewContacts,
            ]
        );
        assert!(!r.is_sufficient());
        let admin = permission_report(&s, "medic", &roles(&["_admin"]), v5);
        assert!(admin.missing.is_empty() && admin.is_sufficient());
    }

    #[test]
    fn unknown_settings_are_kept() {
        let s = settings();
        assert_eq!(s.extra.get("locale"), Some(&json!("en")));
        assert_eq!(s.contact_types[0].extra.get("icon"), Some(&json!("x")));
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["contact_types"][0]["icon"], "x");
        assert!(s.is_offline(&roles(&["chw"])));
        assert!(s.is_offline(&roles(&["unknown"])));
        assert!(!s.is_offline(&roles(&["program_officer"])));
    }
}
