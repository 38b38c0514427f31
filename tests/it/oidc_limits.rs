//! What starting a sign-in at an identity provider costs, and where it is allowed: starts are
//! rate-limited per client address across processes, abandoned sign-ins are purged, and
//! production uses `https://` issuers only. None of this needs the provider to answer: its
//! address here is a port where nothing listens.

use chrono::{Duration, Utc};
use portal_crypto::MasterKey;
use portal_domain::{TenantId, TenantName, TenantSlug};
use portal_store::AuditContext;
use portal_store::entity::oidc_login;
use portal_store::oidc::{self, PendingLogin, ProviderFields};
use reqwest::{Response, StatusCode, header};
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, page_text};

/// Nothing listens on port 9: discovery fails at once.
const UNREACHABLE_ISSUER: &str = "http://127.0.0.1:9";

/// The key the running portal seals with: configured, or its development key file.
fn portal_key(app: &TestApp) -> MasterKey {
    let text = match &app.config.master_key {
        Some(key) => key.expose().to_owned(),
        None => std::fs::read_to_string(app.config.data_dir.join("master.key")).unwrap(),
    };
    MasterKey::from_base64(text.trim()).unwrap()
}

/// A tenant whose enabled provider has `issuer`; returns the provider's id.
async fn tenant_with_provider(app: &TestApp, issuer: &str) -> (TenantId, uuid::Uuid) {
    let ctx = AuditContext::command_line(Utc::now());
    let tenant = portal_store::tenants::create(
        &app.db,
        &ctx,
        &TenantSlug::parse("ke").unwrap(),
        &TenantName::parse("Kenya").unwrap(),
    )
    .await
    .unwrap()
    .id;
    let provider = oidc::save_provider(
        &app.db,
        &portal_key(app),
        &ctx,
        tenant,
        ProviderFields {
            display_name: "Kenya MoH account".into(),
            issuer_url: issuer.into(),
            client_id: "cht-portal".into(),
            client_secret: Some("client-secret".into()),
            enabled: true,
        },
    )
    .await
    .unwrap();
    (tenant, provider.id)
}

async fn start_from(address: &str, provider: uuid::Uuid, client_address: &str) -> Response {
    crate::support::http_client()
        .get(format!("{address}/login/oidc/{provider}"))
        .header("x-forwarded-for", client_address)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn starting_sign_ins_is_limited_per_address_in_every_process() {
    let app = TestApp::spawn_with(|c| {
        c.behind_proxy = true;
        c.login.max_oidc_starts_per_address = 3;
        c.login.oidc_start_window_minutes = 10;
    })
    .await;
    let (_, provider) = tenant_with_provider(&app, UNREACHABLE_ISSUER).await;
    let office = "198.51.100.7";
    for _ in 0..3 {
        assert_eq!(
            start_from(&app.address, provider, office).await.status(),
            StatusCode::BAD_GATEWAY,
            "allowed through to the (unreachable) provider"
        );
    }
    let refused = start_from(&app.address, provider, office).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    let text = page_text(refused).await;
    assert!(
        text.contains("Too many sign-ins through an identity provider were started from your network address in the last 10 minutes"),
        "{text}"
    );
    // Unknown provider ids count too: probing costs the same.
    assert_eq!(
        start_from(&app.address, uuid::Uuid::now_v7(), office)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // Another portal process on the same database refuses the same address.
    let state = cht_portal::startup::prepare(&app.config, portal_web::Clock::system(), false)
        .await
        .unwrap();
    let second = portal_web::Application::bind("127.0.0.1:0".parse().unwrap(), state)
        .await
        .unwrap();
    let second_address = format!("http://{}", second.local_addr().unwrap());
    let server = tokio::spawn(second.serve(std::future::pending()));
    assert_eq!(
        start_from(&second_address, provider, office).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    server.abort();

    // Other addresses are not held back, and the window ends.
    assert_eq!(
        start_from(&app.address, provider, "203.0.113.9")
            .await
            .status(),
        StatusCode::BAD_GATEWAY
    );
    app.clock.advance(Duration::minutes(10));
    assert_eq!(
        start_from(&app.address, provider, office).await.status(),
        StatusCode::BAD_GATEWAY
    );
}

#[tokio::test]
async fn abandoned_sign_ins_are_purged_when_a_sign_in_starts() {
    let app = TestApp::spawn().await;
    let (_, provider) = tenant_with_provider(&app, UNREACHABLE_ISSUER).await;
    let pending = |created_at| PendingLogin {
        provider_id: provider,
        browser_digest: "b".repeat(64),
        nonce: "nonce".into(),
        pkce_verifier: "verifier".into(),
        next_path: "/".into(),
        created_at,
    };
    // Fresh when written (so the purge the portal runs when it starts leaves them), then the
    // portal's clock moves on: one is eleven minutes old, the other one minute.
    let now = Utc::now();
    oidc::start_login(&app.db, "a".repeat(64), pending(now))
        .await
        .unwrap();
    oidc::start_login(
        &app.db,
        "f".repeat(64),
        pending(now + Duration::minutes(10)),
    )
    .await
    .unwrap();
    app.clock.advance(Duration::minutes(11));

    let started = app.get(&format!("/login/oidc/{provider}")).await;
    assert_eq!(started.status(), StatusCode::BAD_GATEWAY);
    let left: Vec<String> = oidc_login::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.state_digest)
        .collect();
    assert_eq!(
        left,
        ["f".repeat(64)],
        "older than ten minutes: gone; younger: kept"
    );
}

async fn production_app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.environment = portal_config::Environment::Production;
        c.public_url = Some("https://portal.health.go.ke".parse().unwrap());
        c.master_key = Some(portal_config::SecretString::new(
            MasterKey::generate().to_base64(),
        ));
    })
    .await
}

