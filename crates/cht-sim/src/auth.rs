//! Authentication (Basic, `AuthSession` cookie), password rules and the login rate limiter.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::{Store, facility_ids};
use crate::util::str_field;

/// Who is calling, as CouchDB's `/_session` would report it.
#[derive(Debug, Clone)]
pub struct UserCtx {
    pub name: String,
    pub roles: Vec<String>,
    /// A CouchDB server admin (the `--admin-user`), who has no `_users` doc.
    pub server_admin: bool,
    /// Authenticated through `Authorization: Basic` on this request.
    pub via_basic: bool,
    pub facility_id: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    /// Credentials were sent but CouchDB would refuse them.
    Invalid,
    User(UserCtx),
}

pub fn hash_password(salt: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// CouchDB stores a derived key, never the password; the simulator uses salted SHA-256.
pub fn password_fields(salt: &str, password: &str) -> [(String, Value); 4] {
    [
        (
            "password_scheme".into(),
            Value::String("simulated-sha256".into()),
        ),
        ("iterations".into(), Value::from(1)),
        ("salt".into(), Value::String(salt.to_string())),
        (
            "derived_key".into(),
            Value::String(hash_password(salt, password)),
        ),
    ]
}

pub fn parse_basic(header: Option<&str>) -> Option<(String, String)> {
    let encoded = header?
        .strip_prefix("Basic ")
        .or_else(|| header?.strip_prefix("basic "))?;
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

pub fn cookie_value<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

pub struct Credentials<'a> {
    pub admin_user: &'a str,
    pub admin_password: &'a str,
    pub secret: &'a str,
}

/// Checks a name/password pair against the server admin and `_users`.
pub fn verify_password(
    store: &Store,
    creds: &Credentials<'_>,
    name: &str,
    password: &str,
) -> Option<UserCtx> {
    if name == creds.admin_user {
        return (password == creds.admin_password).then(|| admin_ctx(name));
    }
    let doc = store.users.live(&format!("org.couchdb.user:{name}"))?;
    let salt = str_field(doc, "salt")?;
    let key = str_field(doc, "derived_key")?;
    (hash_password(salt, password) == key).then(|| user_ctx(name, doc))
}

fn admin_ctx(name: &str) -> UserCtx {
    UserCtx {
        name: name.to_string(),
        roles: vec!["_admin".into()],
        server_admin: true,
        via_basic: false,
        facility_id: Vec::new(),
    }
}

fn user_ctx(name: &str, doc: &Value) -> UserCtx {
    UserCtx {
        name: name.to_string(),
        roles: doc
            .get("roles")
            .and_then(|r| serde_json::from_value(r.clone()).ok())
            .unwrap_or_default(),
        server_admin: false,
        via_basic: false,
        facility_id: facility_ids(doc),
    }
}

/// The session token binds name, issue time and the user's salt, like CouchDB's cookie: a
/// password change (new salt) invalidates old cookies, and a persisted secret keeps cookies
/// valid across restarts.
pub fn session_token(creds: &Credentials<'_>, name: &str, salt: &str, issued_ms: u64) -> String {
    let payload = format!("{name}:{issued_ms:x}");
    let mac = mac(creds.secret, &payload, salt);
    URL_SAFE_NO_PAD.encode(format!("{payload}:{mac}"))
}

fn mac(secret: &str, payload: &str, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update(payload.as_bytes());
    h.update(salt.as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn salt_of(store: &Store, creds: &Credentials<'_>, name: &str) -> Option<String> {
    if name == creds.admin_user {
        return Some(String::new());
    }
    store
        .users
        .live(&format!("org.couchdb.user:{name}"))
        .and_then(|d| str_field(d, "salt").map(String::from))
}

fn verify_token(store: &Store, creds: &Credentials<'_>, token: &str) -> Option<UserCtx> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (payload, given_mac) = raw.rsplit_once(':')?;
    let (name, _) = payload.rsplit_once(':')?;
    let salt = salt_of(store, creds, name)?;
    if mac(creds.secret, payload, &salt) != given_mac {
        return None;
    }
    if name == creds.admin_user {
        return Some(admin_ctx(name));
    }
    let doc = store.users.live(&format!("org.couchdb.user:{name}"))?;
    Some(user_ctx(name, doc))
}

/// Resolves the caller from `Authorization` (preferred, as CouchDB does) or `AuthSession`.
pub fn resolve(
    store: &Store,
    creds: &Credentials<'_>,
    authorization: Option<&str>,
    cookie: Option<&str>,
) -> Auth {
    if let Some(h) = authorization {
        return match parse_basic(Some(h)) {
            Some((u, p)) => match verify_password(store, creds, &u, &p) {
                Some(mut ctx) => {
                    ctx.via_basic = true;
                    Auth::User(ctx)
                }
                None => Auth::Invalid,
            },
            None => Auth::Invalid,
        };
    }
    match cookie_value(cookie, "AuthSession").filter(|t| !t.is_empty()) {
        Some(t) => verify_token(store, creds, t).map_or(Auth::Invalid, Auth::User),
        None => Auth::Anonymous,
    }
}

/// `simple-password-tester`: length + 2·distinct + 15·(classes − 1).
pub fn password_score(p: &str) -> usize {
    let len = p.chars().count();
    let mut distinct: Vec<char> = p.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let classes = [
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        // `\W`: anything but [A-Za-z0-9_]
        p.chars().any(|c| !(c.is_ascii_alphanumeric() || c == '_')),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    len + 2 * distinct.len() + 15 * classes.saturating_sub(1)
}

pub fn username_valid(u: &str) -> bool {
    !u.is_empty()
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// 10 failures (responses 401/429) per 10 s per key; keys are the IP, `body.user`,
/// `body.password` and both halves of a Basic header.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (u64, u32)>>,
}

pub const RATE_LIMIT_POINTS: u32 = 10;
pub const RATE_LIMIT_WINDOW_MS: u64 = 10_000;

impl RateLimiter {
    pub fn is_limited(&self, keys: &[String], now_ms: u64) -> bool {
        let map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter().any(|k| {
            map.get(k).is_some_and(|(start, n)| {
                now_ms.saturating_sub(*start) < RATE_LIMIT_WINDOW_MS && *n >= RATE_LIMIT_POINTS
            })
        })
    }

    pub fn consume(&self, keys: &[String], now_ms: u64) {
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            let e = map.entry(k.clone()).or_insert((now_ms, 0));
            if now_ms.saturating_sub(e.0) >= RATE_LIMIT_WINDOW_MS {
                *e = (now_ms, 0);
            }
            e.1 += 1;
        }
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now_ms.saturating_sub(*start) < RATE_LIMIT_WINDOW_MS);
        }
    }

    pub fn clear(&self) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_matches_contract_table() {
        assert_eq!(password_score("password"), 22);
        assert_eq!(password_score("abcd1234"), 39);
        assert_eq!(password_score("Abcd1234"), 54);
        assert_eq!(password_score("Secret12"), 52);
        assert_eq!(password_score("pass1234!"), 55);
        // underscore is a word character, not a symbol
        assert_eq!(password_score("a_a_a_a_"), 8 + 4);
    }

    #[test]
    fn basic_header_parses() {
        let h = format!("Basic {}", STANDARD.encode("medic:pa:ss"));
        assert_eq!(
            parse_basic(Some(&h)),
            Some(("medic".into(), "pa:ss".into()))
        );
    }

    #[test]
    fn limiter_trips_after_ten_and_resets_after_window() {
        let l = RateLimiter::default();
        let k = vec!["ip:1".to_string()];
        for _ in 0..9 {
            l.consume(&k, 0);
        }
        assert!(!l.is_limited(&k, 0));
        l.consume(&k, 0);
        assert!(l.is_limited(&k, 9_999));
        assert!(!l.is_limited(&k, 10_000));
    }
}
