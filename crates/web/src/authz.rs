//! Authorization of every route, in one place.
//!
//! Each route of the route table (`routes.rs`) carries a [`Rule`]; the [`authorize`] layer on
//! that route enforces it before the handler runs: sign-in, tenant membership, and the
//! permission on the tenant, instance or place named in the path (judged by casbin, see
//! `portal-access`). A route cannot be declared without a rule. Identifiers that arrive in a form
//! or query rather than the path (a place picked for a grant, for example) are checked by the
//! handler with the same authorizer before use.
//!
//! Every refusal of a signed-in person — by this layer or by a handler's own check — is written
//! to the audit trail (`access.denied`: who, which route, which target), at most a few a minute
//! per person so that a loop cannot flood the table (see `denials.rs`).
//!
//! Denials: a signed-out request is sent to sign in; a tenant the person has no access to at all
//! answers 404 (its existence is not confirmed); a tenant they belong to but a permission or
//! place they lack answers 403.

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portal_access::{InstanceView, Principal, Target};
use portal_domain::PlaceScope;
use portal_domain::{InstanceId, Permission, PermissionSet, TenantId};
use portal_store::instances::{self, Instance};
use portal_store::places::{self, Place};
use portal_store::tenants::{self, Tenant};

use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::{AppState, denials};

/// What a route asks of the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in person; the handler shows only what they may see.
    SignedIn,
    /// Platform administrators only.
    PlatformAdmin,
    /// On the tenant in the path.
    Tenant(Need),
    /// On the instance in the path (a place grant does not cover the instance as a whole).
    Instance(Need),
    /// Somewhere in the instance in the path: a grant on the instance or on any place in it.
    InInstance(Need),
    /// On the place in the path (its cached lineage decides).
    Place(Need),
}

/// Which permission a rule needs on its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any grant in the tenant.
    Member,
    /// Any permission on the target.
    Any,
    Permission(Permission),
}

use Need::{Any, Member, Permission as P};

/// What the middleware established, for handlers: who asks, and the tenant, instance and place
/// of the path, each loaded once and already checked.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub principal: Principal,
    pub tenant: Tenant,
    pub instance: Option<Instance>,
    pub place: Option<Place>,
}

impl Authorized {
    /// The instance of the path; handlers of instance routes only.
    pub fn instance(&self) -> AppResult<&Instance> {
        self.instance
            .as_ref()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("route has no instance")))
    }
}

impl Authorized {
    /// May the person do `permission` on `target`, in the path's tenant, now?
    pub async fn allows(
        &self,
        state: &AppState,
        target: &Target,
        permission: Permission,
    ) -> AppResult<bool> {
        Ok(state
            .access
            .allowed(
                &self.principal,
                self.tenant.id,
                target,
                permission,
                state.clock.now(),
            )
            .await
            .map_err(anyhow::Error::from)?)
    }

    /// Every permission the person holds on `target`, in the path's tenant, now.
    pub async fn held_at(&self, state: &AppState, target: &Target) -> AppResult<PermissionSet> {
        Ok(state
            .access
            .permissions_at(&self.principal, self.tenant.id, target, state.clock.now())
            .await
            .map_err(anyhow::Error::from)?)
    }
}

impl FromRequestParts<AppState> for Authorized {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> AppResult<Self> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "handler needs a tenant-scoped authorization rule"
            ))
        })
    }
}

/// What the person may see of `instance` in the path's tenant — with `permission`, or with any
/// permission when `None` — as a filter for lists and searches.
pub async fn place_filter(
    state: &AppState,
    authorized: &Authorized,
    instance: InstanceId,
    permission: Option<Permission>,
) -> AppResult<PlaceScope> {
    let view = state
        .access
        .instance_view(
            &authorized.principal,
            authorized.tenant.id,
            instance,
            permission,
            state.clock.now(),
        )
        .await
        .map_err(anyhow::Error::from)?;
    Ok(match view {
        InstanceView::Nothing => PlaceScope::nothing(),
        InstanceView::Places(filter) => filter,
    })
}

#[must_use]
pub fn principal(current: &CurrentUser) -> Principal {
    Principal {
        user_id: current.user.id,
        platform_admin: current.user.is_platform_admin,
        restricted_to: current.restricted_tenant(),
    }
}

/// The route layer: enforces `rule` (the route's own, from the route table), then audits any
/// refusal of a signed-in person, whether this layer or the handler refused.
pub async fn authorize(
    State((state, rule)): State<(AppState, Rule)>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let attempt = denials::Attempt::of(&mut parts, &state).await;
    let response = match check(&state, rule, &mut parts).await {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(error) => {
            let refused = matches!(error, AppError::Forbidden(_) | AppError::NotFound("tenant"))
                || parts.extensions.get::<PlaceOutOfScope>().is_some();
            let mut response = error.into_response();
            if refused {
                response.extensions_mut().insert(denials::Refused);
            }
            response
        }
    };
    if let Some(attempt) = attempt
        && response.extensions().get::<denials::Refused>().is_some()
    {
        attempt.record(&state, response.status()).await;
    }
    response
}

