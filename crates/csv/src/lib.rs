//! The one CSV writer of CHT Portal. Every file the portal produces (a batch's rows with errors,
//! the user-type templates, and the credentials and audit exports to come) is written by
//! [`CsvWriter`], so no export can forget the rule below.
//!
//! **Formula injection.** A spreadsheet program opening a CSV reads a cell that starts with `=`,
//! `+`, `-` or `@` as a formula: a staged name `=HYPERLINK("http://…","Click")` would become a
//! live link on the manager's machine. Following OWASP's "CSV Injection" page:
//! - a cell starting with `=`, `+`, `-`, `@`, tab, carriage return or line feed gets a single
//!   quote in front, which spreadsheets take as "this cell is text" (NUL too, as OWASP ASVS 5.0
//!   requirement 1.2.10 lists it; full-width look-alikes such as `＝` are in neither list);
//! - every cell is wrapped in double quotes and its own double quotes are doubled, so a
//!   separator (`,` or `;`) or quote inside a cell can never start a new cell with a dangerous
//!   character in it, whichever separator the program assumes.
//!
//! **Round trip.** [`restore`] undoes [`neutralise`], and the staging reader applies it to every
//! uploaded cell, so a re-uploaded export reads back the values as they were staged. The pair is
//! exact for every value: a cell that already starts with quotes and then one of those
//! characters (`'=x`) gets one more quote (`''=x`), and [`restore`] removes exactly one. A cell
//! whose quote is not followed by such a character (the name `'Ndege`) is never changed.
//!
//! A crate of its own, with no dependencies: the writer is needed by `portal-deploy-config`
//! (templates) and `portal-batches` (exports), its inverse by `portal-staging` (uploads), none
//! of which may depend on `portal-web`; keeping the rule and its inverse in one place keeps them
//! in step.

use std::borrow::Cow;

/// The prefix that makes a spreadsheet read a cell as text.
pub const TEXT_PREFIX: char = '\'';

/// First characters that make a spreadsheet read a cell as a formula (the control characters
/// can put one right behind them).
pub const FORMULA_TRIGGERS: [char; 8] = ['=', '+', '-', '@', '\t', '\r', '\n', '\0'];

/// UTF-8 byte-order mark: without it Excel on Windows opens accented text ("Sous-préfecture")
/// as mojibake. Uploads strip it again.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Whether `cell`, once any leading text prefixes are skipped, starts like a formula.
fn starts_like_formula(cell: &str) -> bool {
    cell.trim_start_matches(TEXT_PREFIX)
        .starts_with(FORMULA_TRIGGERS)
}

/// The cell as a spreadsheet may safely read it: one [`TEXT_PREFIX`] in front when it starts
/// (after any text prefixes of its own) with one of the [`FORMULA_TRIGGERS`]; unchanged
/// otherwise.
#[must_use]
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if starts_like_formula(cell) {
        let mut out = String::with_capacity(cell.len() + 1);
        out.push(TEXT_PREFIX);
        out.push_str(cell);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(cell)
    }
}

/// The value [`neutralise`] was given: one [`TEXT_PREFIX`] removed when, after it, the cell
/// starts (after any further prefixes) with one of the [`FORMULA_TRIGGERS`]; unchanged
/// otherwise (`'Ndege` stays `'Ndege`).
#[must_use]
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix(TEXT_PREFIX) {
        Some(rest) if starts_like_formula(rest) => rest,
        _ => cell,
    }
}

/// A CSV file being written in memory: UTF-8 with a byte-order mark, `,` between cells, CRLF
/// after each row (RFC 4180), and every cell quoted and [`neutralise`]d.
#[derive(Debug, Clone)]
pub struct CsvWriter {
    bytes: Vec<u8>,
}

impl Default for CsvWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvWriter {
    /// An empty file (just the byte-order mark).
    #[must_use]
    pub fn new() -> Self {
        Self {
            bytes: BOM.to_vec(),
        }
    }

