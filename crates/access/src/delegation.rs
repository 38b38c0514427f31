//! The delegation rules, in one place for the web pages and for anything later that changes
//! access (an API, a background job):
//!
//! - nobody gives, revokes or reshapes their own access: no grant to oneself, no revoking one's
//!   own grant, no editing or deleting a role one holds;
//! - giving or revoking a role over a scope needs `grant` there and every permission of the role;
//! - a grant gives each permission at its scope for no longer than the grantor holds that same
//!   permission there (and their `grant` permission): its end is at most the earliest of those
//!   ends, with no end only when the grantor holds all of them without end;
//! - a role edit gives no holder of the role a permission the editor does not hold at the
//!   holder's scope for at least as long as the holder's grant runs; editing and deleting a role
//!   need `grant` on the whole tenant and every permission the role had or gets.
//!
//! Each rule is checked on what the database holds inside the [`AccessChange`] that then
//! writes, so a revocation cannot slip in between the check and the write. The checks read
//! grants the way the casbin model does ([`Holdings`]); the tests compare both.

use chrono::{DateTime, Utc};
use portal_domain::{Permission, PermissionSet, RoleKey, TenantId, UserId};
use portal_store::access::{self, AccessChange, Grant, GrantScope, Grantee, NewGrant, Role};
use portal_store::users::User;
use portal_store::{AuditContext, Db, StoreError};
use uuid::Uuid;

use crate::holdings::{Holding, Holdings, RoleBook};
use crate::{Principal, Target};

