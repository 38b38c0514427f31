//! Authorization over real HTTP beyond the route matrix (`authz_matrix`): delegation,
//! revocation, invitation and scoped lists.

use portal_domain::{BuiltinRole, Permission, PermissionSet};
use portal_store::access::GrantScope;
use reqwest::StatusCode;

use crate::support::{ADMIN_PASSWORD, TestApp};
use crate::world::{World, role, signed_in};

#[tokio::test]
async fn a_region_manager_delegates_only_inside_their_scope_and_permissions() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    w.person(
        &app,
        "sub@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "nairobi"),
    )
    .await;
    let manager = signed_in(&app, "sub@health.go.ke").await;
    let access = format!("/tenants/{}/access", w.a);
    let give = |scope: String, role: &'static str, email: &'static str| {
        let (app, manager, access) = (&app, &manager, &access);
        async move {
            app.submit_with(
                manager,
                access,
                access,
                &[
                    ("email", email),
                    ("display_name", "New Person"),
                    ("role", role),
                    ("scope", &scope),
                ],
            )
            .await
        }
    };
    // Inside: a ward below nairobi, with a role whose permissions they hold.
    let ok = give(
        format!("place:{}:ward1", w.i1),
        "me_officer",
        "chv.lead@health.go.ke",
    )
    .await;
    // A newcomer without a provider: access given, and a link for them to choose a password.
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(
        ok.text()
            .await
            .unwrap()
            .contains("Access given to New Person")
    );
    let event = app.last_audit("access.granted").await;
    assert_eq!(event.details["place_id"], "ward1");
    assert_eq!(event.details["role"], "me_officer");
    assert!(
        app.audit_actions()
            .await
            .contains(&"user.invited".to_owned())
    );

    // Outside their subtree, on the instance as a whole, on the tenant: refused.
    for scope in [
        format!("place:{}:ward2", w.i1),
        format!("instance:{}", w.i1),
        "tenant".to_owned(),
    ] {
        let refused = give(scope.clone(), "me_officer", "x@health.go.ke").await;
        let status = refused.status();
        let text = refused.text().await.unwrap();
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{scope}: {status}"
        );
        assert!(
            text.contains("outside the area") || text.contains("Choose"),
            "{scope}: {text}"
        );
    }
    // A role with more than they hold (national admin): refused, naming what is missing.
    let refused = give(
        format!("place:{}:ward1", w.i1),
        "national_admin",
        "y@health.go.ke",
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let text = refused.text().await.unwrap();
    assert!(text.contains("manage_instances"), "{text}");
    // Ids from another tenant are not found, whatever the form says.
    let foreign = give(
        format!("place:{}:kampala", w.j1),
        "me_officer",
        "z@health.go.ke",
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing but the first grant was written.
    let grants = portal_store::access::tenant_grants(&app.db, w.a, true)
        .await
        .unwrap();
    assert_eq!(grants.len(), 2, "{grants:?}");
}

#[tokio::test]
async fn revoking_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    w.person(
        &app,
        "national@health.go.ke",
        w.a,
        role(BuiltinRole::NationalAdmin),
        GrantScope::Tenant,
    )
    .await;
    w.person(
        &app,
        "sub@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "nairobi"),
    )
    .await;
    let national = signed_in(&app, "national@health.go.ke").await;
    let manager = signed_in(&app, "sub@health.go.ke").await;
    let place = format!("/tenants/{}/instances/{}/places/westlands", w.a, w.i1);
    assert_eq!(
        app.get_with(&manager, &place).await.status(),
        StatusCode::OK
    );
    let grant_id = portal_store::access::tenant_grants(&app.db, w.a, false)
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.user.email == "sub@health.go.ke")
        .unwrap()
        .grant
        .id;
    let access = format!("/tenants/{}/access", w.a);
    let revoked = app
        .submit_with(
            &national,
            &access,
            &format!("{access}/{grant_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    // The very next request of the manager's still-open session is refused.
    assert_eq!(
        app.get_with(&manager, &place).await.status(),
        StatusCode::NOT_FOUND
    );
    let event = app.last_audit("access.revoked").await;
    assert_eq!(
        event.target_id.as_deref(),
        Some(grant_id.to_string().as_str())
    );
    // Revoking twice is refused, so the trail shows one revocation.
    let again = app
        .submit_with(
            &national,
            &access,
            &format!("{access}/{grant_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn lists_and_searches_show_only_what_is_in_scope() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    w.person(
        &app,
        "sub@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "nairobi"),
    )
    .await;
    let manager = signed_in(&app, "sub@health.go.ke").await;
    let api = format!("/api/v1/tenants/{}/instances/{}/places?q=ward", w.a, w.i1);
    let found: serde_json::Value = app.get_with(&manager, &api).await.json().await.unwrap();
    let ids: Vec<&str> = found["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ward1"], "ward2 is under kisumu, outside nairobi");
    let tenant = app
        .get_with(&manager, &format!("/tenants/{}", w.a))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        tenant.contains("Nairobi") && !tenant.contains("Mombasa"),
        "only instances in scope are listed"
    );
    let tenants = app
        .get_with(&manager, "/tenants")
        .await
        .text()
        .await
        .unwrap();
    assert!(tenants.contains("Kenya") && !tenants.contains("Uganda"));
    let browse = app
        .get_with(
            &manager,
            &format!("/tenants/{}/instances/{}/places", w.a, w.i1),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(browse.contains("Nairobi") && !browse.contains("Kisumu"));
}

#[tokio::test]
async fn delegated_access_ends_when_the_delegators_does() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let user = app
        .create_user("temp@health.go.ke", ADMIN_PASSWORD, false, false)
        .await;
    let ends = chrono::Utc::now() + chrono::Duration::days(30);
    portal_store::access::grant(
        &app.db,
        &portal_store::AuditContext::command_line(chrono::Utc::now()),
        portal_store::access::Grantee::Existing(user.id),
        portal_store::access::NewGrant {
            tenant_id: w.a,
            role_key: portal_domain::RoleKey::builtin(BuiltinRole::RegionManager),
            scope: w.place(w.i1, "nairobi"),
            expires_at: Some(ends),
        },
    )
    .await
    .unwrap();
    let manager = signed_in(&app, "temp@health.go.ke").await;
    let access = format!("/tenants/{}/access", w.a);
    let scope = format!("place:{}:ward1", w.i1);
    let give = |until: String| {
        let (app, manager, access, scope) = (&app, &manager, &access, &scope);
        async move {
            app.submit_with(
                manager,
                access,
                access,
                &[
                    ("email", "friend@health.go.ke"),
                    ("role", "me_officer"),
                    ("scope", scope),
                    ("expires_on", &until),
                ],
            )
            .await
        }
    };
    let forever = give(String::new()).await;
    assert_eq!(forever.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        forever
            .text()
            .await
            .unwrap()
            .contains("Your own access here ends on")
    );
    let later = give(
        (ends + chrono::Duration::days(1))
            .format("%Y-%m-%d")
            .to_string(),
    )
    .await;
    assert_eq!(later.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let within = give(
        (ends - chrono::Duration::days(2))
            .format("%Y-%m-%d")
            .to_string(),
    )
    .await;
    // Given (to a newcomer, who gets a sign-in link).
    assert_eq!(within.status(), StatusCode::OK);
}

#[tokio::test]
async fn partial_tenant_roles_cannot_take_over_sign_in_or_strip_roles() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let ctx = portal_store::AuditContext::command_line(chrono::Utc::now());
    let save = |key: &'static str, permissions: Vec<Permission>| {
        let (app, ctx) = (&app, &ctx);
        async move {
            portal_store::access::save_role(
                &app.db,
                ctx,
                w.a,
                &portal_domain::RoleKey::parse(key).unwrap(),
                key,
                &PermissionSet::new(permissions),
            )
            .await
            .unwrap();
        }
    };
    save("it_officer", vec![Permission::ManageConfig]).await;
    save("lead", vec![Permission::Grant, Permission::Stage]).await;
    save("big", vec![Permission::ManageConfig, Permission::Commit]).await;
    w.person(
        &app,
        "it@health.go.ke",
        w.a,
        "it_officer",
        GrantScope::Tenant,
    )
    .await;
    w.person(&app, "lead@health.go.ke", w.a, "lead", GrantScope::Tenant)
        .await;
    w.person(
        &app,
        "me@health.go.ke",
        w.a,
        role(BuiltinRole::MeOfficer),
        w.place(w.i1, "nairobi"),
    )
    .await;

    // Whoever sets the identity provider can sign in as anyone: not for a partial role.
    let it = signed_in(&app, "it@health.go.ke").await;
    assert_eq!(
        app.get_with(&it, &format!("/tenants/{}/sign-in", w.a))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // Editing a role needs its old permissions too: otherwise editing would revoke.
    let lead = signed_in(&app, "lead@health.go.ke").await;
    let roles = format!("/tenants/{}/roles", w.a);
    let stripped = app
        .submit_with(
            &lead,
            &roles,
            &roles,
            &[("key", "big"), ("name", "Big"), ("permission", "stage")],
        )
        .await;
    assert_eq!(stripped.status(), StatusCode::FORBIDDEN);
    assert!(stripped.text().await.unwrap().contains("manage_config"));
    // Someone who manages no access cannot list the tenant's people.
    let me = signed_in(&app, "me@health.go.ke").await;
    let people = app
        .get_with(&me, &format!("/tenants/{}/access/people?person_q=he", w.a))
        .await;
    assert_eq!(people.status(), StatusCode::FORBIDDEN);
}
