//! [`OidcClient`]: the authorization code flow with PKCE against any tenant's provider.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreIdToken, CoreIdTokenClaims,
    CoreJsonWebKey, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthType, AuthorizationCode, ClaimsVerificationError,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKey,
    JsonWebKeySet, JwsSigningAlgorithm, LoginHint, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, Scope,
    SignatureVerificationError, TokenResponse,
};
use url::Url;

use crate::error::{self, OidcError};
use crate::http::Http;
use crate::settings::{ProviderSettings, Validated, web_url};

/// How long discovery metadata and keys are reused before they are fetched again.
pub const DEFAULT_METADATA_TTL: Duration = Duration::from_secs(5 * 60);

/// Tolerated difference between the portal's clock and the provider's when judging `exp`
/// and `iat`.
pub const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// openidconnect's client after discovery: authorization endpoint known, token and userinfo
/// endpoints optional.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What the portal keeps (in the pre-sign-in session) between [`OidcClient::begin`] and
/// [`OidcClient::complete`]; `url` is where the browser goes.
#[derive(Clone)]
pub struct Authorization {
    pub url: Url,
    /// Compare with the callback's `state` before calling [`OidcClient::complete`].
    pub state: String,
    pub nonce: String,
    /// Hidden from `Debug`: with the code it is enough to obtain tokens.
    pub pkce_verifier: String,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url.as_str())
            .field("state", &self.state)
            .field("nonce", &self.nonce)
            .field("pkce_verifier", &"<redacted>")
            .finish()
    }
}

/// The person the provider vouched for, from a verified ID token (and userinfo when the ID
/// token lacks the email).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The provider's stable id for the person; with the issuer, the key to link accounts.
    pub subject: String,
    pub email: Option<String>,
    /// False when the provider did not say the email was verified.
    pub email_verified: bool,
    pub name: Option<String>,
    /// The raw ID token, kept for [`OidcClient::end_session_url`]. Hidden from `Debug`.
    pub id_token: String,
}

impl fmt::Debug for VerifiedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedIdentity")
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("name", &self.name)
            .field("id_token", &"<redacted>")
            .finish()
    }
}

/// Signs people in through OpenID Connect providers. Cheap to clone; clones share the HTTP
/// client and the per-issuer cache of discovery metadata and keys.
#[derive(Clone)]
pub struct OidcClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: Http,
    metadata_ttl: Duration,
    providers: Mutex<HashMap<String, Arc<Provider>>>,
}

/// One issuer's discovery document with its JWKS.
struct Provider {
    metadata: ProviderMetadataWithLogout,
    fetched: Instant,
}

impl fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClient")
            .field("metadata_ttl", &self.inner.metadata_ttl)
            .finish_non_exhaustive()
    }
}

impl OidcClient {
    /// `timeout` bounds each request to a provider (discovery, keys, token, userinfo).
    pub fn new(timeout: Duration) -> Self {
        Self::with_metadata_ttl(timeout, DEFAULT_METADATA_TTL)
    }

