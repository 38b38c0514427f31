//! Checking someone's own CHT username and password (sign-in with a CHT account).
//!
//! One `POST /_session` with those credentials, never retried (a retry of a wrong password would
//! count twice against CHT's login limiter, and could lock the person's CHT account sooner), and
//! the session cookie CHT hands back is dropped at once: the portal acts with its own session,
//! never as the person on CHT. The password travels in the body only, which neither this crate
//! nor reqwest logs.

use http::Method;
use serde::Serialize;

use crate::client::{ChtClient, Req, SessionUser};
use crate::errors::{ChtError, parse_error_body};
use crate::secret::Secret;
use crate::transport::Safety;

/// What CHT said about a username and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialCheck {
    /// CHT accepted them; the name is CHT's spelling of the user.
    Accepted(SessionUser),
    /// CHT refused them (401): wrong password or no such user; CHT does not say which.
    Refused,
}

impl ChtClient {
    /// Asks CHT once whether `username` / `password` are valid on this instance. Errors mean CHT
    /// could not say: unreachable, timed out, rate limiting (429), or an unexpected answer.
    pub async fn check_credentials(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<CredentialCheck, ChtError> {
        #[derive(Serialize)]
        struct Body<'a> {
            name: &'a str,
            password: &'a str,
        }
        let mut req = Req::json(
            Method::POST,
            "/_session",
            &Body {
                name: username,
                password: password.expose(),
            },
            // Unused: this request bypasses the retry loop (sent once, below).
            Safety::Idempotent,
        )?;
        req.auth = false;
        let endpoint = req.endpoint();
        let (status, headers, body) = match self.send_once(&req, None).await {
            Ok(answer) => answer,
            Err(e) => return Err(self.classify(&endpoint, e).1),
        };
        match status {
            200..=299 => {
                let user: SessionUser =
                    serde_json::from_slice(&body).map_err(|e| ChtError::UnexpectedResponse {
                        endpoint: endpoint.clone(),
                        status,
                        detail: format!("cannot decode the answer: {e}"),
                    })?;
                Ok(CredentialCheck::Accepted(user))
            }
            401 => Ok(CredentialCheck::Refused),
            _ => {
                let retry_after = headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| crate::transport::parse_retry_after(v, chrono::Utc::now()));
                Err(ChtError::from_status(
                    endpoint,
                    status,
                    parse_error_body(&body),
                    retry_after,
                    &[],
                ))
            }
        }
    }
}
