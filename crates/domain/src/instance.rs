use std::fmt;

use url::Url;

use crate::{InvalidValue, bounded_text};

/// The name of a CHT instance within its tenant, e.g. "Nairobi County" or "Training".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceName(String);

impl InstanceName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        bounded_text("Name", raw, 120).map(Self)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The root address of a CHT instance: `http(s)://host[:port][/path]`, no credentials, query
/// or fragment, kept without a trailing slash so paths can be appended with `/api/...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const FIELD: &str = "Base URL";
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidValue::new(FIELD, "is required"));
        }
        if trimmed.len() > 2048 {
            return Err(InvalidValue::new(FIELD, "is longer than 2048 characters"));
        }
        let url = Url::parse(trimmed).map_err(|e| {
            InvalidValue::new(
                FIELD,
                format!("\"{trimmed}\" is not a web address ({e}); write it as https://county.echis.go.ke"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(InvalidValue::new(
                FIELD,
                format!(
                    "must start with https:// or http://, not {}://",
                    url.scheme()
                ),
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(InvalidValue::new(FIELD, "has no host name"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InvalidValue::new(
                FIELD,
                "must not contain a user name or password; put them in the service account fields",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(InvalidValue::new(
                FIELD,
                "must not contain ? or #; give only the address of the instance",
            ));
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The CHT user the portal signs in as. CHT user names are lower-case letters, digits, `_`
/// and `-`; admins such as `medic` follow the same rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUsername(String);

impl ServiceUsername {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const FIELD: &str = "Service account user name";
        let value = bounded_text(FIELD, raw, 60)?;
        if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return Err(InvalidValue::new(
                FIELD,
                format!(
                    "\"{value}\" may use only lower-case letters, digits, _ and - (CHT's rule for user names)"
                ),
            ));
        }
        Ok(Self(value))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_normalised() {
        assert_eq!(
            BaseUrl::parse(" https://Nairobi.echis.go.ke/ ")
                .unwrap()
                .as_str(),
            "https://nairobi.echis.go.ke"
        );
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:5988").unwrap().as_str(),
            "http://127.0.0.1:5988"
        );
    }

    #[test]
    fn base_url_rejections_explain_themselves() {
        let long = format!("https://x.org/{}", "a".repeat(2048));
        let cases = [
            ("", "required"),
            ("nairobi.echis.go.ke", "not a web address"),
            ("ftp://x.org", "https://"),
            ("https://medic:pass@x.org", "service account"),
            ("https://x.org/?a=1", "?"),
            (long.as_str(), "2048"),
        ];
        for (input, expected) in cases {
            let err = BaseUrl::parse(input).unwrap_err();
            assert!(err.reason.contains(expected), "{input}: {}", err.reason);
        }
    }

    #[test]
    fn service_username_follows_cht_rules() {
        assert_eq!(
            ServiceUsername::parse(" portal-svc ").unwrap().as_str(),
            "portal-svc"
        );
        assert!(ServiceUsername::parse("Portal").is_err());
        assert!(ServiceUsername::parse("a b").is_err());
    }
}
