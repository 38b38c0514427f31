//! `OidcClient` against a real OpenID Connect provider (`test-idp`, npm oidc-provider).

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use portal_oidc::{Authorization, OidcClient, OidcError, ProviderSettings, VerifiedIdentity};
use test_idp::{TestIdp, TestIdpOptions, subject_for};
use url::Url;

/// Never requested: `follow_authorization` stops at the redirect to it.
const REDIRECT: &str = "http://127.0.0.1:9/auth/oidc/callback";
const SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out";
const ID_TOKEN_TTL: i64 = 120;

async fn start_idp() -> TestIdp {
    TestIdp::start(TestIdpOptions {
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![SIGNED_OUT.into()],
        id_token_ttl_seconds: ID_TOKEN_TTL as u64,
        ..TestIdpOptions::default()
    })
    .await
}

fn settings(idp: &TestIdp) -> ProviderSettings {
    ProviderSettings {
        issuer_url: idp.issuer(),
        client_id: idp.client_id().into(),
        client_secret: idp.client_secret().into(),
        redirect_url: REDIRECT.into(),
    }
}

fn client() -> OidcClient {
    OidcClient::new(Duration::from_secs(10))
}

/// `begin`, then the browser's part; returns what the portal kept and the callback's code.
async fn authorize(client: &OidcClient, idp: &TestIdp, email: &str) -> (Authorization, String) {
    let started = client.begin(&settings(idp), Some(email)).await.unwrap();
    let callback = idp
        .follow_authorization(&TestIdp::browser_client(), started.url.as_str())
        .await
        .unwrap();
    let callback = Url::parse(&callback).unwrap();
    let param = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(started.state.as_str()));
    let code = param("code").unwrap_or_else(|| panic!("no code in {callback}"));
    (started, code)
}

async fn sign_in(
    client: &OidcClient,
    idp: &TestIdp,
    email: &str,
) -> Result<VerifiedIdentity, OidcError> {
    let (started, code) = authorize(client, idp, email).await;
    client
        .complete(
            &settings(idp),
            &code,
            &started.pkce_verifier,
            &started.nonce,
            Utc::now(),
        )
        .await
}

#[tokio::test]
async fn full_flow_returns_the_verified_identity_and_reuses_discovery() {
    let idp = start_idp().await;
    let client = client();

    let started = client
        .begin(&settings(&idp), Some("nurse@moh.example.org"))
        .await
        .unwrap();
    let query: Vec<(String, String)> = started.url.query_pairs().into_owned().collect();
    let has = |k: &str, v: &str| query.iter().any(|(qk, qv)| qk == k && qv == v);
    assert!(has("response_type", "code"));
    assert!(has("code_challenge_method", "S256"));
    assert!(has("scope", "openid email profile"));
    assert!(has("login_hint", "nurse@moh.example.org"));
    assert!(has("nonce", &started.nonce));

    let who = sign_in(&client, &idp, "nurse@moh.example.org")
        .await
        .unwrap();
    assert_eq!(who.subject, subject_for("nurse@moh.example.org"));
    assert_eq!(who.email.as_deref(), Some("nurse@moh.example.org"));
    assert!(who.email_verified);
    assert_eq!(who.name.as_deref(), Some("nurse"));
    assert_eq!(who.id_token.split('.').count(), 3);

    // Someone else, same cached metadata: discovery and keys were fetched once in all.
    let other = sign_in(&client, &idp, "midwife@moh.example.org")
        .await
        .unwrap();
    assert_eq!(other.subject, subject_for("midwife@moh.example.org"));
    let stats = idp.stats().await;
    assert_eq!(
        (stats.discovery, stats.jwks, stats.userinfo),
        (1, 1, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn metadata_is_discovered_again_after_its_ttl_or_when_forgotten() {
    let idp = start_idp().await;
    let expiring = OidcClient::with_metadata_ttl(Duration::from_secs(10), Duration::ZERO);
    expiring.begin(&settings(&idp), None).await.unwrap();
    expiring.begin(&settings(&idp), None).await.unwrap();
    assert_eq!(idp.stats().await.discovery, 2);

    let client = client();
    client.begin(&settings(&idp), None).await.unwrap();
    client.forget(&idp.issuer());
    client.begin(&settings(&idp), None).await.unwrap();
    assert_eq!(idp.stats().await.discovery, 4);
}

#[tokio::test]
async fn a_nonce_from_another_attempt_is_refused() {
    let idp = start_idp().await;
    let client = client();
    let (started, code) = authorize(&client, &idp, "nurse@moh.example.org").await;
    let err = client
        .complete(
            &settings(&idp),
            &code,
            &started.pkce_verifier,
            "another-attempt",
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::NonceMismatch), "{err:?}");
}

#[tokio::test]
async fn expiry_is_judged_against_the_portal_clock_with_a_minute_of_skew() {
    let idp = start_idp().await;
    let client = client();
    let s = settings(&idp);

    let (started, code) = authorize(&client, &idp, "nurse@moh.example.org").await;
    let within_skew = Utc::now() + TimeDelta::seconds(ID_TOKEN_TTL + 30);
    client
        .complete(
            &s,
            &code,
            &started.pkce_verifier,
            &started.nonce,
            within_skew,
        )
        .await
        .unwrap();

    let (started, code) = authorize(&client, &idp, "nurse@moh.example.org").await;
    let tomorrow = Utc::now() + TimeDelta::days(1);
    let err = client
        .complete(&s, &code, &started.pkce_verifier, &started.nonce, tomorrow)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::Expired), "{err:?}");
}

