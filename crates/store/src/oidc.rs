//! OpenID Connect: each tenant's identity provider, the identities linked to portal users, and
//! sign-ins in flight.

use chrono::{DateTime, Duration, Utc};
use portal_crypto::{MasterKey, Sealed};
use portal_domain::{AuditAction, Email, TargetKind, TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::entity::{grant, oidc_identity, oidc_login, oidc_provider, portal_user, tenant};
use crate::users::User;
use crate::{AuditContext, AuditRecord, Result, StoreError, audit};

/// A tenant's identity provider, without its client secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub display_name: String,
    pub issuer_url: String,
    pub client_id: String,
    pub enabled: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<oidc_provider::Model> for Provider {
    fn from(m: oidc_provider::Model) -> Self {
        Self {
            id: m.id,
            tenant_id: TenantId::from_uuid(m.tenant_id),
            display_name: m.display_name,
            issuer_url: m.issuer_url,
            client_id: m.client_id,
            enabled: m.enabled,
            updated_at: m.updated_at,
        }
    }
}

/// What a national administrator types in. `client_secret: None` keeps the stored one.
#[derive(Clone)]
pub struct ProviderFields {
    pub display_name: String,
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub enabled: bool,
}

fn secret_context(provider_id: Uuid) -> String {
    format!("oidc_providers.client_secret:{provider_id}")
}

pub async fn provider_for_tenant(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<Option<Provider>> {
    Ok(oidc_provider::Entity::find()
        .filter(oidc_provider::Column::TenantId.eq(tenant_id.as_uuid()))
        .one(db)
        .await?
        .map(Into::into))
}

pub async fn provider(db: &DatabaseConnection, id: Uuid) -> Result<Provider> {
    oidc_provider::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Into::into)
        .ok_or(StoreError::NotFound("sign-in provider"))
}

/// The enabled providers with their tenant's name, for the sign-in page.
pub async fn enabled_providers(db: &DatabaseConnection) -> Result<Vec<(Provider, String)>> {
    let rows = oidc_provider::Entity::find()
        .filter(oidc_provider::Column::Enabled.eq(true))
        .order_by_asc(oidc_provider::Column::DisplayName)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let tenant_name = tenant::Entity::find_by_id(row.tenant_id)
            .one(db)
            .await?
            .map(|t| t.name)
            .unwrap_or_default();
        out.push((row.into(), tenant_name));
    }
    Ok(out)
}

/// The provider's client secret, opened for the token request.
pub async fn client_secret(db: &DatabaseConnection, key: &MasterKey, id: Uuid) -> Result<String> {
    let model = oidc_provider::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("sign-in provider"))?;
    Ok(key.open(
        &Sealed::from_stored(model.client_secret_sealed),
        &secret_context(id),
    )?)
}

