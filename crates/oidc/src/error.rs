//! [`OidcError`]: what went wrong, in terms an administrator can act on.
//!
//! Messages never carry the client secret, codes, tokens or response bodies (a token
//! endpoint's body holds tokens); provider-supplied text is truncated.

use std::error::Error as StdError;

use openidconnect::core::CoreErrorResponseType;
use openidconnect::{
    ClaimsVerificationError, DiscoveryError, RequestTokenError, SignatureVerificationError,
    StandardErrorResponse, UserInfoError,
};

use crate::http::HttpError;

/// Longest provider-supplied text (an `error_description`) repeated in a message.
const MAX_PROVIDER_TEXT: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider's settings are unusable before anything is sent.
    #[error("OpenID Connect settings: {0}")]
    Config(String),

    /// Discovery (or a later JWKS fetch) failed: issuer unreachable, wrong or invalid.
    #[error(
        "cannot use the OpenID Connect provider at {issuer}: {reason}. Check the issuer URL \
         (the provider must serve {issuer}/.well-known/openid-configuration) and that the \
         portal can reach it"
    )]
    Discovery { issuer: String, reason: String },

    /// The token endpoint did not exchange the authorization code.
    #[error("{}", exchange_message(.oauth_error.as_deref(), .detail))]
    Exchange {
        /// The OAuth error code (`invalid_client`, `invalid_grant`, …) when the provider sent one.
        oauth_error: Option<String>,
        detail: String,
    },

    /// The ID token failed a check other than nonce and expiry (signature, issuer, audience…).
    #[error("the provider's ID token was refused: {0}")]
    InvalidIdToken(String),

    #[error(
        "the ID token was not issued for this sign-in attempt (nonce mismatch); the user should \
         sign in again. If it keeps happening, a token may be being replayed"
    )]
    NonceMismatch,

    #[error(
        "the ID token has expired, or the portal's and the provider's clocks differ by more than \
         a minute; check both clocks (NTP) and the provider's ID token lifetime"
    )]
    Expired,

    #[error("the provider's userinfo endpoint failed: {0}")]
    UserInfo(String),
}

fn exchange_message(oauth_error: Option<&str>, detail: &str) -> String {
    let hint = match oauth_error {
        Some("invalid_client" | "unauthorized_client") => {
            "check the client id and client secret registered at the provider"
        }
        Some("invalid_grant") => {
            "the code was used already or expired, or the redirect URL differs from the one \
             registered at the provider; the user should sign in again"
        }
        Some(_) => "check the client's registration at the provider",
        None => "check that the portal can reach the provider's token endpoint",
    };
    match oauth_error {
        Some(code) => {
            format!("the provider's token endpoint refused the sign-in ({code}{detail}); {hint}")
        }
        None => format!("the token exchange failed: {detail}; {hint}"),
    }
}

/// At most [`MAX_PROVIDER_TEXT`] characters of text the provider chose.
pub(crate) fn provider_text(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_PROVIDER_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > MAX_PROVIDER_TEXT {
        out.push('…');
    }
    out
}

/// `error: cause: cause`, for transport errors whose useful part is deep in the chain.
pub(crate) fn chain(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

pub(crate) fn discovery(issuer: &str, error: &DiscoveryError<HttpError>) -> OidcError {
    let reason = match error {
        DiscoveryError::Request(e) => format!("cannot reach it ({})", chain(e)),
        DiscoveryError::Response(_, _, message) => provider_text(message),
        DiscoveryError::Parse(e) => format!("its discovery document or key set is not valid ({e})"),
        DiscoveryError::Validation(message) => format!(
            "{}; the issuer URL must be exactly the `issuer` the provider announces",
            provider_text(message)
        ),
        other => provider_text(&chain(other)),
    };
    OidcError::Discovery {
        issuer: issuer.to_owned(),
        reason,
    }
}

pub(crate) fn exchange(
    error: &RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>,
) -> OidcError {
    match error {
        RequestTokenError::ServerResponse(response) => OidcError::Exchange {
            oauth_error: Some(provider_text(response.error().as_ref())),
            detail: response
                .error_description()
                .map(|d| format!(": {}", provider_text(d)))
                .unwrap_or_default(),
        },
        RequestTokenError::Request(e) => OidcError::Exchange {
            oauth_error: None,
            detail: format!("cannot reach the token endpoint ({})", chain(e)),
        },
        // The body may hold tokens: say only what kind of answer it was.
        RequestTokenError::Parse(e, body) => OidcError::Exchange {
            oauth_error: None,
            detail: if body.trim_ascii_start().starts_with(b"{") {
                format!(
                    "the token endpoint's answer is not a valid OpenID Connect token response \
                     (at `{}`)",
                    e.path()
                )
            } else {
                "the token endpoint answered with something other than JSON (an error page?); \
                 see the provider's logs and any proxy in between"
                    .to_owned()
            },
        },
        RequestTokenError::Other(message) => OidcError::Exchange {
            oauth_error: None,
            detail: provider_text(message),
        },
    }
}

pub(crate) fn id_token(error: &ClaimsVerificationError) -> OidcError {
    match error {
        ClaimsVerificationError::Expired(_) => OidcError::Expired,
        ClaimsVerificationError::InvalidNonce(_) => OidcError::NonceMismatch,
        ClaimsVerificationError::InvalidIssuer(m) => OidcError::InvalidIdToken(format!(
            "wrong issuer, {}; the issuer URL must be exactly the provider's issuer",
            provider_text(m)
        )),
        ClaimsVerificationError::InvalidAudience(m) => OidcError::InvalidIdToken(format!(
            "it was issued to another client, audience {}; check the client id",
            provider_text(m)
        )),
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => OidcError::InvalidIdToken(
            "no key in the provider's key set (JWKS) matches the token, even after fetching \
                 the key set again"
                .into(),
        ),
        ClaimsVerificationError::SignatureVerification(e) => OidcError::InvalidIdToken(format!(
            "its signature is not valid ({})",
            provider_text(&e.to_string())
        )),
        other => OidcError::InvalidIdToken(provider_text(&other.to_string())),
    }
}

pub(crate) fn user_info(error: &UserInfoError<HttpError>) -> OidcError {
    let reason = match error {
        UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => {
            "it answered for another subject than the ID token's".to_owned()
        }
        UserInfoError::ClaimsVerification(e) => provider_text(&e.to_string()),
        UserInfoError::Parse(e) => format!("its answer is not valid claims (at `{}`)", e.path()),
        UserInfoError::Request(e) => format!("cannot reach it ({})", chain(e)),
        UserInfoError::Response(_, _, message) => provider_text(message),
        other => provider_text(&chain(other)),
    };
    OidcError::UserInfo(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_is_bounded_and_single_line() {
        let long = "x".repeat(500);
        assert_eq!(provider_text(&long).chars().count(), MAX_PROVIDER_TEXT + 1);
        assert_eq!(provider_text("a\nb"), "a b");
    }

    #[test]
    fn exchange_messages_name_the_oauth_error_and_what_to_check() {
        let e = OidcError::Exchange {
            oauth_error: Some("invalid_client".into()),
            detail: ": client authentication failed".into(),
        };
        let m = e.to_string();
        assert!(
            m.contains("invalid_client: client authentication failed"),
            "{m}"
        );
        assert!(m.contains("client secret"), "{m}");
        let e = OidcError::Exchange {
            oauth_error: None,
            detail: "cannot reach the token endpoint (connection refused)".into(),
        };
        assert!(e.to_string().contains("can reach"), "{e}");
    }
}
