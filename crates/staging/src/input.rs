//! Decoding an uploaded file into a header and data rows of trimmed text, each row keeping its
//! line in the file, and matching the header to a contact type's columns.
//!
//! The format is found from the bytes, never from the file name: a ZIP signature is a
//! spreadsheet (`.xlsx`; see [`sheet`] for why `.xls`, `.xlsb` and `.ods` are refused), anything
//! else must be text (CSV). Text that is not UTF-8 is converted from the encoding it most likely
//! is (in practice Windows-1252), and the conversion is reported as a notice rather than done
//! silently.
//!
//! Every format is read in memory bounded by [`Limits`], whatever the file claims about itself:
//! cells and rows are checked as they are read, never after a whole sheet or line is held.

use std::fmt;

use portal_deploy_config::header_key;

mod delimited;
mod package;
mod sheet;

/// Bounds on what an upload may hold, checked before and while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// Largest total uncompressed size of a spreadsheet's parts, in bytes, counted while
    /// unpacking (a guard against "ZIP bombs": an `.xlsx` is a ZIP archive).
    pub max_unpacked_bytes: u64,
    /// Most data rows accepted (the header and blank rows do not count).
    pub max_rows: usize,
    /// Most columns accepted in any row (in a spreadsheet: the column of any cell).
    pub max_columns: usize,
    /// Largest cell, in bytes of text.
    pub max_cell_bytes: usize,
}

impl Default for Limits {
    /// 32 MiB, 256 MiB unpacked, 200,000 rows, 200 columns, 32 KiB a cell: several times a
    /// national upload (Excel itself holds at most 32,767 characters in a cell).
    fn default() -> Self {
        Self {
            max_bytes: 32 << 20,
            max_unpacked_bytes: 256 << 20,
            max_rows: 200_000,
            max_columns: 200,
            max_cell_bytes: 32 << 10,
        }
    }
}

/// Why a file could not be read at all. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error(
        "The file is {actual} bytes; at most {max} bytes are accepted. Split it into several files."
    )]
    TooLarge { actual: usize, max: usize },
    #[error(
        "The spreadsheet unpacks to more than {max} bytes. Save only the sheet to upload, as CSV."
    )]
    UnpacksTooLarge { max: u64 },
    #[error("The file has more than {max} rows. Split it into several files.")]
    TooManyRows { max: usize },
    #[error(
        "Line {line} has {count} columns; at most {max} are accepted. Remove the extra columns."
    )]
    TooManyColumns {
        line: usize,
        count: usize,
        max: usize,
    },
    #[error(
        "Cell {cell} is in column {column}; at most {max} columns are read. Delete the columns \
         after the last one you use (or move the table to the left), save and upload again."
    )]
    CellBeyondColumns {
        cell: String,
        column: u32,
        max: usize,
    },
    #[error(
        "Line {line}, column {column} holds more than {max} bytes; at most {max} bytes are \
         accepted in one cell. Shorten it; if it should be short, look for a double quote (\") \
         that opens a cell and is never closed."
    )]
    CellTooLong {
        line: usize,
        column: usize,
        max: usize,
    },
    #[error("The value typed for \"{column}\" is longer than {max} bytes: shorten it.")]
    TypedCellTooLong { column: String, max: usize },
    #[error(
        "Cell {cell} holds more than {max} bytes; at most {max} bytes are accepted in one cell. \
         Shorten it, save and upload again."
    )]
    SheetCellTooLong { cell: String, max: usize },
    #[error("The file is empty. Fill in the template's columns, one row per user.")]
    Empty,
    #[error("The file has a header but no rows. Add one row per user below the header.")]
    NoRows,
    #[error(
        "This is not a CSV or Excel file ({0}). Save the sheet as \"CSV UTF-8\" or as an Excel \
         workbook (.xlsx) and upload that."
    )]
    NotASpreadsheet(String),
    #[error(
        "The file's text could not be read as {encoding}: {detail}. Save it as \"CSV UTF-8\" and \
         upload it again."
    )]
    Undecodable {
        encoding: &'static str,
        detail: String,
    },
    #[error("The CSV file could not be read near line {line}: {detail}.")]
    Csv { line: usize, detail: String },
    #[error(
        "The spreadsheet could not be read: {0}. Open it in Excel or LibreOffice, save it again \
         (or save it as \"CSV UTF-8\") and upload that."
    )]
    Spreadsheet(String),
    #[error(
        "This is {0}, which the portal does not read. Open it in Excel or LibreOffice and save \
         it as \"Excel Workbook (.xlsx)\" (without a password) or as \"CSV UTF-8\", then upload \
         that."
    )]
    UnsupportedSpreadsheet(&'static str),
}