#[tokio::test]
async fn a_token_issued_after_the_portal_clock_is_refused() {
    let idp = start_idp().await;
    let client = client();
    let (started, code) = authorize(&client, &idp, "nurse@moh.example.org").await;
    let an_hour_ago = Utc::now() - TimeDelta::hours(1);
    let err = client
        .complete(
            &settings(&idp),
            &code,
            &started.pkce_verifier,
            &started.nonce,
            an_hour_ago,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::InvalidIdToken(m) if m.contains("clock")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_corrupted_signature_is_refused() {
    let idp = start_idp().await;
    let client = client();
    idp.corrupt_next_id_token().await;
    let err = sign_in(&client, &idp, "nurse@moh.example.org")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::InvalidIdToken(m) if m.contains("signature")),
        "{err:?}"
    );
    // The fault hit one response only.
    sign_in(&client, &idp, "nurse@moh.example.org")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_token_for_another_client_is_refused() {
    let idp = start_idp().await;
    let client = client();
    idp.set_next_id_token_audience("someone-else").await;
    let err = sign_in(&client, &idp, "nurse@moh.example.org")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::InvalidIdToken(m) if m.contains("someone-else")),
        "{err:?}"
    );
}

#[tokio::test]
async fn rotated_keys_are_fetched_again_once() {
    let idp = start_idp().await;
    let client = client();
    sign_in(&client, &idp, "nurse@moh.example.org")
        .await
        .unwrap();
    idp.rotate_signing_key().await;
    sign_in(&client, &idp, "nurse@moh.example.org")
        .await
        .unwrap();
    sign_in(&client, &idp, "nurse@moh.example.org")
        .await
        .unwrap();
    let stats = idp.stats().await;
    assert_eq!((stats.discovery, stats.jwks), (1, 2), "{stats:?}");
}

#[tokio::test]
async fn an_unverified_email_is_reported_as_such() {
    let idp = start_idp().await;
    let who = sign_in(&client(), &idp, "unverified.chw@moh.example.org")
        .await
        .unwrap();
    assert_eq!(who.email.as_deref(), Some("unverified.chw@moh.example.org"));
    assert!(!who.email_verified);
}

#[tokio::test]
async fn userinfo_supplies_the_email_when_the_id_token_lacks_it() {
    let idp = start_idp().await;
    let who = sign_in(&client(), &idp, "userinfo-only@moh.example.org")
        .await
        .unwrap();
    assert_eq!(who.subject, subject_for("userinfo-only@moh.example.org"));
    assert_eq!(who.email.as_deref(), Some("userinfo-only@moh.example.org"));
    assert!(who.email_verified);
    assert_eq!(who.name.as_deref(), Some("userinfo-only"));
    assert_eq!(idp.stats().await.userinfo, 1);
}

