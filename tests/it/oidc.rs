//! Sign-in through a real OpenID Connect provider (npm `oidc-provider`, started per test), and
//! the end-to-end story: a national administrator signs in there, invites a county and
//! a sub-county manager, and each acts only inside their own scope.

use chrono::Duration;
use portal_domain::BuiltinRole;
use portal_store::access::GrantScope;
use reqwest::{Client, Response, StatusCode};
use test_idp::{TestIdp, TestIdpOptions};

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, http_client, location};
use crate::world::{World, grant, invite, role, signed_in};

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    idp: TestIdp,
    pub(crate) world: World,
    provider: uuid::Uuid,
}

pub(crate) async fn setup(id_token_ttl_seconds: u64) -> Setup {
    let app = TestApp::spawn().await;
    let idp = TestIdp::start(TestIdpOptions {
        redirect_uris: vec![app.url("/login/oidc/callback")],
        id_token_ttl_seconds,
        ..TestIdpOptions::default()
    })
    .await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let world = World::build(&app).await;
    // The platform administrator sets up the tenant's identity provider through the UI.
    let admin = signed_in(&app, ADMIN_EMAIL).await;
    let page = format!("/tenants/{}/sign-in", world.a);
    let saved = app
        .submit_with(
            &admin,
            &page,
            &page,
            &[
                ("display_name", "Kenya MoH account"),
                ("issuer_url", &idp.issuer()),
                ("client_id", idp.client_id()),
                ("client_secret", idp.client_secret()),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(
        saved.status(),
        StatusCode::SEE_OTHER,
        "{}",
        saved.text().await.unwrap()
    );
    assert_eq!(
        app.last_audit("config.sign_in_changed").await.details["client_secret_changed"],
        true
    );
    let provider = portal_store::oidc::provider_for_tenant(&app.db, world.a)
        .await
        .unwrap()
        .unwrap()
        .id;
    Setup {
        app,
        idp,
        world,
        provider,
    }
}

impl Setup {
    /// Starts a sign-in at the portal and plays the browser at the provider; returns the URL
    /// the provider sends the browser back to.
    async fn to_callback(&self, client: &Client, email: &str) -> String {
        let start = client
            .get(self.app.url(&format!(
                "/login/oidc/{}?login_hint={email}&next=/tenants",
                self.provider
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), StatusCode::SEE_OTHER);
        self.idp
            .follow_authorization(client, &location(&start))
            .await
            .unwrap()
    }

    pub(crate) async fn sign_in(&self, client: &Client, email: &str) -> Response {
        let back = self.to_callback(client, email).await;
        client.get(back).send().await.unwrap()
    }

    async fn signed_in_client(&self, email: &str) -> Client {
        let client = http_client();
        let response = self.sign_in(&client, email).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{email}: {}",
            response.text().await.unwrap()
        );
        client
    }
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

#[tokio::test]
async fn national_admin_invites_county_and_sub_county_managers_who_act_only_in_their_scope() {
    let s = setup(300).await;
    let (app, w) = (&s.app, &s.world);
    // Bootstrap: the platform administrator invites the national administrator by email.
    let admin = signed_in(app, ADMIN_EMAIL).await;
    let access = format!("/tenants/{}/access", w.a);
    let invited = app
        .submit_with(
            &admin,
            &access,
            &access,
            &[
                ("email", "national@health.go.ke"),
                ("display_name", "Nia National"),
                ("role", "national_admin"),
                ("scope", "tenant"),
            ],
        )
        .await;
    assert_eq!(invited.status(), StatusCode::SEE_OTHER);

    // The national administrator signs in at the ministry's provider: no portal password.
    let national = s.signed_in_client("national@health.go.ke").await;
    let tenants = app
        .get_with(&national, "/tenants")
        .await
        .text()
        .await
        .unwrap();
    assert!(tenants.contains("Kenya") && !tenants.contains("Uganda"));
    let sign_in = app.last_audit("auth.login").await;
    assert_eq!(sign_in.details["method"], "oidc");

    // … invites a county manager over the Nairobi instance, and a sub-county manager over the
    // Westlands sub-county, picked from the place search.
    let search = app
        .get_with(
            &national,
            &format!("{access}?instance={}&place_q=westl", w.i1),
        )
        .await
        .text()
        .await
        .unwrap();
    let westlands = format!("place:{}:westlands", w.i1);
    assert!(
        search.contains(&westlands),
        "the place picker offers Westlands"
    );
    for (email, scope) in [
        ("county@health.go.ke", format!("instance:{}", w.i1)),
        ("subcounty@health.go.ke", westlands.clone()),
    ] {
        let given = app
            .submit_with(
                &national,
                &access,
                &access,
                &[
                    ("email", email),
                    ("display_name", email),
                    ("role", "region_manager"),
                    ("scope", &scope),
                    ("expires_on", "2099-12-31"),
                ],
            )
            .await;
        assert_eq!(given.status(), StatusCode::SEE_OTHER, "{email}");
    }

    let county = s.signed_in_client("county@health.go.ke").await;
    let sub = s.signed_in_client("subcounty@health.go.ke").await;
    let base = format!("/tenants/{}/instances", w.a);
    let status = |client: &Client, path: String| {
        let (app, client) = (app, client.clone());
        async move { app.get_with(&client, &path).await.status() }
    };
    // County manager: all of Nairobi, nothing of Mombasa, no instance settings.
    assert_eq!(
        status(&county, format!("{base}/{}/places/ward2", w.i1)).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&county, format!("{base}/{}/places", w.i2)).await,
        StatusCode::FORBIDDEN
    );
    assert!(
        !app.get_with(&county, &format!("{base}/{}", w.i1))
            .await
            .text()
            .await
            .unwrap()
            .contains("Save instance")
    );
    // Sub-county manager: Westlands and below only.
    assert_eq!(
        status(&sub, format!("{base}/{}/places/ward1", w.i1)).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&sub, format!("{base}/{}/places/ward2", w.i1)).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(&sub, format!("{base}/{}/places/nairobi", w.i1)).await,
        StatusCode::NOT_FOUND
    );
    // … and delegates only inside it.
    let inside = app
        .submit_with(
            &sub,
            &access,
            &access,
            &[
                ("email", "clerk@health.go.ke"),
                ("role", "me_officer"),
                ("scope", &format!("place:{}:ward1", w.i1)),
                // Their own access ends on 2099-12-31: what they give must end by then.
                ("expires_on", "2099-12-30"),
            ],
        )
        .await;
    assert_eq!(inside.status(), StatusCode::SEE_OTHER);
    let outside = app
        .submit_with(
            &sub,
            &access,
            &access,
            &[
                ("email", "clerk2@health.go.ke"),
                ("role", "me_officer"),
                ("scope", &format!("place:{}:ward2", w.i1)),
            ],
        )
        .await;
    assert_eq!(outside.status(), StatusCode::FORBIDDEN);

    // The national administrator revokes the sub-county manager: their next request fails.
    let sub_grant = portal_store::access::tenant_grants(&app.db, w.a, false)
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.user.email == "subcounty@health.go.ke")
        .unwrap()
        .grant
        .id;
    let revoked = app
        .submit_with(
            &national,
            &access,
            &format!("{access}/{sub_grant}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        status(&sub, format!("{base}/{}/places/ward1", w.i1)).await,
        StatusCode::NOT_FOUND
    );

    // Every grant and the revocation are in the audit log, with who did it.
    let events = portal_store::audit::list_recent(&app.db, 200)
        .await
        .unwrap();
    let granted: Vec<_> = events
        .iter()
        .filter(|e| e.action == "access.granted")
        .collect();
    assert_eq!(granted.len(), 4, "national, county, sub-county, clerk");
    assert!(
        granted
            .iter()
            .any(|e| e.actor_label == "national@health.go.ke"
                && e.details["email"] == "county@health.go.ke")
    );
    assert!(
        granted
            .iter()
            .any(|e| e.actor_label == "subcounty@health.go.ke" && e.details["place_id"] == "ward1")
    );
    let revocation = events
        .iter()
        .find(|e| e.action == "access.revoked")
        .unwrap();
    assert_eq!(revocation.actor_label, "national@health.go.ke");
}

#[tokio::test]
async fn unknown_people_and_platform_administrators_are_refused() {
    let s = setup(300).await;
    let client = http_client();
    let stranger = s.sign_in(&client, "stranger@health.go.ke").await;
    assert_eq!(stranger.status(), StatusCode::FORBIDDEN);
    assert!(
        stranger
            .text()
            .await
            .unwrap()
            .contains("has no access in this tenant")
    );
    assert_eq!(
        s.app.get_with(&client, "/tenants").await.status(),
        StatusCode::SEE_OTHER
    );
    let admin = s.sign_in(&http_client(), ADMIN_EMAIL).await;
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    // An unverified email is not enough, even for someone who was invited.
    grant(
        &s.app,
        s.world.a,
        invite("unverified.person@health.go.ke"),
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;
    let unverified = s
        .sign_in(&http_client(), "unverified.person@health.go.ke")
        .await;
    assert_eq!(unverified.status(), StatusCode::FORBIDDEN);
    let failures = portal_store::audit::list_recent(&s.app.db, 50)
        .await
        .unwrap();
    assert!(
        failures
            .iter()
            .filter(|e| e.action == "auth.login_failed")
            .count()
            >= 3
    );
}

#[tokio::test]
async fn a_tampered_state_or_nonce_is_refused() {
    let s = setup(300).await;
    grant(
        &s.app,
        s.world.a,
        invite("me@health.go.ke"),
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;
    // Wrong state: the answer does not belong to any sign-in this browser started.
    let client = http_client();
    let back = s.to_callback(&client, "me@health.go.ke").await;
    let forged = client
        .get(with_param(&back, "state", "forged-state"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    // The genuine state was not consumed by the forgery… but another browser cannot use it.
    let thief = client_without_cookies();
    let stolen = thief.get(&back).send().await.unwrap();
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    // A replay of an answer already used is refused too.
    let replay = client.get(&back).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // Wrong nonce: the ID token's nonce no longer matches the one stored for the sign-in.
    let client = http_client();
    let back = s.to_callback(&client, "me@health.go.ke").await;
    use sea_orm::ConnectionTrait;
    s.app
        .db
        .execute_unprepared("UPDATE oidc_logins SET nonce = 'another-nonce'")
        .await
        .unwrap();
    let response = client.get(&back).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.app.get_with(&client, "/tenants").await.status(),
        StatusCode::SEE_OTHER,
        "not signed in"
    );
}

fn client_without_cookies() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn expired_and_invalid_id_tokens_are_refused() {
    let s = setup(60).await;
    grant(
        &s.app,
        s.world.a,
        invite("me@health.go.ke"),
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;
    // Expired: by the portal's clock the token's minute (plus the allowed skew) has passed.
    let client = http_client();
    let back = s.to_callback(&client, "me@health.go.ke").await;
    s.app.clock.advance(Duration::minutes(3));
    let expired = client.get(&back).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(expired.text().await.unwrap().contains("expired"));
    // Invalid: the provider's answer carries a broken signature.
    let client = http_client();
    let back = s.to_callback(&client, "me@health.go.ke").await;
    s.idp.corrupt_next_id_token().await;
    let invalid = client.get(&back).send().await.unwrap();
    assert_eq!(invalid.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.app.get_with(&client, "/tenants").await.status(),
        StatusCode::SEE_OTHER
    );
    let reason = s.app.last_audit("auth.login_failed").await;
    assert!(
        reason.details["reason"]
            .as_str()
            .unwrap()
            .contains("token refused"),
        "{reason:?}"
    );
}

#[tokio::test]
async fn sign_out_ends_the_session_and_a_provider_session_stays_in_its_tenant() {
    let s = setup(300).await;
    let (app, w) = (&s.app, &s.world);
    // Someone with access in both tenants, signed in through Kenya's provider, acts in Kenya only.
    grant(
        app,
        w.a,
        invite("both@health.go.ke"),
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;
    grant(
        app,
        w.b,
        invite("both@health.go.ke"),
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;
    let client = s.signed_in_client("both@health.go.ke").await;
    assert_eq!(
        app.get_with(&client, &format!("/tenants/{}", w.a))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_with(&client, &format!("/tenants/{}", w.b))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let list = app
        .get_with(&client, "/tenants")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("Kenya") && !list.contains("Uganda"));

    let out = app.submit_with(&client, "/tenants", "/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_with(&client, "/tenants").await.status(),
        StatusCode::SEE_OTHER,
        "signed out"
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"auth.logout".to_owned())
    );
    // Signing in again at the provider gives a new session.
    let again = s.sign_in(&client, "both@health.go.ke").await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_with(&client, "/tenants").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_sign_in_page_offers_the_provider_and_a_disabled_one_is_gone() {
    let s = setup(300).await;
    let page = s.app.get("/login").await.text().await.unwrap();
    assert!(page.contains("Sign in with Kenya MoH account"));
    assert!(page.contains(&format!("/login/oidc/{}", s.provider)));
    let admin = signed_in(&s.app, ADMIN_EMAIL).await;
    let settings = format!("/tenants/{}/sign-in", s.world.a);
    let off = s
        .app
        .submit_with(
            &admin,
            &settings,
            &settings,
            &[
                ("display_name", "Kenya MoH account"),
                ("issuer_url", &s.idp.issuer()),
                ("client_id", "cht-portal"),
            ],
        )
        .await;
    assert_eq!(
        off.status(),
        StatusCode::SEE_OTHER,
        "the stored secret is kept when left empty"
    );
    assert!(
        !s.app
            .get("/login")
            .await
            .text()
            .await
            .unwrap()
            .contains("Sign in with Kenya")
    );
    let start = s.app.get(&format!("/login/oidc/{}", s.provider)).await;
    assert_eq!(start.status(), StatusCode::NOT_FOUND);
}
