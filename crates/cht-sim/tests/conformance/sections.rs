//! Contract details checked section by section (§2.2 cookies, §5 error envelope of a 429).

use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// The attributes of one `Set-Cookie` line, lower-cased, without the `name=value` pair.
fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

fn auth_session_line(r: &Resp) -> String {
    r.cookies()
        .into_iter()
        .find(|c| c.starts_with("AuthSession="))
        .expect("an AuthSession cookie")
}

/// What the User Management Tool does with `set-cookie` (reference §5.2): keep `AuthSession=<value>`
/// and send it back as the `Cookie` header.
fn umt_cookie_header(r: &Resp) -> String {
    auth_session_line(r)
        .split(';')
        .next()
        .expect("name=value")
        .to_string()
}

#[tokio::test]
async fn section_2_2_medic_login_sets_auth_session_with_http_only_same_site_lax_and_max_age() {
    let t = T::new().await;
    t.officer("olga").await;
    let r = send(
        t.raw(Method::POST, "/medic/login")
            .json(&json!({"user": "olga", "password": PW})),
    )
    .await;
    assert_eq!(r.status, 302, "{}", r.text);
    let attrs = attributes(&auth_session_line(&r));
    for wanted in ["httponly", "samesite=lax", "path=/", "max-age=31536000"] {
        assert!(attrs.iter().any(|a| a == wanted), "{wanted} in {attrs:?}");
    }
    // the simulator is plain HTTP, like CHT without NODE_ENV=production
    assert!(!attrs.iter().any(|a| a == "secure"), "{attrs:?}");
    // the value format is unchanged: a client that copies it verbatim is signed in
    let s = send(
        t.anon(Method::GET, "/_session")
            .header("cookie", umt_cookie_header(&r)),
    )
    .await;
    assert_eq!(s.json["userCtx"]["name"], "olga", "{}", s.text);
}

#[tokio::test]
async fn section_2_2_session_endpoint_cookie_is_couchdbs_and_signs_the_umt_in() {
    let t = T::new().await;
    let (admin, password) = ADMIN;
    // the UMT sends JSON credentials and Basic auth together
    let r = send(
        t.as_user(Method::POST, "/_session", admin, password)
            .json(&json!({"name": admin, "password": password})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let attrs = attributes(&auth_session_line(&r));
    for wanted in ["httponly", "path=/", "max-age=31536000"] {
        assert!(attrs.iter().any(|a| a == wanted), "{wanted} in {attrs:?}");
    }
    // §2.2: /_session is proxied to CouchDB, whose cookie carries no SameSite by default
    assert!(
        !attrs.iter().any(|a| a.starts_with("samesite")),
        "{attrs:?}"
    );
    // the UMT's copied cookie (no Basic auth) creates a user
    let created = send(
        t.anon(Method::POST, "/api/v1/users")
            .header("cookie", umt_cookie_header(&r))
            .json(&json!({
                "username": "via_cookie",
                "password": PW,
                "roles": ["program_officer"],
            })),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text);
}

async fn rate_limited(t: &T) {
    for i in 0..10 {
        let r = send(t.as_user(Method::GET, "/api/v2/users", "medic", &format!("bad{i}"))).await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
}

#[tokio::test]
async fn section_5_rate_limit_429_uses_the_json_error_envelope() {
    let t = T::new().await;
    rate_limited(&t).await;
    let r = send(t.admin(Method::GET, "/api/v2/users")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json, json!({"code": 429, "error": "Too Many Requests"}));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.header("content-type")
    );
    // the login endpoint is limited the same way (axios default Accept negotiates JSON on 4.5+)
    let r = send(
        t.raw(Method::POST, "/medic/login")
            .header("accept", "application/json, text/plain, */*")
            .json(&json!({"user": "medic", "password": "password"})),
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json, json!({"code": 429, "error": "Too Many Requests"}));
}

#[tokio::test]
async fn section_5_rate_limit_429_is_text_for_non_json_clients() {
    let t = T::new().await;
    rate_limited(&t).await;
    let r = send(
        t.raw(Method::GET, "/api/v2/users")
            .header("accept", "*/*")
            .basic_auth("medic", Some("password")),
    )
    .await;
    assert_eq!((r.status, r.text.as_str()), (429, "Too Many Requests"));
}

#[tokio::test]
async fn section_5_injected_429_bursts_use_the_same_envelope() {
    let t = T::new().await;
    send(
        t.raw(Method::PUT, "/__sim/faults")
            .json(&json!({"burst_429": 1})),
    )
    .await;
    let r = t.get("/api/v2/users").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json, json!({"code": 429, "error": "Too Many Requests"}));
}
