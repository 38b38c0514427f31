//! `app_settings`: roles, permissions, contact types, and the rules CHT derives from them.

use serde_json::{Value, json};

use crate::util::{str_field, type_id};
use crate::version::Version;

/// Roles that make a user online and bypass permission checks (`DB_ADMIN_ROLES` + `mm-online`).
pub const ADMIN_ROLES: [&str; 2] = ["admin", "_admin"];
pub const ONLINE_ROLE: &str = "mm-online";

#[derive(Debug, Clone)]
pub struct Settings {
    pub raw: Value,
}

impl Settings {
    pub fn new(raw: Value) -> Self {
        Self { raw }
    }

    pub fn role_configured(&self, role: &str) -> bool {
        self.raw.get("roles").and_then(|r| r.get(role)).is_some()
    }

    fn role_offline(&self, role: &str) -> bool {
        self.raw
            .get("roles")
            .and_then(|r| r.get(role))
            .and_then(|r| r.get("offline"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Whether `roles` hold permission `perm`. From 5.2 only configured roles count.
    pub fn has_permission(&self, roles: &[String], perm: &str, version: Version) -> bool {
        if roles.iter().any(|r| ADMIN_ROLES.contains(&r.as_str())) {
            return true;
        }
        let Some(granted) = self
            .raw
            .get("permissions")
            .and_then(|p| p.get(perm))
            .and_then(Value::as_array)
        else {
            return false;
        };
        roles.iter().any(|r| {
            granted.iter().any(|g| g.as_str() == Some(r))
                && (version < Version::V5_2 || self.role_configured(r))
        })
    }

    pub fn has_all(&self, roles: &[String], perms: &[&str], version: Version) -> bool {
        perms.iter().all(|p| self.has_permission(roles, p, version))
    }

    /// Offline iff no online role and (no configured role, or some configured role is offline).
    pub fn is_offline(&self, roles: &[String]) -> bool {
        if is_online(roles) {
            return false;
        }
        let configured: Vec<&String> = roles.iter().filter(|r| self.role_configured(r)).collect();
        configured.is_empty() || configured.iter().any(|r| self.role_offline(r))
    }

    /// `mm-online` is added to non-offline users and removed from offline ones.
    pub fn normalise_roles(&self, roles: &[String]) -> Vec<String> {
        let mut out: Vec<String> = roles
            .iter()
            .filter(|r| *r != ONLINE_ROLE)
            .cloned()
            .collect();
        if !self.is_offline(roles) {
            out.push(ONLINE_ROLE.to_string());
        }
        out
    }

    pub fn token_login_enabled(&self) -> bool {
        self.raw
            .pointer("/token_login/enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn app_url(&self) -> Option<&str> {
        str_field(&self.raw, "app_url").filter(|s| !s.is_empty())
    }

    pub fn oidc_enabled(&self) -> bool {
        self.raw
            .get("oidc_provider")
            .is_some_and(crate::util::truthy)
    }

    fn contact_types(&self) -> Option<&Vec<Value>> {
        self.raw.get("contact_types").and_then(Value::as_array)
    }

    /// Configured contact type, or CHT's hard-coded fallback hierarchy when none is configured.
    pub fn contact_type(&self, id: &str) -> Option<Value> {
        match self.contact_types() {
            Some(types) => types
                .iter()
                .find(|t| str_field(t, "id") == Some(id))
                .cloned(),
            None => default_contact_types()
                .as_array()
                .and_then(|a| a.iter().find(|t| str_field(t, "id") == Some(id)).cloned()),
        }
    }

    pub fn is_place_type(&self, id: &str) -> bool {
        self.contact_type(id)
            .is_some_and(|t| !t.get("person").and_then(Value::as_bool).unwrap_or(false))
    }

    pub fn is_person_type(&self, id: &str) -> bool {
        self.contact_type(id)
            .is_some_and(|t| t.get("person").and_then(Value::as_bool).unwrap_or(false))
    }

    pub fn parents_of(&self, id: &str) -> Vec<String> {
        self.contact_type(id)
            .and_then(|t| t.get("parents").cloned())
            .and_then(|p| serde_json::from_value(p).ok())
            .unwrap_or_default()
    }

    pub fn is_place(&self, doc: &Value) -> bool {
        type_id(doc).is_some_and(|t| self.is_place_type(t))
    }

    pub fn is_person(&self, doc: &Value) -> bool {
        type_id(doc).is_some_and(|t| self.is_person_type(t))
    }

    /// The type id for a new person when the client sends none: `person` if it is configured.
    pub fn default_person_type(&self) -> Option<&'static str> {
        self.is_person_type("person").then_some("person")
    }
}

pub fn is_online(roles: &[String]) -> bool {
    roles
        .iter()
        .any(|r| r == ONLINE_ROLE || ADMIN_ROLES.contains(&r.as_str()))
}

fn default_contact_types() -> Value {
    json!([
        {"id": "district_hospital", "name_key": "contact.type.district_hospital", "group_key": "contact.type.district_hospital.plural", "create_key": "contact.type.district_hospital.new", "edit_key": "contact.type.place.edit", "icon": "medic-district-hospital", "create_form": "form:contact:district_hospital:create", "edit_form": "form:contact:district_hospital:edit"},
        {"id": "health_center", "name_key": "contact.type.health_center", "group_key": "contact.type.health_center.plural", "create_key": "contact.type.health_center.new", "edit_key": "contact.type.place.edit", "parents": ["district_hospital"], "icon": "medic-health-center", "create_form": "form:contact:health_center:create", "edit_form": "form:contact:health_center:edit"},
        {"id": "clinic", "name_key": "contact.type.clinic", "group_key": "contact.type.clinic.plural", "create_key": "contact.type.clinic.new", "edit_key": "contact.type.place.edit", "parents": ["health_center"], "icon": "medic-clinic", "create_form": "form:contact:clinic:create", "edit_form": "form:contact:clinic:edit", "count_visits": true},
        {"id": "person", "name_key": "contact.type.person", "group_key": "contact.type.person.plural", "create_key": "contact.type.person.new", "edit_key": "contact.type.person.edit", "primary_contact_key": "clinic.field.contact", "parents": ["district_hospital", "health_center", "clinic"], "icon": "medic-person", "create_form": "form:contact:person:create", "edit_form": "form:contact:person:edit", "person": true}
    ])
}

/// Mirrors cht-core `config/default/app_settings.json` in the parts a portal reads.
pub fn default_settings() -> Value {
    json!({
        "locale": "en",
        "locale_outgoing": "en",
        "date_format": "DD-MMM-YYYY",
        "reported_date_format": "DD-MMM-YYYY HH:mm:ss",
        "default_country_code": 254,
        "phone_validation": "partial",
        "roles": {
            "chw": {"name": "usertype.chw", "offline": true},
            "chw_supervisor": {"name": "usertype.chw-supervisor", "offline": true},
            "national_admin": {"name": "usertype.national-manager"},
            "data_entry": {"name": "usertype.data-entry"},
            "analytics": {"name": "usertype.analytics"},
            "gateway": {"name": "usertype.gateway"},
            "program_officer": {"name": "usertype.program-officer"},
            "crfo": {"name": "usertype.crfo"}
        },
        "permissions": default_permissions(&["chw", "chw_supervisor"], &["program_officer"]),
        "contact_types": default_contact_types(),
        "token_login": {"enabled": false, "translation_key": "sms.token.login.help"},
        "transitions": {}
    })
}

/// The permission table with `offline` field roles and `managers` holding user management.
pub fn default_permissions(offline: &[&str], managers: &[&str]) -> Value {
    let mut field: Vec<&str> = managers.to_vec();
    field.extend_from_slice(offline);
    let mut edit = vec!["gateway"];
    edit.extend(field.iter().copied());
    let mut view_contacts = vec!["national_admin", "data_entry", "analytics"];
    view_contacts.extend(field.iter().copied());
    json!({
        "can_edit": edit,
        "can_access_gateway_api": ["gateway"],
        "can_configure": ["national_admin"],
        "can_create_users": managers,
        "can_update_users": managers,
        "can_delete_users": managers,
        "can_view_users": managers,
        "can_create_places": field,
        "can_update_places": field,
        "can_create_people": field,
        "can_update_people": [],
        "can_view_contacts": view_contacts,
        "can_view_contacts_tab": field,
        "can_export_all": ["national_admin"],
        "can_export_contacts": managers,
        "can_have_multiple_places": [],
        "can_skip_password_change": []
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unknown_role_is_offline_and_online_roles_win() {
        let s = Settings::new(default_settings());
        assert!(s.is_offline(&roles(&["unknown"])));
        assert!(s.is_offline(&roles(&["chw"])));
        assert!(!s.is_offline(&roles(&["national_admin"])));
        assert!(!s.is_offline(&roles(&["chw", "mm-online"])));
        assert_eq!(
            s.normalise_roles(&roles(&["chw", "mm-online"])),
            roles(&["chw", "mm-online"])
        );
        assert_eq!(
            s.normalise_roles(&roles(&["program_officer"])),
            roles(&["program_officer", "mm-online"])
        );
    }
}
