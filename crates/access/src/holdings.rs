//! What a person holds in a tenant at one moment, and until when: the arithmetic of delegation,
//! without I/O. It reads grants the way the casbin model does (`adapter::policy_lines` and the
//! matcher): a grant in force gives its role's permissions on every target its scope covers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portal_domain::{BuiltinRole, Permission, PermissionSet, RoleKey, TenantId};
use portal_store::access::{Grant, Role};

use crate::Principal;
use crate::scope::{self, policy_scope};

/// Until when a permission is held on a target. Ordered: not held, then until an instant
/// (earlier first), then without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Holding {
    NotHeld,
    Until(DateTime<Utc>),
    NoEnd,
}

impl Holding {
    /// A grant's end as a holding: no end date is [`Holding::NoEnd`].
    #[must_use]
    pub fn of_expiry(expires: Option<DateTime<Utc>>) -> Self {
        expires.map_or(Self::NoEnd, Self::Until)
    }

    #[must_use]
    pub fn is_held(self) -> bool {
        self != Self::NotHeld
    }
}

/// The permissions of every role of a tenant: the built-in ones and its own.
#[derive(Debug, Clone)]
pub struct RoleBook(HashMap<RoleKey, Role>);

impl RoleBook {
    #[must_use]
    pub fn new(custom: Vec<Role>) -> Self {
        let builtin = BuiltinRole::ALL.into_iter().map(Role::from_builtin);
        Self(
            builtin
                .chain(custom)
                .map(|role| (role.key.clone(), role))
                .collect(),
        )
    }

    #[must_use]
    pub fn get(&self, key: &RoleKey) -> Option<&Role> {
        self.0.get(key)
    }

    /// A role's permissions; none for a key the tenant does not have (a deleted role).
    #[must_use]
    pub fn permissions(&self, key: &RoleKey) -> PermissionSet {
        self.get(key)
            .map(|role| role.permissions.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
struct HeldGrant {
    policy_scope: String,
    permissions: PermissionSet,
    ends: Holding,
}

/// A person's grants in force in one tenant at one moment.
#[derive(Debug, Clone)]
pub struct Holdings {
    /// A platform administrator: everything, without end.
    everything: bool,
    grants: Vec<HeldGrant>,
}

impl Holdings {
    /// What `who` holds in `tenant` at `now`, given the tenant's grants and roles. A session
    /// restricted to another tenant holds nothing here, as in `Authorizer::allowed`.
    #[must_use]
    pub fn of(
        who: &Principal,
        tenant: TenantId,
        grants: &[Grant],
        roles: &RoleBook,
        now: DateTime<Utc>,
    ) -> Self {
        if who.restricted_to.is_some_and(|t| t != tenant) {
            return Self {
                everything: false,
                grants: Vec::new(),
            };
        }
        Self {
            everything: who.platform_admin,
            grants: grants
                .iter()
                .filter(|g| g.tenant_id == tenant && g.user_id == who.user_id && g.is_active(now))
                .map(|g| HeldGrant {
                    policy_scope: policy_scope(&g.scope),
                    permissions: roles.permissions(&g.role_key),
                    ends: Holding::of_expiry(g.expires_at),
                })
                .collect(),
        }
    }

    /// Until when `permission` is held on the target whose request scope is `request_scope`
    /// (see [`crate::Target::request_scope`]): the latest end among the grants that cover it and
    /// give it.
    #[must_use]
    pub fn until(&self, permission: Permission, request_scope: &str) -> Holding {
        if self.everything {
            return Holding::NoEnd;
        }
        self.grants
            .iter()
            .filter(|g| {
                g.permissions.contains(permission) && scope::covers(&g.policy_scope, request_scope)
            })
            .map(|g| g.ends)
            .max()
            .unwrap_or(Holding::NotHeld)
    }

    /// Every permission held on the target now.
    #[must_use]
    pub fn permissions_at(&self, request_scope: &str) -> PermissionSet {
        PermissionSet::new(
            Permission::ALL
                .into_iter()
                .filter(|p| self.until(*p, request_scope).is_held()),
        )
    }

    /// The earliest end among `permissions` on the target, with the permissions that end then.
    /// `Holding::NoEnd` (and no permissions) when all of them are held without end.
    #[must_use]
    pub fn earliest_end(
        &self,
        permissions: &PermissionSet,
        request_scope: &str,
    ) -> (Holding, PermissionSet) {
        let ends: Vec<(Permission, Holding)> = permissions
            .iter()
            .map(|p| (p, self.until(p, request_scope)))
            .collect();
        let earliest = ends
            .iter()
            .map(|(_, end)| *end)
            .min()
            .unwrap_or(Holding::NoEnd);
        if earliest == Holding::NoEnd {
            return (earliest, PermissionSet::default());
        }
        let binding = ends
            .into_iter()
            .filter(|(_, end)| *end == earliest)
            .map(|(p, _)| p);
        (earliest, PermissionSet::new(binding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use portal_domain::{InstanceId, UserId};
    use portal_store::access::GrantScope;

    fn grant(
        user: UserId,
        tenant: TenantId,
        role: BuiltinRole,
        scope: GrantScope,
        ends: Option<DateTime<Utc>>,
    ) -> Grant {
        Grant {
            id: uuid::Uuid::now_v7(),
            tenant_id: tenant,
            user_id: user,
            role_key: RoleKey::builtin(role),
            scope,
            expires_at: ends,
            granted_by: None,
            created_at: Utc::now(),
            revoked_at: None,
        }
    }

    #[test]
    fn the_latest_covering_grant_decides_and_the_earliest_permission_binds() {
        let (user, tenant, instance) = (UserId::new(), TenantId::new(), InstanceId::new());
        let now = Utc::now();
        let week = now + Duration::days(7);
        let month = now + Duration::days(30);
        let grants = [
            grant(
                user,
                tenant,
                BuiltinRole::NationalAdmin,
                GrantScope::Tenant,
                Some(week),
            ),
            grant(
                user,
                tenant,
                BuiltinRole::RegionManager,
                GrantScope::Instance(instance),
                Some(month),
            ),
            grant(
                user,
                tenant,
                BuiltinRole::MeOfficer,
                GrantScope::Instance(instance),
                None,
            ),
        ];
        let who = Principal {
            user_id: user,
            platform_admin: false,
            restricted_to: None,
        };
        let held = Holdings::of(&who, tenant, &grants, &RoleBook::new(Vec::new()), now);
        let on_instance = crate::Target::Instance(instance).request_scope();
        assert_eq!(
            held.until(Permission::ManageConfig, &on_instance),
            Holding::Until(week)
        );
        assert_eq!(
            held.until(Permission::Stage, &on_instance),
            Holding::Until(month)
        );
        assert_eq!(
            held.until(Permission::ViewAudit, &on_instance),
            Holding::NoEnd
        );
        assert_eq!(held.until(Permission::Stage, "*"), Holding::Until(week));
        let (end, binding) =
            held.earliest_end(&BuiltinRole::NationalAdmin.permissions(), &on_instance);
        assert_eq!(end, Holding::Until(week));
        assert_eq!(
            binding,
            PermissionSet::new([Permission::ManageConfig, Permission::ManageInstances])
        );
        // Past its end, a grant gives nothing.
        let later = Holdings::of(&who, tenant, &grants, &RoleBook::new(Vec::new()), week);
        assert_eq!(
            later.until(Permission::ManageConfig, &on_instance),
            Holding::NotHeld
        );
    }
}
