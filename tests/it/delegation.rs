//! Delegation over the real forms: nobody gives, revokes or reshapes their own access, a grant
//! ends when the grantor's hold on its permissions does, and a role is widened only by someone
//! who holds the new permissions for as long as its holders hold the role (issue 9); and a place
//! id outside one's area answers like one that does not exist. The rules themselves:
//! crates/access/tests/delegation.rs and unknown_place.rs; random chains: delegation_chains.rs.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use portal_domain::{BuiltinRole, Permission, PermissionSet, RoleKey, TenantId, UserId};
use portal_store::AuditContext;
use portal_store::access::{self, GrantScope, Grantee, NewGrant};
use reqwest::{Client, StatusCode};

use crate::support::{TestApp, page_text};
use crate::world::{World, role, signed_in};

fn ctx() -> AuditContext {
    AuditContext::command_line(Utc::now())
}

async fn save_role(app: &TestApp, tenant: TenantId, key: &str, permissions: &[Permission]) {
    access::save_role(
        &app.db,
        &ctx(),
        tenant,
        &RoleKey::parse(key).unwrap(),
        key,
        &PermissionSet::new(permissions.iter().copied()),
    )
    .await
    .unwrap();
}

/// Gives `user` `role` over `scope` until `ends`, straight in the store.
async fn give(
    app: &TestApp,
    tenant: TenantId,
    user: UserId,
    role: &str,
    scope: GrantScope,
    ends: Option<DateTime<Utc>>,
) -> uuid::Uuid {
    access::grant(
        &app.db,
        &ctx(),
        Grantee::Existing(user),
        NewGrant {
            tenant_id: tenant,
            role_key: RoleKey::parse(role).unwrap(),
            scope,
            expires_at: ends,
        },
    )
    .await
    .unwrap()
    .0
    .id
}

/// Someone who manages access for good (a tenant role of only `grant`) and is national
/// administrator for 7 days, signed in: the attacker of issue 9.
async fn temporary_national_admin(app: &TestApp, w: &World) -> (UserId, DateTime<Utc>, Client) {
    save_role(app, w.a, "access_lead", &[Permission::Grant]).await;
    let lead = w
        .person(
            app,
            "lead@health.go.ke",
            w.a,
            "access_lead",
            GrantScope::Tenant,
        )
        .await;
    // Whole seconds, so the stored end compares equal on both databases.
    let week = (Utc::now() + Duration::days(7)).trunc_subsecs(0);
    give(
        app,
        w.a,
        lead,
        role(BuiltinRole::NationalAdmin),
        GrantScope::Tenant,
        Some(week),
    )
    .await;
    let client = signed_in(app, "lead@health.go.ke").await;
    (lead, week, client)
}

async fn post(
    app: &TestApp,
    client: &Client,
    page: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = app.submit_with(client, page, path, form).await;
    (response.status(), page_text(response).await)
}

#[tokio::test]
async fn nobody_gives_themselves_access_or_revokes_their_own() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let national = w
        .person(
            &app,
            "national@health.go.ke",
            w.a,
            role(BuiltinRole::NationalAdmin),
            GrantScope::Tenant,
        )
        .await;
    let client = signed_in(&app, "national@health.go.ke").await;
    let access_page = format!("/tenants/{}/access", w.a);
    let own_id = national.to_string();
    // By picking their own account (a forged form: the picker leaves them out) or by email.
    for who in [
        ("user_id", own_id.as_str()),
        ("email", "national@health.go.ke"),
    ] {
        let (status, text) = post(
            &app,
            &client,
            &access_page,
            &access_page,
            &[who, ("role", "me_officer"), ("scope", "tenant")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who:?}");
        assert!(
            text.contains("You cannot give access to yourself"),
            "{text}"
        );
    }
    let grants = access::tenant_grants(&app.db, w.a, true).await.unwrap();
    assert_eq!(grants.len(), 1, "nothing was written: {grants:?}");

    // Their own grant has no Revoke button, and a forged revocation is refused.
    let own_grant = grants[0].grant.id;
    let revoke = format!("{access_page}/{own_grant}/revoke");
    let page = app
        .get_with(&client, &access_page)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains(&revoke),
        "no Revoke button for one's own access"
    );
    let (status, text) = post(&app, &client, &access_page, &revoke, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("You cannot revoke your own access"), "{text}");
    let still = access::get_grant(&app.db, w.a, own_grant).await.unwrap();
    assert!(still.revoked_at.is_none());
}