async fn check(state: &AppState, rule: Rule, parts: &mut Parts) -> AppResult<()> {
    if rule == Rule::Public {
        return Ok(());
    }
    let current = CurrentUser::from_request_parts(parts, state).await?;
    let principal = principal(&current);
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::NotFound("page"))?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    };
    let need = match rule {
        Rule::Public | Rule::SignedIn => return Ok(()),
        Rule::PlatformAdmin
            if !current.user.is_platform_admin || current.restricted_tenant().is_some() =>
        {
            return Err(AppError::Forbidden("manage tenants"));
        }
        // A platform administrator's tenant route still gets its tenant loaded below.
        Rule::PlatformAdmin if param("tenant_id").is_none() => return Ok(()),
        Rule::PlatformAdmin => Member,
        Rule::Tenant(need) | Rule::Instance(need) | Rule::InInstance(need) | Rule::Place(need) => {
            need
        }
    };
    let now = state.clock.now();
    state.access.sync().await.map_err(anyhow::Error::from)?;

    let tenant_id: TenantId = param("tenant_id")
        .and_then(|raw| raw.parse().ok())
        .ok_or(AppError::NotFound("tenant"))?;
    if !state
        .access
        .is_member(&principal, tenant_id, now)
        .await
        .map_err(anyhow::Error::from)?
    {
        return Err(AppError::NotFound("tenant"));
    }
    let tenant = tenants::get(&state.db, tenant_id).await?;

    let instance = match param("instance_id") {
        Some(raw) => {
            let id: InstanceId = raw
                .parse()
                .map_err(|_| AppError::NotFound("CHT instance"))?;
            Some(instances::get(&state.db, tenant.id, id).await?)
        }
        None => None,
    };
    let place = match (param("place_id"), &instance) {
        (Some(id), Some(instance)) => Some(
            places::get(&state.db, instance.id, &id)
                .await?
                .ok_or(AppError::NotFound("place"))?,
        ),
        _ => None,
    };

    let allowed = match (rule, need) {
        (_, Member) => true,
        (Rule::InInstance(need), _) => {
            let instance = instance
                .as_ref()
                .ok_or(AppError::NotFound("CHT instance"))?;
            let permission = match need {
                P(permission) => Some(permission),
                _ => None,
            };
            state
                .access
                .instance_view(&principal, tenant.id, instance.id, permission, now)
                .await
                .map_err(anyhow::Error::from)?
                != InstanceView::Nothing
        }
        _ => {
            let target = match (rule, &instance, &place) {
                (Rule::Tenant(_), _, _) => Target::Tenant,
                (Rule::Instance(_), Some(instance), _) => Target::Instance(instance.id),
                (Rule::Place(_), Some(instance), Some(place)) => Target::Place {
                    instance_id: instance.id,
                    place_id: place.id.clone(),
                    lineage: place.lineage.clone(),
                },
                _ => return Err(AppError::NotFound("page")),
            };
            match need {
                P(permission) => state
                    .access
                    .allowed(&principal, tenant.id, &target, permission, now)
                    .await
                    .map_err(anyhow::Error::from)?,
                Any | Member => !state
                    .access
                    .permissions_at(&principal, tenant.id, &target, now)
                    .await
                    .map_err(anyhow::Error::from)?
                    .is_empty(),
            }
        }
    };
    if !allowed {
        if let (Rule::Place(_), Some(instance), Some(place)) = (rule, &instance, &place) {
            let target = Target::Place {
                instance_id: instance.id,
                place_id: place.id.clone(),
                lineage: place.lineage.clone(),
            };
            let sees_place = need != Any
                && !state
                    .access
                    .permissions_at(&principal, tenant.id, &target, now)
                    .await
                    .map_err(anyhow::Error::from)?
                    .is_empty();
            if !sees_place {
                // The same answer as an unknown id, so ids outside the area cannot be probed;
                // still a refusal for the audit trail.
                parts.extensions.insert(PlaceOutOfScope);
                return Err(AppError::NotFound("place"));
            }
        }
        return Err(AppError::Forbidden(denied_action(need)));
    }
    parts.extensions.insert(Authorized {
        principal,
        tenant,
        instance,
        place,
    });
    Ok(())
}

/// Marks a request refused because its place is outside everything the person may act on: it is
/// answered as an unknown place (404), and audited as a refusal.
#[derive(Debug, Clone, Copy)]
struct PlaceOutOfScope;

const fn denied_action(need: Need) -> &'static str {
    match need {
        Member | Any => "see this part of the tenant",
        P(permission) => match permission {
            Permission::Stage => "stage users here",
            Permission::Commit => "create users in CHT here",
            Permission::Replace => "replace health workers here",
            Permission::Move => "move places here",
            Permission::DisableUser => "disable users here",
            Permission::DownloadCredentials => "download credentials here",
            Permission::ViewAudit => "read the audit log here",
            Permission::ViewDashboard => "see dashboards here",
            Permission::ManageInstances => "manage this tenant's CHT instances",
            Permission::ManageConfig => "change this tenant's configuration",
            Permission::Grant => "manage access here",
        },
    }
}
