/// What an audit event records. The string forms are stored in `audit_events.action` and are
/// part of the product's interface (exports, dashboards): never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    Logout,
    PasswordChanged,
    UserCreated,
    TenantCreated,
    TenantUpdated,
    TenantDeleted,
    InstanceCreated,
    InstanceUpdated,
    InstanceDeleted,
    InstanceConnectionTested,
    AccountUnlocked,
    UserInvited,
    AccessGranted,
    AccessRevoked,
    RoleSaved,
    RoleDeleted,
    PlacesRefreshed,
    SignInSettingsChanged,
    DeploymentConfigChanged,
    StageUploaded,
    StageRowAdded,
    StageRowEdited,
    StageRowRemoved,
    StageWarningsAcknowledged,
    StageRevalidated,
    AccessDenied,
}

impl AuditAction {
    pub const ALL: [Self; 29] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginThrottled,
        Self::Logout,
        Self::PasswordChanged,
        Self::UserCreated,
        Self::TenantCreated,
        Self::TenantUpdated,
        Self::TenantDeleted,
        Self::InstanceCreated,
        Self::InstanceUpdated,
        Self::InstanceDeleted,
        Self::InstanceConnectionTested,
        Self::AccountUnlocked,
        Self::UserInvited,
        Self::AccessGranted,
        Self::AccessRevoked,
        Self::RoleSaved,
        Self::RoleDeleted,
        Self::PlacesRefreshed,
        Self::SignInSettingsChanged,
        Self::DeploymentConfigChanged,
        Self::StageUploaded,
        Self::StageRowAdded,
        Self::StageRowEdited,
        Self::StageRowRemoved,
        Self::StageWarningsAcknowledged,
        Self::StageRevalidated,
        Self::AccessDenied,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "auth.login",
            Self::LoginFailed => "auth.login_failed",
            Self::LoginThrottled => "auth.login_throttled",
            Self::Logout => "auth.logout",
            Self::PasswordChanged => "auth.password_changed",
            Self::UserCreated => "user.created",
            Self::TenantCreated => "tenant.created",
            Self::TenantUpdated => "tenant.updated",
            Self::TenantDeleted => "tenant.deleted",
            Self::InstanceCreated => "instance.created",
            Self::InstanceUpdated => "instance.updated",
            Self::InstanceDeleted => "instance.deleted",
            Self::InstanceConnectionTested => "instance.connection_tested",
            Self::AccountUnlocked => "auth.account_unlocked",
            Self::UserInvited => "user.invited",
            Self::AccessGranted => "access.granted",
            Self::AccessRevoked => "access.revoked",
            Self::RoleSaved => "role.saved",
            Self::RoleDeleted => "role.deleted",
            Self::PlacesRefreshed => "places.refreshed",
            Self::SignInSettingsChanged => "config.sign_in_changed",
            Self::DeploymentConfigChanged => "config.deployment_changed",
            Self::StageUploaded => "stage.uploaded",
            Self::StageRowAdded => "stage.row_added",
            Self::StageRowEdited => "stage.row_edited",
            Self::StageRowRemoved => "stage.row_removed",
            Self::StageWarningsAcknowledged => "stage.warnings_acknowledged",
            Self::StageRevalidated => "stage.revalidated",
            Self::AccessDenied => "access.denied",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The kind of thing an audit event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    User,
    Tenant,
    Instance,
    Grant,
    Role,
    Batch,
}

impl TargetKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Tenant => "tenant",
            Self::Instance => "instance",
            Self::Grant => "grant",
            Self::Role => "role",
            Self::Batch => "batch",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for action in AuditAction::ALL {
            assert!(seen.insert(action.as_str()));
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
    }
}
