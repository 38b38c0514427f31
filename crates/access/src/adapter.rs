//! A casbin adapter that reads policies from the portal database.
//!
//! The published casbin adapters are on an older sqlx than sea-orm 2 (docs/adr/0006). Policies
//! are *derived*: the grants and roles tables are the source of truth (they carry who granted,
//! when, until when, and revocations), and this adapter turns one tenant's active grants and
//! roles into casbin lines when an enforcer loads. Writing through casbin is refused, so no
//! policy can exist that the grants table does not explain.

use async_trait::async_trait;
use casbin::error::AdapterError;
use casbin::{Adapter, Filter, Model};
use chrono::{DateTime, Utc};
use portal_domain::{BuiltinRole, PermissionSet, TenantId};
use portal_store::Db;
use portal_store::access::{self, Grant, Role};

use crate::scope::policy_scope;

/// casbin subject of a user.
#[must_use]
pub fn subject(user: portal_domain::UserId) -> String {
    format!("u:{user}")
}

/// casbin name of a role.
#[must_use]
pub fn role_name(key: &portal_domain::RoleKey) -> String {
    format!("role:{key}")
}

/// casbin name of a permission.
#[must_use]
pub fn permission_name(permission: portal_domain::Permission) -> String {
    format!("perm:{permission}")
}

/// Expiry as a fixed-width string, so the matcher can compare it as text.
#[must_use]
pub fn expiry_stamp(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(String::new, |t| format!("{:020}", t.timestamp().max(0)))
}

/// The policy lines of one tenant: `p` per active grant, `g` per role → permission.
#[must_use]
pub fn policy_lines(
    tenant: TenantId,
    grants: &[Grant],
    custom_roles: &[Role],
) -> Vec<(&'static str, Vec<String>)> {
    let domain = tenant.to_string();
    let mut lines = Vec::new();
    for grant in grants.iter().filter(|g| g.tenant_id == tenant) {
        lines.push((
            "p",
            vec![
                subject(grant.user_id),
                domain.clone(),
                policy_scope(&grant.scope),
                role_name(&grant.role_key),
                expiry_stamp(grant.expires_at),
            ],
        ));
    }
    let builtin = BuiltinRole::ALL
        .into_iter()
        .map(|r| (portal_domain::RoleKey::builtin(r), r.permissions()));
    let custom = custom_roles
        .iter()
        .map(|r| (r.key.clone(), r.permissions.clone()));
    for (key, permissions) in builtin.chain(custom) {
        lines.extend(role_lines(&key, &permissions));
    }
    lines
}

fn role_lines(
    key: &portal_domain::RoleKey,
    permissions: &PermissionSet,
) -> impl Iterator<Item = (&'static str, Vec<String>)> {
    let role = role_name(key);
    permissions
        .iter()
        .map(move |p| ("g", vec![role.clone(), permission_name(p)]))
}

/// Loads one tenant's policies from the database.
pub struct GrantsAdapter {
    db: Db,
    tenant: TenantId,
    now: DateTime<Utc>,
}

impl GrantsAdapter {
    #[must_use]
    pub fn new(db: Db, tenant: TenantId, now: DateTime<Utc>) -> Self {
        Self { db, tenant, now }
    }
}

fn adapter_error(error: impl std::fmt::Display) -> casbin::Error {
    casbin::Error::AdapterError(AdapterError(Box::new(std::io::Error::other(
        error.to_string(),
    ))))
}

fn read_only() -> casbin::Error {
    adapter_error("policies are derived from grants; change them through portal_store::access")
}

#[async_trait]
impl Adapter for GrantsAdapter {
    async fn load_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        let grants = access::active_grants(&self.db, self.tenant, self.now)
            .await
            .map_err(adapter_error)?;
        let roles = access::custom_roles(&self.db, self.tenant)
            .await
            .map_err(adapter_error)?;
        for (ptype, rule) in policy_lines(self.tenant, &grants, &roles) {
            m.add_policy(ptype, ptype, rule);
        }
        Ok(())
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        m: &mut dyn Model,
        _f: Filter<'a>,
    ) -> casbin::Result<()> {
        self.load_policy(m).await
    }

    async fn save_policy(&mut self, _m: &mut dyn Model) -> casbin::Result<()> {
        Err(read_only())
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        Err(read_only())
    }

    fn is_filtered(&self) -> bool {
        false
    }

    async fn add_policy(&mut self, _s: &str, _p: &str, _r: Vec<String>) -> casbin::Result<bool> {
        Err(read_only())
    }

    async fn add_policies(
        &mut self,
        _s: &str,
        _p: &str,
        _r: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        Err(read_only())
    }

    async fn remove_policy(&mut self, _s: &str, _p: &str, _r: Vec<String>) -> casbin::Result<bool> {
        Err(read_only())
    }

    async fn remove_policies(
        &mut self,
        _s: &str,
        _p: &str,
        _r: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        Err(read_only())
    }

    async fn remove_filtered_policy(
        &mut self,
        _s: &str,
        _p: &str,
        _i: usize,
        _v: Vec<String>,
    ) -> casbin::Result<bool> {
        Err(read_only())
    }
}
