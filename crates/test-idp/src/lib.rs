//! A real OpenID Connect provider for tests: `tests/oidc-provider/provider.mjs` (npm
//! `oidc-provider`, a certified OP) started as a child process on a free port, one per test.
//!
//! Sign-in needs no UI: the provider logs in whoever the authorization request's `login_hint`
//! names (an email) and grants `openid email profile`, so a test signs in as anyone:
//! - `sub` is [`subject_for`]`(email)`; `name` is the email's local part;
//! - `email_verified` is false for emails starting with `unverified`, true otherwise;
//! - emails starting with `userinfo-only` get their email and name from the userinfo endpoint
//!   only, not in the ID token.
//!
//! Faults ([`TestIdp::corrupt_next_id_token`], …) let a test prove that the portal refuses
//! bad tokens from a real provider. Needs Node.js (20+; `TEST_IDP_NODE` overrides the binary)
//! and `npm ci --prefix tests/oidc-provider`. `TEST_IDP_LOG=1` shows the provider's stderr.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use test_idp::{TestIdp, TestIdpOptions};
//! let idp = TestIdp::start(TestIdpOptions {
//!     redirect_uris: vec!["http://127.0.0.1:3000/auth/oidc/callback".into()],
//!     ..TestIdpOptions::default()
//! })
//! .await;
//! let browser = TestIdp::browser_client();
//! # let authorization_url = String::new();
//! // `authorization_url` from the portal, with login_hint=nurse@moh.example.org:
//! let callback = idp.follow_authorization(&browser, &authorization_url).await?;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

/// Node starts in well under a second; this only bounds a hung start.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// A sign-in takes three hops (authorization, interaction, resume); more means a loop.
const MAX_REDIRECTS: usize = 10;
const STDERR_LINES_KEPT: usize = 40;

/// The one confidential client the provider knows.
#[derive(Debug, Clone)]
pub struct TestIdpOptions {
    pub client_id: String,
    pub client_secret: String,
    /// Also where [`TestIdp::follow_authorization`] stops.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub id_token_ttl_seconds: u64,
}

impl Default for TestIdpOptions {
    fn default() -> Self {
        Self {
            client_id: "cht-portal".into(),
            client_secret: "test-idp-client-secret".into(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            id_token_ttl_seconds: 300,
        }
    }
}

/// How often the provider served each endpoint, to check the client's caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct IdpStats {
    pub discovery: u64,
    pub jwks: u64,
    pub token: u64,
    pub userinfo: u64,
}

/// A running provider; the process is killed on drop (and exits by itself if the test
/// process dies, when its stdin closes).
pub struct TestIdp {
    issuer: String,
    options: TestIdpOptions,
    child: Child,
    _stdin: ChildStdin,
    http: reqwest::Client,
}

impl std::fmt::Debug for TestIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIdp")
            .field("issuer", &self.issuer)
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

/// The provider's `sub` for an email: the first 32 hex digits of SHA-256 of it, lower-cased.
pub fn subject_for(email: &str) -> String {
    let mut hex = hex::encode(Sha256::digest(email.to_lowercase().as_bytes()));
    hex.truncate(32);
    hex
}

/// `tests/oidc-provider` of this workspace.
pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider")
}

impl TestIdp {
    /// Starts a provider on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When the provider cannot start; the message says what to install or run.
    pub async fn start(options: TestIdpOptions) -> Self {
        match Self::try_start(options).await {
            Ok(idp) => idp,
            Err(e) => panic!("test OpenID Connect provider: {e:#}"),
        }
    }