#[tokio::test]
async fn a_role_one_holds_is_neither_changed_nor_deleted_by_oneself() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    save_role(&app, w.a, "clerk", &[Permission::ViewDashboard]).await;
    let national = w
        .person(
            &app,
            "national@health.go.ke",
            w.a,
            role(BuiltinRole::NationalAdmin),
            GrantScope::Tenant,
        )
        .await;
    give(&app, w.a, national, "clerk", w.place(w.i1, "nairobi"), None).await;
    let client = signed_in(&app, "national@health.go.ke").await;
    let roles = format!("/tenants/{}/roles", w.a);
    let (status, text) = post(
        &app,
        &client,
        &roles,
        &roles,
        &[
            ("key", "clerk"),
            ("name", "Clerk"),
            ("permission", "view_dashboard"),
            ("permission", "manage_config"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("You hold the role clerk yourself"), "{text}");
    let (status, text) = post(&app, &client, &roles, &format!("{roles}/clerk/delete"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("You hold the role clerk yourself"), "{text}");
    let stored = access::custom_roles(&app.db, w.a).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].permissions,
        PermissionSet::new([Permission::ViewDashboard])
    );
}

#[tokio::test]
async fn deleting_a_role_needs_its_permissions_like_changing_it() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    save_role(&app, w.a, "access_lead", &[Permission::Grant]).await;
    save_role(&app, w.a, "it_officer", &[Permission::ManageConfig]).await;
    w.person(
        &app,
        "lead@health.go.ke",
        w.a,
        "access_lead",
        GrantScope::Tenant,
    )
    .await;
    let client = signed_in(&app, "lead@health.go.ke").await;
    let roles = format!("/tenants/{}/roles", w.a);
    let (status, text) = post(
        &app,
        &client,
        &roles,
        &format!("{roles}/it_officer/delete"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("manage_config"), "{text}");
    assert_eq!(access::custom_roles(&app.db, w.a).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_temporary_national_administrator_gives_access_only_until_their_own_ends() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (_, week, lead) = temporary_national_admin(&app, &w).await;
    let access_page = format!("/tenants/{}/access", w.a);
    let day = week.format("%Y-%m-%d").to_string();
    let give_national = |email: &'static str, ends: String| {
        let (app, lead, access_page) = (&app, &lead, &access_page);
        async move {
            post(
                app,
                lead,
                access_page,
                access_page,
                &[
                    ("email", email),
                    ("role", "national_admin"),
                    ("scope", "tenant"),
                    ("expires_on", &ends),
                ],
            )
            .await
        }
    };
    // To themselves without end: refused.
    let (status, text) = give_national("lead@health.go.ke", String::new()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        text.contains("You cannot give access to yourself"),
        "{text}"
    );
    // To someone else without end: refused, the end date set to the day theirs ends.
    let (status, text) = give_national("friend@health.go.ke", String::new()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text.contains(&format!("Your own access here ends on {day}"))
            && text.contains("'manage_config'")
            && text.contains("press Give access to confirm"),
        "{text}"
    );
    assert!(
        text.contains(&format!("name=\"expires_on\" value=\"{day}\"")),
        "the end date is filled in: {text}"
    );
    // A later day: refused too.
    let after = (week + Duration::days(1)).format("%Y-%m-%d").to_string();
    let (status, _) = give_national("friend@health.go.ke", after).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        access::tenant_grants(&app.db, w.a, true)
            .await
            .unwrap()
            .iter()
            .all(|l| l.user.email != "friend@health.go.ke"),
        "nothing was given yet"
    );
    // Confirmed with the date filled in: given until the lead's own access ends, not later.
    let (status, text) = give_national("friend@health.go.ke", day).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("Access given to"), "{text}");
    let friend = access::tenant_grants(&app.db, w.a, false)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.user.email == "friend@health.go.ke")
        .unwrap();
    assert_eq!(friend.grant.expires_at, Some(week));
}

