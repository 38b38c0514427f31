//! The simulated CHT version; behaviour differences are gated on it.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub const V4_5: Version = Version(4, 5, 0);
    pub const V4_22: Version = Version(4, 22, 0);
    pub const V5_0: Version = Version(5, 0, 0);
    pub const V5_2: Version = Version(5, 2, 0);
    /// The oldest version whose user API (v3 users, array `facility_id`) the simulator models.
    pub const MIN: Version = Version(4, 9, 0);
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl FromStr for Version {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<u32> = s
            .split('.')
            .map(|p| {
                p.parse::<u32>()
                    .map_err(|_| format!("invalid version {s:?}"))
            })
            .collect::<Result<_, _>>()?;
        let v = match parts.as_slice() {
            [a, b, c] => Version(*a, *b, *c),
            [a, b] => Version(*a, *b, 0),
            _ => return Err(format!("invalid version {s:?}: expected MAJOR.MINOR.PATCH")),
        };
        if v < Version::MIN {
            return Err(format!("CHT {v} is not simulated; use 4.9.0 or later"));
        }
        Ok(v)
    }
}
