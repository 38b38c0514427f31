//! Spreadsheets: the first sheet of an `.xlsx` workbook, read cell by cell.
//!
//! calamine's `worksheet_range` sizes a dense grid from the sheet's corner cells before anything
//! can be checked (two cells, `A1` and `XFD1048576`, ask for ~17 billion), so the sheet is read
//! with its streaming cell reader instead: each cell's position and size is checked as it
//! arrives, and only rows holding something are kept. The package is measured first
//! ([`super::package`]), so nothing calamine inflates can exceed the unpacked limit.
//!
//! `.xls`, `.xlsb` and `.ods` are refused: calamine reads them whole, sizing memory from what
//! the file declares (an `.xls` sheet's DIMENSIONS record, compound-file sector counts and
//! chains, `.ods` repeat counts), with no point at which a limit can be applied.

use std::borrow::Cow;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{DataRef, Reader, Xlsx, XlsxError};

use super::package::{self, Package};
use super::{Builder, InputError, Limits, SourceFormat, Table};

/// What the refusal of a compound file (OLE) says it is.
pub(super) const COMPOUND_FILE: &str =
    "an Excel 97-2003 workbook (.xls), or a workbook protected by a password";

pub(super) fn decode_spreadsheet(bytes: &[u8], limits: &Limits) -> Result<Table, InputError> {
    // A third-party parser of an uploaded binary format: a panic in it must not take the portal
    // down. (An allocation failure would abort the process: reading in bounded memory is what
    // prevents that, not this.)
    catch_unwind(AssertUnwindSafe(|| read_workbook(bytes, limits))).unwrap_or_else(|_| {
        Err(InputError::Spreadsheet(
            "the spreadsheet reader failed on this file".to_owned(),
        ))
    })
}

fn read_workbook(bytes: &[u8], limits: &Limits) -> Result<Table, InputError> {
    match package::inspect(bytes, limits.max_unpacked_bytes)? {
        Package::Workbook => {}
        Package::BinaryWorkbook => {
            return Err(InputError::UnsupportedSpreadsheet(
                "an Excel binary workbook (.xlsb)",
            ));
        }
        Package::OpenDocument => {
            return Err(InputError::UnsupportedSpreadsheet(
                "an OpenDocument file (such as a LibreOffice .ods spreadsheet)",
            ));
        }
        Package::Other => {
            return Err(InputError::NotASpreadsheet(
                "a ZIP archive that is not an Excel workbook".to_owned(),
            ));
        }
    }
    let unreadable = |e: XlsxError| InputError::Spreadsheet(one_line(&e));
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let name = workbook
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| InputError::Spreadsheet("the workbook has no sheet".to_owned()))?;
    let mut cells = workbook
        .worksheet_cells_reader(&name)
        .map_err(|e| match e {
            XlsxError::NotAWorksheet(kind) => InputError::Spreadsheet(format!(
                "its first sheet, \"{name}\", is a {kind}, not a table of cells: move the sheet \
                 to upload to the front"
            )),
            e => unreadable(e),
        })?;
    // The capacity hint is the file's size: the cells' text is rarely much larger.
    let mut sheet = SheetRows::new(Builder::new(*limits, bytes.len()), *limits);
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (row, column) = cell.get_position();
        sheet.add(row, column, cell.get_value())?;
    }
    sheet.finish()
}

/// Gathers streamed cells into rows for the [`Builder`], within the limits.
struct SheetRows {
    builder: Builder,
    limits: Limits,
    /// The sheet row being gathered (0-based) and its cells by column, gaps empty.
    row: Option<u32>,
    cells: Vec<String>,
    /// The leftmost column holding something: columns left of it are empty in every row and
    /// not part of the table.
    first_column: usize,
}

impl SheetRows {
    fn new(builder: Builder, limits: Limits) -> Self {
        Self {
            builder,
            limits,
            row: None,
            cells: Vec::new(),
            first_column: usize::MAX,
        }
    }

    fn add(&mut self, row: u32, column: u32, value: &DataRef<'_>) -> Result<(), InputError> {
        // Empty cells (formatting only) are neither checked nor kept: they cost nothing.
        if matches!(value, DataRef::Empty) {
            return Ok(());
        }
        let index = column as usize;
        if index >= self.limits.max_columns {
            return Err(InputError::CellBeyondColumns {
                cell: cell_name(row, column),
                column: column + 1,
                max: self.limits.max_columns,
            });
        }
        let text = cell_text(value);
        if text.len() > self.limits.max_cell_bytes {
            return Err(InputError::SheetCellTooLong {
                cell: cell_name(row, column),
                max: self.limits.max_cell_bytes,
            });
        }
        if text.is_empty() {
            return Ok(());
        }
        match self.row {
            Some(current) if current == row => {}
            Some(current) if row < current => {
                return Err(InputError::Spreadsheet(format!(
                    "its rows are out of order (row {} comes after row {})",
                    row + 1,
                    current + 1
                )));
            }
            _ => {
                self.flush()?;
                self.row = Some(row);
            }
        }
        if self.cells.len() <= index {
            self.cells.resize(index + 1, String::new());
        }
        self.cells[index] = text.into_owned();
        self.first_column = self.first_column.min(index);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), InputError> {
        if let Some(row) = self.row.take() {
            let line = row as usize + 1;
            self.builder.push(
                line,
                self.cells.len(),
                self.cells.iter().map(String::as_str),
            )?;
            self.cells.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Table, InputError> {
        self.flush()?;
        if self.first_column != usize::MAX {
            self.builder.drop_leading_columns(self.first_column)?;
        }
        self.builder.finish(SourceFormat::Spreadsheet, Vec::new())
    }
}

/// `B7` for row 6, column 1 (0-based).
fn cell_name(row: u32, column: u32) -> String {
    let mut letters = Vec::new();
    let mut n = column + 1;
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!(
        "{}{}",
        String::from_utf8_lossy(&letters),
        u64::from(row) + 1
    )
}

fn one_line(error: &dyn std::fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A cell as the text a person sees: whole numbers without ".0" (phone numbers and codes are
/// often stored as numbers), dates as ISO `yyyy-mm-dd`, errors as Excel writes them (`#N/A`), so
/// validation reports them. Text is borrowed, so its size is checked before it is copied.
fn cell_text<'v>(cell: &'v DataRef<'_>) -> Cow<'v, str> {
    match cell {
        DataRef::Empty => Cow::Borrowed(""),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cow::Borrowed(s),
        DataRef::SharedString(s) => Cow::Borrowed(s),
        DataRef::Int(i) => Cow::Owned(i.to_string()),
        DataRef::Float(f) => Cow::Owned(render_float(*f)),
        DataRef::Bool(b) => Cow::Borrowed(if *b { "TRUE" } else { "FALSE" }),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
            Cow::Owned(if (hh, mm, ss) == (0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
            })
        }
        DataRef::DateTime(dt) => Cow::Owned(render_float(dt.as_f64())),
        DataRef::Error(e) => Cow::Owned(e.to_string()),
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
