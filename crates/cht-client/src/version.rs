//! CHT version detection and the version gates the client adapts to (contract §13).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ChtVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl ChtVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// `GET /api/v2/users` filters and `GET /api/v2/users/{u}`.
    pub const V4_7: Self = Self::new(4, 7, 0);
    /// `POST /api/v3/users`, array `facility_id`, `place` as an array in user reads.
    pub const V4_9: Self = Self::new(4, 9, 0);
    /// `GET /api/v1/place/{id}`.
    pub const V4_10: Self = Self::new(4, 10, 0);
    /// `contacts_by_type` gains a `_count` reduce.
    pub const V5_0: Self = Self::new(5, 0, 0);
    /// `POST|PUT /api/v1/place|person`; only configured roles count for permissions.
    pub const V5_2: Self = Self::new(5, 2, 0);

    pub fn has_v3_users(self) -> bool {
        self >= Self::V4_9
    }

    pub fn has_user_filters(self) -> bool {
        self >= Self::V4_7
    }

    pub fn has_datasource_writes(self) -> bool {
        self >= Self::V5_2
    }

    pub fn counts_only_configured_roles(self) -> bool {
        self >= Self::V5_2
    }
}

impl fmt::Display for ChtVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for ChtVersion {
    type Err = String;

    /// Accepts `4.22.0`, `5.2`, and build suffixes such as `5.2.0-beta.3` or `4.22.0+abc`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let core = s.trim().trim_start_matches('v');
        let core = core.split(['-', '+', ' ']).next().unwrap_or("");
        let parts: Vec<&str> = core.split('.').collect();
        let num = |i: usize| -> Result<u32, String> {
            match parts.get(i) {
                None => Ok(0),
                Some(p) => p.parse().map_err(|_| format!("invalid CHT version {s:?}")),
            }
        };
        if parts.len() < 2 || parts.len() > 3 {
            return Err(format!("invalid CHT version {s:?}"));
        }
        Ok(Self::new(num(0)?, num(1)?, num(2)?))
    }
}

/// Where the version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VersionSource {
    /// `GET /api/v2/monitoring` → `version.app`.
    Monitoring,
    /// `GET /api/info` → `version`.
    ApiInfo,
}

/// What the instance says about itself (both endpoints are public).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChtInfo {
    pub version: ChtVersion,
    /// The version string exactly as reported.
    pub raw_version: String,
    pub source: VersionSource,
    /// CouchDB version, when monitoring reports it.
    pub couchdb_version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions_and_gates() {
        let v: ChtVersion = "4.22.0".parse().unwrap();
        assert_eq!(v, ChtVersion::new(4, 22, 0));
        assert!(v.has_v3_users() && v.has_user_filters() && !v.has_datasource_writes());
        assert_eq!(
            "5.2.0-beta.3".parse::<ChtVersion>().unwrap(),
            ChtVersion::V5_2
        );
        assert_eq!("5.2".parse::<ChtVersion>().unwrap(), ChtVersion::V5_2);
        assert!("4.8.1".parse::<ChtVersion>().unwrap() < ChtVersion::V4_9);
        assert!("banana".parse::<ChtVersion>().is_err());
        assert!("5".parse::<ChtVersion>().is_err());
        assert!(ChtVersion::new(4, 22, 0) < ChtVersion::new(5, 0, 0));
    }
}