/// What the file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// Delimited text.
    Csv {
        /// The encoding the text was read as (`UTF-8`, `windows-1252`, `UTF-16LE`, …).
        encoding: &'static str,
        /// The delimiter found in the header line: `,`, `;` or a tab.
        delimiter: char,
    },
    /// A spreadsheet workbook (its first sheet).
    Spreadsheet,
    /// Typed into a form, cell by cell: never a file, never an export read back.
    Form,
}

/// A decoded upload: the header cells and the data rows, all trimmed, with blank rows dropped.
///
/// Cells live in one buffer (two allocations for the whole file rather than one per cell), and
/// rows are read through [`Table::row`] and [`Table::rows`].
#[derive(Debug, Clone)]
pub struct Table {
    /// What the file was read as.
    pub format: SourceFormat,
    /// The header cells, trimmed, as written in the file.
    pub header: Vec<String>,
    /// Line (CSV) or sheet row (spreadsheet) of the header, counting from 1.
    pub header_line: usize,
    /// Things the uploader should know that are not errors ("read as Windows-1252").
    pub notices: Vec<String>,
    text: String,
    /// Where each cell ends in `text`; a cell starts where the previous one ends.
    ends: Vec<u32>,
    rows: Vec<RowSpan>,
}

#[derive(Debug, Clone, Copy)]
struct RowSpan {
    line: u32,
    first: u32,
    len: u32,
}

/// One data row of a [`Table`].
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// Line (CSV) or sheet row (spreadsheet) where the row starts, counting from 1.
    pub line: usize,
    text: &'a str,
    start: u32,
    ends: &'a [u32],
}

impl<'a> Row<'a> {
    /// How many cells the row has (ragged rows differ from the header).
    #[must_use]
    pub const fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the row has no cells.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Cell `index`, trimmed; `None` past the end of a short row.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&'a str> {
        let end = *self.ends.get(index)?;
        let start = match index {
            0 => self.start,
            _ => self.ends[index - 1],
        };
        self.text.get(start as usize..end as usize)
    }

    /// The cells in order.
    pub fn cells(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl Table {
    /// One row typed into a form under `header` (missing trailing cells are empty), so it is
    /// validated exactly as an uploaded row, but with its cells as typed: nothing is read back
    /// as from an export (a typed `'=1` stays `'=1`). Its line is 2, as the first row of a file.
    ///
    /// # Errors
    /// [`InputError::TypedCellTooLong`] for a cell over the limit, [`InputError::NoRows`] when
    /// every cell is empty.
    pub fn typed(
        header: Vec<String>,
        cells: &[String],
        limits: &Limits,
    ) -> Result<Self, InputError> {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(header.len());
        for (column, name) in header.iter().enumerate() {
            let cell = cells.get(column).map_or("", |c| c.trim());
            if cell.len() > limits.max_cell_bytes {
                return Err(InputError::TypedCellTooLong {
                    column: name.clone(),
                    max: limits.max_cell_bytes,
                });
            }
            text.push_str(cell);
            ends.push(offset(text.len())?);
        }
        if text.is_empty() {
            return Err(InputError::NoRows);
        }
        let len = offset(header.len())?;
        Ok(Self {
            format: SourceFormat::Form,
            header,
            header_line: 1,
            notices: Vec::new(),
            text,
            ends,
            rows: vec![RowSpan {
                line: 2,
                first: 0,
                len,
            }],
        })
    }

    /// Number of data rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no data rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Data row `index` (0-based; not the line number).
    #[must_use]
    pub fn row(&self, index: usize) -> Option<Row<'_>> {
        let span = self.rows.get(index)?;
        let first = span.first as usize;
        let start = match first {
            0 => 0,
            _ => *self.ends.get(first - 1)?,
        };
        Some(Row {
            line: span.line as usize,
            text: &self.text,
            start,
            ends: self.ends.get(first..first + span.len as usize)?,
        })
    }

    /// The data rows in file order.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.row(i))
    }
}

/// Collects cells into a [`Table`] while enforcing the limits.
struct Builder {
    limits: Limits,
    header: Option<(Vec<String>, usize)>,
    text: String,
    ends: Vec<u32>,
    rows: Vec<RowSpan>,
}

impl Builder {
    fn new(limits: Limits, size_hint: usize) -> Self {
        Self {
            limits,
            header: None,
            text: String::with_capacity(size_hint),
            ends: Vec::with_capacity(size_hint / 8),
            rows: Vec::with_capacity(size_hint / 48),
        }
    }

