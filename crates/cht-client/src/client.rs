//! `ChtClient`: one per CHT instance, cheap to clone. Owns the HTTP client, the session, the
//! per-instance concurrency limit and the retry loop every operation goes through.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, HeaderValue, Method, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, RwLock, Semaphore};

use crate::config::ChtConfig;
use crate::errors::{ChtError, Endpoint, parse_error_body};
use crate::secret::SessionCookie;
use crate::transport::{Decision, Failure, Safety, decide, parse_retry_after};
use crate::version::{ChtInfo, ChtVersion};

/// A cloneable handle on one CHT instance. All clones share the session, the concurrency
/// limit and the cached version.
#[derive(Clone)]
pub struct ChtClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ChtClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChtClient")
            .field("base_url", &self.inner.base)
            .field("username", &self.inner.cfg.username)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) cfg: ChtConfig,
    base: String,
    http: reqwest::Client,
    limiter: Semaphore,
    session: Mutex<SessionState>,
    info: RwLock<Option<ChtInfo>>,
    stats: Counters,
}

#[derive(Default)]
struct SessionState {
    cookie: Option<SessionCookie>,
    /// Bumped on every login, so concurrent 401s trigger one login, not one each.
    generation: u64,
    user: Option<SessionUser>,
}

/// Who the service account is, as `POST /_session` reported it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SessionUser {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Default)]
struct Counters {
    attempts: AtomicU64,
    retries: AtomicU64,
    logins: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    unknown_outcomes: AtomicU64,
}

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent (every attempt, logins included).
    pub attempts: u64,
    /// Attempts that were retries after a failure.
    pub retries: u64,
    /// Successful `POST /_session` logins.
    pub logins: u64,
    pub in_flight: u64,
    /// The most requests observed in flight at once.
    pub max_in_flight: u64,
    /// Creates whose answer was lost (resolved by reading back, never re-sent blindly).
    pub unknown_outcomes: u64,
}

/// One request as the retry loop sees it.
pub(crate) struct Req {
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
    pub body: Option<Vec<u8>>,
    pub safety: Safety,
    /// Send the session cookie (and log in first if needed).
    pub auth: bool,
    /// The permissions CHT requires for this endpoint (contract §3.3), for `Forbidden`.
    pub perms: &'static [&'static str],
}

impl Req {
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            body: None,
            safety: Safety::Idempotent,
            auth: true,
            perms: &[],
        }
    }

    pub fn json(
        method: Method,
        path: impl Into<String>,
        body: &impl Serialize,
        safety: Safety,
    ) -> Result<Self, ChtError> {
        let path = path.into();
        let body = serde_json::to_vec(body)
            .map_err(|e| ChtError::Config(format!("cannot encode body for {path}: {e}")))?;
        Ok(Self {
            method,
            path,
            body: Some(body),
            safety,
            auth: true,
            perms: &[],
        })
    }

    pub fn perms(mut self, perms: &'static [&'static str]) -> Self {
        self.perms = perms;
        self
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.method.as_str(), &self.path)
    }
}

/// A successful answer. Not `Debug`: the login reply's headers carry the session cookie.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub endpoint: Endpoint,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ChtError> {
        serde_json::from_slice(&self.body).map_err(|e| ChtError::UnexpectedResponse {
            endpoint: self.endpoint.clone(),
            status: self.status,
            detail: format!("cannot decode the answer: {e}"),
        })
    }
}

/// The outcome of [`ChtClient::execute_tracked`].
pub(crate) struct Tracked {
    pub result: Result<Reply, ChtError>,
    /// Some attempt failed in a way that may have applied the request on the server.
    pub uncertain: bool,
}

