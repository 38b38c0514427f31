//! Delimited text (CSV): decoding the text, finding the delimiter, and reading records field
//! by field so that no cell and no row grows past the limits before it is refused.

use std::borrow::Cow;

use csv_core::{ReadFieldResult, Reader, ReaderBuilder};

use super::{Builder, InputError, Limits, SourceFormat, Table};

pub(super) fn decode_csv(bytes: &[u8], limits: &Limits) -> Result<Table, InputError> {
    let (text, encoding, mut notices) = decode_text(bytes)?;
    let delimiter = sniff_delimiter(&text);
    let mut builder = Builder::new(*limits, text.len());
    let mut records = Records::new(&text, delimiter, limits);
    while let Some((line, record)) = records.next_record()? {
        builder.push(line, record.len(), record.cells())?;
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

/// Reads records with `csv-core` (the parser inside the `csv` crate, with the same defaults),
/// one field at a time into a buffer that never grows past the cell limit; fields past the
/// column limit are counted, not kept. A whole record is never held before the limits apply.
struct Records<'t> {
    text: &'t str,
    reader: Reader,
    limits: Limits,
    /// Bytes of `text` consumed so far.
    at: usize,
    lines: LineCounter,
    field: Vec<u8>,
    record: Record,
}

/// The kept cells of one record.
#[derive(Debug, Default)]
struct Record {
    text: String,
    ends: Vec<usize>,
}

impl Record {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn cells(&self) -> impl Iterator<Item = &str> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.text[start..end])
    }
}

impl<'t> Records<'t> {
    fn new(text: &'t str, delimiter: u8, limits: &Limits) -> Self {
        Self {
            text,
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            limits: *limits,
            at: 0,
            lines: LineCounter::default(),
            field: vec![0; limits.max_cell_bytes.clamp(1, 1024)],
            record: Record::default(),
        }
    }

    /// The next record and its line, or `None` at the end of the text.
    fn next_record(&mut self) -> Result<Option<(usize, &Record)>, InputError> {
        self.record.text.clear();
        self.record.ends.clear();
        // Where the record starts (or the line breaks before it: see `LineCounter::line_at`).
        let start = self.at;
        let mut columns = 0usize;
        let mut used = 0usize;
        loop {
            let input = &self.text.as_bytes()[self.at..];
            // Empty input tells the reader the text has ended.
            let (result, read, written) = self.reader.read_field(input, &mut self.field[used..]);
            self.at += read;
            used += written;
            match result {
                ReadFieldResult::InputEmpty => {}
                ReadFieldResult::OutputFull if columns >= self.limits.max_columns => used = 0,
                ReadFieldResult::OutputFull => {
                    if used > self.limits.max_cell_bytes {
                        return Err(InputError::CellTooLong {
                            line: self.lines.line_at(self.text, start),
                            column: columns + 1,
                            max: self.limits.max_cell_bytes,
                        });
                    }
                    let grown = (self.field.len() * 2).min(self.limits.max_cell_bytes + 1);
                    self.field.resize(grown, 0);
                }
                ReadFieldResult::Field { record_end } => {
                    if columns < self.limits.max_columns {
                        let bytes = &self.field[..used];
                        if bytes.len() > self.limits.max_cell_bytes {
                            return Err(InputError::CellTooLong {
                                line: self.lines.line_at(self.text, start),
                                column: columns + 1,
                                max: self.limits.max_cell_bytes,
                            });
                        }
                        // Fields of UTF-8 text split at ASCII delimiters are UTF-8.
                        let cell = std::str::from_utf8(bytes).map_err(|e| InputError::Csv {
                            line: self.lines.line_at(self.text, start),
                            detail: e.to_string(),
                        })?;
                        self.record.text.push_str(cell);
                        self.record.ends.push(self.record.text.len());
                    }
                    columns += 1;
                    used = 0;
                    if record_end {
                        let line = self.lines.line_at(self.text, start);
                        if columns > self.limits.max_columns {
                            return Err(InputError::TooManyColumns {
                                line,
                                count: columns,
                                max: self.limits.max_columns,
                            });
                        }
                        return Ok(Some((line, &self.record)));
                    }
                }
                ReadFieldResult::End => return Ok(None),
            }
        }
    }
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