    /// Appends one row (a header row is a row like any other).
    pub fn row<I>(&mut self, cells: I)
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.bytes.push(b',');
            }
            self.bytes.push(b'"');
            let cell = neutralise(cell.as_ref());
            let mut pieces = cell.split('"');
            if let Some(first) = pieces.next() {
                self.bytes.extend_from_slice(first.as_bytes());
            }
            for piece in pieces {
                self.bytes.extend_from_slice(b"\"\"");
                self.bytes.extend_from_slice(piece.as_bytes());
            }
            self.bytes.push(b'"');
        }
        self.bytes.extend_from_slice(b"\r\n");
    }

    /// The bytes written since the last call (the first time: from the byte-order mark), so a
    /// long file can be sent as it is written instead of held whole.
    pub fn take_written(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    /// The file's bytes.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(rows: &[&[&str]]) -> String {
        let mut csv = CsvWriter::new();
        for row in rows {
            csv.row(row.iter());
        }
        String::from_utf8(csv.into_bytes()).unwrap()
    }

    /// Reads a written file back as a CSV parser (and so a spreadsheet) sees it.
    fn parsed(bytes: &[u8]) -> Vec<Vec<String>> {
        let text = bytes.strip_prefix(BOM).expect("a byte-order mark");
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn every_formula_trigger_gets_a_text_prefix() {
        for cell in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "\n=1",
            "\0=1",
        ] {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn other_cells_are_left_alone() {
        for cell in [
            "",
            "Mary Wanjiku",
            "'Ndege",
            "'",
            "''",
            "1+2",
            "a=b",
            " =1",
            "0712345678",
            "＝1",
        ] {
            assert_eq!(neutralise(cell), cell, "{cell:?}");
            assert_eq!(restore(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn cells_already_prefixed_get_one_more_so_they_survive_the_round_trip() {
        assert_eq!(neutralise("'=x"), "''=x");
        assert_eq!(restore("''=x"), "'=x");
        assert_eq!(restore("'=x"), "=x");
        assert_eq!(restore("'-2"), "-2");
    }

    #[test]
    fn the_owasp_examples_are_escaped_as_owasp_shows() {
        assert_eq!(
            written(&[&["=1+2\";=1+2"]]),
            "\u{FEFF}\"'=1+2\"\";=1+2\"\r\n"
        );
        assert_eq!(
            written(&[&["=1+2'\" ;,=1+2"]]),
            "\u{FEFF}\"'=1+2'\"\" ;,=1+2\"\r\n"
        );
    }

    #[test]
    fn every_cell_is_quoted_with_a_bom_and_crlf() {
        assert_eq!(
            written(&[&["Sub County", "CHU"], &["Kibwezi", "a,b"], &[]]),
            "\u{FEFF}\"Sub County\",\"CHU\"\r\n\"Kibwezi\",\"a,b\"\r\n\r\n"
        );
        assert_eq!(CsvWriter::default().into_bytes(), BOM);
    }

    /// Every string of up to four characters from an alphabet of the characters that matter:
    /// no written cell starts like a formula, a CSV parser reads back exactly the neutralised
    /// cell, and [`restore`] gives the original value.
    #[test]
    fn every_short_value_is_safe_and_round_trips() {
        let alphabet = ['\'', '=', '-', 'a', '"', ',', ';', '\t', '\r', '\n'];
        let mut values = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..4 {
            frontier = frontier
                .iter()
                .flat_map(|v| {
                    alphabet.iter().map(move |c| {
                        let mut next = v.clone();
                        next.push(*c);
                        next
                    })
                })
                .collect();
            values.extend(frontier.iter().cloned());
        }
        let mut csv = CsvWriter::new();
        for value in &values {
            csv.row([value.as_str(), "next"]);
            let safe = neutralise(value);
            assert!(
                !safe.starts_with(FORMULA_TRIGGERS),
                "{value:?} is written as {safe:?}"
            );
            assert_eq!(restore(&safe), value, "{value:?}");
        }
        let rows = parsed(&csv.into_bytes());
        assert_eq!(rows.len(), values.len());
        for (row, value) in rows.iter().zip(&values) {
            assert_eq!(row.len(), 2, "{value:?} stays one cell");
            assert_eq!(row[0], neutralise(value), "{value:?}");
            assert_eq!(restore(&row[0]), value, "{value:?}");
        }
    }
}
