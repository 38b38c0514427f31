//! What is wrong with one cell (or one row), in a form the UI can show without parsing text.

use std::fmt;

pub use portal_domain::ProblemKind;

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
