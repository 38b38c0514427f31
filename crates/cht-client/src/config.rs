//! Per-instance client configuration.

use std::time::Duration;

use url::Url;

use crate::errors::ChtError;
use crate::secret::Secret;
use crate::transport::RetryPolicy;

/// Everything needed to talk to one CHT instance with its service account.
#[derive(Debug, Clone)]
pub struct ChtConfig {
    /// Instance root, e.g. `https://moh-kenya.app.medicmobile.org`. Never carries credentials.
    pub base_url: Url,
    pub username: String,
    pub password: Secret,
    /// TCP + TLS connect limit per attempt.
    pub connect_timeout: Duration,
    /// Whole-request limit per attempt (connect, send, headers and body).
    pub request_timeout: Duration,
    /// Requests in flight at once against this instance, across all clones of the client.
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    pub user_agent: String,
}

impl ChtConfig {
    /// Defaults: 5 s connect, 30 s request, 8 concurrent requests, [`RetryPolicy::default`].
    pub fn new(
        base_url: &str,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Result<Self, ChtError> {
        let mut url =
            Url::parse(base_url).map_err(|e| ChtError::Config(format!("invalid CHT URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ChtError::Config(format!(
                "CHT URL must be http or https, got {}",
                url.scheme()
            )));
        }
        // Credentials in the URL would end up in error messages and logs.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ChtError::Config(
                "the CHT URL must not contain credentials; pass them separately".into(),
            ));
        }
        url.set_query(None);
        url.set_fragment(None);
        let trimmed = url.path().trim_end_matches('/').to_string();
        url.set_path(&trimmed);
        Ok(Self {
            base_url: url,
            username: username.into(),
            password: password.into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_concurrency: 8,
            retry: RetryPolicy::default(),
            user_agent: concat!("cht-portal-client/", env!("CARGO_PKG_VERSION")).into(),
        })
    }

    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The base URL as a string without a trailing slash (paths start with `/`).
    pub(crate) fn base(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_credentials_in_url_and_normalises_path() {
        assert!(matches!(
            ChtConfig::new("https://medic:pw@cht.example.org", "medic", "pw"),
            Err(ChtError::Config(_))
        ));
        assert!(ChtConfig::new("ftp://cht.example.org", "a", "b").is_err());
        let c = ChtConfig::new("https://cht.example.org/sub/?x=1", "a", "b").unwrap();
        assert_eq!(c.base(), "https://cht.example.org/sub");
        let c = ChtConfig::new("http://127.0.0.1:5988", "a", "b").unwrap();
        assert_eq!(c.base(), "http://127.0.0.1:5988");
        assert!(!format!("{c:?}").contains("\"b\""));
    }
}
