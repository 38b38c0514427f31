//! What staging events put in the audit trail, under the personal-data policy of ADR 0007:
//! row ids, line numbers and column names in clear; the cells themselves (names, phones, dates)
//! only as keyed digests, so the append-only trail never holds a health worker's data.

use portal_crypto::AuditDigester;
use portal_domain::TenantId;
use portal_staging::{Problem, StagedRow};
use serde_json::{Map, Value, json};

/// Digests staged cells for one tenant's events.
pub(crate) struct CellDigests<'a> {
    digester: &'a AuditDigester,
    tenant: String,
}

impl<'a> CellDigests<'a> {
    pub(crate) fn new(digester: &'a AuditDigester, tenant: TenantId) -> Self {
        Self {
            digester,
            tenant: tenant.to_string(),
        }
    }

    /// An empty cell stays visibly empty; anything else becomes its digest.
    fn cell(&self, value: &str) -> Value {
        if value.is_empty() {
            json!("")
        } else {
            json!(self.digester.digest(&self.tenant, value))
        }
    }

    /// `{column: {"before": digest, "after": digest}}` for each column whose value changed.
    pub(crate) fn changes(&self, columns: &[String], before: &[String], after: &[String]) -> Value {
        let width = before.len().max(after.len());
        let mut changed = Map::new();
        for i in 0..width {
            let (old, new) = (cell_at(before, i), cell_at(after, i));
            if old != new {
                changed.insert(
                    column_name(columns, i),
                    json!({ "before": self.cell(old), "after": self.cell(new) }),
                );
            }
        }
        Value::Object(changed)
    }

    /// `{column: digest}` for each non-empty cell of a row.
    pub(crate) fn cells(&self, columns: &[String], row: &StagedRow) -> Value {
        let cells: Map<String, Value> = row
            .raw_values()
            .enumerate()
            .filter(|(_, value)| !value.is_empty())
            .map(|(i, value)| (column_name(columns, i), self.cell(value)))
            .collect();
        Value::Object(cells)
    }
}

/// The columns that acknowledged warnings are about (their messages can quote values).
pub(crate) fn warning_columns(warnings: &[Problem]) -> Vec<String> {
    let mut columns: Vec<String> = warnings.iter().filter_map(|w| w.column.clone()).collect();
    columns.dedup();
    columns
}

fn cell_at(cells: &[String], i: usize) -> &str {
    cells.get(i).map_or("", String::as_str)
}

/// The column's header, or its position for a cell past the header (a ragged row).
fn column_name(columns: &[String], i: usize) -> String {
    columns
        .get(i)
        .cloned()
        .unwrap_or_else(|| format!("column {}", i + 1))
}

#[cfg(test)]
mod tests {
    use portal_crypto::MasterKey;

    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn changes_name_the_columns_and_hide_the_values() {
        let digester = AuditDigester::new(&MasterKey::generate());
        let digests = CellDigests::new(&digester, TenantId::new());
        let columns = strings(&["CHP Name", "CHP Phone", "Notes"]);
        let before = strings(&["Mary Wanjiku", "0712345678", ""]);
        let after = strings(&["Mary Wanjiku", "0712345679", "new", "extra"]);
        let changes = digests.changes(&columns, &before, &after);
        let changed: Vec<&String> = changes.as_object().unwrap().keys().collect();
        assert_eq!(changed, ["CHP Phone", "Notes", "column 4"]);
        let text = changes.to_string();
        for value in ["0712345678", "0712345679", "Mary", "new", "extra"] {
            assert!(!text.contains(value), "{value} leaked: {text}");
        }
        assert_eq!(changes["Notes"]["before"], "");
        assert_ne!(
            changes["CHP Phone"]["before"],
            changes["CHP Phone"]["after"]
        );
        // Changing back is visible as the same digest.
        let back = digests.changes(&columns, &after, &before);
        assert_eq!(back["CHP Phone"]["after"], changes["CHP Phone"]["before"]);
    }
}
