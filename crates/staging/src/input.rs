//! Decoding an uploaded file into a header and data rows of trimmed text, each row keeping its
//! line in the file, and matching the header to a contact type's columns.
//!
//! The format is found from the bytes, never from the file name: a ZIP or OLE signature is a
//! spreadsheet (`.xlsx`, `.xls`, `.ods`), anything else must be text (CSV). Text that is not UTF-8
//! is converted from the encoding it most likely is (in practice Windows-1252), and the
//! conversion is reported as a notice rather than done silently.

use std::borrow::Cow;
use std::fmt;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Data, Reader};
use portal_deploy_config::header_key;

/// Bounds on what an upload may hold, checked before and while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// Largest total uncompressed size of a spreadsheet's parts, in bytes (a guard against
    /// "ZIP bombs": an `.xlsx` is a ZIP archive).
    pub max_unpacked_bytes: u64,
    /// Most data rows accepted (the header and blank rows do not count).
    pub max_rows: usize,
    /// Most columns accepted in any row.
    pub max_columns: usize,
}

impl Default for Limits {
    /// 32 MiB, 256 MiB unpacked, 200,000 rows, 200 columns: several times a national upload.
    fn default() -> Self {
        Self {
            max_bytes: 32 << 20,
            max_unpacked_bytes: 256 << 20,
            max_rows: 200_000,
            max_columns: 200,
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
            let cell = cell.trim();
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
    if bytes.starts_with(ZIP) || bytes.starts_with(OLE) {
        return decode_spreadsheet(bytes, limits);
    }
    if let Some(kind) = known_binary(bytes) {
        return Err(InputError::NotASpreadsheet(kind.to_owned()));
    }
    decode_csv(bytes, limits)
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
// CSV

fn decode_csv(bytes: &[u8], limits: &Limits) -> Result<Table, InputError> {
    let (text, encoding, mut notices) = decode_text(bytes)?;
    let delimiter = sniff_delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut builder = Builder::new(*limits, text.len());
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::default();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let start = record
                    .position()
                    .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
                let line = lines.line_at(&text, start);
                builder.push(line, record.len(), record.iter())?;
            }
            Err(e) => {
                let line = e
                    .position()
                    .map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
                return Err(InputError::Csv {
                    line,
                    detail: e.to_string(),
                });
            }
        }
    }
    if unterminated_quote(&text, delimiter) {
        notices.push(
            "A quoted cell is never closed, so the rest of the file was read as one cell: check \
             for a stray double quote (\") in the last rows."
                .to_owned(),
        );
    }
    let format = SourceFormat::Csv {
        encoding,
        delimiter: char::from(delimiter),
    };
    builder.finish(format, notices)
}

/// Line numbers of records, counted incrementally (the CSV reader's own count lags behind when
/// blank lines precede a record).
#[derive(Debug)]
struct LineCounter {
    cursor: usize,
    line: usize,
}

impl Default for LineCounter {
    fn default() -> Self {
        Self { cursor: 0, line: 1 }
    }
}

impl LineCounter {
    /// The line of the record whose bytes start at `start` (or at the first byte after it that
    /// is not a line break: the reader's start may be the end of the previous record).
    fn line_at(&mut self, text: &str, start: usize) -> usize {
        let bytes = text.as_bytes();
        let start = start.clamp(self.cursor, bytes.len());
        self.line += bytes[self.cursor..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let mut at = start;
        while let Some(&b) = bytes.get(at) {
            match b {
                b'\n' => self.line += 1,
                b'\r' => {}
                _ => break,
            }
            at += 1;
        }
        self.cursor = at;
        self.line
    }
}

/// The text of the file, the name of the encoding it was read as, and a notice when it was not
/// UTF-8.
fn decode_text(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str, Vec<String>), InputError> {
    let undecodable =
        |encoding: &'static str, detail: String| InputError::Undecodable { encoding, detail };
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        let text = std::str::from_utf8(rest).map_err(|e| {
            undecodable(
                "UTF-8",
                format!(
                    "it starts with a UTF-8 mark but byte {} is not UTF-8",
                    e.valid_up_to() + 3
                ),
            )
        })?;
        return checked(Cow::Borrowed(text), "UTF-8", Vec::new());
    }
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(bytes) {
        // UTF-16 ("Unicode text" from Excel); UTF-8 was handled above.
        let (text, had_errors) = encoding.decode_with_bom_removal(bytes);
        if had_errors {
            return Err(undecodable(
                encoding.name(),
                "some characters are damaged".to_owned(),
            ));
        }
        return checked(Cow::Owned(text.into_owned()), encoding.name(), Vec::new());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return checked(Cow::Borrowed(text), "UTF-8", Vec::new());
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let encoding = detector.guess(None, chardetng::Utf8Detection::Deny);
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(undecodable(
            encoding.name(),
            "some bytes are not valid in that encoding".to_owned(),
        ));
    }
    let notice = format!(
        "The file is not UTF-8; it was read as {}. Check that accented letters (é, ñ, ç) look \
         right below, or save the file as \"CSV UTF-8\" and upload it again.",
        describe_encoding(encoding.name())
    );
    checked(Cow::Owned(text.into_owned()), encoding.name(), vec![notice])
}

fn describe_encoding(name: &'static str) -> String {
    match name {
        "windows-1252" => "Windows-1252 (Western European, also called Latin-1)".to_owned(),
        other => other.to_owned(),
    }
}

