//! Part A of issue 10: in a tenant without an identity provider, an invitation gives a
//! single-use, expiring link (shown to the inviter, or e-mailed through the loopback SMTP sink)
//! where the invitee chooses a password; "Forgot your password?" sends the same kind of link.

use portal_domain::BuiltinRole;
use portal_store::access::GrantScope;
use reqwest::{Client, StatusCode};
use test_smtp::SmtpSink;

use crate::support::{ADMIN_PASSWORD, TestApp, cookie_value, http_client, location, page_text};
use crate::world::{World, role, signed_in};

const INVITEE: &str = "sub.county@health.go.ke";
const CHOSEN: &str = "a long passphrase of my own";

/// A portal that sends e-mail to `sink` (plain SMTP on loopback; production requires TLS).
async fn with_smtp(sink: &SmtpSink) -> TestApp {
    let port = sink.port();
    TestApp::spawn_with(move |config| {
        config.smtp.host = Some("127.0.0.1".to_owned());
        config.smtp.port = port;
        config.smtp.tls = portal_config::SmtpTls::None;
        config.smtp.from = Some("CHT Portal <portal@health.go.ke>".to_owned());
    })
    .await
}

/// World A with a national administrator, signed in.
async fn national(app: &TestApp) -> (World, Client) {
    let w = World::build(app).await;
    w.person(
        app,
        "national@health.go.ke",
        w.a,
        role(BuiltinRole::NationalAdmin),
        GrantScope::Tenant,
    )
    .await;
    let client = signed_in(app, "national@health.go.ke").await;
    (w, client)
}

