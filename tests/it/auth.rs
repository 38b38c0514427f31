use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn sign_in_succeeds_with_a_hardened_session_cookie() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let response = app.login("  ADA@health.go.ke ", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    let cookie = set_cookie_headers(&response)
        .into_iter()
        .find(|c| c.starts_with("portal_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain-HTTP deployment: {cookie}"
    );

    let tenants = app.get("/tenants").await;
    assert_eq!(tenants.status(), StatusCode::OK);
    assert_eq!(app.audit_actions().await.last().unwrap(), "auth.login");
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_host_prefixed() {
    let app = TestApp::spawn_with(|c| {
        c.public_url = Some("https://portal.health.go.ke".parse().unwrap())
    })
    .await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let response = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie_headers(&response)
        .into_iter()
        .find(|c| c.starts_with("__Host-portal_session="))
        .expect("secure session cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_some()
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;

    let wrong = app.login(ADMIN_EMAIL, "not the password at all").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong_body = wrong.text().await.unwrap();
    assert!(wrong_body.contains("The email or password is not correct."));
    assert!(
        !wrong_body.contains("not the password at all"),
        "the password is never echoed"
    );

    let unknown = app.login("nobody@health.go.ke", "whatever password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("The email or password is not correct.")
    );

    let event = app.last_audit("auth.login_failed").await;
    assert_eq!(event.actor_label, "nobody@health.go.ke");
    assert_eq!(event.details["reason"], "unknown_account");
    assert!(event.client_address.as_deref() == Some("127.0.0.1"));
    assert!(event.request_id.is_some());
    assert!(!event.details.to_string().contains("whatever password"));
}

#[tokio::test]
async fn disabled_accounts_cannot_sign_in() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    app.db
        .execute_unprepared("UPDATE portal_users SET disabled = true")
        .await
        .unwrap();
    let response = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.last_audit("auth.login_failed").await.details["reason"],
        "account_disabled"
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_account_then_the_lock_expires() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    for attempt in 1..=4 {
        let response = app.login(ADMIN_EMAIL, "wrong password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let fifth = app.login(ADMIN_EMAIL, "wrong password").await;
    assert_eq!(fifth.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = fifth.text().await.unwrap();
    assert!(
        body.contains("Too many failed sign-in attempts for this account"),
        "{body}"
    );
    assert!(body.contains("Try again in 15 minutes"), "{body}");

    // Even the right password is refused while the lock holds.
    let locked = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.audit_actions().await.last().unwrap(),
        "auth.login_throttled"
    );

    // Other accounts are not affected by this account's lock.
    app.create_user("other@health.go.ke", ADMIN_PASSWORD, false, false)
        .await;
    let other = app
        .login_with(&http_client(), "other@health.go.ke", ADMIN_PASSWORD)
        .await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER);

    app.clock.advance(chrono::Duration::minutes(16));
    let after = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_success_resets_the_account_counter() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    for _ in 0..4 {
        app.login_with(&http_client(), ADMIN_EMAIL, "wrong password")
            .await;
    }
    assert_eq!(
        app.login_with(&http_client(), ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    for _ in 0..4 {
        let response = app
            .login_with(&http_client(), ADMIN_EMAIL, "wrong password")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn many_failures_from_one_address_lock_the_address() {
    let app = TestApp::spawn_with(|c| c.login.max_failures_per_address = 6).await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    for n in 0..5 {
        let response = app
            .login(&format!("guess{n}@health.go.ke"), "wrong password")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let sixth = app.login("guess6@health.go.ke", "wrong password").await;
    assert_eq!(sixth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        sixth
            .text()
            .await
            .unwrap()
            .contains("for your network address")
    );
    // A real account from the same address is locked out too until the lock ends.
    assert_eq!(
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn sign_in_returns_to_the_requested_page_but_never_off_site() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let protected = app.get("/tenants?page=2").await;
    assert_eq!(protected.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&protected), "/login?next=%2Ftenants%3Fpage%3D2");

    let response = app
        .submit(
            "/login?next=%2Ftenants%3Fpage%3D2",
            "/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", "/tenants?page=2"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/tenants?page=2");

    let client = http_client();
    let response = app
        .submit_with(
            &client,
            "/login",
            "/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/");
}

#[tokio::test]
async fn a_one_time_password_must_be_replaced_before_anything_else() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, "one-time-pass-1234", true, true)
        .await;
    let response = app.login(ADMIN_EMAIL, "one-time-pass-1234").await;
    assert_eq!(location(&response), "/account/password");
    let blocked = app.get("/tenants").await;
    assert_eq!(location(&blocked), "/account/password");

    // A second browser signed in as the same person is signed out by the change.
    let other_browser = http_client();
    app.login_with(&other_browser, ADMIN_EMAIL, "one-time-pass-1234")
        .await;

    let weak = app
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "one-time-pass-1234"),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        weak.text()
            .await
            .unwrap()
            .contains("at least 12 characters")
    );

    let mismatch = app
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "one-time-pass-1234"),
                ("new_password", ADMIN_PASSWORD),
                ("confirm_password", "something else entirely"),
            ],
        )
        .await;
    assert!(
        mismatch
            .text()
            .await
            .unwrap()
            .contains("The two new passwords are different")
    );

    let wrong_current = app
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", ADMIN_PASSWORD),
                ("confirm_password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert!(
        wrong_current
            .text()
            .await
            .unwrap()
            .contains("The current password is not correct.")
    );

    let changed = app
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", "one-time-pass-1234"),
                ("new_password", ADMIN_PASSWORD),
                ("confirm_password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/tenants").await.status(), StatusCode::OK);
    assert_eq!(
        app.get_with(&other_browser, "/tenants").await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"auth.password_changed".to_owned())
    );

    let fresh = http_client();
    assert_eq!(
        app.login_with(&fresh, ADMIN_EMAIL, "one-time-pass-1234")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_with(&fresh, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn parallel_guesses_cannot_exceed_the_limit() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let guesses = (0..20).map(|n| {
        let app = &app;
        async move {
            let client = http_client();
            app.login_with(&client, ADMIN_EMAIL, &format!("wrong guess {n}"))
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let checked = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "auth.login_failed")
        .count();
    assert_eq!(
        checked, 5,
        "only the first five attempts reached the password check"
    );
    assert_eq!(
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_tab_in_next_cannot_send_people_off_site() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let response = app
        .submit(
            "/login",
            "/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", "/\t/evil.example"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/");
    let signed_in = app.get("/login?next=/%09/evil.example").await;
    assert_eq!(location(&signed_in), "/");
}

#[tokio::test]
async fn a_password_change_replaces_the_session_itself() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let old_cookie = app.login_cookie(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let changed = app
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("new_password", "another long passphrase"),
                ("confirm_password", "another long passphrase"),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    let new_cookie = cookie_value(&changed, "portal_session").expect("a new session cookie");
    assert_ne!(new_cookie, old_cookie);
    assert_eq!(
        app.get("/tenants").await.status(),
        StatusCode::OK,
        "the new session works"
    );
    let stale = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = stale
        .get(app.url("/tenants"))
        .header("cookie", format!("portal_session={old_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "a copy of the old session is useless"
    );
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_too() {
    let app = TestApp::signed_in_admin().await;
    let change = |current: &'static str| {
        let app = &app;
        async move {
            app.submit(
                "/account/password",
                "/account/password",
                &[
                    ("current_password", current),
                    ("new_password", "another long passphrase"),
                    ("confirm_password", "another long passphrase"),
                ],
            )
            .await
            .status()
        }
    };
    for _ in 0..5 {
        assert_eq!(
            change("a wrong guess").await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(
        change(ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "locked, even with the right one"
    );
    assert_eq!(
        app.login_with(&http_client(), ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