    async fn try_start(options: TestIdpOptions) -> anyhow::Result<Self> {
        let dir = provider_dir();
        if !dir.join("node_modules/oidc-provider").is_dir() {
            bail!(
                "{}/node_modules is missing; run `npm ci --prefix tests/oidc-provider` in the \
                 workspace once",
                dir.display()
            );
        }
        let config = serde_json::json!({
            "client_id": options.client_id,
            "client_secret": options.client_secret,
            "redirect_uris": options.redirect_uris,
            "post_logout_redirect_uris": options.post_logout_redirect_uris,
            "id_token_ttl_seconds": options.id_token_ttl_seconds,
        });
        let node = std::env::var_os("TEST_IDP_NODE").unwrap_or_else(|| "node".into());
        let mut child = Command::new(&node)
            .arg("provider.mjs")
            .arg("0")
            .arg(config.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot run `{}`: install Node.js 20 or later, or set TEST_IDP_NODE",
                    node.to_string_lossy()
                )
            })?;
        let stdin = child.stdin.take().context("no stdin pipe")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let stderr_tail = keep_tail(stderr);

        // Blocking reads belong on a thread; the first line is the ready signal.
        let (ready, first_line) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = ready.send(lines.next().and_then(Result::ok));
            lines.for_each(drop); // keep draining so the provider never blocks on stdout
        });
        let line = match tokio::time::timeout(START_TIMEOUT, first_line).await {
            Ok(Ok(Some(line))) => line,
            outcome => {
                let _ = child.kill();
                let status = child.wait().ok();
                let why = if outcome.is_err() {
                    format!("it printed nothing within {START_TIMEOUT:?}")
                } else {
                    format!("it exited ({status:?})")
                };
                bail!(
                    "`node provider.mjs` did not start: {why}. If its dependencies are missing \
                     or stale, run `npm ci --prefix tests/oidc-provider`. Its stderr:\n{}",
                    tail_text(&stderr_tail)
                );
            }
        };
        let issuer = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("issuer")?.as_str().map(str::to_owned))
            .with_context(|| format!("unexpected first line from provider.mjs: {line}"))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            issuer,
            options,
            child,
            _stdin: stdin,
            http,
        })
    }

    /// `http://127.0.0.1:PORT`, exactly as the provider names itself.
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    pub fn client_id(&self) -> &str {
        &self.options.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.options.client_secret
    }

    /// A client that behaves like a browser for [`TestIdp::follow_authorization`]: keeps
    /// cookies and leaves redirects to the caller.
    pub fn browser_client() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a plain HTTP client builds")
    }

    /// The next token response carries an ID token whose signature has one byte changed.
    pub async fn corrupt_next_id_token(&self) {
        self.fault(serde_json::json!({ "corrupt_id_token_signature": true }))
            .await;
    }

    /// The next token response carries a validly signed ID token issued to `audience`.
    pub async fn set_next_id_token_audience(&self, audience: &str) {
        self.fault(serde_json::json!({ "id_token_audience": audience }))
            .await;
    }

    /// From now on ID tokens are signed with a new key, published in the JWKS beside the old
    /// one: a client with cached keys must fetch them again.
    pub async fn rotate_signing_key(&self) {
        self.fault(serde_json::json!({ "rotate_signing_key": true }))
            .await;
    }

    /// The next userinfo response claims to be about `subject`.
    pub async fn set_next_userinfo_subject(&self, subject: &str) {
        self.fault(serde_json::json!({ "userinfo_subject": subject }))
            .await;
    }

    pub async fn stats(&self) -> IdpStats {
        let url = format!("{}/__test/stats", self.issuer);
        self.http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    async fn fault(&self, body: serde_json::Value) {
        let url = format!("{}/__test/faults", self.issuer);
        self.http
            .post(&url)
            .json(&body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    }

    /// Plays the browser's part of a sign-in without a browser: GETs `authorization_url` and
    /// follows the provider's redirects (interaction, login and consent, resume) until one
    /// points at a registered redirect URI, which is returned (with `code` and `state`, or
    /// `error`) and not requested.
    ///
    /// `client` must keep cookies and must not follow redirects itself
    /// ([`TestIdp::browser_client`]); reuse it to sign the same "browser" in again.
    pub async fn follow_authorization(
        &self,
        client: &reqwest::Client,
        authorization_url: &str,
    ) -> anyhow::Result<String> {
        let mut url = Url::parse(authorization_url).context("the authorization URL")?;
        for _ in 0..MAX_REDIRECTS {
            let response = client
                .get(url.clone())
                .send()
                .await
                .with_context(|| format!("GET {url}"))?;
            if *response.url() != url {
                bail!(
                    "the reqwest client followed a redirect itself; build it with \
                     redirect::Policy::none() (see TestIdp::browser_client)"
                );
            }
            let status = response.status();
            if !status.is_redirection() {
                let body = response.text().await.unwrap_or_default();
                bail!(
                    "the provider answered {status} to GET {url} instead of redirecting:\n{body}"
                );
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("{status} without a Location from GET {url}"))?;
            let next = url.join(location).context("the Location header")?;
            if self
                .options
                .redirect_uris
                .iter()
                .any(|r| next.as_str().starts_with(r.as_str()))
            {
                return Ok(next.into());
            }
            url = next;
        }
        bail!("no redirect to a registered redirect URI within {MAX_REDIRECTS} hops (last: {url})")
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Tail = Arc<Mutex<VecDeque<String>>>;

/// Drains `stderr` on a thread, keeping the last lines for start-up error messages.
fn keep_tail(stderr: impl Read + Send + 'static) -> Tail {
    let tail = Tail::default();
    let kept = tail.clone();
    let echo = std::env::var_os("TEST_IDP_LOG").is_some();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if echo {
                eprintln!("[test-idp] {line}");
            }
            let mut tail = kept
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if tail.len() == STDERR_LINES_KEPT {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    });
    tail
}

fn tail_text(tail: &Tail) -> String {
    // The reader thread may still be collecting the last lines of a dying process.
    std::thread::sleep(Duration::from_millis(100));
    let tail = tail
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    tail.iter().cloned().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_matches_the_provider_script() {
        // `printf nurse@moh.example.org | sha256sum | cut -c1-32`
        assert_eq!(
            subject_for("Nurse@MOH.example.org"),
            "4eea46ceeb4aa455e9e7434f412d758f"
        );
    }
}