#[tokio::test]
async fn a_role_is_widened_only_by_someone_holding_the_new_permissions_as_long_as_its_holders() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (_, week, lead) = temporary_national_admin(&app, &w).await;
    save_role(&app, w.a, "clerk", &[Permission::ViewDashboard]).await;
    w.person(
        &app,
        "clerk@health.go.ke",
        w.a,
        "clerk",
        w.place(w.i1, "nairobi"),
    )
    .await;
    let roles = format!("/tenants/{}/roles", w.a);
    let widen = |extra: &'static str| {
        let (app, lead, roles) = (&app, &lead, &roles);
        async move {
            post(
                app,
                lead,
                roles,
                roles,
                &[
                    ("key", "clerk"),
                    ("name", "Clerk"),
                    ("permission", "view_dashboard"),
                    ("permission", extra),
                ],
            )
            .await
        }
    };
    let (status, text) = widen("manage_config").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        text.contains("clerk@health.go.ke")
            && text.contains("'manage_config'")
            && text.contains(&format!("only until {}", week.format("%Y-%m-%d"))),
        "{text}"
    );
    let clerk = access::custom_roles(&app.db, w.a)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.key.as_str() == "clerk")
        .unwrap();
    assert!(!clerk.permissions.contains(Permission::ManageConfig));
    // `grant`, which the lead holds for good, may be added.
    let (status, _) = widen("grant").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

