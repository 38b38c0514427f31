//! The authorizer every request goes through: one casbin enforcer per tenant, rebuilt when the
//! authorization revision in the database moves.

use portal_domain::PlaceScope;
use std::collections::HashMap;
use std::sync::Arc;

use casbin::function_map::OperatorFunction;
use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi};
use chrono::{DateTime, Utc};
use portal_domain::{InstanceId, Permission, PermissionSet, TenantId, UserId, place_path};
use portal_store::Db;
use portal_store::access;

use tokio::sync::{Mutex, RwLock};

use crate::adapter::{self, GrantsAdapter};
use crate::scope::{self, Target};

/// Roles within domains (the tenant), plus a scope test on the place hierarchy and an expiry
/// test. `g` links a role to each permission it grants.
pub const MODEL: &str = r#"
[request_definition]
r = sub, dom, scope, act, now

[policy_definition]
p = sub, dom, scope, role, expires

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == p.sub && r.dom == p.dom && g(p.role, r.act) && scopeCovers(p.scope, r.scope) && notExpired(p.expires, r.now)
"#;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("authorization policies could not be loaded: {0}")]
    Policy(#[from] casbin::Error),
    #[error(transparent)]
    Store(#[from] portal_store::StoreError),
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    /// Runs the service: allowed everything, in every tenant.
    pub platform_admin: bool,
    /// A session that began at a tenant's identity provider acts in that tenant only.
    pub restricted_to: Option<TenantId>,
}

/// A grant as the enforcer holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldScope {
    /// `*`, `i:<instance>` or `i:<instance>/<place>` (see [`scope`]).
    pub scope: String,
    pub role: String,
    pub expires: String,
}

impl HeldScope {
    /// The instance and place of this scope, if it is narrower than the tenant.
    #[must_use]
    pub fn instance_and_place(&self) -> Option<(String, Option<String>)> {
        let rest = self.scope.strip_prefix("i:")?;
        Some(match rest.split_once('/') {
            Some((instance, place)) => (
                instance.to_owned(),
                place_path::ancestor_ids(&format!("/{place}/")).pop(),
            ),
            None => (rest.to_owned(), None),
        })
    }
}

/// What a principal may see of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceView {
    Nothing,
    Places(PlaceScope),
}

struct Snapshot {
    revision: i64,
    enforcers: HashMap<TenantId, Arc<Enforcer>>,
}

pub struct Authorizer {
    db: Db,
    snapshot: RwLock<Snapshot>,
    /// One rebuild at a time: concurrent requests after a change wait for it.
    building: Mutex<()>,
}

fn covers(policy: rhai_dynamic::Dynamic, request: rhai_dynamic::Dynamic) -> rhai_dynamic::Dynamic {
    let policy = casbin::function_map::dynamic_to_str(&policy);
    let request = casbin::function_map::dynamic_to_str(&request);
    scope::covers(&policy, &request).into()
}

fn not_expired(
    expires: rhai_dynamic::Dynamic,
    now: rhai_dynamic::Dynamic,
) -> rhai_dynamic::Dynamic {
    let expires = casbin::function_map::dynamic_to_str(&expires);
    let now = casbin::function_map::dynamic_to_str(&now);
    (expires.is_empty() || *expires > *now).into()
}

/// The rhai value type casbin passes to custom functions.
mod rhai_dynamic {
    pub use casbin::rhai::Dynamic;
}

