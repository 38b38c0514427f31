//! The route table: every route of the portal with its method, path, handler and authorization
//! rule, side by side. The router is built from it (`router.rs`), each route carrying its own
//! rule into the authorization layer, so a route cannot exist without a rule: leaving the rule
//! out does not compile. Tests enumerate [`table`] to check every route for every role.

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use portal_domain::Permission;

use crate::AppState;
use crate::assets;
use crate::authz::Need::{Any, Member, Permission as P};
use crate::authz::Rule::{
    self, InInstance, Instance, Place, PlatformAdmin, Public, SignedIn, Tenant,
};
use crate::pages::{
    access, account, auth, cht_sign_in, config, connection, health, home, instances, invitations,
    oidc, password_reset, places, roles, second_factor, sign_in, staging, tenants,
};

/// One route: what it answers, what it asks of the person, and the handler that serves it.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub rule: Rule,
    pub(crate) endpoint: MethodRouter<AppState>,
}

impl Route {
    fn new<H, T>(method: Method, path: &'static str, rule: Rule, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let endpoint = if method == Method::POST {
            routing::post(handler)
        } else {
            routing::get(handler)
        };
        Self {
            method,
            path,
            rule,
            endpoint,
        }
    }

    /// Lets this route take a larger body than the portal's default for forms.
    fn body_limit(mut self, bytes: usize) -> Self {
        self.endpoint = self.endpoint.layer(DefaultBodyLimit::max(bytes));
        self
    }
}

fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, rule: Rule, handler: H) -> Route {
    Route::new(Method::GET, path, rule, handler)
}

fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, rule: Rule, handler: H) -> Route {
    Route::new(Method::POST, path, rule, handler)
}