    /// Like [`OidcClient::new`], reusing discovery metadata for `metadata_ttl`.
    pub fn with_metadata_ttl(timeout: Duration, metadata_ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                http: Http::new(timeout),
                metadata_ttl,
                providers: Mutex::default(),
            }),
        }
    }

    /// Forgets the cached metadata of `issuer_url`, e.g. after an administrator edits the
    /// provider, so the next sign-in discovers it afresh.
    pub fn forget(&self, issuer_url: &str) {
        self.providers().remove(issuer_url);
    }

    /// Starts a sign-in: the URL to send the browser to (code flow, PKCE S256, scopes
    /// `openid email profile`, fresh random `state` and `nonce`), and what to keep until the
    /// callback. `login_hint` pre-fills the provider's sign-in form where it supports that.
    pub async fn begin(
        &self,
        settings: &ProviderSettings,
        login_hint: Option<&str>,
    ) -> Result<Authorization, OidcError> {
        let settings = settings.parse()?;
        let provider = self.provider(&settings.issuer).await?;
        let client = build_client(&provider, &settings);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint.filter(|h| !h.trim().is_empty()) {
            request = request.set_login_hint(LoginHint::new(hint.to_owned()));
        }
        let (url, state, nonce) = request.url();
        Ok(Authorization {
            url,
            state: state.into_secret(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.into_secret(),
        })
    }

    /// Finishes a sign-in after the callback (whose `state` the caller has already compared):
    /// exchanges `code`, then verifies the ID token's signature, issuer, audience, expiry and
    /// issue time (judged against `now`, give or take [`CLOCK_SKEW`]) and nonce. When the ID
    /// token carries no email, the userinfo endpoint supplies it, for the same subject only.
    pub async fn complete(
        &self,
        settings: &ProviderSettings,
        code: &str,
        pkce_verifier: &str,
        expected_nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedIdentity, OidcError> {
        let settings = settings.parse()?;
        let mut provider = self.provider(&settings.issuer).await?;
        let mut client = build_client(&provider, &settings);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| OidcError::Discovery {
                issuer: settings.issuer.to_string(),
                reason: "it announces no token endpoint".into(),
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.inner.http)
            .await
            .map_err(|e| error::exchange(&e))?;
        let id_token = token.id_token().ok_or_else(|| {
            OidcError::InvalidIdToken(
                "the token response carries no ID token; is the client registered for OpenID \
                 Connect (scope `openid`)?"
                    .into(),
            )
        })?;
        let nonce = Nonce::new(expected_nonce.to_owned());

        let mut verified = verify(
            &client,
            &settings.client_secret,
            id_token,
            token.access_token(),
            &nonce,
            now,
        );
        if let Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) = verified
        {
            // The provider probably rotated its keys since we cached them.
            provider = self.refresh_keys(&settings.issuer, &provider).await?;
            client = build_client(&provider, &settings);
            verified = verify(
                &client,
                &settings.client_secret,
                id_token,
                token.access_token(),
                &nonce,
                now,
            );
        }
        let claims = verified.map_err(|e| error::id_token(&e))?;

        let mut identity = VerifiedIdentity {
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            id_token: id_token.to_string(),
        };
        if identity.email.is_none() {
            // A missing endpoint is not an error: the identity simply has no email.
            if let Ok(request) =
                client.user_info(token.access_token().clone(), Some(claims.subject().clone()))
            {
                let info: CoreUserInfoClaims = request
                    .request_async(&self.inner.http)
                    .await
                    .map_err(|e| error::user_info(&e))?;
                identity.email = info.email().map(|e| e.as_str().to_owned());
                identity.email_verified = info.email_verified().unwrap_or(false);
                if identity.name.is_none() {
                    identity.name = info
                        .name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str().to_owned());
                }
            }
        }
        Ok(identity)
    }

    /// The provider's RP-initiated logout URL (to send the browser to after the portal's own
    /// sign-out), or `None` when the provider announces no `end_session_endpoint`. An empty
    /// `id_token_hint` is left out; the client id is always sent.
    pub async fn end_session_url(
        &self,
        settings: &ProviderSettings,
        id_token_hint: &str,
        post_logout_redirect: &str,
    ) -> Result<Option<Url>, OidcError> {
        let settings = settings.parse()?;
        let redirect = PostLogoutRedirectUrl::from_url(web_url(
            "post-logout redirect URL",
            post_logout_redirect,
        )?);
        let provider = self.provider(&settings.issuer).await?;
        let Some(endpoint) = provider
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()
        else {
            return Ok(None);
        };
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(settings.client_id)
            .set_post_logout_redirect_uri(redirect);
        if !id_token_hint.is_empty() {
            let hint = CoreIdToken::from_str(id_token_hint).map_err(|_| {
                OidcError::InvalidIdToken("the ID token hint is not a JSON Web Token".into())
            })?;
            request = request.set_id_token_hint(&hint);
        }
        Ok(Some(request.http_get_url()))
    }

    fn providers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Provider>>> {
        // The map stays consistent even if a holder panicked: entries are replaced whole.
        self.inner
            .providers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Cached metadata, or a fresh discovery. Two sign-ins racing on a cold cache both
    /// discover; that is cheaper than making every sign-in wait on a lock across I/O.
    async fn provider(&self, issuer: &IssuerUrl) -> Result<Arc<Provider>, OidcError> {
        if let Some(provider) = self.providers().get(issuer.as_str()) {
            if provider.fetched.elapsed() < self.inner.metadata_ttl {
                return Ok(provider.clone());
            }
        }
        let metadata = ProviderMetadataWithLogout::discover_async(issuer.clone(), &self.inner.http)
            .await
            .map_err(|e| error::discovery(issuer.as_str(), &e))?;
        tracing::debug!(
            issuer = issuer.as_str(),
            "discovered OpenID Connect provider"
        );
        let provider = Arc::new(Provider {
            metadata,
            fetched: Instant::now(),
        });
        self.providers()
            .insert(issuer.to_string(), provider.clone());
        Ok(provider)
    }

    async fn refresh_keys(
        &self,
        issuer: &IssuerUrl,
        stale: &Provider,
    ) -> Result<Arc<Provider>, OidcError> {
        let jwks = JsonWebKeySet::fetch_async(stale.metadata.jwks_uri(), &self.inner.http)
            .await
            .map_err(|e| error::discovery(issuer.as_str(), &e))?;
        tracing::info!(
            issuer = issuer.as_str(),
            "fetched the provider's keys again after an unknown key id"
        );
        let provider = Arc::new(Provider {
            metadata: stale.metadata.clone().set_jwks(jwks),
            fetched: stale.fetched,
        });
        self.providers()
            .insert(issuer.to_string(), provider.clone());
        Ok(provider)
    }
}