/// Why a change to access was refused; the message says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum DelegationError {
    /// Giving, revoking or reshaping one's own access.
    #[error("{0}")]
    OwnAccess(String),
    /// No `grant` permission on the scope.
    #[error(
        "You cannot give or take away access there: it is outside the area where you manage access."
    )]
    OutsideArea,
    /// The role allows more on the scope than the person holds there.
    #[error(
        "You can only give or take away roles whose permissions you hold there yourself. {role} also allows: {}.",
        names(missing)
    )]
    MissingPermissions {
        role: String,
        missing: PermissionSet,
    },
    /// The grant would outlast the grantor's own hold on some of its permissions.
    #[error(
        "Your own access here ends on {day}: you hold {} here only until then. Access you give must end on or before that day; choose {day} or an earlier date.",
        quoted(permissions),
        day = until.format("%Y-%m-%d")
    )]
    OutlivesGrantor {
        until: DateTime<Utc>,
        permissions: PermissionSet,
    },
    /// Roles apply wherever they are held, so they are the business of tenant-wide managers.
    #[error(
        "Roles apply across the whole tenant: changing or deleting one needs the grant permission on the whole tenant."
    )]
    NotTenantWide,
    /// The role had or would get permissions the editor does not hold on the whole tenant.
    #[error(
        "You do not hold these on the whole tenant yourself, so you cannot put them in a role or take them out of one: {}.",
        names(missing)
    )]
    RoleBeyondEditor { missing: PermissionSet },
    /// A permission added to a role would outlast the editor's own hold on it at a holder's scope.
    #[error(
        "Adding '{permission}' to this role would give it to {holder} {} (their access {}), but you hold '{permission}' there {}. Ask someone who holds it for longer to change the role, or define a new role.",
        where_label(scope),
        holder_end(*holder_ends),
        editor_end(*editor_ends)
    )]
    OutlivesEditor {
        permission: Permission,
        holder: String,
        scope: GrantScope,
        holder_ends: Option<DateTime<Utc>>,
        editor_ends: Holding,
    },
    #[error("There is no role {0} in this tenant; choose one of the roles in the list.")]
    UnknownRole(RoleKey),
    #[error("{0} is a built-in role and cannot be changed or deleted; choose another key.")]
    BuiltinRole(RoleKey),
    /// The instance or place of a new grant is not the tenant's, or not in the place cache.
    #[error("{0}")]
    ScopeUnavailable(String),
    #[error("That end date has already passed; choose a future date.")]
    EndPassed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn names(set: &PermissionSet) -> String {
    set.iter()
        .map(Permission::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(set: &PermissionSet) -> String {
    set.iter()
        .map(|p| format!("'{p}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn where_label(scope: &GrantScope) -> String {
    match scope {
        GrantScope::Tenant => "on the whole tenant".to_owned(),
        GrantScope::Instance(_) => "on a whole instance".to_owned(),
        GrantScope::Place { place_name, .. } => format!("at {place_name} and below"),
    }
}

fn holder_end(ends: Option<DateTime<Utc>>) -> String {
    ends.map_or_else(
        || "has no end date".to_owned(),
        |t| format!("runs until {}", t.format("%Y-%m-%d")),
    )
}

fn editor_end(ends: Holding) -> String {
    match ends {
        Holding::NotHeld => "not at all".to_owned(),
        Holding::Until(t) => format!("only until {}", t.format("%Y-%m-%d")),
        Holding::NoEnd => "without end".to_owned(),
    }
}

/// The grants in force and the roles of a tenant, as read inside a change.
struct Situation {
    grants: Vec<Grant>,
    roles: RoleBook,
}

impl Situation {
    async fn read(
        change: &AccessChange,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let db = change.connection();
        Ok(Self {
            grants: access::active_grants(db, tenant, now).await?,
            roles: RoleBook::new(access::custom_roles(db, tenant).await?),
        })
    }

    fn holdings(&self, who: &Principal, tenant: TenantId, now: DateTime<Utc>) -> Holdings {
        Holdings::of(who, tenant, &self.grants, &self.roles, now)
    }

    /// Whether `who` holds `key` themselves through a grant in force.
    fn holds_role(&self, who: &Principal, key: &RoleKey) -> bool {
        self.grants
            .iter()
            .any(|g| g.user_id == who.user_id && &g.role_key == key)
    }
}

/// The target of an existing grant's scope. A place no longer in the cache is judged as
/// directly under the instance root (as the access page does): only tenant- or instance-wide
/// grants cover it.
async fn target_of(change: &AccessChange, scope: &GrantScope) -> Result<Target, StoreError> {
    Ok(match scope {
        GrantScope::Tenant => Target::Tenant,
        GrantScope::Instance(id) => Target::Instance(*id),
        GrantScope::Place {
            instance_id,
            place_id,
            ..
        } => Target::Place {
            instance_id: *instance_id,
            place_id: place_id.clone(),
            lineage: access::place_lineage(change.connection(), *instance_id, place_id)
                .await?
                .unwrap_or_else(|| "/".to_owned()),
        },
    })
}

/// The target of a new grant's scope: its instance must be the tenant's, its place cached.
/// A place the cache lacks is refused as outside the grantor's area, exactly as a real place
/// there, unless `held` gives `grant` on the whole instance: only someone who may see every
/// place of it learns that a place id is not in the copy, so nobody probes other areas for ids.
async fn new_target(
    change: &AccessChange,
    tenant: TenantId,
    held: &Holdings,
    scope: &GrantScope,
) -> Result<Target, DelegationError> {
    let db = change.connection();
    if let Some(instance) = scope.instance_id()
        && !access::instance_in_tenant(db, tenant, instance).await?
    {
        return Err(DelegationError::ScopeUnavailable(
            "That CHT instance is not in this tenant.".to_owned(),
        ));
    }
    if let GrantScope::Place {
        instance_id,
        place_id,
        ..
    } = scope
        && access::place_lineage(db, *instance_id, place_id)
            .await?
            .is_none()
    {
        let whole_instance = Target::Instance(*instance_id).request_scope();
        if !held.until(Permission::Grant, &whole_instance).is_held() {
            return Err(DelegationError::OutsideArea);
        }
        return Err(DelegationError::ScopeUnavailable(
            "That place is not in the portal's copy of the instance. Refresh the places and search again."
                .to_owned(),
        ));
    }
    Ok(target_of(change, scope).await?)
}

/// Giving or revoking `role` on `target` needs `grant` there and each of its permissions.
fn may_hand_out(held: &Holdings, role: &Role, request_scope: &str) -> Result<(), DelegationError> {
    hand_out_with(&held.permissions_at(request_scope), role)
}

fn hand_out_with(here: &PermissionSet, role: &Role) -> Result<(), DelegationError> {
    if !here.contains(Permission::Grant) {
        return Err(DelegationError::OutsideArea);
    }
    let missing = PermissionSet::new(role.permissions.iter().filter(|p| !here.contains(*p)));
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DelegationError::MissingPermissions {
            role: role.name.clone(),
            missing,
        })
    }
}

/// The end a new grant may have: the one asked for, if the grantor holds every permission in
/// `needed` at least that long. End dates are chosen by day, so a date on the day the
/// grantor's own hold ends means "until then".
fn bounded_end(
    held: &Holdings,
    needed: &PermissionSet,
    request_scope: &str,
    asked: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DelegationError> {
    if asked.is_some_and(|at| at <= now) {
        return Err(DelegationError::EndPassed);
    }
    match held.earliest_end(needed, request_scope) {
        (Holding::NoEnd, _) => Ok(asked),
        (Holding::NotHeld, _) => Err(DelegationError::OutsideArea),
        (Holding::Until(limit), binding) => match asked {
            Some(at) if at <= limit => Ok(Some(at)),
            Some(at) if at.date_naive() == limit.date_naive() => Ok(Some(limit)),
            _ => Err(DelegationError::OutlivesGrantor {
                until: limit,
                permissions: binding,
            }),
        },
    }
}

/// Gives `new` to `grantee` on behalf of `grantor`, if the rules allow it (see the module
/// docs); the grant, its audit event and any invitation are written in the same transaction
/// as the checks. `new.expires_at` may come back a little earlier than asked, never later:
/// a date on the day the grantor's hold ends becomes that end.
pub async fn give_access(
    db: &Db,
    ctx: &AuditContext,
    grantor: &Principal,
    grantee: Grantee,
    mut new: NewGrant,
) -> Result<(Grant, User), DelegationError> {
    let now = ctx.now;
    let change = AccessChange::begin(db).await?;
    let grantee_id = match &grantee {
        Grantee::Existing(id) => Some(*id),
        Grantee::Invite { email, .. } => {
            access::user_with_email(change.connection(), email).await?
        }
        Grantee::ChtUser {
            instance_id,
            username,
            ..
        } => portal_store::cht_identities::user_for(change.connection(), *instance_id, username)
            .await?
            .map(|user| user.id),
    };
    if grantee_id == Some(grantor.user_id) {
        return Err(DelegationError::OwnAccess(
            "You cannot give access to yourself. Ask another person who manages access here."
                .to_owned(),
        ));
    }
    let here = Situation::read(&change, new.tenant_id, now).await?;
    let role = here
        .roles
        .get(&new.role_key)
        .cloned()
        .ok_or_else(|| DelegationError::UnknownRole(new.role_key.clone()))?;
    let held = here.holdings(grantor, new.tenant_id, now);
    let target = new_target(&change, new.tenant_id, &held, &new.scope)
        .await?
        .request_scope();
    may_hand_out(&held, &role, &target)?;
    let needed = PermissionSet::new(role.permissions.iter().chain([Permission::Grant]));
    new.expires_at = bounded_end(&held, &needed, &target, new.expires_at, now)?;
    let given = access::grant_in(&change, ctx, grantee, new).await?;
    change.commit().await?;
    Ok(given)
}

fn own_grant() -> DelegationError {
    DelegationError::OwnAccess(
        "You cannot revoke your own access. Ask another person who manages access here.".to_owned(),
    )
}

/// Whether `revoker`, holding `held` at the scope of a grant to `holder` of `role` (`None`: a
/// role deleted since, which gives nothing), may revoke it: the rules of [`revoke_access`], for
/// showing a "Revoke" button from the permissions the authorizer reports. [`revoke_access`]
/// checks again on what the database holds when it writes.
pub fn may_revoke(
    revoker: &Principal,
    holder: UserId,
    role: Option<&Role>,
    held: &PermissionSet,
) -> Result<(), DelegationError> {
    if holder == revoker.user_id {
        return Err(own_grant());
    }
    match role {
        Some(role) => hand_out_with(held, role),
        None if held.contains(Permission::Grant) => Ok(()),
        None => Err(DelegationError::OutsideArea),
    }
}

/// Revokes grant `id` of `tenant` on behalf of `revoker`: not their own, and only with `grant`
/// and every permission of its role over its scope.
pub async fn revoke_access(
    db: &Db,
    ctx: &AuditContext,
    revoker: &Principal,
    tenant: TenantId,
    id: Uuid,
) -> Result<Grant, DelegationError> {
    let now = ctx.now;
    let change = AccessChange::begin(db).await?;
    let grant = access::get_grant(change.connection(), tenant, id).await?;
    if grant.user_id == revoker.user_id {
        return Err(own_grant());
    }
    let here = Situation::read(&change, tenant, now).await?;
    // A role deleted since (only possible once no grant in force held it) gives nothing.
    let role = here.roles.get(&grant.role_key).cloned().unwrap_or(Role {
        key: grant.role_key.clone(),
        name: grant.role_key.to_string(),
        permissions: PermissionSet::default(),
        builtin: false,
    });
    let target = target_of(&change, &grant.scope).await?.request_scope();
    may_hand_out(&here.holdings(revoker, tenant, now), &role, &target)?;
    let revoked = access::revoke_in(&change, ctx, tenant, id).await?;
    change.commit().await?;
    Ok(revoked)
}

/// What the editor must hold to change or delete a role that had `before` and gets `after`:
/// `grant` on the whole tenant, every permission of both, and not the role itself.
fn may_reshape(
    here: &Situation,
    held: &Holdings,
    editor: &Principal,
    key: &RoleKey,
    name: &str,
    permissions: impl Iterator<Item = Permission>,
) -> Result<(), DelegationError> {
    let tenant_wide = held.permissions_at(&Target::Tenant.request_scope());
    if !tenant_wide.contains(Permission::Grant) {
        return Err(DelegationError::NotTenantWide);
    }
    let missing = PermissionSet::new(permissions.filter(|p| !tenant_wide.contains(*p)));
    if !missing.is_empty() {
        return Err(DelegationError::RoleBeyondEditor { missing });
    }
    if here.holds_role(editor, key) {
        return Err(DelegationError::OwnAccess(format!(
            "You hold the role {name} yourself, so you cannot change or delete it. Ask another person who manages access here."
        )));
    }
    Ok(())
}

/// Creates or changes a tenant role on behalf of `editor` (see the module docs).
pub async fn save_role(
    db: &Db,
    ctx: &AuditContext,
    editor: &Principal,
    tenant: TenantId,
    key: &RoleKey,
    name: &str,
    permissions: &PermissionSet,
) -> Result<(), DelegationError> {
    if key.as_builtin().is_some() {
        return Err(DelegationError::BuiltinRole(key.clone()));
    }
    let now = ctx.now;
    let change = AccessChange::begin(db).await?;
    let here = Situation::read(&change, tenant, now).await?;
    let held = here.holdings(editor, tenant, now);
    let before = here.roles.permissions(key);
    let current_name = here.roles.get(key).map_or(name, |role| role.name.as_str());
    may_reshape(
        &here,
        &held,
        editor,
        key,
        current_name,
        before.iter().chain(permissions.iter()),
    )?;
    let added = PermissionSet::new(permissions.iter().filter(|p| !before.contains(*p)));
    if !added.is_empty() {
        let holders = access::tenant_grants(change.connection(), tenant, false).await?;
        for listing in holders
            .iter()
            .filter(|l| &l.grant.role_key == key && l.grant.is_active(now))
        {
            let target = target_of(&change, &listing.grant.scope)
                .await?
                .request_scope();
            let holder_ends = Holding::of_expiry(listing.grant.expires_at);
            for permission in added.iter() {
                let editor_ends = held.until(permission, &target);
                if editor_ends < holder_ends {
                    return Err(DelegationError::OutlivesEditor {
                        permission,
                        holder: listing.user.email.clone(),
                        scope: listing.grant.scope.clone(),
                        holder_ends: listing.grant.expires_at,
                        editor_ends,
                    });
                }
            }
        }
    }
    access::save_role_in(&change, ctx, tenant, key, name, permissions).await?;
    change.commit().await?;
    Ok(())
}

/// Deletes a tenant role on behalf of `editor`: the same right as changing it, and no grant in
/// force may hold it.
pub async fn delete_role(
    db: &Db,
    ctx: &AuditContext,
    editor: &Principal,
    tenant: TenantId,
    key: &RoleKey,
) -> Result<(), DelegationError> {
    if key.as_builtin().is_some() {
        return Err(DelegationError::BuiltinRole(key.clone()));
    }
    let now = ctx.now;
    let change = AccessChange::begin(db).await?;
    let here = Situation::read(&change, tenant, now).await?;
    let role = here
        .roles
        .get(key)
        .cloned()
        .ok_or(StoreError::NotFound("role"))?;
    let held = here.holdings(editor, tenant, now);
    may_reshape(
        &here,
        &held,
        editor,
        key,
        &role.name,
        role.permissions.iter(),
    )?;
    access::delete_role_in(&change, ctx, tenant, key).await?;
    change.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(user_id: UserId) -> Principal {
        Principal {
            user_id,
            platform_admin: false,
            restricted_to: None,
        }
    }

    fn role(permissions: &[Permission]) -> Role {
        Role {
            key: RoleKey::parse("stager").unwrap(),
            name: "Stager".to_owned(),
            permissions: PermissionSet::new(permissions.iter().copied()),
            builtin: false,
        }
    }

    #[test]
    fn revoking_needs_another_persons_grant_and_every_permission_of_its_role() {
        let (me, them) = (UserId::new(), UserId::new());
        let held = PermissionSet::new([Permission::Grant, Permission::Stage]);
        let stager = role(&[Permission::Stage]);
        assert!(may_revoke(&principal(me), them, Some(&stager), &held).is_ok());
        assert!(matches!(
            may_revoke(&principal(me), me, Some(&stager), &held),
            Err(DelegationError::OwnAccess(_))
        ));
        let committer = role(&[Permission::Stage, Permission::Commit]);
        assert!(matches!(
            may_revoke(&principal(me), them, Some(&committer), &held),
            Err(DelegationError::MissingPermissions { .. })
        ));
        let without_grant = PermissionSet::new([Permission::Stage]);
        for role in [Some(&stager), None] {
            assert!(matches!(
                may_revoke(&principal(me), them, role, &without_grant),
                Err(DelegationError::OutsideArea)
            ));
        }
        // A role deleted since gives nothing, so `grant` there is enough.
        assert!(may_revoke(&principal(me), them, None, &held).is_ok());
    }
}