/// Rejects text holding control characters: a binary file, or bytes that mean nothing in the
/// encoding guessed (Windows-1252 maps its five undefined bytes to C1 controls).
fn checked<'t>(
    text: Cow<'t, str>,
    encoding: &'static str,
    notices: Vec<String>,
) -> Result<(Cow<'t, str>, &'static str, Vec<String>), InputError> {
    if let Some((at, c)) = text
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        let line = text[..at].matches('\n').count() + 1;
        let detail = format!(
            "line {line} holds the control character U+{:04X}",
            u32::from(c)
        );
        return Err(if c == '\0' {
            InputError::NotASpreadsheet(format!("binary data: {detail}"))
        } else {
            InputError::Undecodable { encoding, detail }
        });
    }
    Ok((text, encoding, notices))
}

/// The delimiter of the header line: whichever of `,`, `;` and tab occurs most often outside
/// quotes (a comma on a tie or when none occurs). Excel in many European locales writes `;`.
fn sniff_delimiter(text: &str) -> u8 {
    let (mut commas, mut semicolons, mut tabs) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    let mut content = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            // The header line ends here (blank lines before it are skipped).
            b'\n' | b'\r' if !quoted && content => break,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            b'\t' if !quoted => tabs += 1,
            _ => {}
        }
        content |= !matches!(b, b'\n' | b'\r' | b' ');
    }
    if semicolons > commas && semicolons >= tabs {
        b';'
    } else if tabs > commas && tabs > semicolons {
        b'\t'
    } else {
        b','
    }
}

/// Whether a quoted field opens and never closes (the CSV reader then swallows the rest of the
/// file into one cell, silently).
fn unterminated_quote(text: &str, delimiter: u8) -> bool {
    let mut quoted = false;
    let mut at_field_start = true;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if quoted {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
        } else if b == b'"' && at_field_start {
            quoted = true;
        } else {
            at_field_start = b == delimiter || b == b'\n' || b == b'\r';
        }
        i += 1;
    }
    quoted
}

// ---------------------------------------------------------------------------------------------
// Spreadsheets

fn decode_spreadsheet(bytes: &[u8], limits: &Limits) -> Result<Table, InputError> {
    // A third-party parser of an uploaded binary format: a panic in it must not take the portal
    // down.
    catch_unwind(AssertUnwindSafe(|| read_spreadsheet(bytes, limits))).unwrap_or_else(|_| {
        Err(InputError::Spreadsheet(
            "the spreadsheet reader failed on this file".to_owned(),
        ))
    })
}

fn read_spreadsheet(bytes: &[u8], limits: &Limits) -> Result<Table, InputError> {
    if bytes.starts_with(b"PK") {
        check_unpacked_size(bytes, limits.max_unpacked_bytes)?;
    }
    let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| InputError::Spreadsheet(one_line(&e)))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| InputError::Spreadsheet("the workbook has no sheet".to_owned()))?
        .map_err(|e| InputError::Spreadsheet(one_line(&e)))?;
    // The sheet may start below row 1 (blank rows above are not stored).
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    // The capacity hint is bounded by the file size: stray formatting can make a range huge.
    let hint = (range.height().saturating_mul(range.width()) * 12).min(bytes.len() * 4);
    let mut builder = Builder::new(*limits, hint);
    let mut rendered: Vec<String> = Vec::with_capacity(range.width());
    for (i, cells) in range.rows().enumerate() {
        rendered.clear();
        rendered.extend(cells.iter().map(render_cell));
        // Trailing empty cells are formatting, not data: drop them so rows are not ragged.
        while rendered.last().is_some_and(String::is_empty) {
            rendered.pop();
        }
        builder.push(
            first_row + i + 1,
            rendered.len(),
            rendered.iter().map(String::as_str),
        )?;
    }
    builder.finish(SourceFormat::Spreadsheet, Vec::new())
}

/// Refuses archives whose parts unpack to more than `max` bytes, as declared in the ZIP's
/// central directory, before the spreadsheet reader inflates them.
fn check_unpacked_size(bytes: &[u8], max: u64) -> Result<(), InputError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| InputError::Spreadsheet(format!("the ZIP structure is damaged ({e})")))?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let size = archive
            .by_index_raw(i)
            .map_err(|e| InputError::Spreadsheet(format!("the ZIP structure is damaged ({e})")))?
            .size();
        total = total.saturating_add(size);
        if total > max {
            return Err(InputError::UnpacksTooLarge { max });
        }
    }
    Ok(())
}

fn one_line(error: &dyn fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A cell as the text a person sees: whole numbers without ".0" (phone numbers and codes are
/// often stored as numbers), dates as ISO `yyyy-mm-dd`, errors as Excel writes them (`#N/A`), so
/// validation reports them.
fn render_cell(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => render_float(*f),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
            if (hh, mm, ss) == (0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
            }
        }
        Data::DateTime(dt) => render_float(dt.as_f64()),
        Data::Error(e) => e.to_string(),
    }
}

#[allow(clippy::cast_possible_truncation)] // guarded: whole and below 2^53
fn render_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        (f as i64).to_string()
    } else {
        f.to_string()
    }
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

/// Where each expected column is in the file, and which file columns are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    /// For each expected column (in the order given), its index in the file's header, or `None`
    /// for an optional column the file does not have (its cells are then empty).
    pub positions: Vec<Option<usize>>,
    /// File columns that match no expected column: `(index, header as written)`. Not errors.
    pub ignored: Vec<(usize, String)>,
}

impl ColumnMap {
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
    let mut found: Vec<Vec<usize>> = vec![Vec::new(); expected.len()];
    let mut ignored = Vec::new();
    for (index, cell) in header.iter().enumerate() {
        let key = forgiving_key(cell);
        match expected_keys
            .iter()
            .position(|k| !key.is_empty() && *k == key)
        {
            Some(column) => found[column].push(index),
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
    })
}