/// The national administrator makes `INVITEE` region manager of Nairobi over HTTP.
async fn invite_sub_county_manager(app: &TestApp, w: &World, national: &Client) -> String {
    let access = format!("/tenants/{}/access", w.a);
    let response = app
        .submit_with(
            national,
            &access,
            &access,
            &[
                ("email", INVITEE),
                ("display_name", "Wanjiru Sub-County"),
                ("role", role(BuiltinRole::RegionManager)),
                ("scope", &format!("place:{}:nairobi", w.i1)),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    page_text(response).await
}

/// The path of the first sign-in link in `text` (`/invite/…` or `/reset-password/…`).
fn link_path(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)?;
    let token: String = text[start + prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (token.len() == 43).then(|| format!("{prefix}{token}"))
}

/// Opens `link` in `client` and posts the password form with the page's CSRF token.
async fn set_password(
    app: &TestApp,
    client: &Client,
    link: &str,
    password: &str,
) -> reqwest::Response {
    app.submit_with(
        client,
        link,
        link,
        &[("new_password", password), ("confirm_password", password)],
    )
    .await
}

/// The invitee's view: a place inside their sub-county opens, one outside does not.
async fn sees_only_their_sub_county(app: &TestApp, w: &World, client: &Client) {
    let place = |id: &str| format!("/tenants/{}/instances/{}/places/{id}", w.a, w.i1);
    let inside = app.get_with(client, &place("westlands")).await;
    assert_eq!(inside.status(), StatusCode::OK);
    let outside = app.get_with(client, &place("kisumu")).await;
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_smtp_the_inviter_sees_the_link_and_the_invitee_gets_into_their_sub_county() {
    let app = TestApp::spawn().await;
    let (w, national) = national(&app).await;
    let page = invite_sub_county_manager(&app, &w, &national).await;
    assert!(
        page.contains("Access given to Wanjiru Sub-County"),
        "{page}"
    );
    assert!(!page.contains("Access given. It is in force"), "{page}");
    let link = link_path(&page, "/invite/").expect("the link is on the page");

    // The access page says how they get in: a link not used yet.
    let access = page_text(
        app.get_with(&national, &format!("/tenants/{}/access", w.a))
            .await,
    )
    .await;
    assert!(access.contains("Invitation link not used yet"), "{access}");

    let invitee = http_client();
    let form = page_text(app.get_with(&invitee, &link).await).await;
    assert!(
        form.contains(INVITEE) && form.contains("Choose your password"),
        "{form}"
    );
    // The portal's password rules apply.
    let weak = set_password(&app, &invitee, &link, "short").await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page_text(weak).await.contains("at least 12 characters"));

    let done = set_password(&app, &invitee, &link, CHOSEN).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/?notice=password-set");
    assert!(cookie_value(&done, "portal_session").is_some(), "signed in");
    sees_only_their_sub_county(&app, &w, &invitee).await;
    // And the password works from then on.
    assert_eq!(
        signed_in_with(&app, INVITEE, CHOSEN).await,
        StatusCode::SEE_OTHER
    );

    // A used link is refused, clearly, and changes nothing.
    let again = app.get_with(&http_client(), &link).await;
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(
        page_text(again)
            .await
            .contains("This link was already used")
    );
    let replay = post_refused(&app, &link, "someone else's password").await;
    assert_eq!(replay.status(), StatusCode::GONE);
    assert_eq!(
        signed_in_with(&app, INVITEE, CHOSEN).await,
        StatusCode::SEE_OTHER
    );

    let access = page_text(
        app.get_with(&national, &format!("/tenants/{}/access", w.a))
            .await,
    )
    .await;
    assert!(access.contains("Portal password"), "{access}");

    let actions = app.audit_actions().await;
    for action in [
        "auth.link_issued",
        "auth.link_delivered",
        "auth.link_used",
        "auth.password_changed",
        "auth.link_refused",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    assert_eq!(
        app.last_audit("auth.link_delivered").await.details["by"],
        "shown"
    );
    assert_eq!(
        app.last_audit("auth.link_refused").await.details["reason"],
        "used"
    );
    token_never_in_the_audit_trail(&app, &link).await;
}

/// Posts the password form to a link whose page shows no form (used or expired), with the
/// CSRF token of the sign-in page.
async fn post_refused(app: &TestApp, link: &str, password: &str) -> reqwest::Response {
    app.submit_with(
        &http_client(),
        "/login",
        link,
        &[("new_password", password), ("confirm_password", password)],
    )
    .await
}

async fn signed_in_with(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.login_with(&http_client(), email, password)
        .await
        .status()
}

async fn token_never_in_the_audit_trail(app: &TestApp, link: &str) {
    let token = link.rsplit('/').next().unwrap();
    for event in portal_store::audit::list_recent(&app.db, 1000)
        .await
        .unwrap()
    {
        assert!(!event.details.to_string().contains(token), "{event:?}");
    }
}

#[tokio::test]
async fn with_smtp_the_link_arrives_by_email_and_is_not_shown() {
    let sink = SmtpSink::start().await;
    let app = with_smtp(&sink).await;
    let (w, national) = national(&app).await;
    let page = invite_sub_county_manager(&app, &w, &national).await;
    assert!(page.contains("We e-mailed"), "{page}");
    assert!(link_path(&page, "/invite/").is_none(), "{page}");

    let message = sink.wait_for(1).await.remove(0);
    assert_eq!(message.to, vec![INVITEE.to_owned()]);
    let text = message.text();
    assert!(
        text.contains("national@health.go.ke gave you access"),
        "{text}"
    );
    let link = link_path(&text, "/invite/").expect("a link in the e-mail");

    let invitee = http_client();
    let done = set_password(&app, &invitee, &link, CHOSEN).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    sees_only_their_sub_county(&app, &w, &invitee).await;
    assert_eq!(
        app.last_audit("auth.link_delivered").await.details["by"],
        "email"
    );
}

#[tokio::test]
async fn an_expired_link_is_refused_and_a_new_one_replaces_the_old() {
    let app = TestApp::spawn().await;
    let (w, national) = national(&app).await;
    let first = link_path(
        &invite_sub_county_manager(&app, &w, &national).await,
        "/invite/",
    )
    .unwrap();
    app.clock.advance(chrono::Duration::hours(73));
    let expired = app.get_with(&http_client(), &first).await;
    assert_eq!(expired.status(), StatusCode::GONE);
    let text = page_text(expired).await;
    assert!(text.contains("This link expired on"), "{text}");
    assert!(
        text.contains("Ask national@health.go.ke for a new one"),
        "{text}"
    );
    let refused = post_refused(&app, &first, CHOSEN).await;
    assert_eq!(refused.status(), StatusCode::GONE);
    assert_eq!(
        app.last_audit("auth.link_refused").await.details["reason"],
        "expired"
    );

    // The access page says they have no way in, and offers a new link.
    let national = signed_in(&app, "national@health.go.ke").await;
    let access = format!("/tenants/{}/access", w.a);
    let listing = page_text(app.get_with(&national, &access).await).await;
    assert!(listing.contains("No way in yet"), "{listing}");
    let invitee_id = portal_store::users::credentials_by_email(
        &app.db,
        &portal_domain::Email::parse(INVITEE).unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
    .user
    .id;
    let new_link = format!("{access}/people/{invitee_id}/link");
    let second = page_text(app.submit_with(&national, &access, &new_link, &[]).await).await;
    let second = link_path(&second, "/invite/").expect("a new link");
    // Issuing yet another replaces the second: only the newest works.
    let third = page_text(app.submit_with(&national, &access, &new_link, &[]).await).await;
    let third = link_path(&third, "/invite/").expect("a newer link");
    assert_eq!(
        app.get_with(&http_client(), &second).await.status(),
        StatusCode::NOT_FOUND
    );
    let invitee = http_client();
    assert_eq!(
        set_password(&app, &invitee, &third, CHOSEN).await.status(),
        StatusCode::SEE_OTHER
    );
    sees_only_their_sub_county(&app, &w, &invitee).await;
}

#[tokio::test]
async fn a_link_used_twice_at_once_works_once() {
    let app = TestApp::spawn().await;
    let (w, national) = national(&app).await;
    let link = link_path(
        &invite_sub_county_manager(&app, &w, &national).await,
        "/invite/",
    )
    .unwrap();
    let (a, b) = (http_client(), http_client());
    let (first, second) = tokio::join!(
        set_password(&app, &a, &link, "first passphrase of the two"),
        set_password(&app, &b, &link, "second passphrase of the two"),
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::GONE]);
    let used = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "auth.link_used")
        .count();
    assert_eq!(used, 1);
}

#[tokio::test]
async fn links_only_for_people_the_issuer_manages_wholly() {
    let app = TestApp::spawn().await;
    let (w, national) = national(&app).await;
    let access = format!("/tenants/{}/access", w.a);
    let admin = app
        .create_user("root@health.go.ke", ADMIN_PASSWORD, true, false)
        .await;
    // Someone with access in tenant B as well.
    let both = w
        .person(
            &app,
            "both@health.go.ke",
            w.a,
            role(BuiltinRole::MeOfficer),
            GrantScope::Tenant,
        )
        .await;
    w.person(
        &app,
        "both@health.go.ke",
        w.b,
        role(BuiltinRole::MeOfficer),
        GrantScope::Tenant,
    )
    .await;
    for (person, says) in [
        (admin.id, "Platform administrators"),
        (both, "another tenant"),
    ] {
        let response = app
            .submit_with(
                &national,
                &access,
                &format!("{access}/people/{person}/link"),
                &[],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(page_text(response).await.contains(says));
    }
}

#[tokio::test]
async fn forgot_password_sends_a_working_link_and_reveals_no_account() {
    let sink = SmtpSink::start().await;
    let app = with_smtp(&sink).await;
    let (w, _) = national(&app).await;
    w.person(
        &app,
        INVITEE,
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "nairobi"),
    )
    .await;
    let elsewhere = signed_in(&app, INVITEE).await;
    let login = page_text(app.get("/login").await).await;
    assert!(login.contains("href=\"/forgot-password\""), "{login}");

    let ask = |email: &'static str| {
        let app = &app;
        async move {
            let client = http_client();
            let response = app
                .submit_with(
                    &client,
                    "/forgot-password",
                    "/forgot-password",
                    &[("email", email)],
                )
                .await;
            (
                response.status(),
                page_text(response).await.replace(email, "EMAIL"),
            )
        }
    };
    let known = ask(INVITEE).await;
    let unknown = ask("nobody@health.go.ke").await;
    assert_eq!(known.0, StatusCode::OK);
    assert_eq!(known, unknown, "the same answer either way");
    assert!(known.1.contains("If an account exists for"), "{}", known.1);

    let messages = sink.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        sink.messages().len(),
        1,
        "nothing sent to an unknown address"
    );
    assert_eq!(messages[0].to, vec![INVITEE.to_owned()]);
    let link = link_path(&messages[0].text(), "/reset-password/").expect("a reset link");

    let client = http_client();
    let done = set_password(&app, &client, &link, CHOSEN).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    sees_only_their_sub_county(&app, &w, &client).await;
    // The old password is gone, and so is the session that used it.
    assert_eq!(
        signed_in_with(&app, INVITEE, ADMIN_PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    let ended = app.get_with(&elsewhere, "/tenants").await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(location(&ended).starts_with("/login"));
    assert_eq!(
        app.get_with(&http_client(), &link).await.status(),
        StatusCode::GONE
    );
    let requested = app.last_audit("auth.password_reset_requested").await;
    assert_eq!(requested.details["issued"], true);
}

#[tokio::test]
async fn forgot_password_is_rate_limited_per_address_typed_and_per_client() {
    let sink = SmtpSink::start().await;
    let port = sink.port();
    let app = TestApp::spawn_with(move |config| {
        config.smtp.host = Some("127.0.0.1".to_owned());
        config.smtp.port = port;
        config.smtp.tls = portal_config::SmtpTls::None;
        config.smtp.from = Some("portal@health.go.ke".to_owned());
        config.links.max_reset_requests_per_account = 2;
        config.links.max_reset_requests_per_address = 4;
    })
    .await;
    let ask = |email: &'static str| {
        let app = &app;
        async move {
            app.submit_with(
                &http_client(),
                "/forgot-password",
                "/forgot-password",
                &[("email", email)],
            )
            .await
            .status()
        }
    };
    assert_eq!(ask("a@health.go.ke").await, StatusCode::OK);
    assert_eq!(ask("a@health.go.ke").await, StatusCode::OK);
    assert_eq!(ask("a@health.go.ke").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(ask("b@health.go.ke").await, StatusCode::OK);
    // Four from this client address so far: the fifth is refused whatever the address.
    assert_eq!(ask("c@health.go.ke").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn without_smtp_forgot_password_says_to_ask_an_administrator() {
    let app = TestApp::spawn().await;
    let page = page_text(app.get("/forgot-password").await).await;
    assert!(
        page.contains("Ask an administrator who manages your access"),
        "{page}"
    );
    let client = http_client();
    let response = app
        .submit_with(
            &client,
            "/login",
            "/forgot-password",
            &[("email", "x@health.go.ke")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !app.audit_actions()
            .await
            .iter()
            .any(|a| a == "auth.link_issued")
    );
}

/// The store's guarantee under the page: of many uses at the same moment, one wins.
#[tokio::test]
async fn of_many_simultaneous_uses_of_a_link_exactly_one_sets_the_password() {
    use portal_store::invitations::{self, LinkPurpose};
    let app = TestApp::spawn().await;
    let person = app.create_user(INVITEE, ADMIN_PASSWORD, false, false).await;
    let ctx = portal_store::AuditContext::command_line(chrono::Utc::now());
    let link = invitations::issue(
        &app.db,
        &ctx,
        person.id,
        LinkPurpose::PasswordReset,
        None,
        chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    let uses = (0..8).map(|i| {
        let (db, ctx, token) = (&app.db, &ctx, &link.token);
        async move {
            invitations::use_link(db, ctx, token, format!("hash {i}"))
                .await
                .unwrap()
        }
    });
    let outcomes = futures::future::join_all(uses).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
}
