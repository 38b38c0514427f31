//! Sign-in with a CHT account: the instances on which a tenant allows it, and the portal people
//! bound to a CHT username on an instance.
//!
//! CHT only vouches for the password; who gets in, and with which scope, is the portal's grants'
//! business. A grant that names "CHT username U on instance I" binds U on I to a portal person
//! (created then, without a portal password); the sign-in looks that person up after CHT has
//! accepted the password.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use portal_domain::{AuditAction, InstanceId, TargetKind, TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::entity::{cht_identity, cht_instance, cht_sign_in_instance, portal_user, tenant};
use crate::users::User;
use crate::{AuditContext, AuditRecord, Result, StoreError, audit};

/// A CHT username as CHT accepts it: lower-case letters, digits, `_` and `-` (CHT's own rule
/// for user names), at most 60 characters. Typed case is forgiven (lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChtUsername(String);

impl ChtUsername {
    pub fn parse(raw: &str) -> std::result::Result<Self, String> {
        let name = raw.trim().to_lowercase();
        if name.is_empty() {
            return Err("Enter the person's CHT username.".to_owned());
        }
        if name.chars().count() > 60
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "'{}' is not a CHT username: CHT usernames use only lower-case letters, digits, _ and - (at most 60).",
                raw.trim().chars().take(60).collect::<String>()
            ));
        }
        Ok(Self(name))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ChtUsername {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The address a person given access by CHT username is stored under (see [`bind_in`]).
fn placeholder_address(username: &ChtUsername, instance: InstanceId) -> String {
    format!("{username}@{instance}{PLACEHOLDER_DOMAIN_SUFFIX}")
}

const PLACEHOLDER_DOMAIN_SUFFIX: &str = ".cht.invalid";

/// The CHT username behind a placeholder address, for showing the person instead of it.
#[must_use]
pub fn username_of_placeholder(email: &str) -> Option<&str> {
    let (username, domain) = email.split_once('@')?;
    domain.strip_suffix(PLACEHOLDER_DOMAIN_SUFFIX)?;
    Some(username)
}

/// An instance offered on the sign-in page.
#[derive(Debug, Clone)]
pub struct SignInInstance {
    pub instance_id: InstanceId,
    pub instance_name: String,
    pub tenant_id: TenantId,
    pub tenant_name: String,
}

/// The instances of `tenant` on which CHT-account sign-in is allowed.
pub async fn allowed_in_tenant(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<BTreeSet<InstanceId>> {
    Ok(cht_sign_in_instance::Entity::find()
        .filter(cht_sign_in_instance::Column::TenantId.eq(tenant.as_uuid()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| InstanceId::from_uuid(row.instance_id))
        .collect())
}

/// The tenant of `instance` when CHT-account sign-in is allowed on it.
pub async fn allowed_tenant(
    db: &impl ConnectionTrait,
    instance: InstanceId,
) -> Result<Option<TenantId>> {
    Ok(cht_sign_in_instance::Entity::find_by_id(instance.as_uuid())
        .one(db)
        .await?
        .map(|row| TenantId::from_uuid(row.tenant_id)))
}

/// Every instance, across tenants, where CHT-account sign-in is allowed: the sign-in page's list.
pub async fn sign_in_instances(db: &DatabaseConnection) -> Result<Vec<SignInInstance>> {
    let allowed: BTreeSet<Uuid> = cht_sign_in_instance::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.instance_id)
        .collect();
    if allowed.is_empty() {
        return Ok(Vec::new());
    }
    let rows = cht_instance::Entity::find()
        .filter(cht_instance::Column::Id.is_in(allowed))
        .find_also_related(tenant::Entity)
        .order_by_asc(cht_instance::Column::Name)
        .all(db)
        .await?;
    let mut list: Vec<SignInInstance> = rows
        .into_iter()
        .filter_map(|(instance, tenant)| {
            let tenant = tenant?;
            Some(SignInInstance {
                instance_id: InstanceId::from_uuid(instance.id),
                instance_name: instance.name,
                tenant_id: TenantId::from_uuid(tenant.id),
                tenant_name: tenant.name,
            })
        })
        .collect();
    list.sort_by(|a, b| {
        (&a.tenant_name, &a.instance_name).cmp(&(&b.tenant_name, &b.instance_name))
    });
    Ok(list)
}

/// Sets the instances of `tenant` on which CHT-account sign-in is allowed (instances of other
/// tenants are refused), with one audit event naming what was added and removed.
pub async fn set_allowed(
    db: &DatabaseConnection,
    ctx: &AuditContext,
    tenant: TenantId,
    wanted: &BTreeSet<InstanceId>,
) -> Result<()> {
    let txn = db.begin().await?;
    let of_tenant: BTreeSet<InstanceId> = cht_instance::Entity::find()
        .filter(cht_instance::Column::TenantId.eq(tenant.as_uuid()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|i| InstanceId::from_uuid(i.id))
        .collect();
    if !wanted.is_subset(&of_tenant) {
        return Err(StoreError::Refused(
            "One of the chosen CHT instances is not in this tenant; reload the page and choose again."
                .to_owned(),
        ));
    }
    let current = allowed_in_tenant(&txn, tenant).await?;
    let added: Vec<InstanceId> = wanted.difference(&current).copied().collect();
    let removed: Vec<InstanceId> = current.difference(wanted).copied().collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(());
    }
    for instance in &added {
        cht_sign_in_instance::ActiveModel {
            instance_id: Set(instance.as_uuid()),
            tenant_id: Set(tenant.as_uuid()),
            allowed_at: Set(ctx.now),
            allowed_by: Set(ctx.actor_user_id.map(|u| u.as_uuid())),
        }
        .insert(&txn)
        .await?;
    }
    if !removed.is_empty() {
        cht_sign_in_instance::Entity::delete_many()
            .filter(
                cht_sign_in_instance::Column::InstanceId.is_in(removed.iter().map(|i| i.as_uuid())),
            )
            .exec(&txn)
            .await?;
    }
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::SignInSettingsChanged)
            .tenant(tenant)
            .target(TargetKind::Tenant, tenant)
            .details(json!({
                "cht_account_sign_in": {
                    "allowed_on": added.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "no_longer_on": removed.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The portal person bound to `username` on `instance`, if any.
pub async fn user_for(
    db: &impl ConnectionTrait,
    instance: InstanceId,
    username: &ChtUsername,
) -> Result<Option<User>> {
    let Some(identity) = cht_identity::Entity::find()
        .filter(cht_identity::Column::InstanceId.eq(instance.as_uuid()))
        .filter(cht_identity::Column::UsernameKey.eq(username.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(portal_user::Entity::find_by_id(identity.user_id)
        .one(db)
        .await?
        .map(User::from))
}

/// The CHT usernames bound to each of `users`, with their instance, for showing who a grant names.
pub async fn identities_of(
    db: &impl ConnectionTrait,
    users: &[UserId],
) -> Result<Vec<(UserId, InstanceId, String)>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    Ok(cht_identity::Entity::find()
        .filter(cht_identity::Column::UserId.is_in(users.iter().map(|u| u.as_uuid())))
        .all(db)
        .await?
        .into_iter()
        .map(|i| {
            (
                UserId::from_uuid(i.user_id),
                InstanceId::from_uuid(i.instance_id),
                i.cht_username,
            )
        })
        .collect())
}

/// The person bound to `username` on `instance`, created (without a portal password, audited as
/// an invitation) when there is none yet. The instance must belong to `tenant`. Runs inside the
/// caller's transaction (the grant's).
pub async fn bind_in(
    txn: &impl ConnectionTrait,
    ctx: &AuditContext,
    tenant: TenantId,
    instance: InstanceId,
    username: &ChtUsername,
    display_name: &str,
) -> Result<User> {
    let in_tenant = cht_instance::Entity::find_by_id(instance.as_uuid())
        .filter(cht_instance::Column::TenantId.eq(tenant.as_uuid()))
        .one(txn)
        .await?
        .is_some();
    if !in_tenant {
        return Err(StoreError::Refused(
            "That CHT instance is not in this tenant.".to_owned(),
        ));
    }
    if let Some(user) = user_for(txn, instance, username).await? {
        return Ok(user);
    }
    let id = UserId::new();
    let now: DateTime<Utc> = ctx.now;
    let display_name = if display_name.trim().is_empty() {
        username.as_str().to_owned()
    } else {
        display_name.trim().chars().take(120).collect()
    };
    // `portal_users.email` is required and unique; a CHT-only person gets an address under the
    // reserved `.invalid` top-level domain (RFC 2606), which no mail server or identity provider
    // can own, so it never receives mail nor matches a provider's account.
    let placeholder = placeholder_address(username, instance);
    let model = portal_user::ActiveModel {
        id: Set(id.as_uuid()),
        email: Set(placeholder),
        display_name: Set(display_name.clone()),
        password_hash: Set(None),
        password_must_change: Set(false),
        is_platform_admin: Set(false),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
    }
    .insert(txn)
    .await?;
    cht_identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(id.as_uuid()),
        instance_id: Set(instance.as_uuid()),
        cht_username: Set(username.as_str().to_owned()),
        username_key: Set(username.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    audit::record(
        txn,
        ctx,
        AuditRecord::new(AuditAction::UserInvited)
            .tenant(tenant)
            .target(TargetKind::User, id)
            .details(json!({
                "cht_username": username.as_str(),
                "instance_id": instance.to_string(),
                "display_name": display_name,
            })),
    )
    .await?;
    Ok(model.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cht_usernames_follow_chts_rule_and_forgive_case() {
        assert_eq!(
            ChtUsername::parse(" CHV_Amina ").unwrap().as_str(),
            "chv_amina"
        );
        assert_eq!(ChtUsername::parse("chw-01").unwrap().as_str(), "chw-01");
        assert!(ChtUsername::parse("").is_err());
        assert!(ChtUsername::parse("amina otieno").is_err());
        assert!(ChtUsername::parse("amina@moh").is_err());
        assert!(ChtUsername::parse(&"a".repeat(61)).is_err());
    }

    #[test]
    fn placeholder_addresses_give_back_their_username() {
        let instance = InstanceId::new();
        let username = ChtUsername::parse("chv_amina").unwrap();
        let address = placeholder_address(&username, instance);
        assert_eq!(username_of_placeholder(&address), Some("chv_amina"));
        assert_eq!(username_of_placeholder("amina@health.go.ke"), None);
    }
}