    /// Adds one record; blank records (every cell empty) are skipped.
    fn push<'c>(
        &mut self,
        line: usize,
        count: usize,
        cells: impl Iterator<Item = &'c str>,
    ) -> Result<(), InputError> {
        if count > self.limits.max_columns {
            return Err(InputError::TooManyColumns {
                line,
                count,
                max: self.limits.max_columns,
            });
        }
        if self.header.is_none() {
            let header: Vec<String> = cells.map(|c| c.trim().to_owned()).collect();
            if header.iter().all(String::is_empty) {
                return Ok(());
            }
            self.header = Some((header, line));
            return Ok(());
        }
        let first = self.ends.len();
        let mut blank = true;
        for cell in cells {
            // A cell the portal's exports neutralised against formulas ('=…) reads back as staged.
            let cell = portal_csv::restore(cell.trim());
            blank &= cell.is_empty();
            self.text.push_str(cell);
            self.ends.push(offset(self.text.len())?);
        }
        if blank {
            // Undo: the row is dropped (its cells added no text).
            self.ends.truncate(first);
            return Ok(());
        }
        if self.rows.len() >= self.limits.max_rows {
            return Err(InputError::TooManyRows {
                max: self.limits.max_rows,
            });
        }
        self.rows.push(RowSpan {
            line: offset(line)?,
            first: offset(first)?,
            len: offset(count)?,
        });
        Ok(())
    }

    /// Drops the first `count` cells of the header and of every row: columns left of a sheet's
    /// first used column. They are empty in every row, so they hold no text and removing their
    /// ends leaves every other cell's bounds as they were.
    fn drop_leading_columns(&mut self, count: usize) -> Result<(), InputError> {
        if let Some((header, _)) = &mut self.header {
            header.drain(..count.min(header.len()));
        }
        let mut kept = 0;
        for span in &mut self.rows {
            let (first, len) = (span.first as usize, span.len as usize);
            let dropped = count.min(len);
            self.ends.copy_within(first + dropped..first + len, kept);
            span.first = offset(kept)?;
            span.len = offset(len - dropped)?;
            kept += len - dropped;
        }
        self.ends.truncate(kept);
        Ok(())
    }

    fn finish(self, format: SourceFormat, notices: Vec<String>) -> Result<Table, InputError> {
        let (header, header_line) = self.header.ok_or(InputError::Empty)?;
        if self.rows.is_empty() {
            return Err(InputError::NoRows);
        }
        Ok(Table {
            format,
            header,
            header_line,
            notices,
            text: self.text,
            ends: self.ends,
            rows: self.rows,
        })
    }
}

/// Offsets are stored as `u32`; the byte limit keeps real uploads far below 4 GiB.
fn offset(value: usize) -> Result<u32, InputError> {
    u32::try_from(value).map_err(|_| InputError::TooLarge {
        actual: value,
        max: u32::MAX as usize,
    })
}

/// Decodes an uploaded file (CSV or spreadsheet, told apart by its first bytes).
///
/// # Errors
/// [`InputError`] when the file is too large, empty, of another kind, not decodable, or has no
/// data rows. Ragged rows are not errors: they are kept, and validation reports them.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Table, InputError> {
    if bytes.len() > limits.max_bytes {
        return Err(InputError::TooLarge {
            actual: bytes.len(),
            max: limits.max_bytes,
        });
    }
    if bytes.is_empty() {
        return Err(InputError::Empty);
    }
    const ZIP: &[u8] = b"PK\x03\x04";
    const OLE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
    if bytes.starts_with(ZIP) {
        return sheet::decode_spreadsheet(bytes, limits);
    }
    if bytes.starts_with(OLE) {
        return Err(InputError::UnsupportedSpreadsheet(sheet::COMPOUND_FILE));
    }
    if let Some(kind) = known_binary(bytes) {
        return Err(InputError::NotASpreadsheet(kind.to_owned()));
    }
    delimited::decode_csv(bytes, limits)
}

/// Common binary formats people upload by mistake, named so the message can say what it was.
fn known_binary(bytes: &[u8]) -> Option<&'static str> {
    let signatures: [(&[u8], &str); 6] = [
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"PK\x05\x06", "an empty ZIP archive"),
        (b"\x1F\x8B", "a gzip archive"),
    ];
    signatures
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, name)| *name)
}

// ---------------------------------------------------------------------------------------------
// Header matching

/// A column the header is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedColumn<'a> {
    /// The configured header (a `friendly_name`).
    pub header: &'a str,
    /// Whether the file must have this column.
    pub required: bool,
}

/// Header of the first column of the portal's rows-with-errors export: the row's line in the
/// file it was uploaded from.
pub const LINE_HEADER: &str = "Line";
/// Header of the last column of the portal's rows-with-errors export: what is wrong with the row.
pub const ERRORS_HEADER: &str = "Errors";

