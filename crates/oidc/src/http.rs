//! The back channel to providers: openidconnect's [`AsyncHttpClient`] over reqwest 0.13.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

use crate::error::chain;

/// Larger answers (discovery, JWKS, tokens, userinfo are a few KiB) are refused rather than
/// buffered: a misbehaving provider must not exhaust the portal's memory.
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("{0}")]
    Transport(String),
    #[error("the answer is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

/// A reqwest client that never follows redirects (a redirect from a token or JWKS endpoint
/// could point the portal at an internal address, SSRF), keeps no cookies and gives every
/// request `timeout`, connecting included.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
}

impl Http {
    pub(crate) fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!(
                "cht-portal/",
                env!("CARGO_PKG_VERSION"),
                " (OpenID Connect)"
            ))
            .build()
            // Only fails when the TLS backend cannot initialise: a broken build, not input.
            .expect("the TLS backend initialises");
        Self { client }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request =
            reqwest::Request::try_from(request).map_err(|e| HttpError::Transport(chain(&e)))?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| HttpError::Transport(chain(&e)))?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(HttpError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError::Transport(chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let mut out = HttpResponse::new(body);
        *out.status_mut() = response.status();
        *out.headers_mut() = std::mem::take(response.headers_mut());
        Ok(out)
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    // Boxed so that the name is writable and `Send`, which axum handlers need.
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