#[tokio::test]
async fn production_refuses_http_issuers_even_on_loopback() {
    let app = production_app().await;
    let (tenant, provider) = tenant_with_provider(&app, UNREACHABLE_ISSUER).await;

    // Saved in development, say: in production the portal does not use it.
    let started = app.get(&format!("/login/oidc/{provider}")).await;
    assert_eq!(started.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page_text(started)
            .await
            .contains("issuer address that does not start with https://")
    );
    assert_eq!(oidc_login::Entity::find().count(&app.db).await.unwrap(), 0);

    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = format!("/tenants/{tenant}/sign-in");
    for issuer in [
        "http://127.0.0.1:8080/oidc",
        "http://localhost/realms/echis",
        "http://login.health.go.ke/realms/echis",
    ] {
        let saved = app
            .submit(
                &page,
                &page,
                &[
                    ("display_name", "Kenya MoH account"),
                    ("issuer_url", issuer),
                    ("client_id", "cht-portal"),
                    ("client_secret", "client-secret"),
                    ("enabled", "on"),
                ],
            )
            .await;
        assert_eq!(saved.status(), StatusCode::UNPROCESSABLE_ENTITY, "{issuer}");
        assert!(
            page_text(saved).await.contains(
                "Issuer URL must start with https:// in production, even on this machine"
            ),
            "{issuer}"
        );
    }
    let saved = app
        .submit(
            &page,
            &page,
            &[
                ("display_name", "Kenya MoH account"),
                ("issuer_url", "https://login.health.go.ke/realms/echis"),
                ("client_id", "cht-portal"),
                ("client_secret", "client-secret"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn production_takes_the_redirect_address_from_public_url_not_the_host_header() {
    let app = production_app().await;
    let (tenant, _) = tenant_with_provider(&app, "https://login.health.go.ke").await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = app
        .client
        .get(app.url(&format!("/tenants/{tenant}/sign-in")))
        .header(header::HOST, "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let text = page_text(page).await;
    assert!(
        text.contains("https://portal.health.go.ke/login/oidc/callback"),
        "{text}"
    );
    assert!(!text.contains("attacker.example"));
}

#[tokio::test]
async fn production_without_an_https_public_url_does_not_start() {
    let database = crate::support::TestDatabase::create().await;
    let mut config = crate::support::base_config(&database);
    config.environment = portal_config::Environment::Production;
    config.master_key = Some(portal_config::SecretString::new(
        MasterKey::generate().to_base64(),
    ));
    let clock = portal_web::Clock::system();
    let error = cht_portal::startup::prepare(&config, clock.clone(), false)
        .await
        .err()
        .expect("refused without public_url");
    assert!(error.to_string().contains("PORTAL_PUBLIC_URL"), "{error}");
    config.public_url = Some("http://portal.health.go.ke".parse().unwrap());
    let error = cht_portal::startup::prepare(&config, clock, false)
        .await
        .err()
        .expect("refused over plain http");
    assert!(
        error.to_string().contains("must start with https://"),
        "{error}"
    );
}
