//! `/_session` (proxied to CouchDB in CHT) and `POST /medic/login`.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::auth::{self, UserCtx};
use crate::errors::ApiError;
use crate::server::{ReqCtx, Sim, ok_json};
use crate::store::RevCheck;
use crate::util::str_field;

/// CHT's CouchDB: `timeout = 31536000`, `allow_persistent_cookies = true`.
const SESSION_SECONDS: u64 = 31_536_000;
/// `connected-user-<name>` is refreshed at most this often.
const CONNECTED_USER_INTERVAL_MS: u64 = 30 * 60 * 1000;

type Result<T> = std::result::Result<T, ApiError>;

/// Who issues the `AuthSession` cookie decides its attributes (contract §2.2).
#[derive(Clone, Copy)]
enum CookieIssuer {
    /// `POST /_session` is proxied to CouchDB, which sets no `SameSite` by default.
    CouchDb,
    /// `POST /medic/login` re-issues the cookie with `SameSite=Lax` (and `Secure` only when
    /// CHT runs with `NODE_ENV=production`, which the plain-HTTP simulator does not model).
    ChtLogin,
}

/// The token is the same for both issuers, so clients that copy `AuthSession=<value>` from
/// `set-cookie` (the User Management Tool) keep working whichever way they signed in.
fn session_cookie(sim: &Sim, user: &UserCtx, now: u64, issuer: CookieIssuer) -> String {
    let salt = auth::salt_of(&sim.read(), &sim.credentials(), &user.name).unwrap_or_default();
    let token = auth::session_token(&sim.credentials(), &user.name, &salt, now);
    let base =
        format!("AuthSession={token}; Version=1; Max-Age={SESSION_SECONDS}; Path=/; HttpOnly");
    match issuer {
        CookieIssuer::CouchDb => base,
        CookieIssuer::ChtLogin => format!("{base}; SameSite=Lax"),
    }
}

/// Records the caller's last connection in `medic-logs` (throttled to every 30 minutes).
pub fn log_connection(sim: &Sim, name: &str) {
    let now = sim.now_ms();
    let id = format!("connected-user-{name}");
    let mut store = sim.write();
    let fresh = store
        .logs
        .live(&id)
        .and_then(|d| d.get("timestamp").and_then(Value::as_u64))
        .is_some_and(|ts| now.saturating_sub(ts) < CONNECTED_USER_INTERVAL_MS);
    if !fresh {
        let mut body = Map::new();
        body.insert("user".into(), Value::String(name.to_string()));
        body.insert("timestamp".into(), Value::from(now));
        store.put_log(&id, body);
    }
}

