//! One tenant's identity provider, as the administrator typed it, and its validation.

use std::fmt;
use std::net::IpAddr;

use openidconnect::{ClientId, ClientSecret, IssuerUrl, RedirectUrl};
use url::{Host, Url};

use crate::OidcError;

/// How the portal is registered at one tenant's identity provider.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// The provider's issuer identifier, exactly as it names itself in its discovery document
    /// (for Keycloak `https://host/realms/<realm>`, for Google `https://accounts.google.com`).
    pub issuer_url: String,
    pub client_id: String,
    /// Hidden from `Debug`.
    pub client_secret: String,
    /// The portal's callback URL, registered at the provider.
    pub redirect_url: String,
}

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_url", &self.redirect_url)
            .finish()
    }
}

/// [`ProviderSettings`] parsed into openidconnect's types.
pub(crate) struct Validated {
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    pub redirect: RedirectUrl,
}

impl ProviderSettings {
    /// Checks the settings without contacting the provider, so an administration form can
    /// refuse them before saving. URLs must be `https`, except on loopback addresses (local
    /// development and tests), because the ID token's trust rests on TLS to the issuer.
    pub fn validate(&self) -> Result<(), OidcError> {
        self.parse().map(drop)
    }

    pub(crate) fn parse(&self) -> Result<Validated, OidcError> {
        let issuer = web_url("issuer URL", &self.issuer_url)?;
        if issuer.query().is_some() {
            return Err(OidcError::Config(
                "the issuer URL must not have a query string (`?…`)".into(),
            ));
        }
        let redirect = web_url("redirect URL", &self.redirect_url)?;
        if self.client_id.trim().is_empty() {
            return Err(OidcError::Config("the client id is empty".into()));
        }
        if self.client_secret.is_empty() {
            return Err(OidcError::Config(
                "the client secret is empty; the portal signs in as a confidential client".into(),
            ));
        }
        Ok(Validated {
            // Kept as typed: discovery compares it character for character with the
            // provider's own `issuer`, and `Url` would add a trailing slash.
            issuer: IssuerUrl::new(self.issuer_url.clone())
                .map_err(|e| OidcError::Config(format!("the issuer URL is not valid: {e}")))?,
            client_id: ClientId::new(self.client_id.clone()),
            client_secret: ClientSecret::new(self.client_secret.clone()),
            redirect: RedirectUrl::from_url(redirect),
        })
    }
}

/// An absolute `https` URL (or `http` on a loopback host) without credentials or fragment.
pub(crate) fn web_url(what: &str, value: &str) -> Result<Url, OidcError> {
    let url = Url::parse(value)
        .map_err(|e| OidcError::Config(format!("the {what} `{value}` is not a URL: {e}")))?;
    // Before any message that repeats the URL.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OidcError::Config(format!(
            "the {what} must not contain a user name or password"
        )));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(OidcError::Config(format!(
                "the {what} `{value}` must use https (http is accepted only on 127.0.0.1, ::1 \
                 and localhost)"
            )));
        }
        _ => {
            return Err(OidcError::Config(format!(
                "the {what} `{value}` must start with https://"
            )));
        }
    }
    if url.fragment().is_some() {
        return Err(OidcError::Config(format!(
            "the {what} `{value}` must not have a fragment (`#…`)"
        )));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ProviderSettings {
        ProviderSettings {
            issuer_url: "https://idp.example.org/realms/moh".into(),
            client_id: "cht-portal".into(),
            client_secret: "hunter2-very-secret".into(),
            redirect_url: "https://portal.example.org/auth/oidc/callback".into(),
        }
    }

    fn config_error(s: &ProviderSettings) -> String {
        match s.validate() {
            Err(OidcError::Config(m)) => m,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_https_and_loopback_http() {
        settings().validate().unwrap();
        for issuer in [
            "http://127.0.0.1:8080",
            "http://localhost/realms/x",
            "http://[::1]:9",
        ] {
            let s = ProviderSettings {
                issuer_url: issuer.into(),
                redirect_url: "http://127.0.0.1:3000/cb".into(),
                ..settings()
            };
            s.validate().unwrap();
        }
    }

    #[test]
    fn issuer_is_kept_exactly_as_typed() {
        let parsed = settings().parse().unwrap();
        assert_eq!(parsed.issuer.as_str(), "https://idp.example.org/realms/moh");
    }

    #[test]
    fn refuses_bad_urls_naming_the_field() {
        let cases = [
            ("not a url", "issuer URL"),
            ("http://idp.example.org", "must use https"),
            ("ftp://idp.example.org", "must start with https://"),
            ("https://user:pw@idp.example.org", "user name or password"),
            ("https://idp.example.org#x", "fragment"),
            ("https://idp.example.org?realm=x", "query string"),
        ];
        for (issuer, expected) in cases {
            let s = ProviderSettings {
                issuer_url: issuer.into(),
                ..settings()
            };
            let message = config_error(&s);
            assert!(message.contains(expected), "{issuer}: {message}");
        }
        let s = ProviderSettings {
            redirect_url: "/auth/callback".into(),
            ..settings()
        };
        assert!(config_error(&s).contains("redirect URL"));
    }

    #[test]
    fn credentials_must_be_present() {
        let s = ProviderSettings {
            client_id: " ".into(),
            ..settings()
        };
        assert!(config_error(&s).contains("client id"));
        let s = ProviderSettings {
            client_secret: String::new(),
            ..settings()
        };
        assert!(config_error(&s).contains("client secret"));
    }

    #[test]
    fn debug_hides_the_client_secret() {
        let shown = format!("{:?}", settings());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("cht-portal"));
    }

    #[test]
    fn errors_never_echo_the_secret() {
        let s = ProviderSettings {
            issuer_url: "http://idp.example.org".into(),
            ..settings()
        };
        assert!(!config_error(&s).contains("hunter2"));
    }
}