impl ChtClient {
    pub fn new(cfg: ChtConfig) -> Result<Self, ChtError> {
        if cfg.max_concurrency == 0 {
            return Err(ChtError::Config(
                "max_concurrency must be at least 1".into(),
            ));
        }
        if cfg.retry.max_attempts == 0 {
            return Err(ChtError::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            // A 302 from CHT means "go to the login page"; following it would hide the 401.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(cfg.user_agent.clone())
            .build()
            .map_err(|e| ChtError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                base: cfg.base(),
                limiter: Semaphore::new(cfg.max_concurrency),
                http,
                cfg,
                session: Mutex::new(SessionState::default()),
                info: RwLock::new(None),
                stats: Counters::default(),
            }),
        })
    }

    pub fn config(&self) -> &ChtConfig {
        &self.inner.cfg
    }

    pub fn stats(&self) -> ClientStats {
        let s = &self.inner.stats;
        ClientStats {
            attempts: s.attempts.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            logins: s.logins.load(Ordering::Relaxed),
            in_flight: s.in_flight.load(Ordering::Relaxed),
            max_in_flight: s.max_in_flight.load(Ordering::Relaxed),
            unknown_outcomes: s.unknown_outcomes.load(Ordering::Relaxed),
        }
    }

    /// Logs in now (normally done lazily) and returns who the service account is.
    pub async fn login(&self) -> Result<SessionUser, ChtError> {
        let mut state = self.inner.session.lock().await;
        self.login_locked(&mut state).await?;
        state
            .user
            .clone()
            .ok_or_else(|| ChtError::Config("login left no user".into()))
    }

    /// The logged-in service account, logging in if there is no session yet.
    pub async fn session_user(&self) -> Result<SessionUser, ChtError> {
        {
            let state = self.inner.session.lock().await;
            if let (Some(_), Some(u)) = (&state.cookie, &state.user) {
                return Ok(u.clone());
            }
        }
        self.login().await
    }

    /// Forgets the session cookie locally; the next call logs in again.
    pub async fn forget_session(&self) {
        let mut state = self.inner.session.lock().await;
        state.cookie = None;
    }

    async fn login_locked(&self, state: &mut SessionState) -> Result<(), ChtError> {
        #[derive(Serialize)]
        struct Body<'a> {
            name: &'a str,
            password: &'a str,
        }
        let cfg = &self.inner.cfg;
        let mut req = Req::json(
            Method::POST,
            "/_session",
            &Body {
                name: &cfg.username,
                password: cfg.password.expose(),
            },
            // A login creates nothing but a cookie; repeating it is harmless.
            Safety::Idempotent,
        )?;
        req.auth = false;
        // Boxed: execute_tracked → session → login → execute_tracked is a recursive cycle.
        let reply = Box::pin(self.execute_tracked(req)).await.result?;
        let cookie = reply
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                let first = c.split(';').next()?.trim();
                let value = first.strip_prefix("AuthSession=")?;
                (!value.is_empty()).then(|| value.to_string())
            })
            .ok_or_else(|| ChtError::UnexpectedResponse {
                endpoint: reply.endpoint.clone(),
                status: reply.status,
                detail: "login succeeded but CHT set no AuthSession cookie".into(),
            })?;
        let user: SessionUser = reply.json()?;
        state.cookie = Some(SessionCookie::new(cookie));
        state.generation += 1;
        state.user = Some(user);
        self.inner.stats.logins.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(user = %cfg.username, base = %self.inner.base, "logged in to CHT");
        Ok(())
    }

    async fn current_cookie(&self) -> Result<(SessionCookie, u64), ChtError> {
        let mut state = self.inner.session.lock().await;
        if state.cookie.is_none() {
            self.login_locked(&mut state).await?;
        }
        match &state.cookie {
            Some(c) => Ok((c.clone(), state.generation)),
            None => Err(ChtError::Config("login left no session".into())),
        }
    }

    /// Logs in again unless another task already did since `seen` was handed out.
    async fn relogin(&self, seen: u64) -> Result<(), ChtError> {
        let mut state = self.inner.session.lock().await;
        if state.generation != seen && state.cookie.is_some() {
            return Ok(());
        }
        state.cookie = None;
        self.login_locked(&mut state).await
    }

    pub(crate) async fn execute(&self, req: Req) -> Result<Reply, ChtError> {
        self.execute_tracked(req).await.result
    }

    /// The retry loop: session, concurrency permit, one attempt, then [`decide`].
    pub(crate) async fn execute_tracked(&self, req: Req) -> Tracked {
        let endpoint = req.endpoint();
        let policy = &self.inner.cfg.retry;
        let mut attempt = 0u32;
        let mut relogged = false;
        let mut uncertain = false;
        loop {
            attempt += 1;
            let session = if req.auth {
                match self.current_cookie().await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        return Tracked {
                            result: Err(e),
                            uncertain,
                        };
                    }
                }
            } else {
                None
            };
            let sent = self.send_once(&req, session.as_ref().map(|s| &s.0)).await;
            let (failure, error, retry_after) = match sent {
                Ok((status, headers, body)) if (200..300).contains(&status) => {
                    return Tracked {
                        result: Ok(Reply {
                            status,
                            headers,
                            body,
                            endpoint,
                        }),
                        uncertain,
                    };
                }
                Ok((401, _, _)) if req.auth && !relogged => {
                    // The session expired or was revoked: one fresh login, then the same request.
                    relogged = true;
                    attempt -= 1;
                    let seen = session.map_or(0, |s| s.1);
                    if let Err(e) = self.relogin(seen).await {
                        return Tracked {
                            result: Err(e),
                            uncertain,
                        };
                    }
                    continue;
                }
                Ok((status, headers, body)) => {
                    let retry_after = headers
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                    let error = if (300..400).contains(&status) {
                        ChtError::UnexpectedResponse {
                            endpoint: endpoint.clone(),
                            status,
                            detail: "redirect (CHT sends one to the login page when it does not \
                                     see a JSON client)"
                                .into(),
                        }
                    } else {
                        ChtError::from_status(
                            endpoint.clone(),
                            status,
                            parse_error_body(&body),
                            retry_after,
                            req.perms,
                        )
                    };
                    (Failure::Status(status), error, retry_after)
                }
                Err(e) => {
                    let (failure, error) = self.classify(&endpoint, e);
                    (failure, error, None)
                }
            };
            let decision = decide(req.safety, failure, attempt, policy.max_attempts, uncertain);
            uncertain |= failure.may_have_applied();
            tracing::debug!(%endpoint, attempt, ?failure, ?decision, "CHT request failed");
            match decision {
                Decision::Retry => {
                    let unit: f64 = rand::random();
                    let Some(delay) = policy.delay(attempt - 1, retry_after, unit) else {
                        return Tracked {
                            result: Err(error),
                            uncertain,
                        };
                    };
                    self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                }
                Decision::Fail => {
                    return Tracked {
                        result: Err(error),
                        uncertain,
                    };
                }
                Decision::Unknown => {
                    self.inner
                        .stats
                        .unknown_outcomes
                        .fetch_add(1, Ordering::Relaxed);
                    return Tracked {
                        result: Err(ChtError::OutcomeUnknown {
                            endpoint,
                            cause: error.to_string(),
                        }),
                        uncertain: true,
                    };
                }
                Decision::Done => {
                    return Tracked {
                        result: Ok(Reply {
                            status: 200,
                            headers: HeaderMap::new(),
                            body: b"null".to_vec(),
                            endpoint,
                        }),
                        uncertain,
                    };
                }
            }
        }
    }

    pub(crate) fn classify(&self, endpoint: &Endpoint, e: reqwest::Error) -> (Failure, ChtError) {
        let url = format!("{}{}", self.inner.base, endpoint.path);
        let (is_connect, is_timeout) = (e.is_connect(), e.is_timeout());
        let e = e.without_url();
        let cause = {
            let mut text = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                text.push_str(": ");
                text.push_str(&s.to_string());
                src = s.source();
            }
            text
        };
        if is_connect {
            // The request never left: whatever CHT does, it did not see this one.
            let error = if is_timeout {
                ChtError::Timeout {
                    endpoint: endpoint.clone(),
                    timeout: self.inner.cfg.connect_timeout,
                }
            } else {
                ChtError::Unreachable {
                    endpoint: endpoint.clone(),
                    url,
                    cause,
                }
            };
            (Failure::NotSent, error)
        } else if is_timeout {
            (
                Failure::Lost,
                ChtError::Timeout {
                    endpoint: endpoint.clone(),
                    timeout: self.inner.cfg.request_timeout,
                },
            )
        } else {
            (
                Failure::Lost,
                ChtError::Unreachable {
                    endpoint: endpoint.clone(),
                    url,
                    cause,
                },
            )
        }
    }

    /// One HTTP exchange under the concurrency limit, body included.
    pub(crate) async fn send_once(
        &self,
        req: &Req,
        cookie: Option<&SessionCookie>,
    ) -> Result<(u16, HeaderMap, Vec<u8>), reqwest::Error> {
        let inner = &self.inner;
        // The semaphore is never closed, so acquire cannot fail.
        let _permit = inner.limiter.acquire().await.ok();
        let stats = &inner.stats;
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        stats.attempts.fetch_add(1, Ordering::Relaxed);
        let _guard = InFlight(&stats.in_flight);

        let url = format!("{}{}", inner.base, req.path);
        let mut rb = inner
            .http
            .request(req.method.clone(), url)
            .header(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(c) = cookie
            && let Ok(mut v) = HeaderValue::from_str(&c.header_value())
        {
            v.set_sensitive(true);
            rb = rb.header(header::COOKIE, v);
        }
        if let Some(body) = &req.body {
            // Exactly this value: CHT rejects `application/json; charset=utf-8` (contract §4).
            rb = rb
                .header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .body(body.clone());
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok((status, headers, body))
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(&self, req: Req) -> Result<T, ChtError> {
        self.execute(req).await?.json()
    }

    /// The detected CHT version, detected on first use and cached.
    pub async fn info(&self) -> Result<ChtInfo, ChtError> {
        if let Some(i) = self.inner.info.read().await.clone() {
            return Ok(i);
        }
        self.detect_version().await
    }

    pub async fn version(&self) -> Result<ChtVersion, ChtError> {
        Ok(self.info().await?.version)
    }

    /// Re-reads the version (e.g. after an upgrade of the instance).
    pub async fn detect_version(&self) -> Result<ChtInfo, ChtError> {
        let info = crate::info::detect(self).await?;
        *self.inner.info.write().await = Some(info.clone());
        Ok(info)
    }

    /// Fails with `Unsupported` unless the instance runs at least `required`.
    pub(crate) async fn require_version(
        &self,
        operation: &'static str,
        required: ChtVersion,
    ) -> Result<ChtVersion, ChtError> {
        let actual = self.version().await?;
        if actual < required {
            return Err(ChtError::Unsupported {
                operation,
                required,
                actual,
            });
        }
        Ok(actual)
    }
}

struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Percent-encodes one path segment (usernames and doc ids may contain `:` and spaces).
pub(crate) fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Builds `path?k=v&…` with form encoding.
pub(crate) fn with_query(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    format!("{path}?{q}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("org.couchdb.user:mary"), "org.couchdb.user%3Amary");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
        assert_eq!(
            with_query("/x", &[("key", "[\"a b\"]".into())]),
            "/x?key=%5B%22a+b%22%5D"
        );
    }
}
