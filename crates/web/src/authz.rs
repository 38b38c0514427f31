//! Authorization of every route, in one place.
//!
//! Each route of the router has a [`Rule`] in [`RULES`]; the [`authorize`] middleware looks the
//! matched route up and enforces it before any handler runs: sign-in, tenant membership, and the
//! permission on the tenant, instance or place named in the path (judged by casbin, see
//! `portal-access`). A route without a rule answers 500 — fail closed — and a test enumerates
//! the router to keep the table complete. Identifiers that arrive in a form or query rather than
//! the path (a place picked for a grant, for example) are checked by the handler with the same
//! authorizer before use.
//!
//! Denials: a signed-out request is sent to sign in; a tenant the person has no access to at all
//! answers 404 (its existence is not confirmed); a tenant they belong to but a permission or
//! place they lack answers 403.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portal_access::{InstanceView, Principal, Target};
use portal_domain::{InstanceId, Permission, PermissionSet, TenantId};
use portal_store::instances::{self, Instance};
use portal_store::places::{self, Place, PlaceFilter};
use portal_store::tenants::{self, Tenant};

use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;

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

/// Every route with its rule. Keep in step with `router.rs` (a test checks).
pub const RULES: &[(&str, &str, Rule)] = &[
    ("GET", "/", Rule::SignedIn),
    ("GET", "/login", Rule::Public),
    ("POST", "/login", Rule::Public),
    ("GET", "/login/oidc/{provider_id}", Rule::Public),
    ("GET", "/login/oidc/callback", Rule::Public),
    ("POST", "/logout", Rule::Public),
    ("GET", "/account/password", Rule::SignedIn),
    ("POST", "/account/password", Rule::SignedIn),
    ("GET", "/tenants", Rule::SignedIn),
    ("POST", "/tenants", Rule::PlatformAdmin),
    ("GET", "/tenants/{tenant_id}", Rule::Tenant(Member)),
    ("POST", "/tenants/{tenant_id}", Rule::PlatformAdmin),
    ("POST", "/tenants/{tenant_id}/delete", Rule::PlatformAdmin),
    ("GET", "/tenants/{tenant_id}/access", Rule::Tenant(Member)),
    ("POST", "/tenants/{tenant_id}/access", Rule::Tenant(Member)),
    (
        "GET",
        "/tenants/{tenant_id}/access/people",
        Rule::Tenant(Member),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/access/{grant_id}/revoke",
        Rule::Tenant(Member),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/roles",
        Rule::Tenant(P(Permission::Grant)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/roles",
        Rule::Tenant(P(Permission::Grant)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/roles/{role_key}/delete",
        Rule::Tenant(P(Permission::Grant)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/sign-in",
        Rule::Tenant(P(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/sign-in",
        Rule::Tenant(P(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances",
        Rule::Tenant(P(Permission::ManageInstances)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/new",
        Rule::Tenant(P(Permission::ManageInstances)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}",
        Rule::InInstance(Any),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}",
        Rule::Instance(P(Permission::ManageInstances)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/delete",
        Rule::Instance(P(Permission::ManageInstances)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/test",
        Rule::Instance(P(Permission::ManageInstances)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/places",
        Rule::InInstance(Any),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/places/refresh",
        Rule::Instance(P(Permission::Stage)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/places/search",
        Rule::InInstance(Any),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/places/{place_id}",
        Rule::Place(Any),
    ),
    (
        "GET",
        "/api/v1/tenants/{tenant_id}/instances/{instance_id}/places",
        Rule::InInstance(Any),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/config",
        Rule::Tenant(P(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/config",
        Rule::Tenant(P(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/config/upload",
        Rule::Tenant(P(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/config/preview",
        Rule::Tenant(P(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/config/import-domains",
        Rule::Tenant(P(Permission::ManageConfig)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/template/{contact_type}",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/upload",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/new-row",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/refresh",
        Rule::Instance(P(Permission::Stage)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/edit",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/remove",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/acknowledge",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/revalidate",
        Rule::InInstance(P(Permission::Stage)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/invalid.csv",
        Rule::InInstance(P(Permission::Stage)),
    ),
    ("GET", "/healthz", Rule::Public),
    ("GET", "/readyz", Rule::Public),
    ("GET", "/assets/{version}/{name}", Rule::Public),
];

#[must_use]
pub fn rule_for(method: &Method, path: &str) -> Option<Rule> {
    RULES
        .iter()
        .find(|(m, p, _)| *p == path && *m == method.as_str())
        .map(|(_, _, rule)| *rule)
}

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
) -> AppResult<PlaceFilter> {
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
        InstanceView::Nothing => PlaceFilter::nothing(),
        InstanceView::Places(filter) => filter,
    })
}

#[must_use]
pub fn principal(current: &CurrentUser) -> Principal {
    Principal {
        user_id: current.user.id,
        platform_admin: current.user.is_platform_admin,
        restricted_to: current.via_provider.map(|(_, tenant)| tenant),
    }
}

pub async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn check(state: &AppState, request: Request) -> AppResult<Request> {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let Some(rule) = rule_for(&parts.method, &path) else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "no authorization rule for {} {path}",
            parts.method
        )));
    };
    if rule == Rule::Public {
        return Ok(Request::from_parts(parts, body));
    }
    let current = CurrentUser::from_request_parts(&mut parts, state).await?;
    let principal = principal(&current);
    let params = RawPathParams::from_request_parts(&mut parts, state)
        .await
        .map_err(|_| AppError::NotFound("page"))?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    };
    let need = match rule {
        Rule::Public | Rule::SignedIn => return Ok(Request::from_parts(parts, body)),
        Rule::PlatformAdmin
            if !current.user.is_platform_admin || current.via_provider.is_some() =>
        {
            return Err(AppError::Forbidden("manage tenants"));
        }
        // A platform administrator's tenant route still gets its tenant loaded below.
        Rule::PlatformAdmin if param("tenant_id").is_none() => {
            return Ok(Request::from_parts(parts, body));
        }
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
        return Err(AppError::Forbidden(denied_action(need)));
    }
    parts.extensions.insert(Authorized {
        principal,
        tenant,
        instance,
        place,
    });
    Ok(Request::from_parts(parts, body))
}

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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::RULES;

    /// The (method, path) pairs the router really serves, read from its `Debug` form: axum has no
    /// public way to list routes, and a hand-kept list would prove nothing.
    fn served_routes(router: &axum::Router) -> BTreeSet<(String, String)> {
        let text = format!("{router:?}");
        // Only the main path router; the fallback router comes after it.
        let text = text.split("fallback_router").next().unwrap_or_default();
        let mut methods: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for chunk in text.split("RouteId(").skip(1) {
            let Some((id, rest)) = chunk.split_once(')') else {
                continue;
            };
            if let Some(body) = rest.strip_prefix(": MethodRouter(MethodRouter {") {
                let body = body.split('}').next().unwrap_or_default();
                let served = ["get", "post", "put", "delete", "patch"]
                    .into_iter()
                    .filter(|m| body.contains(&format!("{m}: Route")))
                    .map(str::to_uppercase)
                    .collect();
                methods.insert(id.to_owned(), served);
            }
        }
        let mut routes = BTreeSet::new();
        for chunk in text.split("RouteId(").skip(1) {
            let Some((id, rest)) = chunk.split_once(')') else {
                continue;
            };
            if let Some(path) = rest.strip_prefix(": \"") {
                let path = path.split('"').next().unwrap_or_default();
                for method in methods.get(id).into_iter().flatten() {
                    routes.insert((method.clone(), path.to_owned()));
                }
            }
        }
        routes
    }

    #[tokio::test]
    async fn every_route_of_the_router_has_an_authorization_rule() {
        let db = portal_store::connect("sqlite::memory:").await.unwrap();
        let settings = crate::WebSettings::development();
        let state = crate::AppState::new(
            db,
            portal_crypto::MasterKey::generate(),
            settings,
            crate::Clock::system(),
        );
        let served = served_routes(&crate::router(state));
        assert!(
            served.len() >= 30,
            "could not read the router's routes: {served:?}"
        );
        let ruled: BTreeSet<(String, String)> = RULES
            .iter()
            .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        let unruled: Vec<_> = served.difference(&ruled).collect();
        assert!(
            unruled.is_empty(),
            "routes without an authorization rule: {unruled:?}"
        );
        let stale: Vec<_> = ruled.difference(&served).collect();
        assert!(
            stale.is_empty(),
            "rules for routes the router does not serve: {stale:?}"
        );
        println!("{} routes, each with an authorization rule", served.len());
    }
}
