use std::fmt;

use crate::{InvalidValue, bounded_text};

/// The display name of a tenant, e.g. "Kenya Ministry of Health".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        bounded_text("Name", raw, 120).map(Self)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short, URL-safe handle for a tenant, e.g. `ke-moh`: lower-case letters, digits and hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const FIELD: &str = "Short name";
        let value = raw.trim().to_lowercase();
        if value.is_empty() {
            return Err(InvalidValue::new(FIELD, "is required"));
        }
        if value.len() < 2 || value.len() > 40 {
            return Err(InvalidValue::new(FIELD, "must be 2 to 40 characters long"));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(InvalidValue::new(
                FIELD,
                format!("\"{value}\" may use only letters a-z, digits and hyphens (e.g. ke-moh)"),
            ));
        }
        if value.starts_with('-') || value.ends_with('-') {
            return Err(InvalidValue::new(
                FIELD,
                "must not start or end with a hyphen",
            ));
        }
        Ok(Self(value))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_lowercased_and_checked() {
        assert_eq!(TenantSlug::parse(" KE-moh ").unwrap().as_str(), "ke-moh");
        assert!(
            TenantSlug::parse("ke moh")
                .unwrap_err()
                .reason
                .contains("a-z")
        );
        assert!(TenantSlug::parse("-ke").is_err());
        assert!(TenantSlug::parse("k").is_err());
    }

    #[test]
    fn name_is_trimmed_and_bounded() {
        assert_eq!(
            TenantName::parse("  Kenya MoH ").unwrap().as_str(),
            "Kenya MoH"
        );
        assert_eq!(TenantName::parse("   ").unwrap_err().reason, "is required");
        assert!(
            TenantName::parse(&"x".repeat(121))
                .unwrap_err()
                .reason
                .contains("limit is 120")
        );
    }
}
