//! Sign-in with a CHT account (issue 10, part C), over real HTTP against the CHT simulator
//! started in process: only people given access by their CHT username get in, with the access
//! the portal gave them, in that tenant only; every refusal looks the same; the throttle acts
//! before CHT is asked; the CHT password is kept nowhere.

use chrono::Utc;
use cht_client::{ChtClient, ChtConfig, NewUser};
use cht_sim::{RunningSim, SimConfig, Simulator, Version};
use portal_crypto::MasterKey;
use portal_domain::{BaseUrl, BuiltinRole, InstanceId, InstanceName, ServiceUsername};
use portal_store::AuditContext;
use portal_store::access::{GrantScope, Grantee};
use portal_store::instances::{self, InstanceFields, ServicePassword};
use reqwest::{Client, StatusCode};
use sea_orm::EntityTrait;

use crate::support::*;
use crate::world::{World, grant, role, signed_in};

const AMINA_PASSWORD: &str = "Amina-Cht-Secret-2026";
const BARAKA_PASSWORD: &str = "Baraka-Cht-Secret-2026";
const GENERIC_REFUSAL: &str = "Sign-in failed: the CHT username or password is not correct, or this CHT account has not been given access to the portal.";

struct Setup {
    app: TestApp,
    world: World,
    sim: RunningSim,
    /// Tenant A's instance on the simulator, where CHT-account sign-in is allowed.
    cht: InstanceId,
    /// A national administrator of tenant A, signed in.
    lead: Client,
}

async fn create_cht_user(sim: &RunningSim, username: &str, password: &str) {
    let admin =
        ChtClient::new(ChtConfig::new(&sim.base_url(), "medic", "password").unwrap()).unwrap();
    admin
        .create_user(NewUser {
            username: username.into(),
            password: Some(password.into()),
            roles: vec!["program_officer".to_owned()],
            password_change_required: Some(false),
            ..Default::default()
        })
        .await
        .expect("create CHT user");
}

fn master_key(app: &TestApp) -> MasterKey {
    let text = std::fs::read_to_string(app.config.data_dir.join("master.key")).unwrap();
    MasterKey::from_base64(text.trim()).unwrap()
}

async fn sim_instance(app: &TestApp, world: &World, name: &str, base_url: &str) -> InstanceId {
    instances::create(
        &app.db,
        &AuditContext::command_line(Utc::now()),
        &master_key(app),
        world.a,
        &InstanceFields {
            name: InstanceName::parse(name).unwrap(),
            base_url: BaseUrl::parse(base_url).unwrap(),
            service_username: ServiceUsername::parse("medic").unwrap(),
            service_password: Some(ServicePassword::parse("password").unwrap()),
        },
    )
    .await
    .unwrap()
    .id
}

