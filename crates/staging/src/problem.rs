//! What is wrong with one cell (or one row), in a form the UI can show without parsing text.

use std::fmt;

/// The kind of a [`Problem`], so the UI can group, count or filter without reading messages.
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
    /// The place exists, but outside the operator's area.
    OutOfScope,
    /// The row has more or fewer cells than the header.
    Ragged,
    /// Warning: a place or contact on the instance already has this `unique` value.
    DuplicateOnInstance,
    /// Warning: another staged row has this `unique` value.
    DuplicateStaged,
    /// Warning: another staged row replaces the same place.
    SameReplacement,
}

/// One problem (an error or a warning) of a staged row: which column, which value, what is wrong
/// and how to fix it. The row itself is known from the [`crate::StagedRow`] that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What kind of problem this is.
    pub kind: ProblemKind,
    /// The column header (a config `friendly_name`) the problem is about; `None` for problems
    /// of the whole row (a ragged row).
    pub column: Option<String>,
    /// The value as entered (for warnings: the formatted value that collides).
    pub value: String,
    /// What is wrong, in UMT's wording where UMT had one (`is required`, `Not a valid KE phone
    /// number`, `Cannot find 'CHU' matching 'Abc' under 'Kibwezi'`).
    pub message: String,
    /// How to fix it, as a sentence for the person editing the sheet.
    pub fix: String,
}

impl Problem {
    pub(crate) fn new(
        kind: ProblemKind,
        column: Option<&str>,
        value: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            column: column.map(str::to_owned),
            value: value.to_owned(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// The problem as one sentence naming the row (its line in the uploaded file), column and
    /// value: `Row 12, column "CHP Phone", value "0712": Not a valid KE phone number. Fix: …`.
    #[must_use]
    pub fn describe(&self, line: usize) -> String {
        format!("Row {line}, {self}")
    }
}

/// `column "CHP Phone", value "0712": Not a valid KE phone number. Fix: …` (without the row, which
/// [`Problem::describe`] adds).
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(column) = &self.column {
            write!(f, "column \"{column}\", ")?;
        }
        write!(f, "value \"{}\": {}", self.value, self.message)?;
        if !self.message.ends_with(['.', '!', '?']) {
            f.write_str(".")?;
        }
        if !self.fix.is_empty() {
            write!(f, " Fix: {}", self.fix)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_row_column_value_and_fix() {
        let p = Problem::new(
            ProblemKind::Invalid,
            Some("CHP Phone"),
            "0712",
            "Not a valid KE phone number",
            "Enter a KE number such as 0712123456.",
        );
        assert_eq!(
            p.describe(12),
            "Row 12, column \"CHP Phone\", value \"0712\": Not a valid KE phone number. \
             Fix: Enter a KE number such as 0712123456."
        );
        let row = Problem::new(ProblemKind::Ragged, None, "a,b", "Too few cells", "");
        assert_eq!(row.describe(3), "Row 3, value \"a,b\": Too few cells.");
    }
}
