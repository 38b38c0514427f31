use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn a_form_post_without_the_token_is_refused() {
    let app = TestApp::signed_in_admin().await;
    let response = app
        .post_form("/tenants", &[("slug", "ke-moh"), ("name", "Kenya")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("The form has expired")
    );
    assert!(
        portal_store::tenants::list(&app.db)
            .await
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn a_form_post_with_a_wrong_token_is_refused() {
    let app = TestApp::signed_in_admin().await;
    let response = app
        .post_form(
            "/tenants",
            &[("_csrf", "forged"), ("slug", "ke-moh"), ("name", "Kenya")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_token_may_come_in_the_htmx_header() {
    let app = TestApp::signed_in_admin().await;
    let html = app.get("/tenants").await.text().await.unwrap();
    let token = csrf_token(&html).unwrap();
    assert!(
        html.contains("hx-headers="),
        "the body carries the token for HTMX requests"
    );
    let response = app
        .client
        .post(app.url("/tenants"))
        .header("x-csrf-token", &token)
        .header("hx-request", "true")
        .form(&[("slug", "ke-moh"), ("name", "Kenya")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_even_with_the_token() {
    let app = TestApp::signed_in_admin().await;
    let token = csrf_token(&app.get("/tenants").await.text().await.unwrap()).unwrap();
    let foreign_origin = app
        .client
        .post(app.url("/tenants"))
        .header("origin", "https://evil.example")
        .form(&[
            ("_csrf", token.as_str()),
            ("slug", "ke-moh"),
            ("name", "Kenya"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign_origin.status(), StatusCode::FORBIDDEN);
    let cross_site = app
        .client
        .post(app.url("/tenants"))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("_csrf", token.as_str()),
            ("slug", "ke-moh"),
            ("name", "Kenya"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let same_origin = app
        .client
        .post(app.url("/tenants"))
        .header("origin", app.address.as_str())
        .form(&[
            ("_csrf", token.as_str()),
            ("slug", "ke-moh"),
            ("name", "Kenya"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_sign_in_form_is_protected_before_there_is_a_session() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    // No visit to /login first: no pre-session cookie, so no valid token.
    let response = app
        .post_form(
            "/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("_csrf", "guess"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A token from one browser does not work in another.
    let other = http_client();
    let token = csrf_token(&app.get_with(&other, "/login").await.text().await.unwrap()).unwrap();
    app.get("/login").await;
    let response = app
        .post_form(
            "/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("_csrf", &token),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logout_needs_the_token_too() {
    let app = TestApp::signed_in_admin().await;
    let response = app.post_form("/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/tenants").await.status(),
        StatusCode::OK,
        "still signed in"
    );
}
