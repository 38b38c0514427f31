//! The vocabulary of staged rows, shared by the staging engine, the store, the batches service,
//! the pages and (later) the commit jobs and the API: a row's status, the kind of a problem
//! (with a stable code, stored and shown to integrations), and counts per status.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A staged row's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    /// Ready to be created in CHT.
    Valid,
    /// Valid, with warnings the operator dismisses before it is created.
    Warning,
    /// Has errors; it cannot be created until edited.
    Error,
}

impl RowStatus {
    /// The stable code (`valid`, `warning`, `error`), as stored and filtered on.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    /// The status of a code; `None` for anything else.
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "valid" => Some(Self::Valid),
            "warning" => Some(Self::Warning),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// What kind of problem (an error or a warning) a staged row has, so screens, exports and the
/// API can group, count or filter without reading messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The column is required and the cell is empty.
    Required,
    /// The value does not satisfy its property's type (bad phone, date, option, pattern, …).
    Invalid,
    /// No place of the level's type matches the name.
    NotFound,
    /// Several places match the name, even with the higher levels' help.
    Ambiguous,
    /// The place exists, but outside the batch's area.
    OutOfScope,
    /// The row has more or fewer cells than the header.
    Ragged,
    /// Warning: a place or contact on the instance already has this `unique` value.
    DuplicateOnInstance,
    /// Warning: another staged row has this `unique` value.
    DuplicateStaged,
    /// Warning: another staged row replaces the same place.
    SameReplacement,
    /// Warning: the deployment profile copies a property onto the new place that neither its
    /// parent nor a sibling has.
    InheritedMissing,
}

impl ProblemKind {
    const ALL: [Self; 10] = [
        Self::Required,
        Self::Invalid,
        Self::NotFound,
        Self::Ambiguous,
        Self::OutOfScope,
        Self::Ragged,
        Self::DuplicateOnInstance,
        Self::DuplicateStaged,
        Self::SameReplacement,
        Self::InheritedMissing,
    ];

    /// The stable code (`not_found`), as stored and given to integrations. Never renamed.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::Ambiguous => "ambiguous",
            Self::OutOfScope => "out_of_scope",
            Self::Ragged => "ragged",
            Self::DuplicateOnInstance => "duplicate_on_instance",
            Self::DuplicateStaged => "duplicate_staged",
            Self::SameReplacement => "same_replacement",
            Self::InheritedMissing => "inherited_missing",
        }
    }

    /// The kind of a code. Rows stored before codes existed carry the variant's name
    /// (`NotFound`); those read back too.
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == code || code.eq_ignore_ascii_case(&k.code().replace('_', "")))
    }

    /// Whether it is a warning (the row can still be created once acknowledged).
    #[must_use]
    pub const fn is_warning(self) -> bool {
        matches!(
            self,
            Self::DuplicateOnInstance
                | Self::DuplicateStaged
                | Self::SameReplacement
                | Self::InheritedMissing
        )
    }
}

impl Serialize for ProblemKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for ProblemKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown problem kind \"{code}\"")))
    }
}

/// How many rows are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub valid: usize,
    pub warning: usize,
    pub error: usize,
}

impl RowCounts {
    /// Counts `status` once more.
    pub fn add(&mut self, status: RowStatus) {
        match status {
            RowStatus::Valid => self.valid += 1,
            RowStatus::Warning => self.warning += 1,
            RowStatus::Error => self.error += 1,
        }
    }

    /// All rows.
    #[must_use]
    pub const fn total(&self) -> usize {
        self.valid + self.warning + self.error
    }
}

impl FromIterator<RowStatus> for RowCounts {
    fn from_iter<I: IntoIterator<Item = RowStatus>>(statuses: I) -> Self {
        let mut counts = Self::default();
        statuses.into_iter().for_each(|s| counts.add(s));
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_read_back_with_the_names_stored_before_them() {
        for kind in ProblemKind::ALL {
            assert_eq!(ProblemKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(ProblemKind::parse("NotFound"), Some(ProblemKind::NotFound));
        assert_eq!(
            ProblemKind::parse("DuplicateOnInstance"),
            Some(ProblemKind::DuplicateOnInstance)
        );
        assert_eq!(ProblemKind::parse("not found"), None);
        assert_eq!(ProblemKind::NotFound.code(), "not_found");
        assert!(ProblemKind::InheritedMissing.is_warning());
        assert!(!ProblemKind::OutOfScope.is_warning());
    }

    #[test]
    fn statuses_round_trip_and_count() {
        for s in [RowStatus::Valid, RowStatus::Warning, RowStatus::Error] {
            assert_eq!(RowStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RowStatus::parse("Valid"), None);
        let counts: RowCounts = [RowStatus::Valid, RowStatus::Error, RowStatus::Valid]
            .into_iter()
            .collect();
        assert_eq!((counts.valid, counts.warning, counts.error), (2, 0, 1));
        assert_eq!(counts.total(), 3);
    }
}