/// Where each expected column is in the file, and which file columns are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    /// For each expected column (in the order given), its index in the file's header, or `None`
    /// for an optional column the file does not have (its cells are then empty).
    pub positions: Vec<Option<usize>>,
    /// File columns that match no expected column: `(index, header as written)`. Not errors.
    pub ignored: Vec<(usize, String)>,
    /// The columns the portal's own export adds ([`LINE_HEADER`], [`ERRORS_HEADER`]), when they
    /// are not columns of the template: a re-uploaded export skips them without a notice.
    pub export_columns: Vec<usize>,
}

impl ColumnMap {
    /// The header as uploaded, without the export's own columns: the columns an export of
    /// this upload gives back.
    #[must_use]
    pub fn uploaded_header(&self, header: &[String]) -> Vec<String> {
        header
            .iter()
            .enumerate()
            .filter(|(index, _)| !self.export_columns.contains(index))
            .map(|(_, cell)| cell.clone())
            .collect()
    }

    /// One notice per ignored column, for the uploader ("Column 7 \"Notes\" is not used …").
    #[must_use]
    pub fn notices(&self) -> Vec<String> {
        self.ignored
            .iter()
            .map(|(index, header)| {
                if header.is_empty() {
                    format!("Column {} has no header and is ignored.", index + 1)
                } else {
                    format!(
                        "Column {} \"{header}\" is not a column of this template and is ignored.",
                        index + 1
                    )
                }
            })
            .collect()
    }
}

/// Why a header does not fit the template. Every problem is listed at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    /// Required columns the header lacks, as configured.
    pub missing: Vec<String>,
    /// Columns present more than once: the configured header and the 1-based file positions.
    pub duplicates: Vec<(String, Vec<usize>)>,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sentences = Vec::new();
        if !self.missing.is_empty() {
            sentences.push(format!(
                "Missing columns: {}. Add {} to the header row (download the template to see \
                 every column).",
                self.missing.join(", "),
                if self.missing.len() == 1 {
                    "it"
                } else {
                    "them"
                }
            ));
        }
        for (header, positions) in &self.duplicates {
            let positions: Vec<String> = positions.iter().map(ToString::to_string).collect();
            sentences.push(format!(
                "The column \"{header}\" appears more than once (columns {}). Keep one.",
                positions.join(" and ")
            ));
        }
        f.write_str(&sentences.join(" "))
    }
}

impl std::error::Error for HeaderError {}

/// The forgiving form of a header: surrounding quotes removed, then the config crate's
/// [`header_key`] (case, white space including no-break spaces, byte-order and zero-width marks,
/// Unicode normalisation), so headers compare exactly as the template was made.
fn forgiving_key(header: &str) -> String {
    let trimmed = header.trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '\u{201C}' | '\u{201D}' | '\u{FEFF}')
    });
    header_key(trimmed)
}

/// Matches a file's header to the expected columns by name, forgiving case, spacing, byte-order
/// marks, no-break spaces and surrounding quotes.
///
/// # Errors
/// [`HeaderError`] listing missing required columns by name and expected columns present more
/// than once. Unknown columns are not errors: they are in [`ColumnMap::ignored`].
pub fn match_columns(
    header: &[String],
    expected: &[ExpectedColumn<'_>],
) -> Result<ColumnMap, HeaderError> {
    let expected_keys: Vec<String> = expected.iter().map(|c| forgiving_key(c.header)).collect();
    let export_keys = [forgiving_key(LINE_HEADER), forgiving_key(ERRORS_HEADER)];
    let mut found: Vec<Vec<usize>> = vec![Vec::new(); expected.len()];
    let mut ignored = Vec::new();
    let mut export_columns = Vec::new();
    for (index, cell) in header.iter().enumerate() {
        let key = forgiving_key(cell);
        match expected_keys
            .iter()
            .position(|k| !key.is_empty() && *k == key)
        {
            Some(column) => found[column].push(index),
            None if export_keys.contains(&key) => export_columns.push(index),
            None => ignored.push((index, cell.clone())),
        }
    }
    let mut missing = Vec::new();
    let mut duplicates = Vec::new();
    for (column, indexes) in expected.iter().zip(&found) {
        if indexes.is_empty() && column.required {
            missing.push(column.header.to_owned());
        }
        if indexes.len() > 1 {
            duplicates.push((
                column.header.to_owned(),
                indexes.iter().map(|i| i + 1).collect(),
            ));
        }
    }
    if !missing.is_empty() || !duplicates.is_empty() {
        return Err(HeaderError {
            missing,
            duplicates,
        });
    }
    Ok(ColumnMap {
        positions: found.iter().map(|f| f.first().copied()).collect(),
        ignored,
        export_columns,
    })
}