/// The rules are checked inside the transaction that writes, which first takes the
/// authorization lock: a grant that must wait for a revocation of its grantor's access sees
/// that revocation, and is refused.
#[tokio::test]
async fn a_grant_waiting_on_the_revocation_of_its_grantors_access_is_refused() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let national = w
        .person(
            &app,
            "national@health.go.ke",
            w.a,
            role(BuiltinRole::NationalAdmin),
            GrantScope::Tenant,
        )
        .await;
    let their_grant = access::tenant_grants(&app.db, w.a, false).await.unwrap()[0]
        .grant
        .id;
    // Another change takes the lock and revokes the national administrator …
    let revocation = access::AccessChange::begin(&app.db).await.unwrap();
    access::revoke_in(&revocation, &ctx(), w.a, their_grant)
        .await
        .unwrap();
    // … while they give access.
    let (db, tenant) = (app.db.clone(), w.a);
    let giving = tokio::spawn(async move {
        let by = portal_access::Principal {
            user_id: national,
            platform_admin: false,
            restricted_to: None,
        };
        let ctx = AuditContext {
            actor_user_id: Some(national),
            ..ctx()
        };
        portal_access::delegation::give_access(
            &db,
            &ctx,
            &by,
            crate::world::invite("friend@health.go.ke"),
            NewGrant {
                tenant_id: tenant,
                role_key: RoleKey::builtin(BuiltinRole::MeOfficer),
                scope: GrantScope::Tenant,
                expires_at: None,
            },
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!giving.is_finished(), "the grant waits for the lock");
    revocation.commit().await.unwrap();
    let given = giving.await.unwrap();
    assert!(
        matches!(given, Err(portal_access::DelegationError::OutsideArea)),
        "{given:?}"
    );
    assert!(
        access::tenant_grants(&app.db, w.a, true)
            .await
            .unwrap()
            .iter()
            .all(|l| l.user.email != "friend@health.go.ke")
    );
}

/// The access.denied events recorded so far, oldest first.
async fn denials(app: &TestApp) -> Vec<serde_json::Value> {
    let mut events: Vec<_> = portal_store::audit::list_recent(&app.db, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "access.denied")
        .map(|e| e.details)
        .collect();
    events.reverse();
    events
}

/// Gives the M&E officer role at `scope` through the form; the answer with `scope` and its
/// instance id blanked out, so answers about different ids compare as text.
async fn give_at(
    app: &TestApp,
    client: &Client,
    tenant: TenantId,
    scope: &str,
) -> (StatusCode, String) {
    let access_page = format!("/tenants/{tenant}/access");
    let form = [
        ("email", "friend@health.go.ke"),
        ("role", "me_officer"),
        ("scope", scope),
    ];
    let (status, text) = post(app, client, &access_page, &access_page, &form).await;
    // The page keeps the scope's instance for the place search.
    let instance = scope.split(':').nth(1).unwrap_or_default();
    let text = text.replace(scope, "SCOPE").replace(instance, "INSTANCE");
    (status, text)
}

/// A region manager cannot tell a place id of another region from one that does not exist:
/// both are outside their area, with the same status, words and audit event.
#[tokio::test]
async fn an_unknown_place_is_refused_like_a_place_in_another_region() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    w.person(
        &app,
        "region@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "nairobi"),
    )
    .await;
    let client = signed_in(&app, "region@health.go.ke").await;
    let pairs = [
        // Another region of their instance, and another instance of their tenant.
        (
            format!("place:{}:kisumu", w.i1),
            format!("place:{}:nowhere", w.i1),
        ),
        (
            format!("place:{}:mombasa", w.i2),
            format!("place:{}:nowhere", w.i2),
        ),
    ];
    for (real, unknown) in pairs {
        let before = denials(&app).await.len();
        let (real_status, real_text) = give_at(&app, &client, w.a, &real).await;
        let (unknown_status, unknown_text) = give_at(&app, &client, w.a, &unknown).await;
        assert_eq!(real_status, StatusCode::FORBIDDEN, "{real}: {real_text}");
        assert!(
            real_text.contains("it is outside the area where you manage access"),
            "{real_text}"
        );
        assert!(!unknown_text.contains("portal's copy"), "{unknown_text}");
        assert_eq!(unknown_status, real_status, "{unknown}");
        assert_eq!(unknown_text, real_text, "{unknown} answers as {real}");
        let events = denials(&app).await;
        assert_eq!(
            events.len(),
            before + 2,
            "both refusals are audited: {events:#?}"
        );
        assert_eq!(events[before], events[before + 1]);
    }
    // An instance of another tenant answers like an instance id that does not exist.
    let (foreign_status, foreign_text) =
        give_at(&app, &client, w.a, &format!("place:{}:kampala", w.j1)).await;
    let (unknown_status, unknown_text) = give_at(
        &app,
        &client,
        w.a,
        &format!("place:{}:kampala", portal_domain::InstanceId::new()),
    )
    .await;
    assert_eq!(foreign_status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(foreign_text.contains("That CHT instance is not in this tenant."));
    assert_eq!(
        (unknown_status, unknown_text),
        (foreign_status, foreign_text)
    );
    assert!(
        access::tenant_grants(&app.db, w.a, true)
            .await
            .unwrap()
            .iter()
            .all(|l| l.user.email != "friend@health.go.ke"),
        "nothing was given"
    );
}

/// Someone who manages access on the whole instance may see every place of it, so they are
/// told that a place id is not in the portal's copy, and how to fix that.
#[tokio::test]
async fn a_national_administrator_is_told_an_unknown_place_is_not_in_the_copy() {
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
    let client = signed_in(&app, "national@health.go.ke").await;
    let (status, text) = give_at(&app, &client, w.a, &format!("place:{}:nowhere", w.i1)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(
        text.contains(
            "That place is not in the portal's copy of the instance. Refresh the places and search again."
        ),
        "{text}"
    );
    assert!(
        denials(&app).await.is_empty(),
        "a form error, not a refusal"
    );
}
