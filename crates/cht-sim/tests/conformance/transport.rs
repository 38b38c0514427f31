//! Facts 1–8: authentication, sessions, content type, envelopes, 401/403, rate limit, routing.

use cht_sim::{SimConfig, Version};
use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn fact_01_basic_and_session_cookie_authenticate() {
    let t = T::new().await;
    t.officer("olga").await;
    // Basic auth
    let r = send(t.as_user(Method::GET, "/api/v2/users", "olga", PW)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // POST /_session gives an HttpOnly AuthSession cookie
    let r = send(
        t.anon(Method::POST, "/_session")
            .json(&json!({"name": "olga", "password": PW})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json,
        json!({"ok": true, "name": "olga", "roles": ["program_officer", "mm-online"]})
    );
    let raw_cookie = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("AuthSession="))
        .expect("cookie");
    assert!(
        raw_cookie.contains("HttpOnly") && raw_cookie.contains("Path=/"),
        "{raw_cookie}"
    );
    assert!(raw_cookie.contains("Max-Age=31536000"), "{raw_cookie}");
    let cookie = r.cookie("AuthSession").expect("cookie");
    // the cookie authenticates API calls and GET /_session
    let r = send(
        t.anon(Method::GET, "/api/v2/users")
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(t.anon(Method::GET, "/_session").header("cookie", &cookie)).await;
    assert_eq!(r.json["ok"], true);
    assert_eq!(r.json["userCtx"]["name"], "olga");
    // bad credentials: CouchDB's 401
    let r = send(
        t.anon(Method::POST, "/_session")
            .json(&json!({"name": "olga", "password": "nope"})),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json,
        json!({"error": "unauthorized", "reason": "Name or password is incorrect."})
    );
    // a forged cookie is not accepted
    let r = send(
        t.anon(Method::GET, "/_session")
            .header("cookie", "AuthSession=b2xnYTowOmZvcmdlZA"),
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn fact_02_medic_login_is_302_with_text_body() {
    let t = T::new().await;
    t.officer("olga").await;
    let r = send(
        t.raw(Method::POST, "/medic/login")
            .json(&json!({"user": "olga", "password": PW})),
    )
    .await;
    assert_eq!(r.status, 302);
    assert_eq!(r.text, "/");
    assert!(r.header("location").is_none(), "no Location header");
    assert!(r.cookie("AuthSession").is_some());
    assert!(r.cookie("userCtx").is_some());
    // the session works
    let cookie = r.cookie("AuthSession").unwrap();
    let s = send(
        t.anon(Method::GET, "/api/v2/users/olga")
            .header("cookie", cookie),
    )
    .await;
    assert_eq!(s.status, 200);
    // admins land on /admin/
    let r = send(
        t.raw(Method::POST, "/medic/login")
            .json(&json!({"user": "medic", "password": "password"})),
    )
    .await;
    assert_eq!((r.status, r.text.as_str()), (302, "/admin/"));
    // failure
    let r = send(
        t.raw(Method::POST, "/medic/login")
            .json(&json!({"user": "olga", "password": "wrong-one"})),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json, json!({"error": "Not logged in"}));
    // password_change_required: 302 to the reset page, no session cookie
    t.user(json!({"username": "fresh", "password": PW, "roles": ["program_officer"]}))
        .await;
    let r = send(
        t.raw(Method::POST, "/medic/login")
            .json(&json!({"user": "fresh", "password": PW})),
    )
    .await;
    assert_eq!((r.status, r.text.as_str()), (302, "/medic/password-reset"));
    assert!(r.cookie("AuthSession").is_none());
    assert!(r.cookie("userCtx").is_some());
}

#[tokio::test]
async fn fact_03_content_type_must_be_exact_json() {
    let t = T::new().await;
    let body = json!({"username": "amy", "password": PW, "roles": ["national_admin"]}).to_string();
    let r = send(
        t.admin(Method::POST, "/api/v1/users")
            .header("content-type", "application/json; charset=utf-8")
            .body(body.clone()),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json,
        json!({"code": 400, "error": "Content-Type must be application/json"})
    );
    let r = send(
        t.admin(Method::POST, "/medic/login")
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_eq!(err_msg(&r), "Content-Type must be application/json");
    // v2 also allows exactly text/csv, and says so
    let r = send(
        t.admin(Method::POST, "/api/v2/users")
            .header("content-type", "application/json;charset=utf-8")
            .body("[]"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        err_msg(&r),
        "Content-Type must be application/json or text/csv"
    );
    // the exact header is accepted
    let r = send(
        t.admin(Method::POST, "/api/v1/users")
            .header("content-type", "application/json")
            .body(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn fact_04_error_envelope_follows_accept() {
    let t = T::new().await;
    t.user(json!({"username": "mary", "password": PW, "roles": ["national_admin"]}))
        .await;
    let dup = json!({"username": "mary", "password": PW, "roles": ["national_admin"]});
    // JSON preferred: object error with translation data
    for accept in [
        "application/json",
        "application/json, text/plain, */*",
        "application/*",
    ] {
        let r = send(
            t.admin(Method::POST, "/api/v1/users")
                .header("accept", accept)
                .json(&dup),
        )
        .await;
        assert_eq!(r.status, 400, "{accept}");
        assert_eq!(
            r.json,
            json!({"code": 400, "error": {"message": "Username \"mary\" already taken.", "translationKey": "username.taken", "translationParams": {"username": "mary"}}}),
            "{accept}"
        );
    }
    // otherwise text/plain with the message
    for accept in [
        Some("*/*"),
        Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        None,
    ] {
        let mut rb = t
            .raw(Method::POST, "/api/v1/users")
            .basic_auth("medic", Some("password"))
            .json(&dup);
        rb = match accept {
            Some(a) => rb.header("accept", a),
            None => rb.header("accept", ""),
        };
        let r = send(rb).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.text, "Username \"mary\" already taken.", "{accept:?}");
        assert!(
            r.header("content-type")
                .unwrap_or("")
                .starts_with("text/plain")
        );
    }
    // a string error in JSON form
    let r = t.get("/api/v2/users/nobody").await;
    assert_eq!(
        r.json,
        json!({"code": 404, "error": "Failed to find user with name [nobody] in the [users] database."})
    );
}

#[tokio::test]
async fn fact_04_version_4_22_negotiates_like_4_5() {
    // The simulator models 4.9+; the pre-4.5 rule is exercised through the version gate.
    let t = T::version(Version(4, 22, 0)).await;
    let r = send(
        t.admin(Method::GET, "/api/v2/users/x")
            .header("accept", "application/json, text/plain, */*"),
    )
    .await;
    assert_eq!(r.json["code"], 404, "4.22 negotiates like 4.5+");
}

#[tokio::test]
async fn fact_05_not_logged_in_variants() {
    let t = T::new().await;
    let r = send(t.anon(Method::GET, "/api/v2/users")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json, json!({"code": 401, "error": "unauthorized"}));
    assert_eq!(r.header("logout-authorization"), Some("CHT-Core API"));
    // a browser: redirected to the login page
    let r = send(
        t.raw(Method::GET, "/api/v2/users?x=1")
            .header("user-agent", "Mozilla/5.0")
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/medic/login?redirect=%2Fapi%2Fv2%2Fusers%3Fx%3D1")
    );
    assert_eq!(r.header("logout-authorization"), Some("CHT-Core API"));
    // no User-Agent: a Basic prompt
    let r = send(t.raw(Method::GET, "/api/v2/users")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.text, "not logged in");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"Medic Web Services\"")
    );
    // settings always prompts, even for JSON clients
    let r = send(
        t.anon(Method::GET, "/api/v1/settings")
            .header("user-agent", "portal"),
    )
    .await;
    assert_eq!((r.status, r.text.as_str()), (401, "not logged in"));
    // wrong Basic credentials are a 401 too
    let r = send(t.as_user(Method::GET, "/api/v2/users", "medic", "nope")).await;
    assert_eq!(r.json, json!({"code": 401, "error": "unauthorized"}));
}

#[tokio::test]
async fn fact_06_permissions_and_admin_bypass() {
    let mut settings = cht_sim_default_settings().await;
    settings["permissions"]["can_view_users"] = json!(["program_officer", "ghost"]);
    let run = |version: Version| {
        let settings = settings.clone();
        async move {
            let t = T::with(SimConfig {
                version,
                settings: Some(settings),
                ..SimConfig::default()
            })
            .await;
            t.user(json!({"username": "nat", "password": PW, "roles": ["national_admin"], "password_change_required": false})).await;
            let r = send(t.as_user(Method::GET, "/api/v2/users", "nat", PW)).await;
            assert_eq!(r.status, 403);
            assert_eq!(
                r.json,
                json!({"code": 403, "error": "Insufficient privileges"})
            );
            // admin bypasses everything
            assert_eq!(t.get("/api/v2/users").await.status, 200);
            // a permission granted to an unconfigured role
            t.user(json!({"username": "gus", "password": PW, "roles": ["ghost", "mm-online"], "password_change_required": false})).await;
            send(t.as_user(Method::GET, "/api/v2/users", "gus", PW))
                .await
                .status
        }
    };
    assert_eq!(
        run(Version(5, 2, 0)).await,
        403,
        "5.2 counts only configured roles"
    );
    assert_eq!(run(Version(4, 22, 0)).await, 200, "4.22 counts every role");
}

async fn cht_sim_default_settings() -> serde_json::Value {
    let t = T::new().await;
    t.get("/api/v1/settings").await.json
}

#[tokio::test]
async fn fact_07_rate_limit_after_ten_failures() {
    let t = T::new().await;
    for i in 0..10 {
        let r = send(t.as_user(Method::GET, "/api/v2/users", "medic", &format!("bad{i}"))).await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    // the IP is now limited, even with good credentials
    let r = send(t.admin(Method::GET, "/api/v2/users")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json, json!({"code": 429, "error": "Too Many Requests"}));
    let r = send(
        t.raw(Method::POST, "/medic/login")
            .json(&json!({"user": "medic", "password": "password"})),
    )
    .await;
    assert_eq!(r.status, 429);
    // ten seconds later the window has passed
    send(
        t.raw(Method::POST, "/__sim/clock")
            .body(r#"{"advance_ms": 10001}"#),
    )
    .await;
    assert_eq!(t.get("/api/v2/users").await.status, 200);
}

#[tokio::test]
async fn fact_07_rate_limit_keys_on_login_user() {
    let t = T::with(SimConfig::default()).await;
    for _ in 0..10 {
        let r = send(
            t.raw(Method::POST, "/medic/login")
                .json(&json!({"user": "victim", "password": "x"})),
        )
        .await;
        assert_eq!(r.status, 401);
    }
    let r = send(
        t.raw(Method::POST, "/medic/login")
            .json(&json!({"user": "victim", "password": "y"})),
    )
    .await;
    assert_eq!(r.status, 429);
    // the limiter can be switched off for tests that hammer logins
    let t = T::with(SimConfig {
        rate_limit: false,
        ..SimConfig::default()
    })
    .await;
    for _ in 0..12 {
        let r = send(
            t.raw(Method::POST, "/medic/login")
                .json(&json!({"user": "victim", "password": "x"})),
        )
        .await;
        assert_eq!(r.status, 401);
    }
}

#[tokio::test]
async fn fact_08_strict_routing_has_no_trailing_slash_aliases() {
    let t = T::new().await;
    assert_eq!(t.get("/api/v2/users").await.status, 200);
    let r = t.get("/api/v2/users/").await;
    assert_ne!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["error"], "not_found");
    let r = t.post("/api/v1/users/", json!({"username": "x"})).await;
    assert_eq!(r.json["error"], "not_found", "{}", r.text);
    // an unknown API path is proxied to CouchDB, which has no `api` database
    let r = t.get("/api/v9/nothing").await;
    assert_eq!(
        r.json,
        json!({"error": "not_found", "reason": "Database does not exist."})
    );
    // a wrong method also falls through
    let r = t.delete("/api/v2/users").await;
    assert_eq!(r.status, 404);
}