#[tokio::test]
async fn userinfo_about_someone_else_is_refused() {
    let idp = start_idp().await;
    idp.set_next_userinfo_subject("someone-else").await;
    let err = sign_in(&client(), &idp, "userinfo-only@moh.example.org")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::UserInfo(m) if m.contains("another subject")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_code_is_exchanged_once_and_only_with_the_right_secret() {
    let idp = start_idp().await;
    let client = client();
    let s = settings(&idp);

    let (started, code) = authorize(&client, &idp, "nurse@moh.example.org").await;
    let wrong_secret = ProviderSettings {
        client_secret: "not-the-secret".into(),
        ..s.clone()
    };
    let err = client
        .complete(
            &wrong_secret,
            &code,
            &started.pkce_verifier,
            &started.nonce,
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::Exchange { oauth_error: Some(c), .. } if c == "invalid_client"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("not-the-secret"), "{err}");

    let (started, code) = authorize(&client, &idp, "nurse@moh.example.org").await;
    client
        .complete(
            &s,
            &code,
            &started.pkce_verifier,
            &started.nonce,
            Utc::now(),
        )
        .await
        .unwrap();
    let err = client
        .complete(
            &s,
            &code,
            &started.pkce_verifier,
            &started.nonce,
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::Exchange { oauth_error: Some(c), .. } if c == "invalid_grant"),
        "{err:?}"
    );
    assert!(!err.to_string().contains(&code), "{err}");
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused() {
    let idp = start_idp().await;
    let client = client();
    let (started, code) = authorize(&client, &idp, "nurse@moh.example.org").await;
    let err = client
        .complete(
            &settings(&idp),
            &code,
            "x".repeat(43).as_str(),
            &started.nonce,
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::Exchange { oauth_error: Some(c), .. } if c == "invalid_grant"),
        "{err:?}"
    );
}

#[tokio::test]
async fn discovery_of_a_closed_port_fails_clearly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let s = ProviderSettings {
        issuer_url: format!("http://127.0.0.1:{port}"),
        client_id: "cht-portal".into(),
        client_secret: "s3cret".into(),
        redirect_url: REDIRECT.into(),
    };
    let err = client().begin(&s, None).await.unwrap_err();
    assert!(matches!(&err, OidcError::Discovery { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("cannot reach"), "{message}");
    assert!(message.contains(&s.issuer_url), "{message}");
}

#[tokio::test]
async fn an_issuer_url_that_differs_from_the_provider_s_is_refused() {
    let idp = start_idp().await;
    let s = ProviderSettings {
        issuer_url: format!("{}/", idp.issuer()),
        ..settings(&idp)
    };
    let err = client().begin(&s, None).await.unwrap_err();
    assert!(
        matches!(&err, OidcError::Discovery { reason, .. } if reason.contains("exactly")),
        "{err:?}"
    );
}

#[tokio::test]
async fn end_session_url_points_at_the_provider_s_logout() {
    let idp = start_idp().await;
    let client = client();
    let who = sign_in(&client, &idp, "nurse@moh.example.org")
        .await
        .unwrap();
    let url = client
        .end_session_url(&settings(&idp), &who.id_token, SIGNED_OUT)
        .await
        .unwrap()
        .expect("oidc-provider announces end_session_endpoint");
    assert_eq!(
        url.as_str().split('?').next(),
        Some(format!("{}/session/end", idp.issuer()).as_str())
    );
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(query.contains(&("id_token_hint".into(), who.id_token.clone())));
    assert!(query.contains(&("client_id".into(), "cht-portal".into())));
    assert!(query.contains(&("post_logout_redirect_uri".into(), SIGNED_OUT.into())));

    // The provider accepts it: it asks the user to confirm the sign-out.
    let response = TestIdp::browser_client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}