/// Tenant A allows CHT-account sign-in on the instances given, through the settings page.
async fn allow(app: &TestApp, lead: &Client, tenant: impl std::fmt::Display, on: &[InstanceId]) {
    let ids: Vec<String> = on.iter().map(ToString::to_string).collect();
    let fields: Vec<(&str, &str)> = ids.iter().map(|id| ("instance", id.as_str())).collect();
    let response = app
        .submit_with(
            lead,
            &format!("/tenants/{tenant}/sign-in"),
            &format!("/tenants/{tenant}/sign-in/cht-accounts"),
            &fields,
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

async fn setup(adjust: impl FnOnce(&mut portal_config::Config)) -> Setup {
    let app = TestApp::spawn_with(adjust).await;
    let world = World::build(&app).await;
    let sim = Simulator::start(SimConfig {
        version: Version::V5_2,
        // The portal's throttle is under test, not CHT's own limiter.
        rate_limit: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    create_cht_user(&sim, "chv_amina", AMINA_PASSWORD).await;
    create_cht_user(&sim, "chv_baraka", BARAKA_PASSWORD).await;
    let cht = sim_instance(&app, &world, "Nairobi CHT", &sim.base_url()).await;
    world
        .person(
            &app,
            "lead@health.go.ke",
            world.a,
            role(BuiltinRole::NationalAdmin),
            GrantScope::Tenant,
        )
        .await;
    let lead = signed_in(&app, "lead@health.go.ke").await;
    allow(&app, &lead, world.a, &[cht]).await;
    Setup {
        app,
        world,
        sim,
        cht,
        lead,
    }
}

/// The lead gives chv_amina (on the simulator's instance) the region manager role over
/// Westlands, through the access page's form.
async fn give_amina_westlands(s: &Setup) -> reqwest::Response {
    let scope = format!("place:{}:westlands", s.world.i1);
    let cht = s.cht.to_string();
    let access = format!("/tenants/{}/access", s.world.a);
    s.app
        .submit_with(
            &s.lead,
            &access,
            &access,
            &[
                ("user_id", ""),
                ("email", ""),
                ("cht_username", "chv_amina"),
                ("cht_instance", &cht),
                ("display_name", "Amina Otieno"),
                ("role", role(BuiltinRole::RegionManager)),
                ("scope", &scope),
                ("expires_on", ""),
            ],
        )
        .await
}

async fn cht_sign_in(
    s: &Setup,
    client: &Client,
    instance: InstanceId,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let instance = instance.to_string();
    s.app
        .submit_with(
            client,
            "/login/cht",
            "/login/cht",
            &[
                ("instance", instance.as_str()),
                ("username", user),
                ("password", password),
            ],
        )
        .await
}

async fn session_posts(sim: &RunningSim) -> u64 {
    let stats: serde_json::Value = reqwest::get(format!("{}/__sim/stats", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["requests"]["POST /_session"].as_u64().unwrap_or(0)
}

async fn failure_reasons(app: &TestApp) -> Vec<String> {
    let mut events = portal_store::audit::list_recent(&app.db, 1000)
        .await
        .unwrap();
    events.reverse();
    events
        .into_iter()
        .filter(|e| e.action == "auth.login_failed" && e.details["method"] == "cht_account")
        .map(|e| e.details["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_person_given_access_by_cht_username_signs_in_and_sees_only_their_scope() {
    let s = setup(|_| {}).await;
    let given = give_amina_westlands(&s).await;
    // They have a way in (their CHT account): "access given", no invitation link.
    assert_eq!(
        given.status(),
        StatusCode::SEE_OTHER,
        "{}",
        page_text(given).await
    );
    let access = page_text(
        s.app
            .get_with(&s.lead, &format!("/tenants/{}/access", s.world.a))
            .await,
    )
    .await;
    assert!(access.contains("Amina Otieno"), "{access}");
    assert!(
        access.contains("Signs in with their CHT account on Nairobi CHT"),
        "{access}"
    );
    assert!(access.contains("CHT username chv_amina") && !access.contains(".cht.invalid"));
    let granted = s.app.last_audit("access.granted").await;
    assert_eq!(granted.details["cht_user"]["username"], "chv_amina");
    // A grant in tenant B too: the CHT session must not reach it.
    let amina = portal_store::cht_identities::user_for(
        &s.app.db,
        s.cht,
        &portal_store::cht_identities::ChtUsername::parse("chv_amina").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    grant(
        &s.app,
        s.world.b,
        Grantee::Existing(amina.id),
        role(BuiltinRole::NationalAdmin),
        GrantScope::Tenant,
    )
    .await;

    let login = page_text(s.app.get_with(&http_client(), "/login").await).await;
    assert!(login.contains("Sign in with your CHT account"), "{login}");
    let form = page_text(s.app.get_with(&http_client(), "/login/cht").await).await;
    assert!(form.contains("Nairobi CHT (Kenya)"), "{form}");

    let before = session_posts(&s.sim).await;
    let amina_client = http_client();
    // Typed case is forgiven, as CHT usernames are lower-case.
    let response = cht_sign_in(&s, &amina_client, s.cht, "CHV_Amina", AMINA_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        session_posts(&s.sim).await,
        before + 1,
        "one check, no retry"
    );
    let event = s.app.last_audit("auth.login").await;
    assert_eq!(event.details["method"], "cht_account");
    assert_eq!(event.details["cht_username"], "chv_amina");
    assert_eq!(event.tenant_id, Some(s.world.a.as_uuid()));

    let places = format!("/tenants/{}/instances/{}/places", s.world.a, s.world.i1);
    let own = s
        .app
        .get_with(&amina_client, &format!("{places}/westlands"))
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    let outside = s
        .app
        .get_with(&amina_client, &format!("{places}/kisumu"))
        .await;
    // Outside their area a place answers like one that does not exist.
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    let config = s
        .app
        .get_with(&amina_client, &format!("/tenants/{}/sign-in", s.world.a))
        .await;
    assert_eq!(config.status(), StatusCode::FORBIDDEN);
    // Tenant B, where a grant exists, is out of this session's reach.
    let other = s
        .app
        .get_with(&amina_client, &format!("/tenants/{}", s.world.b))
        .await;
    assert!(
        matches!(
            other.status(),
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ),
        "{}",
        other.status()
    );
    let tenants = page_text(s.app.get_with(&amina_client, "/tenants").await).await;
    assert!(
        tenants.contains("Kenya") && !tenants.contains("Uganda"),
        "{tenants}"
    );

    // Turning CHT-account sign-in off on the instance ends the sessions it let in.
    allow(&s.app, &s.lead, s.world.a, &[]).await;
    let after = s
        .app
        .get_with(&amina_client, &format!("{places}/westlands"))
        .await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert!(location(&after).starts_with("/login"));
    s.sim.shutdown().await;
}

#[tokio::test]
async fn every_refusal_looks_the_same_and_the_audit_says_which() {
    let s = setup(|_| {}).await;
    assert_eq!(
        give_amina_westlands(&s).await.status(),
        StatusCode::SEE_OTHER
    );
    let client = http_client();
    let before = session_posts(&s.sim).await;
    // A CHT user with a valid password but no grant; a wrong password; an instance that does
    // not allow it (tenant A's Mombasa); a username CHT could not have.
    let attempts = [
        (s.cht, "chv_baraka", BARAKA_PASSWORD),
        (s.cht, "chv_amina", "not-her-password"),
        (s.world.i2, "chv_amina", AMINA_PASSWORD),
        (s.cht, "Amina Otieno", AMINA_PASSWORD),
    ];
    for (instance, user, password) in attempts {
        let response = cht_sign_in(&s, &client, instance, user, password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{user}");
        assert!(cookie_value(&response, "portal_session").is_none());
        let text = page_text(response).await;
        assert!(text.contains(GENERIC_REFUSAL), "{user}: {text}");
    }
    assert_eq!(
        failure_reasons(&s.app).await,
        [
            "no_portal_person",
            "cht_refused_password",
            "instance_not_allowed",
            "invalid_username"
        ]
    );
    // Only the first two reached CHT; nobody is signed in.
    assert_eq!(session_posts(&s.sim).await, before + 2);
    let denied = s.app.get_with(&client, "/tenants").await;
    assert_eq!(denied.status(), StatusCode::SEE_OTHER);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn the_throttle_acts_before_cht_is_asked() {
    let s = setup(|config| {
        config.login.max_failures_per_account = 3;
    })
    .await;
    assert_eq!(
        give_amina_westlands(&s).await.status(),
        StatusCode::SEE_OTHER
    );
    let client = http_client();
    let before = session_posts(&s.sim).await;
    for expected in [
        StatusCode::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let response = cht_sign_in(&s, &client, s.cht, "chv_amina", "guess").await;
        assert_eq!(response.status(), expected);
    }
    assert_eq!(session_posts(&s.sim).await, before + 3);
    // Locked: even the right password is refused, and CHT sees none of it.
    for password in ["guess again", AMINA_PASSWORD] {
        let response = cht_sign_in(&s, &client, s.cht, "chv_amina", password).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            page_text(response)
                .await
                .contains("Too many failed sign-in attempts")
        );
    }
    assert_eq!(
        session_posts(&s.sim).await,
        before + 3,
        "no call to CHT once locked"
    );
    assert!(
        s.app
            .audit_actions()
            .await
            .contains(&"auth.login_throttled".to_owned())
    );
    s.sim.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_instance_is_named_and_does_not_count_against_the_person() {
    let s = setup(|config| {
        config.login.max_failures_per_account = 2;
    })
    .await;
    // Nothing listens on port 9.
    let down = sim_instance(&s.app, &s.world, "Down CHT", "http://127.0.0.1:9").await;
    allow(&s.app, &s.lead, s.world.a, &[s.cht, down]).await;
    let client = http_client();
    for _ in 0..3 {
        let response = cht_sign_in(&s, &client, down, "chv_amina", AMINA_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert!(
            page_text(response)
                .await
                .contains("Could not reach Down CHT")
        );
    }
    // CHT's own login limiter answering 429 is said as such.
    reqwest::Client::new()
        .post(format!("{}/__sim/faults", s.sim.base_url()))
        .json(&serde_json::json!({ "burst_429": 1 }))
        .send()
        .await
        .unwrap();
    let response = cht_sign_in(&s, &client, s.cht, "chv_amina", AMINA_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(
        page_text(response)
            .await
            .contains("Nairobi CHT is refusing sign-in checks for the moment")
    );
    assert_eq!(
        failure_reasons(&s.app).await,
        [
            "cht_unreachable",
            "cht_unreachable",
            "cht_unreachable",
            "cht_rate_limited"
        ]
    );
    s.sim.shutdown().await;
}

#[tokio::test]
async fn the_cht_password_is_stored_nowhere() {
    let s = setup(|_| {}).await;
    assert_eq!(
        give_amina_westlands(&s).await.status(),
        StatusCode::SEE_OTHER
    );
    let wrong = "Wrong-Amina-Guess-77";
    for (password, status) in [
        (wrong, StatusCode::UNAUTHORIZED),
        (AMINA_PASSWORD, StatusCode::SEE_OTHER),
    ] {
        let response = cht_sign_in(&s, &http_client(), s.cht, "chv_amina", password).await;
        assert_eq!(response.status(), status);
    }
    // A password typed into the username field is not a CHT username: kept nowhere either.
    let in_the_wrong_box = "Typed In The Wrong Box!";
    let response = cht_sign_in(&s, &http_client(), s.cht, in_the_wrong_box, "x").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    use portal_store::entity::{audit_event, cht_identity, login_throttle, portal_user, session};
    let everything = format!(
        "{:?}{:?}{:?}{:?}{:?}",
        audit_event::Entity::find().all(&s.app.db).await.unwrap(),
        session::Entity::find().all(&s.app.db).await.unwrap(),
        login_throttle::Entity::find().all(&s.app.db).await.unwrap(),
        portal_user::Entity::find().all(&s.app.db).await.unwrap(),
        cht_identity::Entity::find().all(&s.app.db).await.unwrap(),
    );
    assert!(
        everything.contains("chv_amina"),
        "the search does see these tables"
    );
    let everything = everything.to_lowercase();
    for password in [AMINA_PASSWORD, wrong, in_the_wrong_box] {
        assert!(
            !everything.contains(&password.to_lowercase()),
            "{password} found in the database"
        );
    }
    s.sim.shutdown().await;
}

#[tokio::test]
async fn the_grant_form_offers_cht_usernames_only_where_sign_in_is_allowed() {
    let s = setup(|_| {}).await;
    let access = format!("/tenants/{}/access", s.world.a);
    let page = page_text(s.app.get_with(&s.lead, &access).await).await;
    assert!(page.contains("Or by CHT username"), "{page}");
    // Tenant A's Mombasa does not allow it: refused on the form, nobody created.
    let mombasa = s.world.i2.to_string();
    let scope = format!("place:{}:westlands", s.world.i1);
    let response = s
        .app
        .submit_with(
            &s.lead,
            &access,
            &access,
            &[
                ("cht_username", "chv_amina"),
                ("cht_instance", &mombasa),
                ("role", role(BuiltinRole::RegionManager)),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page_text(response)
            .await
            .contains("does not allow sign-in with a CHT account")
    );
    // Not a CHT username: said so.
    let cht = s.cht.to_string();
    let response = s
        .app
        .submit_with(
            &s.lead,
            &access,
            &access,
            &[
                ("cht_username", "Amina Otieno"),
                ("cht_instance", &cht),
                ("role", role(BuiltinRole::RegionManager)),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page_text(response).await.contains("is not a CHT username"));
    // Nothing allowed any more: the choice disappears.
    allow(&s.app, &s.lead, s.world.a, &[]).await;
    let page = page_text(s.app.get_with(&s.lead, &access).await).await;
    assert!(!page.contains("Or by CHT username"));
    let event = s.app.last_audit("config.sign_in_changed").await;
    assert_eq!(
        event.details["cht_account_sign_in"]["no_longer_on"][0],
        s.cht.to_string()
    );
    s.sim.shutdown().await;
}

#[tokio::test]
async fn nobody_gives_access_to_their_own_cht_username() {
    let s = setup(|_| {}).await;
    // chv_amina manages access over Nairobi (through her CHT username) and signs in with CHT.
    grant(
        &s.app,
        s.world.a,
        Grantee::ChtUser {
            instance_id: s.cht,
            username: portal_store::cht_identities::ChtUsername::parse("chv_amina").unwrap(),
            display_name: "Amina".to_owned(),
        },
        role(BuiltinRole::RegionManager),
        s.world.place(s.world.i1, "nairobi"),
    )
    .await;
    let amina = http_client();
    let response = cht_sign_in(&s, &amina, s.cht, "chv_amina", AMINA_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // Naming herself by her CHT username is naming herself.
    let access = format!("/tenants/{}/access", s.world.a);
    let scope = format!("place:{}:westlands", s.world.i1);
    let cht = s.cht.to_string();
    let response = s
        .app
        .submit_with(
            &amina,
            &access,
            &access,
            &[
                ("cht_username", "chv_amina"),
                ("cht_instance", &cht),
                ("role", role(BuiltinRole::MeOfficer)),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        page_text(response)
            .await
            .contains("You cannot give access to yourself")
    );
    s.sim.shutdown().await;
}
