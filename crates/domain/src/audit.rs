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
    // Part A of issue 10: sign-in links (invitations, password resets).
    SignInLinkIssued,
    SignInLinkDelivered,
    SignInLinkUsed,
    SignInLinkRefused,
    PasswordResetRequested,
    // Part B of issue 10: the second factor (TOTP).
    SecondFactorEnrolled,
    SecondFactorRemoved,
    SecondFactorPassed,
    SecondFactorFailed,
    RecoveryCodeUsed,
    SecondFactorRequirementChanged,
}

impl AuditAction {
    pub const ALL: [Self; 40] = [
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
        Self::SignInLinkIssued,
        Self::SignInLinkDelivered,
        Self::SignInLinkUsed,
        Self::SignInLinkRefused,
        Self::PasswordResetRequested,
        Self::SecondFactorEnrolled,
        Self::SecondFactorRemoved,
        Self::SecondFactorPassed,
        Self::SecondFactorFailed,
        Self::RecoveryCodeUsed,
        Self::SecondFactorRequirementChanged,
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
            Self::SignInLinkIssued => "auth.link_issued",
            Self::SignInLinkDelivered => "auth.link_delivered",
            Self::SignInLinkUsed => "auth.link_used",
            Self::SignInLinkRefused => "auth.link_refused",
            Self::PasswordResetRequested => "auth.password_reset_requested",
            Self::SecondFactorEnrolled => "auth.second_factor_enrolled",
            Self::SecondFactorRemoved => "auth.second_factor_removed",
            Self::SecondFactorPassed => "auth.second_factor_passed",
            Self::SecondFactorFailed => "auth.second_factor_failed",
            Self::RecoveryCodeUsed => "auth.recovery_code_used",
            Self::SecondFactorRequirementChanged => "config.second_factor_requirement_changed",
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