fn credentials_from_body(ctx: &ReqCtx) -> Option<(String, String)> {
    let body: Value = if ctx.is_exact_json() || ctx.content_type.is_none() {
        serde_json::from_slice(&ctx.body).ok()?
    } else {
        // CouchDB also takes a form body
        let pairs: Map<String, Value> = url::form_urlencoded::parse(&ctx.body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Value::Object(pairs)
    };
    Some((
        str_field(&body, "name")?.to_string(),
        str_field(&body, "password")?.to_string(),
    ))
}

pub async fn post(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    let bad = || ApiError::couch(401, "unauthorized", "Name or password is incorrect.");
    let (name, password) = credentials_from_body(&ctx).ok_or_else(bad)?;
    let user = {
        let store = sim.read();
        auth::verify_password(&store, &sim.credentials(), &name, &password)
    }
    .ok_or_else(bad)?;
    log_connection(&sim, &user.name);
    let cookie = session_cookie(&sim, &user, sim.now_ms(), CookieIssuer::CouchDb);
    let mut res = ok_json(&json!({"ok": true, "name": user.name, "roles": user.roles}));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

pub async fn get(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    let user = ctx.couch_user()?;
    log_connection(&sim, &user.name);
    let method = if user.via_basic { "default" } else { "cookie" };
    Ok(ok_json(&json!({
        "ok": true,
        "userCtx": {"name": user.name, "roles": user.roles},
        "info": {"authentication_handlers": ["cookie", "default"], "authenticated": method}
    })))
}

pub async fn delete() -> Response {
    let mut res = ok_json(&json!({"ok": true}));
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("AuthSession=; Version=1; Path=/; HttpOnly; Max-Age=0"),
    );
    res
}

pub async fn login_page() -> Response {
    let mut res = (
        StatusCode::OK,
        "<!DOCTYPE html><html><head><title>CHT simulator login</title></head><body>\
         <p>This is the CHT API simulator. Sign in with POST /medic/login.</p></body></html>",
    )
        .into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

fn not_logged_in_json(message: &str) -> ApiError {
    ApiError::Json {
        status: 401,
        body: json!({"error": message}),
    }
}

fn user_ctx_cookie(user: &UserCtx, home: Option<&str>) -> String {
    let mut v = json!({"name": user.name, "roles": user.roles});
    if let Some(h) = home {
        v["home"] = Value::String(h.to_string());
    }
    format!(
        "userCtx={}; Max-Age={SESSION_SECONDS}; Path=/; SameSite=Lax",
        crate::util::encode_uri_component(&v.to_string())
    )
}

/// `POST /medic/login`: 302 with the redirect path as a text body and no `Location` header.
pub async fn login(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    let body = ctx.json_body()?;
    let name = str_field(&body, "user").unwrap_or("");
    let password = str_field(&body, "password").unwrap_or("");
    let user = {
        let store = sim.read();
        auth::verify_password(&store, &sim.credentials(), name, password)
    }
    .ok_or_else(|| not_logged_in_json("Not logged in"))?;

    let (sso_user, change_required) = {
        let store = sim.read();
        let doc = store.users.live(&format!("org.couchdb.user:{}", user.name));
        let sso = doc.and_then(|d| str_field(d, "oidc_username")).is_some()
            && store.settings.oidc_enabled();
        let change = doc
            .and_then(|d| d.get("password_change_required"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        (sso, change)
    };
    if sso_user {
        return Err(not_logged_in_json(
            "Password Login Not Permitted For SSO Users",
        ));
    }
    if user.server_admin {
        ensure_admin_settings_doc(&sim, &user);
    }
    let mut cookies = Vec::new();
    let target = if change_required {
        "/medic/password-reset".to_string()
    } else {
        cookies.push(session_cookie(
            &sim,
            &user,
            sim.now_ms(),
            CookieIssuer::ChtLogin,
        ));
        redirect_target(&sim, &user, str_field(&body, "redirect"))
    };
    cookies.push(user_ctx_cookie(&user, None));
    let locale = str_field(&body, "locale").unwrap_or("en");
    cookies.push(format!(
        "locale={locale}; Max-Age={SESSION_SECONDS}; Path=/; SameSite=Lax"
    ));
    let mut res = (StatusCode::FOUND, target).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

fn redirect_target(sim: &Sim, user: &UserCtx, requested: Option<&str>) -> String {
    let store = sim.read();
    let online = crate::settings::is_online(&user.roles);
    if online
        && store
            .settings
            .has_permission(&user.roles, "can_configure", sim.version())
    {
        return "/admin/".into();
    }
    match requested {
        Some(r) if r.starts_with('/') && !r.starts_with("//") => r.to_string(),
        _ => "/".into(),
    }
}

/// A server admin's user-settings doc only appears after the first web-app login.
fn ensure_admin_settings_doc(sim: &Sim, user: &UserCtx) {
    let id = format!("org.couchdb.user:{}", user.name);
    let mut store = sim.write();
    if store.medic.live(&id).is_none() {
        let mut body = Map::new();
        body.insert("name".into(), Value::String(user.name.clone()));
        body.insert("type".into(), Value::String("user-settings".into()));
        body.insert("roles".into(), json!(user.roles));
        body.insert("facility_id".into(), Value::Null);
        body.insert("contact_id".into(), Value::Null);
        body.insert("known".into(), Value::Bool(true));
        let _ = store.put_medic(&id, body, RevCheck::Ignore);
    }
}