impl Authorizer {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self {
            db,
            snapshot: RwLock::new(Snapshot {
                revision: -1,
                enforcers: HashMap::new(),
            }),
            building: Mutex::new(()),
        }
    }

    /// Reads the revision and forgets every enforcer if it moved: the next check rebuilds. One
    /// small read per request keeps a revocation effective everywhere at once.
    pub async fn sync(&self) -> Result<(), AccessError> {
        let revision = access::revision(&self.db).await?;
        if self.snapshot.read().await.revision == revision {
            return Ok(());
        }
        let mut snapshot = self.snapshot.write().await;
        if snapshot.revision != revision {
            snapshot.revision = revision;
            snapshot.enforcers.clear();
        }
        Ok(())
    }

    async fn enforcer(
        &self,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> Result<Arc<Enforcer>, AccessError> {
        if let Some(found) = self.snapshot.read().await.enforcers.get(&tenant) {
            return Ok(Arc::clone(found));
        }
        let _building = self.building.lock().await;
        let revision = {
            let snapshot = self.snapshot.read().await;
            if let Some(found) = snapshot.enforcers.get(&tenant) {
                return Ok(Arc::clone(found));
            }
            snapshot.revision
        };
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer =
            Enforcer::new(model, GrantsAdapter::new(self.db.clone(), tenant, now)).await?;
        enforcer.add_function("scopeCovers", OperatorFunction::Arg2(covers));
        enforcer.add_function("notExpired", OperatorFunction::Arg2(not_expired));
        let enforcer = Arc::new(enforcer);
        let mut snapshot = self.snapshot.write().await;
        // Only keep it if no change arrived while it was being built.
        if snapshot.revision == revision {
            snapshot.enforcers.insert(tenant, Arc::clone(&enforcer));
        }
        Ok(enforcer)
    }

    /// May `who` do `permission` on `target` in `tenant` at `now`?
    pub async fn allowed(
        &self,
        who: &Principal,
        tenant: TenantId,
        target: &Target,
        permission: Permission,
        now: DateTime<Utc>,
    ) -> Result<bool, AccessError> {
        if who.restricted_to.is_some_and(|t| t != tenant) {
            return Ok(false);
        }
        if who.platform_admin {
            return Ok(true);
        }
        let enforcer = self.enforcer(tenant, now).await?;
        Ok(enforcer.enforce((
            adapter::subject(who.user_id),
            tenant.to_string(),
            target.request_scope(),
            adapter::permission_name(permission),
            adapter::expiry_stamp(Some(now)),
        ))?)
    }

    /// Every permission `who` holds on `target`.
    pub async fn permissions_at(
        &self,
        who: &Principal,
        tenant: TenantId,
        target: &Target,
        now: DateTime<Utc>,
    ) -> Result<PermissionSet, AccessError> {
        let mut held = Vec::new();
        for permission in Permission::ALL {
            if self.allowed(who, tenant, target, permission, now).await? {
                held.push(permission);
            }
        }
        Ok(PermissionSet::new(held))
    }

    /// The grants `who` holds in `tenant` that are in force at `now`.
    pub async fn held(
        &self,
        who: &Principal,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> Result<Vec<HeldScope>, AccessError> {
        if who.restricted_to.is_some_and(|t| t != tenant) {
            return Ok(Vec::new());
        }
        let enforcer = self.enforcer(tenant, now).await?;
        let stamp = adapter::expiry_stamp(Some(now));
        Ok(enforcer
            .get_filtered_policy(0, vec![adapter::subject(who.user_id)])
            .into_iter()
            .filter_map(|line| match line.as_slice() {
                [_, _, scope, role, expires] if expires.is_empty() || *expires > stamp => {
                    Some(HeldScope {
                        scope: scope.clone(),
                        role: role.clone(),
                        expires: expires.clone(),
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// Whether `who` belongs to `tenant` at all (any grant in force, or platform admin).
    pub async fn is_member(
        &self,
        who: &Principal,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> Result<bool, AccessError> {
        if who.restricted_to.is_some_and(|t| t != tenant) {
            return Ok(false);
        }
        Ok(who.platform_admin || !self.held(who, tenant, now).await?.is_empty())
    }

    /// What `who` may see of `instance` — with `permission`, or with any permission when
    /// `None`. Lists and searches are filtered with this.
    pub async fn instance_view(
        &self,
        who: &Principal,
        tenant: TenantId,
        instance: InstanceId,
        permission: Option<Permission>,
        now: DateTime<Utc>,
    ) -> Result<InstanceView, AccessError> {
        if who.restricted_to.is_some_and(|t| t != tenant) {
            return Ok(InstanceView::Nothing);
        }
        if who.platform_admin {
            return Ok(InstanceView::Places(PlaceScope::Everything));
        }
        let enforcer = self.enforcer(tenant, now).await?;
        let roles = enforcer.get_role_manager();
        let grants_permission = |role: &str| match permission {
            Some(p) => roles
                .read()
                .has_link(role, &adapter::permission_name(p), None),
            None => true,
        };
        let instance_text = instance.to_string();
        let mut roots = Vec::new();
        for held in self.held(who, tenant, now).await? {
            if !grants_permission(&held.role) {
                continue;
            }
            if held.scope == "*" {
                return Ok(InstanceView::Places(PlaceScope::Everything));
            }
            match held.instance_and_place() {
                Some((id, None)) if id == instance_text => {
                    return Ok(InstanceView::Places(PlaceScope::Everything));
                }
                Some((id, Some(place))) if id == instance_text => roots.push(place),
                _ => {}
            }
        }
        Ok(if roots.is_empty() {
            InstanceView::Nothing
        } else {
            roots.sort();
            roots.dedup();
            InstanceView::Places(PlaceScope::Subtrees(roots))
        })
    }
}