/// Every route of the portal.
#[must_use]
pub fn table() -> Vec<Route> {
    let stage = InInstance(P(Permission::Stage));
    let manage_config = Tenant(P(Permission::ManageConfig));
    let manage_instances = Tenant(P(Permission::ManageInstances));
    let grant = Tenant(P(Permission::Grant));
    vec![
        get("/", SignedIn, home::home),
        get("/login", Public, auth::login_page),
        post("/login", Public, auth::login),
        get("/login/oidc/callback", Public, oidc::callback),
        get("/login/oidc/{provider_id}", Public, oidc::start),
        post("/logout", Public, auth::logout),
        get("/account/password", SignedIn, account::show),
        post("/account/password", SignedIn, account::change),
        get("/tenants", SignedIn, tenants::list),
        post("/tenants", PlatformAdmin, tenants::create),
        get("/tenants/{tenant_id}", Tenant(Member), tenants::show),
        post("/tenants/{tenant_id}", PlatformAdmin, tenants::update),
        post(
            "/tenants/{tenant_id}/delete",
            PlatformAdmin,
            tenants::delete,
        ),
        // Access: the handlers check the grant, role and scope named in the form or path.
        get("/tenants/{tenant_id}/access", Tenant(Member), access::show),
        post("/tenants/{tenant_id}/access", Tenant(Member), access::grant),
        get(
            "/tenants/{tenant_id}/access/people",
            Tenant(Member),
            access::people,
        ),
        post(
            "/tenants/{tenant_id}/access/{grant_id}/revoke",
            Tenant(Member),
            access::revoke,
        ),
        get("/tenants/{tenant_id}/roles", grant, roles::show),
        post("/tenants/{tenant_id}/roles", grant, roles::save),
        post(
            "/tenants/{tenant_id}/roles/{role_key}/delete",
            grant,
            roles::delete,
        ),
        get("/tenants/{tenant_id}/sign-in", manage_config, sign_in::show),
        post("/tenants/{tenant_id}/sign-in", manage_config, sign_in::save),
        // Part B of issue 10: the second factor. The second step is public: it reads the
        // pending sign-in of its own cookie, and no session exists until it succeeds.
        get(
            "/login/second-factor",
            Public,
            second_factor::challenge_page,
        ),
        post("/login/second-factor", Public, second_factor::challenge),
        get(
            "/account/second-factor",
            SignedIn,
            second_factor::account::show,
        ),
        post(
            "/account/second-factor",
            SignedIn,
            second_factor::account::enrol,
        ),
        post(
            "/account/second-factor/remove",
            SignedIn,
            second_factor::account::remove,
        ),
        post(
            "/tenants/{tenant_id}/sign-in/second-factor",
            manage_config,
            second_factor::tenant::save,
        ),
        // Part C of issue 10: sign-in with a CHT account. The form and its post are public (the
        // post is throttled before CHT is asked); the tenant's setting is a section of the
        // sign-in settings page, under the same rule.
        get("/login/cht", Public, cht_sign_in::page),
        post("/login/cht", Public, cht_sign_in::sign_in),
        post(
            "/tenants/{tenant_id}/sign-in/cht-accounts",
            manage_config,
            cht_sign_in::save_settings,
        ),
        post(
            "/tenants/{tenant_id}/instances",
            manage_instances,
            instances::create,
        ),
        get(
            "/tenants/{tenant_id}/instances/new",
            manage_instances,
            instances::new,
        ),
        get(
            "/tenants/{tenant_id}/instances/{instance_id}",
            InInstance(Any),
            instances::show,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}",
            Instance(P(Permission::ManageInstances)),
            instances::update,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/delete",
            Instance(P(Permission::ManageInstances)),
            instances::delete,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/test",
            Instance(P(Permission::ManageInstances)),
            connection::test,
        ),
        get(
            "/tenants/{tenant_id}/instances/{instance_id}/places",
            InInstance(Any),
            places::index,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/places/refresh",
            Instance(P(Permission::Stage)),
            places::refresh,
        ),
        get(
            "/tenants/{tenant_id}/instances/{instance_id}/places/search",
            InInstance(Any),
            places::search,
        ),
        get(
            "/tenants/{tenant_id}/instances/{instance_id}/places/{place_id}",
            Place(Any),
            places::show,
        ),
        get(
            "/api/v1/tenants/{tenant_id}/instances/{instance_id}/places",
            InInstance(Any),
            places::api_search,
        ),
        get("/tenants/{tenant_id}/config", manage_config, config::show),
        post("/tenants/{tenant_id}/config", manage_config, config::save),
        post(
            "/tenants/{tenant_id}/config/upload",
            manage_config,
            config::upload,
        )
        .body_limit(config::MAX_CONFIG_BYTES + 64 * 1024),
        post(
            "/tenants/{tenant_id}/config/preview",
            manage_config,
            config::preview,
        ),
        post(
            "/tenants/{tenant_id}/config/import-domains",
            manage_config,
            config::import_domains,
        ),
        // Staging: batch and row ids are checked by the handlers against the instance and the
        // batch's area.
        get(
            "/tenants/{tenant_id}/instances/{instance_id}/staging",
            stage,
            staging::index,
        ),
        get(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/template/{contact_type}",
            stage,
            staging::template,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/upload",
            stage,
            staging::upload,
        )
        .body_limit(staging::MAX_UPLOAD_BYTES + 64 * 1024),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/new-row",
            stage,
            staging::new_row,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/refresh",
            Instance(P(Permission::Stage)),
            staging::refresh_type,
        ),
        get(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}",
            stage,
            staging::show,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows",
            stage,
            staging::add_row,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}",
            stage,
            staging::save_row,
        ),
        get(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/edit",
            stage,
            staging::edit,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/remove",
            stage,
            staging::remove_row,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/acknowledge",
            stage,
            staging::acknowledge,
        ),
        post(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/revalidate",
            stage,
            staging::revalidate,
        ),
        get(
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/invalid.csv",
            stage,
            staging::invalid_csv,
        ),
        // Part A of issue 10: sign-in links (the token in the path is the proof) and
        // "Forgot your password?"; issuing a link from the access page (checked by the handler
        // with the rules of revoking).
        get("/invite/{token}", Public, invitations::show_invitation),
        post("/invite/{token}", Public, invitations::accept_invitation),
        get("/reset-password/{token}", Public, invitations::show_reset),
        post("/reset-password/{token}", Public, invitations::reset),
        get("/forgot-password", Public, password_reset::show),
        post("/forgot-password", Public, password_reset::request),
        post(
            "/tenants/{tenant_id}/access/people/{user_id}/link",
            Tenant(Member),
            access::new_link,
        ),
        get("/healthz", Public, health::healthz),
        get("/readyz", Public, health::readyz),
        get("/assets/{version}/{name}", Public, assets::serve),
    ]
}

/// The (method, path, rule) of every route, for tests and documentation.
#[must_use]
pub fn rules() -> Vec<(Method, &'static str, Rule)> {
    table()
        .into_iter()
        .map(|route| (route.method, route.path, route.rule))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn each_method_and_path_appears_once() {
        let mut seen = HashSet::new();
        for (method, path, _) in super::rules() {
            assert!(seen.insert((method.clone(), path)), "{method} {path} twice");
        }
        assert!(seen.len() >= 50, "only {} routes", seen.len());
    }
}
