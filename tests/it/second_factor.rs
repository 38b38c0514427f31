//! The second factor (TOTP) of portal passwords over real HTTP: enrolment from the account page,
//! the second step of sign-in (no session until it succeeds, every other page refused), codes
//! that work once, the throttle on wrong codes, recovery codes, and a tenant's requirement.
//! Codes are computed here from the secret the enrolment page shows, as an authenticator app does.

use chrono::{Duration, Utc};
use portal_crypto::TotpSecret;
use portal_domain::BuiltinRole;
use portal_store::access::{GrantScope, Grantee};
use reqwest::{Client, StatusCode};

use crate::support::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, cookie_value, csrf_token, http_client, location,
};
use crate::world::{World, grant, role, signed_in};

const PERSON: &str = "wanjiru@health.go.ke";

/// The server's clock runs `offset` seconds ahead of the system's (tests move it forward).
fn code(secret: &TotpSecret, offset: i64) -> String {
    secret.code_at(Utc::now().timestamp() + offset)
}

fn secret_on(html: &str) -> TotpSecret {
    let marker = "class=\"secret-key\">";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no key on:\n{html}"))
        + marker.len();
    let end = html[start..].find('<').unwrap();
    TotpSecret::from_base32(&html[start..start + end]).expect("a base32 key")
}

fn recovery_codes_on(html: &str) -> Vec<String> {
    let list = &html[html
        .find("class=\"recovery-codes\"")
        .expect("recovery codes")..];
    list.split("<code>")
        .skip(1)
        .take(10)
        .map(|part| part[..part.find('<').unwrap()].to_owned())
        .collect()
}

/// Posts `code` on the second-step page with its (pre-session) CSRF token.
async fn post_code(app: &TestApp, client: &Client, code: &str) -> reqwest::Response {
    app.submit_with(
        client,
        "/login/second-factor",
        "/login/second-factor",
        &[("code", code)],
    )
    .await
}

/// Enrols `email` (signed in with the password) from the account page; returns the secret
/// and the recovery codes. The enrolment uses the current step: later codes need the clock moved.
async fn enrol(app: &TestApp, email: &str) -> (TotpSecret, Vec<String>) {
    let client = signed_in(app, email).await;
    let page = app
        .get_with(&client, "/account/second-factor")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg"), "a QR code is shown");
    let secret = secret_on(&page);
    let wrong = app
        .submit_with(
            &client,
            "/account/second-factor",
            "/account/second-factor",
            &[("code", "000000")],
        )
        .await;
    // (One chance in a million that 000000 is the current code.)
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("The code is not correct"),
        "the same secret is offered again"
    );
    let done = app
        .submit_with(
            &client,
            "/account/second-factor",
            "/account/second-factor",
            &[("code", &code(&secret, 0))],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let codes = recovery_codes_on(&done.text().await.unwrap());
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// Password sign-in on a fresh browser: it is sent to the second step, with no session.
async fn password_step(app: &TestApp, email: &str) -> Client {
    let client = http_client();
    let response = app.login_with(&client, email, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login/second-factor");
    assert_eq!(
        cookie_value(&response, "portal_session"),
        None,
        "no session yet"
    );
    assert!(cookie_value(&response, "portal_pending").is_some());
    client
}

#[tokio::test]
async fn enrolled_person_signs_in_with_password_and_code_and_nothing_else_is_reachable_before() {
    let app = TestApp::spawn().await;
    app.create_user(PERSON, ADMIN_PASSWORD, false, false).await;
    let (secret, _) = enrol(&app, PERSON).await;
    let enrolled = app.last_audit("auth.second_factor_enrolled").await;
    let secret_text = secret.to_base32();
    assert!(!enrolled.details.to_string().contains(&secret_text));

    let client = password_step(&app, PERSON).await;
    // Every page of the portal sends the half-signed-in browser to the code page.
    for page in [
        "/tenants",
        "/account/second-factor",
        "/account/password",
        "/",
    ] {
        let response = app.get_with(&client, page).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(location(&response), "/login/second-factor", "{page}");
    }
    let form = app
        .get_with(&client, "/login/second-factor")
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains("Enter your code") && !form.contains(&secret_text));
    assert!(csrf_token(&form).is_some());

    app.clock.advance(Duration::seconds(30));
    let passed = post_code(&app, &client, &code(&secret, 30)).await;
    assert_eq!(passed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&passed), "/");
    assert!(cookie_value(&passed, "portal_session").is_some());
    assert_eq!(
        app.get_with(&client, "/tenants").await.status(),
        StatusCode::OK
    );
    let actions = app.audit_actions().await;
    let tail: Vec<&str> = actions.iter().rev().take(2).map(String::as_str).collect();
    assert_eq!(tail, ["auth.login", "auth.second_factor_passed"]);
    for event in portal_store::audit::list_recent(&app.db, 100)
        .await
        .unwrap()
    {
        assert!(!event.details.to_string().contains(&secret_text));
    }
}

