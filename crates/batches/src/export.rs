//! Exports of a batch, written by the portal's one CSV writer (`portal-csv`): cells as staged,
//! but never read as formulas by the spreadsheet that opens them.
//!
//! The rows-with-errors file (`invalid.csv`) is the upload given back to fix offline: the row's
//! line in the uploaded file, then exactly the uploaded columns in their order (those the
//! template does not know included), then what is wrong. Uploading it again works: the staging
//! reader recognises the "Line" and "Errors" columns as the export's own. It is read from the
//! database a page at a time and sent as it is written, so a large batch is never held whole.

use futures::Stream;
use portal_staging::{ERRORS_HEADER, LINE_HEADER, Validator};
use portal_store::Db;
use portal_store::staging::{self, BatchInfo, RowRecord, StoredProblem};
use uuid::Uuid;

use crate::{BatchError, Refusal, Staging, TenantConfig};

/// Rows with errors read from the database per query (keyset by row index).
pub const EXPORT_PAGE_ROWS: u64 = 500;

/// Where an exported column's cells come from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The template column with this index (`RowRecord::raw`).
    Template(usize),
    /// The uploaded column the template does not have, with this index (`RowRecord::extra`).
    Extra(usize),
}

/// The exported columns between "Line" and "Errors".
#[derive(Debug, Clone)]
struct Layout {
    header: Vec<String>,
    sources: Vec<Source>,
}

impl Layout {
    /// The uploaded header when the batch kept it and it still matches the user type; the
    /// template's columns otherwise (batches staged before the header was kept).
    fn of(info: &BatchInfo, validator: &Validator) -> Self {
        let uploaded = info
            .upload_header
            .as_ref()
            .and_then(|header| Some((header, validator.column_map(header).ok()?)));
        let Some((header, map)) = uploaded else {
            return Self {
                header: validator
                    .columns()
                    .iter()
                    .map(|c| c.header.clone())
                    .collect(),
                sources: (0..validator.columns().len())
                    .map(Source::Template)
                    .collect(),
            };
        };
        let mut sources = vec![None; header.len()];
        for (template, at) in map.positions.iter().enumerate() {
            if let Some(at) = *at {
                sources[at] = Some(Source::Template(template));
            }
        }
        for (extra, (at, _)) in map.ignored.iter().enumerate() {
            sources[*at] = Some(Source::Extra(extra));
        }
        // The stored header has no export columns; were there any, they are left out.
        let (header, sources) = header
            .iter()
            .zip(sources)
            .filter_map(|(cell, source)| Some((cell.clone(), source?)))
            .unzip();
        Self { header, sources }
    }

    fn write_header(&self, csv: &mut portal_csv::CsvWriter) {
        csv.row(
            std::iter::once(LINE_HEADER)
                .chain(self.header.iter().map(String::as_str))
                .chain(std::iter::once(ERRORS_HEADER)),
        );
    }

    fn write_row(&self, csv: &mut portal_csv::CsvWriter, row: &RowRecord) {
        let cell = |source: &Source| {
            let cells = match source {
                Source::Template(i) => row.raw.get(*i),
                Source::Extra(i) => row.extra.get(*i),
            };
            cells.map_or("", String::as_str)
        };
        let line = row.line.to_string();
        let errors = describe(&row.problems);
        csv.row(
            std::iter::once(line.as_str())
                .chain(self.sources.iter().map(cell))
                .chain(std::iter::once(errors.as_str())),
        );
    }
}

/// The Errors cell: `CHP Phone: Not a valid KE phone number. Enter a KE phone number, such as
/// …`, problems separated by ` | `.
fn describe(problems: &[StoredProblem]) -> String {
    let mut out = String::new();
    for problem in problems {
        if !out.is_empty() {
            out.push_str(" | ");
        }
        if let Some(column) = &problem.column {
            out.push_str(column);
            out.push_str(": ");
        }
        out.push_str(&problem.message);
        if !out.ends_with(['.', '!', '?']) {
            out.push('.');
        }
        if !problem.fix.is_empty() {
            out.push(' ');
            out.push_str(&problem.fix);
        }
    }
    out
}

/// Where the export has got to.
struct Cursor {
    db: Db,
    batch: Uuid,
    layout: Layout,
    csv: portal_csv::CsvWriter,
    /// A page read but not yet written (the first one, read before answering).
    ready: Option<Vec<RowRecord>>,
    after: Option<i32>,
    done: bool,
}

impl Cursor {
    /// The next piece of the file: one page of rows (the first with the header).
    async fn next_chunk(mut self) -> Option<(Result<Vec<u8>, BatchError>, Self)> {
        if self.done {
            return None;
        }
        let page = match self.ready.take() {
            Some(page) => page,
            None => {
                match staging::error_rows_after(&self.db, self.batch, self.after, EXPORT_PAGE_ROWS)
                    .await
                {
                    Ok(page) => page,
                    Err(error) => {
                        // The response has begun: the download ends short, and the log says why.
                        tracing::error!(batch = %self.batch, %error, "invalid.csv export failed");
                        self.done = true;
                        return Some((Err(error.into()), self));
                    }
                }
            }
        };
        self.done = (page.len() as u64) < EXPORT_PAGE_ROWS;
        self.after = page.last().map(|r| r.idx).or(self.after);
        for row in &page {
            self.layout.write_row(&mut self.csv, row);
        }
        let bytes = self.csv.take_written();
        Some((Ok(bytes), self))
    }
}

impl Staging {
    /// The rows with errors as CSV ("Line", the uploaded columns, "Errors"), to fix offline and
    /// upload again; a stream of pieces to send as they come. The first page is read before
    /// this returns, so a database that cannot be read is an error, not a truncated file.
    pub async fn invalid_csv(
        &self,
        info: &BatchInfo,
        config: &TenantConfig,
    ) -> Result<impl Stream<Item = Result<Vec<u8>, BatchError>> + Send + 'static, BatchError> {
        let Some(kind) = config.contact_type(&info.contact_type) else {
            return Err(BatchError::Refused(Refusal::UnknownType(
                info.contact_type.clone(),
            )));
        };
        let validator = match Validator::new(kind) {
            Ok(v) => v,
            Err(e) => return Err(BatchError::Refused(Refusal::Config(e.to_string()))),
        };
        let layout = Layout::of(info, &validator);
        let first = staging::error_rows_after(&self.db, info.id, None, EXPORT_PAGE_ROWS).await?;
        let mut csv = portal_csv::CsvWriter::new();
        layout.write_header(&mut csv);
        let cursor = Cursor {
            db: self.db.clone(),
            batch: info.id,
            layout,
            csv,
            ready: Some(first),
            after: None,
            done: false,
        };
        Ok(futures::stream::unfold(cursor, Cursor::next_chunk))
    }
}
