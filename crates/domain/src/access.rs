//! Permissions, roles and scopes: the vocabulary of who may do what, where.

use std::fmt;

use crate::InvalidValue;

/// A named action a role can allow. The names are stable: they are stored in the database and
/// shown to programme leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    Stage,
    Commit,
    Replace,
    Move,
    DisableUser,
    DownloadCredentials,
    ViewAudit,
    ViewDashboard,
    ManageInstances,
    ManageConfig,
    Grant,
}

impl Permission {
    pub const ALL: [Self; 11] = [
        Self::Stage,
        Self::Commit,
        Self::Replace,
        Self::Move,
        Self::DisableUser,
        Self::DownloadCredentials,
        Self::ViewAudit,
        Self::ViewDashboard,
        Self::ManageInstances,
        Self::ManageConfig,
        Self::Grant,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stage => "stage",
            Self::Commit => "commit",
            Self::Replace => "replace",
            Self::Move => "move",
            Self::DisableUser => "disable_user",
            Self::DownloadCredentials => "download_credentials",
            Self::ViewAudit => "view_audit",
            Self::ViewDashboard => "view_dashboard",
            Self::ManageInstances => "manage_instances",
            Self::ManageConfig => "manage_config",
            Self::Grant => "grant",
        }
    }

    /// What the permission lets a person do, in words for the role editor.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Stage => "Upload and correct staged places and health workers",
            Self::Commit => "Create staged users in CHT",
            Self::Replace => "Replace a health worker on an existing place",
            Self::Move => "Move a place to another parent",
            Self::DisableUser => "Disable CHT user accounts",
            Self::DownloadCredentials => "Download generated usernames and passwords",
            Self::ViewAudit => "Read the audit log",
            Self::ViewDashboard => "See dashboards and counts",
            Self::ManageInstances => "Add, edit and remove CHT instances",
            Self::ManageConfig => "Change the deployment configuration and sign-in settings",
            Self::Grant => "Give and take away access",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions, kept sorted so equal sets compare and print the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet(Vec<Permission>);

impl PermissionSet {
    #[must_use]
    pub fn new(permissions: impl IntoIterator<Item = Permission>) -> Self {
        let mut list: Vec<_> = permissions.into_iter().collect();
        list.sort_unstable();
        list.dedup();
        Self(list)
    }

    #[must_use]
    pub fn contains(&self, permission: Permission) -> bool {
        self.0.binary_search(&permission).is_ok()
    }

    #[must_use]
    pub fn is_subset_of(&self, other: &Self) -> bool {
        self.0.iter().all(|p| other.contains(*p))
    }

    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Space-separated names, as stored.
    #[must_use]
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads the stored form; unknown names (from a newer portal) are skipped, never granted.
    #[must_use]
    pub fn from_stored(stored: &str) -> Self {
        Self::new(stored.split_whitespace().filter_map(Permission::parse))
    }
}

/// The roles every tenant has. Tenants may define more ([`RoleKey`]s of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinRole {
    NationalAdmin,
    RegionManager,
    MeOfficer,
}

impl BuiltinRole {
    pub const ALL: [Self; 3] = [Self::NationalAdmin, Self::RegionManager, Self::MeOfficer];

    #[must_use]
    pub const fn key(self) -> &'static str {
        match self {
            Self::NationalAdmin => "national_admin",
            Self::RegionManager => "region_manager",
            Self::MeOfficer => "me_officer",
        }
    }

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::NationalAdmin => "National administrator",
            Self::RegionManager => "Region manager",
            Self::MeOfficer => "M&E officer",
        }
    }

    #[must_use]
    pub const fn summary(self) -> &'static str {
        match self {
            Self::NationalAdmin => {
                "Everything in the tenant: instances, configuration, access, and all user work"
            }
            Self::RegionManager => {
                "Stages, commits, replaces, moves and disables users inside their area, and can share that access"
            }
            Self::MeOfficer => "Reads audit logs and dashboards inside their area; changes nothing",
        }
    }

    #[must_use]
    pub fn permissions(self) -> PermissionSet {
        use Permission as P;
        match self {
            Self::NationalAdmin => PermissionSet::new(Permission::ALL),
            Self::RegionManager => PermissionSet::new([
                P::Stage,
                P::Commit,
                P::Replace,
                P::Move,
                P::DisableUser,
                P::DownloadCredentials,
                P::ViewAudit,
                P::ViewDashboard,
                P::Grant,
            ]),
            Self::MeOfficer => PermissionSet::new([P::ViewAudit, P::ViewDashboard]),
        }
    }

    #[must_use]
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.key() == key)
    }
}

/// The key of a role within a tenant: a built-in key or one the tenant chose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleKey(String);

impl RoleKey {
    /// Lower-case letters, digits and underscores, 2–40 characters, not starting with a digit.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let key = raw.trim();
        let valid_chars = key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !(2..=40).contains(&key.len())
            || !valid_chars
            || key.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(InvalidValue::new(
                "Role key",
                "use 2 to 40 lower-case letters, digits and underscores, starting with a letter (e.g. county_data_clerk)",
            ));
        }
        Ok(Self(key.to_owned()))
    }

    #[must_use]
    pub fn builtin(role: BuiltinRole) -> Self {
        Self(role.key().to_owned())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn as_builtin(&self) -> Option<BuiltinRole> {
        BuiltinRole::parse(&self.0)
    }
}

impl fmt::Display for RoleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for permission in Permission::ALL {
            assert!(seen.insert(permission.as_str()));
            assert_eq!(Permission::parse(permission.as_str()), Some(permission));
        }
    }

    #[test]
    fn builtin_roles_nest_as_the_issue_describes() {
        let national = BuiltinRole::NationalAdmin.permissions();
        let region = BuiltinRole::RegionManager.permissions();
        let me = BuiltinRole::MeOfficer.permissions();
        assert!(region.is_subset_of(&national));
        assert!(me.is_subset_of(&region));
        assert!(!region.contains(Permission::ManageInstances));
        assert!(!region.contains(Permission::ManageConfig));
        assert!(!me.contains(Permission::Stage));
        assert!(!me.contains(Permission::Grant));
    }

    #[test]
    fn stored_form_round_trips_and_ignores_unknown_names() {
        let set = PermissionSet::new([Permission::Grant, Permission::Stage, Permission::Stage]);
        assert_eq!(set.to_stored(), "stage grant");
        assert_eq!(PermissionSet::from_stored("grant  stage fly"), set);
    }

    #[test]
    fn role_keys_are_checked() {
        assert!(RoleKey::parse("county_clerk").is_ok());
        for bad in ["", "a", "Has Caps", "9lives", "semi;colon", &"x".repeat(41)] {
            assert!(RoleKey::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            RoleKey::parse("me_officer").unwrap().as_builtin(),
            Some(BuiltinRole::MeOfficer)
        );
    }
}
