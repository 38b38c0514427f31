//! Authorization over real HTTP: every route × every built-in role × inside/outside scope ×
//! another tenant, against an expectation table written here independently of the portal's
//! own rule table; then delegation, revocation and invitation.

use portal_domain::{BuiltinRole, Permission, PermissionSet};
use portal_store::access::GrantScope;
use reqwest::{Client, Method, StatusCode};

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, csrf_token, http_client, location};
use crate::world::{World, grant, invite, role, signed_in};

/// What the test expects a route to demand, stated without looking at `authz::RULES`.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Public,
    SignedIn,
    PlatformAdmin,
    /// Any grant in the tenant.
    Member,
    /// `Some(permission)` or any permission, on the whole tenant.
    OnTenant(Option<Permission>),
    /// On the instance as a whole.
    OnInstance(Option<Permission>),
    /// Somewhere in the instance (the instance or any place in it).
    InInstance(Option<Permission>),
    /// On the place.
    OnPlace(Option<Permission>),
    /// Revoking the grant in the path: `grant` over its place, and every permission of its role.
    Revoke,
    /// A staged batch of the instance, staged for the whole instance: `stage` on the instance.
    StagedBatch,
    /// `grant` anywhere in the tenant.
    ManagesAccess,
}

use Expect::*;

const ROUTES: &[(&str, &str, Expect)] = &[
    ("GET", "/", SignedIn),
    ("GET", "/login", Public),
    ("POST", "/login", Public),
    ("GET", "/login/oidc/{provider_id}", Public),
    ("GET", "/login/oidc/callback", Public),
    ("GET", "/account/password", SignedIn),
    ("POST", "/account/password", SignedIn),
    ("GET", "/tenants", SignedIn),
    ("POST", "/tenants", PlatformAdmin),
    ("GET", "/tenants/{tenant_id}", Member),
    ("POST", "/tenants/{tenant_id}", PlatformAdmin),
    ("POST", "/tenants/{tenant_id}/delete", PlatformAdmin),
    ("GET", "/tenants/{tenant_id}/access", Member),
    ("POST", "/tenants/{tenant_id}/access", Member),
    ("GET", "/tenants/{tenant_id}/access/people", ManagesAccess),
    (
        "POST",
        "/tenants/{tenant_id}/access/{grant_id}/revoke",
        Revoke,
    ),
    (
        "GET",
        "/tenants/{tenant_id}/roles",
        OnTenant(Some(Permission::Grant)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/roles",
        OnTenant(Some(Permission::Grant)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/roles/{role_key}/delete",
        OnTenant(Some(Permission::Grant)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/sign-in",
        OnTenant(Some(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/sign-in",
        OnTenant(Some(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances",
        OnTenant(Some(Permission::ManageInstances)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/new",
        OnTenant(Some(Permission::ManageInstances)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}",
        InInstance(None),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}",
        OnInstance(Some(Permission::ManageInstances)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/delete",
        OnInstance(Some(Permission::ManageInstances)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/test",
        OnInstance(Some(Permission::ManageInstances)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/places",
        InInstance(None),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/places/refresh",
        OnInstance(Some(Permission::Stage)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/places/search",
        InInstance(None),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/places/{place_id}",
        OnPlace(None),
    ),
    (
        "GET",
        "/api/v1/tenants/{tenant_id}/instances/{instance_id}/places",
        InInstance(None),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/config",
        OnTenant(Some(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/config",
        OnTenant(Some(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/config/upload",
        OnTenant(Some(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/config/preview",
        OnTenant(Some(Permission::ManageConfig)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/config/import-domains",
        OnTenant(Some(Permission::ManageConfig)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging",
        InInstance(Some(Permission::Stage)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/template/{contact_type}",
        InInstance(Some(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/upload",
        InInstance(Some(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/new-row",
        InInstance(Some(Permission::Stage)),
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/refresh",
        OnInstance(Some(Permission::Stage)),
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}",
        StagedBatch,
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows",
        StagedBatch,
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}",
        StagedBatch,
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/edit",
        StagedBatch,
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/acknowledge",
        StagedBatch,
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/remove",
        StagedBatch,
    ),
    (
        "POST",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/revalidate",
        StagedBatch,
    ),
    (
        "GET",
        "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/invalid.csv",
        StagedBatch,
    ),
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/assets/{version}/{name}", Public),
    // Last: it ends the session of whoever calls it.
    ("POST", "/logout", Public),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Inside,
    Outside,
    OtherTenant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Held {
    Tenant,
    Instance(&'static str),
    /// (instance, place, places below it including itself)
    Place(&'static str, &'static [&'static str]),
}

struct Actor {
    name: &'static str,
    email: &'static str,
    platform_admin: bool,
    holdings: Vec<(Held, PermissionSet)>,
}

/// Places of I1 under nairobi, itself included.
const NAIROBI: &[&str] = &["nairobi", "westlands", "ward1"];

fn actors() -> Vec<Actor> {
    let perms = |r: BuiltinRole| r.permissions();
    vec![
        Actor {
            name: "platform admin",
            email: ADMIN_EMAIL,
            platform_admin: true,
            holdings: vec![],
        },
        Actor {
            name: "national admin",
            email: "national@health.go.ke",
            platform_admin: false,
            holdings: vec![(Held::Tenant, perms(BuiltinRole::NationalAdmin))],
        },
        Actor {
            name: "county manager (instance)",
            email: "county@health.go.ke",
            platform_admin: false,
            holdings: vec![(Held::Instance("i1"), perms(BuiltinRole::RegionManager))],
        },
        Actor {
            name: "sub-county manager (place)",
            email: "subcounty@health.go.ke",
            platform_admin: false,
            holdings: vec![(
                Held::Place("i1", NAIROBI),
                perms(BuiltinRole::RegionManager),
            )],
        },
        Actor {
            name: "M&E officer",
            email: "me@health.go.ke",
            platform_admin: false,
            holdings: vec![(Held::Place("i1", NAIROBI), perms(BuiltinRole::MeOfficer))],
        },
        Actor {
            name: "no access",
            email: "nobody@health.go.ke",
            platform_admin: false,
            holdings: vec![],
        },
    ]
}

/// What a request should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Forbidden,
    NotFound,
}

/// The target of a tenant route at a position: (instance key, place) inside tenant A.
fn targets(position: Position) -> (&'static str, &'static str) {
    match position {
        Position::Inside | Position::OtherTenant => ("i1", "westlands"),
        Position::Outside => ("i2", "ward2"),
    }
}

fn covers(held: &Held, expect: Expect, position: Position) -> bool {
    let (instance, place) = targets(position);
    // Place routes stay in I1; "outside" there is a place outside nairobi.
    let place_target = if position == Position::Outside {
        "ward2"
    } else {
        place
    };
    match (held, expect) {
        (Held::Tenant, _) => true,
        (Held::Instance(i), OnInstance(_) | InInstance(_)) => *i == instance,
        (Held::Instance(i), OnPlace(_) | Revoke) => *i == "i1",
        (Held::Place(i, below), OnPlace(_) | Revoke) => *i == "i1" && below.contains(&place_target),
        (Held::Place(i, _), InInstance(_)) => *i == instance,
        (Held::Instance(i), StagedBatch) => *i == instance,
        _ => false,
    }
}

fn expected(actor: &Actor, expect: Expect, position: Position) -> Outcome {
    if actor.platform_admin {
        return Outcome::Allowed;
    }
    let in_tenant = |outcome: bool| {
        if position == Position::OtherTenant || actor.holdings.is_empty() {
            Outcome::NotFound
        } else if outcome {
            Outcome::Allowed
        } else {
            Outcome::Forbidden
        }
    };
    let holds = |permission: Option<Permission>| {
        actor.holdings.iter().any(|(held, perms)| {
            covers(held, expect, position) && permission.is_none_or(|p| perms.contains(p))
        })
    };
    match expect {
        Public | SignedIn => Outcome::Allowed,
        PlatformAdmin => Outcome::Forbidden,
        Member => in_tenant(true),
        OnTenant(p) => in_tenant(
            actor
                .holdings
                .iter()
                .any(|(held, perms)| *held == Held::Tenant && p.is_none_or(|p| perms.contains(p))),
        ),
        OnInstance(p) | InInstance(p) | OnPlace(p) => in_tenant(holds(p)),
        StagedBatch => in_tenant(holds(Some(Permission::Stage))),
        ManagesAccess => in_tenant(
            actor
                .holdings
                .iter()
                .any(|(_, perms)| perms.contains(Permission::Grant)),
        ),
        // The grant to revoke holds the M&E officer role: its permissions must be held too.
        Revoke => in_tenant(
            holds(Some(Permission::Grant)) && {
                let needed = BuiltinRole::MeOfficer.permissions();
                actor.holdings.iter().any(|(held, perms)| {
                    covers(held, expect, position) && needed.is_subset_of(perms)
                })
            },
        ),
    }
}

struct Fixture {
    world: World,
    batches: [uuid::Uuid; 3],
    grant_inside: uuid::Uuid,
    grant_outside: uuid::Uuid,
    grant_other: uuid::Uuid,
    provider: uuid::Uuid,
    asset: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let world = World::build(app).await;
    let w = &world;
    w.person(
        app,
        "national@health.go.ke",
        w.a,
        role(BuiltinRole::NationalAdmin),
        GrantScope::Tenant,
    )
    .await;
    w.person(
        app,
        "county@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        GrantScope::Instance(w.i1),
    )
    .await;
    w.person(
        app,
        "subcounty@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "nairobi"),
    )
    .await;
    w.person(
        app,
        "me@health.go.ke",
        w.a,
        role(BuiltinRole::MeOfficer),
        w.place(w.i1, "nairobi"),
    )
    .await;
    app.create_user("nobody@health.go.ke", ADMIN_PASSWORD, false, false)
        .await;
    // Revoked grants to aim revocations at: an allowed revocation then answers 409, changing
    // nothing, so one portal serves the whole matrix.
    let ctx = portal_store::AuditContext::command_line(chrono::Utc::now());
    let mut revoked = Vec::new();
    for (tenant, scope) in [
        (w.a, w.place(w.i1, "westlands")),
        (w.a, w.place(w.i1, "ward2")),
        (w.b, w.place(w.j1, "kampala")),
    ] {
        let id = grant(
            app,
            tenant,
            invite("former@health.go.ke"),
            role(BuiltinRole::MeOfficer),
            scope,
        )
        .await;
        portal_store::access::revoke(&app.db, &ctx, tenant, id)
            .await
            .unwrap();
        revoked.push(id);
    }
    // A custom role in use in each tenant: deleting it is refused (409) for those allowed to try.
    for tenant in [w.a, w.b] {
        let key = portal_domain::RoleKey::parse("held_role").unwrap();
        portal_store::access::save_role(
            &app.db,
            &ctx,
            tenant,
            &key,
            "Held",
            &PermissionSet::new([Permission::ViewAudit]),
        )
        .await
        .unwrap();
        grant(
            app,
            tenant,
            invite("holder@health.go.ke"),
            "held_role",
            GrantScope::Tenant,
        )
        .await;
    }
    // A sign-in provider nobody can reach: starting a sign-in answers 502.
    let provider = portal_store::oidc::save_provider(
        &app.db,
        &master_key(app),
        &ctx,
        w.a,
        portal_store::oidc::ProviderFields {
            display_name: "Kenya MoH".into(),
            issuer_url: "http://127.0.0.1:9".into(),
            client_id: "portal".into(),
            client_secret: Some("secret".into()),
            enabled: true,
        },
    )
    .await
    .unwrap()
    .id;
    // A deployment config in both tenants, and a batch staged for the whole of I1, I2 and J1.
    let kenya = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/deploy-config/tests/fixtures/chis-ke.config.json"
    ))
    .unwrap();
    let kenya = String::from_utf8(kenya).unwrap();
    let mut batches = Vec::new();
    for (tenant, instance) in [(w.a, w.i1), (w.a, w.i2), (w.b, w.j1)] {
        portal_store::staging::save_config(&app.db, &ctx, tenant, &kenya, serde_json::json!({}))
            .await
            .unwrap();
        let info = portal_store::staging::create_batch(
            &app.db,
            &ctx,
            portal_store::staging::NewBatch {
                tenant_id: tenant,
                instance_id: instance,
                contact_type: "d_community_health_volunteer_area".into(),
                file_name: "matrix.csv".into(),
                anchors: vec![],
                notices: vec![],
            },
            portal_store::staging::Counts {
                valid: 1,
                warning: 0,
                error: 0,
            },
            [portal_store::staging::RowRecord {
                idx: 0,
                line: 2,
                status: portal_store::staging::Status::Valid,
                raw: ["", "Westlands", "", "Mary Wanjiku", "0712345678", ""]
                    .map(str::to_owned)
                    .to_vec(),
                problems: vec![],
                warnings: vec![],
                acknowledged: false,
            }]
            .into_iter(),
        )
        .await
        .unwrap();
        batches.push(info.id);
    }
    let login = app.get("/login").await.text().await.unwrap();
    let asset = login
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with("app.css"))
        .expect("the sign-in page links its stylesheet")
        .to_owned();
    Fixture {
        world,
        batches: [batches[0], batches[1], batches[2]],
        grant_inside: revoked[0],
        grant_outside: revoked[1],
        grant_other: revoked[2],
        provider,
        asset,
    }
}

fn master_key(app: &TestApp) -> portal_crypto::MasterKey {
    let text = std::fs::read_to_string(app.config.data_dir.join("master.key")).unwrap();
    portal_crypto::MasterKey::from_base64(text.trim()).unwrap()
}

fn concrete(template: &str, f: &Fixture, position: Position) -> String {
    let w = &f.world;
    let (tenant, instance, place, grant, batch) = match position {
        Position::Inside => (w.a, w.i1, "westlands", f.grant_inside, f.batches[0]),
        Position::Outside => (w.a, w.i2, "ward2", f.grant_outside, f.batches[1]),
        Position::OtherTenant => (w.b, w.j1, "kampala", f.grant_other, f.batches[2]),
    };
    // Place routes stay in the place's own instance.
    let place_instance = match position {
        Position::Inside | Position::Outside => w.i1,
        Position::OtherTenant => w.j1,
    };
    let instance = if template.contains("{place_id}") {
        place_instance
    } else {
        instance
    };
    if template == "/assets/{version}/{name}" {
        return f.asset.clone();
    }
    template
        .replace("{tenant_id}", &tenant.to_string())
        .replace("{instance_id}", &instance.to_string())
        .replace("{place_id}", place)
        .replace("{grant_id}", &grant.to_string())
        .replace("{role_key}", "held_role")
        .replace("{batch_id}", &batch.to_string())
        .replace("{contact_type}", "d_community_health_volunteer_area")
        // Removing row 0 would change what the next requests see; an absent row is refused
        // (422) by those allowed to try.
        .replace("{row}/remove", "999/remove")
        .replace("{row}", "0")
        .replace("{provider_id}", &f.provider.to_string())
        + if template.ends_with("/search") || template.starts_with("/api/") {
            "?q=wa"
        } else {
            ""
        }
}

fn outcome(status: StatusCode, location: Option<&str>) -> Outcome {
    match status {
        StatusCode::FORBIDDEN => Outcome::Forbidden,
        StatusCode::NOT_FOUND => Outcome::NotFound,
        s if s.is_redirection() && location.is_some_and(|l| l.starts_with("/login")) => {
            Outcome::Forbidden
        }
        StatusCode::UNAUTHORIZED => Outcome::Forbidden,
        _ => Outcome::Allowed,
    }
}

async fn request(
    app: &TestApp,
    client: &Client,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>) {
    let response = if method == "GET" {
        client.get(app.url(path)).send().await.unwrap()
    } else {
        let form: Vec<(&str, &str)> = token.map(|t| vec![("_csrf", t)]).unwrap_or_default();
        client
            .request(Method::POST, app.url(path))
            .form(&form)
            .send()
            .await
            .unwrap()
    };
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, location)
}

#[tokio::test]
async fn every_route_for_every_role_inside_and_outside_scope_and_in_another_tenant() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let mut checked = 0;
    let mut failures = Vec::new();
    for actor in actors() {
        let client = signed_in(&app, actor.email).await;
        let token = csrf_token(
            &app.get_with(&client, "/account/password")
                .await
                .text()
                .await
                .unwrap(),
        )
        .expect("a signed-in page carries a CSRF token");
        for (method, template, expect) in ROUTES {
            for position in [Position::Inside, Position::Outside, Position::OtherTenant] {
                // The public provider route is the same in every position.
                let path = concrete(template, &f, position);
                let (status, location) = request(&app, &client, method, &path, Some(&token)).await;
                let got = match expect {
                    // Public routes answer everyone; only a refusal would be wrong.
                    Public if status == StatusCode::FORBIDDEN => Outcome::Forbidden,
                    Public => Outcome::Allowed,
                    _ => outcome(status, location.as_deref()),
                };
                let want = expected(&actor, *expect, position);
                checked += 1;
                if got != want {
                    failures.push(format!(
                        "{} {method} {path} ({position:?}): expected {want:?}, got {status}",
                        actor.name
                    ));
                }
                if *template == "/logout" {
                    break;
                }
            }
        }
    }
    // Signed out: only public routes answer.
    let anonymous = http_client();
    for (method, template, expect) in ROUTES {
        let path = concrete(template, &f, Position::Inside);
        let (status, location) = request(&app, &anonymous, method, &path, None).await;
        let got = outcome(status, location.as_deref());
        checked += 1;
        let public = matches!(expect, Public);
        // A signed-out POST fails the CSRF check before anything else (403); that is a denial too.
        if public && *method == "GET" && got != Outcome::Allowed
            || !public && got == Outcome::Allowed
        {
            failures.push(format!("signed out {method} {path}: got {status}"));
        }
    }
    println!(
        "authorization matrix: {} routes × {} roles × 3 positions + signed out = {checked} requests",
        ROUTES.len(),
        actors().len()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

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
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ok), format!("{access}?notice=access-granted"));
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
    assert_eq!(within.status(), StatusCode::SEE_OTHER);
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
