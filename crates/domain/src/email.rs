use std::fmt;

use crate::InvalidValue;

/// An email address, trimmed and lower-cased so that sign-in and uniqueness ignore case.
///
/// The check is deliberately modest (one `@`, a dotted domain, no spaces): the address is an
/// identifier here, and the identity provider or the person's inbox is the real proof.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const FIELD: &str = "Email";
        let value = raw.trim().to_lowercase();
        if value.is_empty() {
            return Err(InvalidValue::new(FIELD, "is required"));
        }
        if value.len() > 254 {
            return Err(InvalidValue::new(
                FIELD,
                "is longer than 254 characters, the limit for an email address",
            ));
        }
        let Some((local, domain)) = value.split_once('@') else {
            return Err(InvalidValue::new(
                FIELD,
                format!("\"{value}\" has no @; write it as name@example.org"),
            ));
        };
        let well_formed = !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !value.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err(InvalidValue::new(
                FIELD,
                format!("\"{value}\" is not an email address; write it as name@example.org"),
            ));
        }
        Ok(Self(value))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_spaces() {
        let email = Email::parse("  Jane.Doe@Health.GO.ke ").unwrap();
        assert_eq!(email.as_str(), "jane.doe@health.go.ke");
    }

    #[test]
    fn rejects_malformed_addresses_with_a_reason() {
        for bad in [
            "",
            "jane",
            "jane@",
            "@health.go.ke",
            "jane@localhost",
            "ja ne@x.org",
            "a@b@c.org",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field, "Email", "{bad}");
        }
        assert!(Email::parse("jane").unwrap_err().reason.contains("no @"));
    }
}