/// Creates or updates the tenant's provider, with its audit event.
pub async fn save_provider(
    db: &DatabaseConnection,
    key: &MasterKey,
    ctx: &AuditContext,
    tenant_id: TenantId,
    fields: ProviderFields,
) -> Result<Provider> {
    let txn = db.begin().await?;
    let existing = oidc_provider::Entity::find()
        .filter(oidc_provider::Column::TenantId.eq(tenant_id.as_uuid()))
        .one(&txn)
        .await?;
    let model = match existing {
        Some(model) => {
            let id = model.id;
            let issuer_changed = model.issuer_url != fields.issuer_url;
            // Subjects are only unique per issuer and client: links and sessions made at the
            // old provider must not carry over to a new one.
            if issuer_changed || model.client_id != fields.client_id {
                oidc_identity::Entity::delete_many()
                    .filter(oidc_identity::Column::ProviderId.eq(id))
                    .exec(&txn)
                    .await?;
                crate::entity::session::Entity::delete_many()
                    .filter(crate::entity::session::Column::OidcProviderId.eq(id))
                    .exec(&txn)
                    .await?;
            }
            let mut active: oidc_provider::ActiveModel = model.into();
            active.display_name = Set(fields.display_name.clone());
            active.issuer_url = Set(fields.issuer_url.clone());
            active.client_id = Set(fields.client_id.clone());
            active.enabled = Set(fields.enabled);
            active.updated_at = Set(ctx.now);
            match &fields.client_secret {
                Some(secret) => {
                    active.client_secret_sealed =
                        Set(key.seal(secret, &secret_context(id)).into_string());
                }
                // A secret must not follow the provider to a new address unseen.
                None if issuer_changed => {
                    return Err(StoreError::Refused(
                        "Enter the client secret again when you change the issuer address."
                            .to_owned(),
                    ));
                }
                None => {}
            }
            active.update(&txn).await?
        }
        None => {
            let Some(secret) = &fields.client_secret else {
                return Err(StoreError::Refused(
                    "A client secret is required to set up sign-in.".to_owned(),
                ));
            };
            let id = Uuid::now_v7();
            oidc_provider::ActiveModel {
                id: Set(id),
                tenant_id: Set(tenant_id.as_uuid()),
                display_name: Set(fields.display_name.clone()),
                issuer_url: Set(fields.issuer_url.clone()),
                client_id: Set(fields.client_id.clone()),
                client_secret_sealed: Set(key.seal(secret, &secret_context(id)).into_string()),
                enabled: Set(fields.enabled),
                created_at: Set(ctx.now),
                updated_at: Set(ctx.now),
            }
            .insert(&txn)
            .await?
        }
    };
    audit::record(
        &txn,
        ctx,
        AuditRecord::new(AuditAction::SignInSettingsChanged)
            .tenant(tenant_id)
            .target(TargetKind::Tenant, tenant_id)
            .details(json!({
                "display_name": fields.display_name,
                "issuer_url": fields.issuer_url,
                "client_id": fields.client_id,
                "client_secret_changed": fields.client_secret.is_some(),
                "enabled": fields.enabled,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

/// A sign-in in flight, as stored.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub provider_id: Uuid,
    pub browser_digest: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    pub created_at: DateTime<Utc>,
}

pub async fn start_login(
    db: &DatabaseConnection,
    state_digest: String,
    login: PendingLogin,
) -> Result<()> {
    oidc_login::ActiveModel {
        state_digest: Set(state_digest),
        provider_id: Set(login.provider_id),
        browser_digest: Set(login.browser_digest),
        nonce: Set(login.nonce),
        pkce_verifier: Set(login.pkce_verifier),
        next_path: Set(login.next_path),
        created_at: Set(login.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Takes the sign-in for `state_digest` out of the table: it can be completed once only.
/// Sign-ins older than `max_age` are refused (and removed).
pub async fn take_login(
    db: &DatabaseConnection,
    state_digest: &str,
    now: DateTime<Utc>,
    max_age: Duration,
) -> Result<Option<PendingLogin>> {
    let txn = db.begin().await?;
    let Some(model) = oidc_login::Entity::find_by_id(state_digest.to_owned())
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    let deleted = oidc_login::Entity::delete_by_id(state_digest.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    // Two callbacks racing: only the one that deleted the row goes on.
    if deleted.rows_affected == 0 || now - model.created_at > max_age {
        return Ok(None);
    }
    Ok(Some(PendingLogin {
        provider_id: model.provider_id,
        browser_digest: model.browser_digest,
        nonce: model.nonce,
        pkce_verifier: model.pkce_verifier,
        next_path: model.next_path,
        created_at: model.created_at,
    }))
}

/// Removes sign-ins abandoned before `before`.
pub async fn purge_logins(db: &DatabaseConnection, before: DateTime<Utc>) -> Result<u64> {
    Ok(oidc_login::Entity::delete_many()
        .filter(oidc_login::Column::CreatedAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Why an identity was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRefusal {
    /// No portal user has this subject linked or this verified email.
    Unknown,
    /// The account is disabled.
    Disabled,
    /// The email is linked to another subject of the same provider.
    LinkedElsewhere,
    /// Platform administrators sign in with their portal password only: a tenant's identity
    /// provider must not be able to vouch for someone who runs every tenant.
    PlatformAdmin,
}

/// Maps a verified identity to a portal user: by the linked subject first, else by verified
/// email, which links the subject for next time. Either way the person must hold an active
/// grant in the provider's tenant (an invitation is such a grant): a provider vouches only for
/// its own tenant's people.
pub async fn resolve_identity(
    db: &DatabaseConnection,
    provider: &Provider,
    subject: &str,
    verified_email: Option<&Email>,
    now: DateTime<Utc>,
) -> Result<Result<User, IdentityRefusal>> {
    let provider_id = provider.id;
    let txn = db.begin().await?;
    let linked = oidc_identity::Entity::find_by_id((provider_id, subject.to_owned()))
        .one(&txn)
        .await?;
    let user_model = if let Some(link) = linked {
        portal_user::Entity::find_by_id(link.user_id)
            .one(&txn)
            .await?
    } else {
        let Some(email) = verified_email else {
            return Ok(Err(IdentityRefusal::Unknown));
        };
        let Some(model) = portal_user::Entity::find()
            .filter(portal_user::Column::Email.eq(email.as_str()))
            .one(&txn)
            .await?
        else {
            return Ok(Err(IdentityRefusal::Unknown));
        };
        if let Some(refusal) = membership_refusal(&txn, provider, &model, now).await? {
            return Ok(Err(refusal));
        }
        let other_link = oidc_identity::Entity::find()
            .filter(oidc_identity::Column::ProviderId.eq(provider_id))
            .filter(oidc_identity::Column::UserId.eq(model.id))
            .one(&txn)
            .await?;
        if other_link.is_some() {
            return Ok(Err(IdentityRefusal::LinkedElsewhere));
        }
        oidc_identity::ActiveModel {
            provider_id: Set(provider_id),
            subject: Set(subject.to_owned()),
            user_id: Set(model.id),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        Some(model)
    };
    let Some(model) = user_model else {
        return Ok(Err(IdentityRefusal::Unknown));
    };
    if let Some(refusal) = membership_refusal(&txn, provider, &model, now).await? {
        return Ok(Err(refusal));
    }
    txn.commit().await?;
    if model.disabled {
        return Ok(Err(IdentityRefusal::Disabled));
    }
    Ok(Ok(model.into()))
}

async fn membership_refusal(
    db: &impl sea_orm::ConnectionTrait,
    provider: &Provider,
    user: &portal_user::Model,
    now: DateTime<Utc>,
) -> Result<Option<IdentityRefusal>> {
    use sea_orm::PaginatorTrait;
    if user.is_platform_admin {
        return Ok(Some(IdentityRefusal::PlatformAdmin));
    }
    let grants = grant::Entity::find()
        .filter(grant::Column::TenantId.eq(provider.tenant_id.as_uuid()))
        .filter(grant::Column::UserId.eq(user.id))
        .filter(crate::access::in_force(now))
        .count(db)
        .await?;
    Ok((grants == 0).then_some(IdentityRefusal::Unknown))
}

/// The user ids linked to a provider (for tests and the settings page).
pub async fn linked_users(db: &DatabaseConnection, provider_id: Uuid) -> Result<Vec<UserId>> {
    Ok(oidc_identity::Entity::find()
        .filter(oidc_identity::Column::ProviderId.eq(provider_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| UserId::from_uuid(m.user_id))
        .collect())
}