#[tokio::test]
async fn a_code_works_once_and_wrong_codes_are_throttled_per_person() {
    let app = TestApp::spawn().await;
    app.create_user(PERSON, ADMIN_PASSWORD, false, false).await;
    let (secret, _) = enrol(&app, PERSON).await;
    app.clock.advance(Duration::seconds(30));
    let used = code(&secret, 30);
    let first = password_step(&app, PERSON).await;
    assert_eq!(
        post_code(&app, &first, &used).await.status(),
        StatusCode::SEE_OTHER
    );
    // The same code again (RFC 6238 §5.2), on another browser that knows the password.
    let second = password_step(&app, PERSON).await;
    let replay = post_code(&app, &second, &used).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert!(replay.text().await.unwrap().contains("already used"));
    assert_eq!(
        app.last_audit("auth.second_factor_failed").await.details["reason"],
        "code_already_used"
    );

    // Wrong codes: four here, then the password again (which does not reset the code count),
    // and the fifth wrong code locks the person's codes.
    for _ in 0..3 {
        assert_eq!(
            post_code(&app, &second, "000001").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let third = password_step(&app, PERSON).await;
    let locked = post_code(&app, &third, "000001").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        locked
            .text()
            .await
            .unwrap()
            .contains("Too many failed sign-in attempts")
    );
    // Even the right code is refused while locked.
    app.clock.advance(Duration::seconds(30));
    let right = post_code(&app, &third, &code(&secret, 60)).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.get_with(&third, "/tenants").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = TestApp::spawn().await;
    app.create_user(PERSON, ADMIN_PASSWORD, false, false).await;
    let (_, codes) = enrol(&app, PERSON).await;
    let client = password_step(&app, PERSON).await;
    let typed = codes[3].to_uppercase();
    let passed = post_code(&app, &client, &typed).await;
    assert_eq!(passed.status(), StatusCode::SEE_OTHER);
    assert!(
        app.audit_actions()
            .await
            .contains(&"auth.recovery_code_used".to_owned())
    );
    let again = password_step(&app, PERSON).await;
    assert_eq!(
        post_code(&app, &again, &codes[3]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_code(&app, &again, &codes[4]).await.status(),
        StatusCode::SEE_OTHER
    );

    // A wait can be cancelled; and signing in as someone else ends it too.
    let cancelled = password_step(&app, PERSON).await;
    let cancel = app
        .submit_with(
            &cancelled,
            "/login/second-factor",
            "/login/second-factor",
            &[("cancel", "1")],
        )
        .await;
    assert_eq!(location(&cancel), "/login");
    assert!(location(&app.get_with(&cancelled, "/tenants").await).starts_with("/login?"));
    let browser = password_step(&app, PERSON).await;
    app.create_user("other@health.go.ke", ADMIN_PASSWORD, false, false)
        .await;
    let other = app
        .login_with(&browser, "other@health.go.ke", ADMIN_PASSWORD)
        .await;
    assert_eq!(location(&other), "/");
    let out = app.submit_with(&browser, "/tenants", "/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(location(&app.get_with(&browser, "/tenants").await).starts_with("/login?"));
}

#[tokio::test]
async fn removing_takes_the_password_and_a_current_code() {
    let app = TestApp::spawn().await;
    app.create_user(PERSON, ADMIN_PASSWORD, false, false).await;
    let (secret, _) = enrol(&app, PERSON).await;
    app.clock.advance(Duration::seconds(30));
    let client = password_step(&app, PERSON).await;
    assert_eq!(
        post_code(&app, &client, &code(&secret, 30)).await.status(),
        StatusCode::SEE_OTHER
    );
    let page = "/account/second-factor";
    let remove = "/account/second-factor/remove";
    app.clock.advance(Duration::seconds(30));
    let wrong_password = app
        .submit_with(
            &client,
            page,
            remove,
            &[("password", "nope"), ("code", &code(&secret, 60))],
        )
        .await;
    assert_eq!(wrong_password.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let removed = app
        .submit_with(
            &client,
            page,
            remove,
            &[("password", ADMIN_PASSWORD), ("code", &code(&secret, 60))],
        )
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert!(
        app.audit_actions()
            .await
            .contains(&"auth.second_factor_removed".to_owned())
    );
    // The password alone is enough again.
    let plain = app.login_with(&http_client(), PERSON, ADMIN_PASSWORD).await;
    assert_eq!(location(&plain), "/");
}

#[tokio::test]
async fn a_tenant_requirement_forces_enrolment_right_after_the_password() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let world = World::build(&app).await;
    let person = app.create_user(PERSON, ADMIN_PASSWORD, false, false).await;
    grant(
        &app,
        world.a,
        Grantee::Existing(person.id),
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;
    let elsewhere = app
        .create_user("okello@health.go.ug", ADMIN_PASSWORD, false, false)
        .await;
    grant(
        &app,
        world.b,
        Grantee::Existing(elsewhere.id),
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;

    let admin = signed_in(&app, ADMIN_EMAIL).await;
    let settings = format!("/tenants/{}/sign-in", world.a);
    let page = app.get_with(&admin, &settings).await.text().await.unwrap();
    assert!(page.contains("Second factor for portal passwords"));
    assert!(page.contains("identity provider are not asked"));
    let saved = app
        .submit_with(
            &admin,
            &settings,
            &format!("{settings}/second-factor"),
            &[("required", "on")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let changed = app
        .last_audit("config.second_factor_requirement_changed")
        .await;
    assert_eq!(changed.details["required"], true);

    // The person in Kenya: enrolment right after the password, nothing else before it.
    let client = password_step(&app, PERSON).await;
    assert_eq!(
        location(&app.get_with(&client, "/tenants").await),
        "/login/second-factor"
    );
    let enrolment = app
        .get_with(&client, "/login/second-factor")
        .await
        .text()
        .await
        .unwrap();
    assert!(enrolment.contains("Set up a second factor"));
    let secret = secret_on(&enrolment);
    assert_eq!(
        post_code(&app, &client, "123").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let done = post_code(&app, &client, &code(&secret, 0)).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(cookie_value(&done, "portal_session").is_some());
    assert_eq!(recovery_codes_on(&done.text().await.unwrap()).len(), 10);
    assert_eq!(
        app.get_with(&client, "/tenants").await.status(),
        StatusCode::OK
    );
    // Required: it cannot be removed.
    app.clock.advance(Duration::seconds(30));
    let removal = app
        .submit_with(
            &client,
            "/account/second-factor",
            "/account/second-factor/remove",
            &[("password", ADMIN_PASSWORD), ("code", &code(&secret, 30))],
        )
        .await;
    assert_eq!(removal.status(), StatusCode::CONFLICT);
    // Next time: the code.
    let again = password_step(&app, PERSON).await;
    assert_eq!(
        post_code(&app, &again, &code(&secret, 30)).await.status(),
        StatusCode::SEE_OTHER
    );

    // Someone only in Uganda, and the platform administrator, are not asked.
    for email in ["okello@health.go.ug", ADMIN_EMAIL] {
        let response = app.login_with(&http_client(), email, ADMIN_PASSWORD).await;
        assert_eq!(location(&response), "/", "{email}");
    }
    // Turned off again: the person in Kenya still has their own second factor.
    let off = app
        .submit_with(&admin, &settings, &format!("{settings}/second-factor"), &[])
        .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.last_audit("config.second_factor_requirement_changed")
            .await
            .details["required"],
        false
    );
    password_step(&app, PERSON).await;
}

#[tokio::test]
async fn people_who_sign_in_through_the_tenants_provider_are_not_asked() {
    let s = crate::oidc::setup(300).await;
    let (app, w) = (&s.app, &s.world);
    grant(
        app,
        w.a,
        crate::world::invite("provider@health.go.ke"),
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;
    let admin = signed_in(app, ADMIN_EMAIL).await;
    let settings = format!("/tenants/{}/sign-in", w.a);
    let saved = app
        .submit_with(
            &admin,
            &settings,
            &format!("{settings}/second-factor"),
            &[("required", "on")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let client = http_client();
    let response = s.sign_in(&client, "provider@health.go.ke").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/tenants");
    assert_eq!(
        app.get_with(&client, "/tenants").await.status(),
        StatusCode::OK
    );
}

/// Sets `password` through a sign-in link (`/invite/…` or `/reset-password/…`).
async fn set_password_through(app: &TestApp, client: &Client, path: &str) -> reqwest::Response {
    let new = "a brand new long passphrase";
    app.submit_with(
        client,
        path,
        path,
        &[("new_password", new), ("confirm_password", new)],
    )
    .await
}

#[tokio::test]
async fn a_sign_in_link_does_not_skip_the_second_factor() {
    use portal_store::invitations::{self, LinkPurpose};
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let world = World::build(&app).await;
    let ctx = portal_store::AuditContext::command_line(Utc::now());

    // A forgotten password, for someone with a second factor: the code is still asked.
    let enrolled = app.create_user(PERSON, ADMIN_PASSWORD, false, false).await;
    enrol(&app, PERSON).await;
    let reset = invitations::issue(
        &app.db,
        &ctx,
        enrolled.id,
        LinkPurpose::PasswordReset,
        None,
        Duration::hours(1),
    )
    .await
    .unwrap();
    let client = http_client();
    let path = format!("/reset-password/{}", reset.token.expose());
    let response = set_password_through(&app, &client, &path).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login/second-factor");
    assert_eq!(cookie_value(&response, "portal_session"), None);

    // An invitation into a tenant that requires it: enrolment before the portal.
    let settings = format!("/tenants/{}/sign-in", world.a);
    let admin = signed_in(&app, ADMIN_EMAIL).await;
    app.submit_with(
        &admin,
        &settings,
        &format!("{settings}/second-factor"),
        &[("required", "on")],
    )
    .await;
    grant(
        &app,
        world.a,
        crate::world::invite("invitee@health.go.ke"),
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;
    let invitee = portal_store::access::search_users(&app.db, "invitee@health.go.ke", 1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let invitation = invitations::issue(
        &app.db,
        &ctx,
        invitee.id,
        LinkPurpose::Invitation,
        Some(world.a),
        Duration::hours(1),
    )
    .await
    .unwrap();
    let client = http_client();
    let path = format!("/invite/{}", invitation.token.expose());
    let response = set_password_through(&app, &client, &path).await;
    assert_eq!(location(&response), "/login/second-factor");
    let enrolment = app
        .get_with(&client, "/login/second-factor")
        .await
        .text()
        .await
        .unwrap();
    let secret = secret_on(&enrolment);
    let done = post_code(&app, &client, &code(&secret, 0)).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(
        app.get_with(&client, &format!("/tenants/{}", world.a))
            .await
            .status(),
        StatusCode::OK
    );
}