fn build_client(provider: &Provider, settings: &Validated) -> Client {
    // Basic unless the provider supports only `client_secret_post`; absent means Basic (RFC 8414).
    let auth_type = match provider.metadata.token_endpoint_auth_methods_supported() {
        Some(methods)
            if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
        {
            AuthType::RequestBody
        }
        _ => AuthType::BasicAuth,
    };
    CoreClient::from_provider_metadata(
        provider.metadata.clone(),
        settings.client_id.clone(),
        Some(settings.client_secret.clone()),
    )
    .set_redirect_uri(settings.redirect.clone())
    .set_auth_type(auth_type)
}

/// Checks the ID token (see [`OidcClient::complete`]) and its `at_hash` when present.
fn verify<'t>(
    client: &Client,
    secret: &ClientSecret,
    id_token: &'t CoreIdToken,
    access_token: &AccessToken,
    nonce: &Nonce,
    now: DateTime<Utc>,
) -> Result<&'t CoreIdTokenClaims, ClaimsVerificationError> {
    let verifier = client
        .id_token_verifier()
        .set_time_fn(move || now - CLOCK_SKEW);
    let claims = id_token.claims(&verifier, nonce)?;
    if claims.issue_time() > now + CLOCK_SKEW {
        return Err(ClaimsVerificationError::Other(format!(
            "it was issued at {}, later than the portal's clock ({now}); check both clocks",
            claims.issue_time()
        )));
    }
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(ClaimsVerificationError::SignatureVerification)?;
        let symmetric;
        let key = if alg.uses_shared_secret() {
            symmetric = CoreJsonWebKey::new_symmetric(secret.secret().clone().into_bytes());
            &symmetric
        } else {
            id_token
                .signing_key(&verifier)
                .map_err(ClaimsVerificationError::SignatureVerification)?
        };
        let actual = AccessTokenHash::from_token(access_token, alg, key)
            .map_err(|e| ClaimsVerificationError::Other(format!("cannot check at_hash: {e}")))?;
        if actual != *expected {
            return Err(ClaimsVerificationError::Other(
                "its at_hash does not match the access token".into(),
            ));
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_verifier_and_the_id_token() {
        let a = Authorization {
            url: Url::parse("https://idp.example.org/auth?x=1").unwrap(),
            state: "st".into(),
            nonce: "no".into(),
            pkce_verifier: "verifier-secret-value".into(),
        };
        assert!(!format!("{a:?}").contains("verifier-secret-value"));
        let v = VerifiedIdentity {
            subject: "sub".into(),
            email: None,
            email_verified: false,
            name: None,
            id_token: "eyJhbGciOi.payload.signature".into(),
        };
        assert!(!format!("{v:?}").contains("eyJhbGciOi"));
    }

    #[test]
    fn sign_in_futures_are_send() {
        fn assert_send<T: Send>(_: T) {}
        let client = OidcClient::new(Duration::from_secs(1));
        let s = ProviderSettings {
            issuer_url: "https://idp.example.org".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            redirect_url: "https://portal.example.org/cb".into(),
        };
        assert_send(client.begin(&s, None));
        assert_send(client.complete(&s, "c", "v", "n", Utc::now()));
        assert_send(client.end_session_url(&s, "", "https://portal.example.org/"));
    }

    #[tokio::test]
    async fn bad_settings_fail_before_any_request() {
        let client = OidcClient::new(Duration::from_secs(1));
        let s = ProviderSettings {
            issuer_url: "http://idp.example.org".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            redirect_url: "https://portal.example.org/cb".into(),
        };
        assert!(matches!(
            client.begin(&s, None).await,
            Err(OidcError::Config(_))
        ));
    }
}
