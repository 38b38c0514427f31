use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};

use crate::support::*;

async fn raw_session_ids(app: &TestApp) -> Vec<String> {
    app.db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT id_digest FROM sessions",
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.try_get::<String>("", "id_digest").unwrap())
        .collect()
}

#[tokio::test]
async fn the_database_stores_a_digest_never_the_cookie() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let response = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cookie = cookie_value(&response, "portal_session").unwrap();
    let stored = raw_session_ids(&app).await;
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], cookie);
    assert_eq!(stored[0].len(), 64);
}

#[tokio::test]
async fn signing_in_again_rotates_the_session_id() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let first = app.login_cookie(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // Signing in again from the same browser (with the session's own CSRF token).
    let second_response = app
        .submit(
            "/tenants",
            "/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(second_response.status(), StatusCode::SEE_OTHER);
    let second = cookie_value(&second_response, "portal_session").unwrap();
    assert_ne!(first, second);

    // The old id no longer works, and only one session remains.
    let stale = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = stale
        .get(app.url("/tenants"))
        .header("cookie", format!("portal_session={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(raw_session_ids(&app).await.len(), 1);
}

#[tokio::test]
async fn logout_destroys_the_session_server_side() {
    let app = TestApp::signed_in_admin().await;
    let html = app.get("/tenants").await.text().await.unwrap();
    let token = csrf_token(&html).unwrap();
    let cookie_before = raw_session_ids(&app).await;
    assert_eq!(cookie_before.len(), 1);

    let response = app.post_form("/logout", &[("_csrf", &token)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?notice=signed-out");
    assert!(raw_session_ids(&app).await.is_empty());
    assert_eq!(app.get("/tenants").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.audit_actions().await.last().unwrap(), "auth.logout");
}

#[tokio::test]
async fn an_idle_session_ends() {
    let app = TestApp::signed_in_admin().await;
    app.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(
        app.get("/tenants").await.status(),
        StatusCode::OK,
        "activity within the idle timeout"
    );
    app.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(
        app.get("/tenants").await.status(),
        StatusCode::OK,
        "each request renews the idle timer"
    );
    app.clock.advance(chrono::Duration::minutes(31));
    let response = app.get("/tenants").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/login"));
}

#[tokio::test]
async fn an_active_session_still_ends_at_the_absolute_timeout() {
    let app = TestApp::spawn_with(|c| c.session.absolute_timeout_hours = 2).await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for _ in 0..5 {
        app.clock.advance(chrono::Duration::minutes(20));
        assert_eq!(app.get("/tenants").await.status(), StatusCode::OK);
    }
    app.clock.advance(chrono::Duration::minutes(21));
    assert_eq!(app.get("/tenants").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sessions_are_shared_by_portal_processes_on_one_database() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let cookie = app.login_cookie(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // A second portal process on the same database accepts the session the first one issued.
    let state = cht_portal::startup::prepare(&app.config, portal_web::Clock::system(), false)
        .await
        .unwrap();
    let second = portal_web::Application::bind("127.0.0.1:0".parse().unwrap(), state)
        .await
        .unwrap();
    let second_address = format!("http://{}", second.local_addr().unwrap());
    let server = tokio::spawn(second.serve(std::future::pending()));
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = plain
        .get(format!("{second_address}/tenants"))
        .header("cookie", format!("portal_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let forged = plain
        .get(format!("{second_address}/tenants"))
        .header("cookie", "portal_session=forged-value")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
    server.abort();
}
