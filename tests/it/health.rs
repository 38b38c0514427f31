use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn healthz_and_readyz_answer_with_json() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let expected = match backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    let state = cht_portal::startup::prepare(&app.config, portal_web::Clock::system(), false)
        .await
        .unwrap();
    let pool = state.db.clone();
    let server = portal_web::Application::bind("127.0.0.1:0".parse().unwrap(), state)
        .await
        .unwrap();
    let address = server.local_addr().unwrap();
    let handle = tokio::spawn(server.serve(std::future::pending()));
    let client = http_client();
    assert_eq!(
        client
            .get(format!("http://{address}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    pool.close_by_ref().await.unwrap();
    let response = client
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "unavailable"
    );
    // Liveness does not depend on the database.
    assert_eq!(
        client
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    handle.abort();
}

#[tokio::test]
async fn every_response_has_a_request_id_and_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.get("/login").await;
    let headers = response.headers();
    assert_eq!(headers["x-request-id"].to_str().unwrap().len(), 36);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert!(
        headers.get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
    let html = response.text().await.unwrap();
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for script in scripts {
        let tag = &script[..script.find('>').unwrap()];
        assert!(
            tag.contains(" src=\""),
            "every script is a file: <script{tag}>"
        );
        assert!(
            script[tag.len() + 1..].starts_with("</script>"),
            "and has no inline body"
        );
    }
    assert!(!html.contains("style="), "no inline styles");
}

#[tokio::test]
async fn assets_are_embedded_and_cacheable() {
    let app = TestApp::spawn().await;
    let html = app.get("/login").await.text().await.unwrap();
    for name in ["htmx.min.js", "app.css"] {
        let start = html.find("/assets/").unwrap();
        let path_start = html[start..].find(name).map(|i| start + i).unwrap();
        let url = &html[start..path_start + name.len()];
        let url = &url[url.rfind("/assets/").unwrap()..];
        let response = app.get(url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert!(
            response.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
    }
}

#[tokio::test]
async fn unknown_pages_get_a_helpful_404_with_the_request_id() {
    let app = TestApp::spawn().await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert!(body.contains("Page not found"));
    assert!(body.contains(&id), "the page shows the request id");
}

#[tokio::test]
async fn request_ids_from_clients_are_replaced() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(300);
    for sent in [long.as_str(), "abc def", "client-chosen-id"] {
        let response = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_ne!(
            id, sent,
            "not behind a trusted proxy: the portal makes its own id"
        );
        assert_eq!(id.len(), 36);
    }
    // An over-long id must never make an audited action fail (PostgreSQL enforces varchar(64)).
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let token = csrf_token(&app.get("/login").await.text().await.unwrap()).unwrap();
    let response = app
        .client
        .post(app.url("/login"))
        .header("x-request-id", &long)
        .form(&[
            ("_csrf", token.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", "wrong password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.last_audit("auth.login_failed")
            .await
            .request_id
            .unwrap()
            .len(),
        36
    );
}

#[tokio::test]
async fn behind_a_proxy_its_plain_request_ids_are_kept() {
    let app = TestApp::spawn_with(|c| c.behind_proxy = true).await;
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-1234.abc_9")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-1234.abc_9");
    let replaced = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "x".repeat(65))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.headers()["x-request-id"].len(), 36);
}
