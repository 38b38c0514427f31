//! Measuring a spreadsheet's ZIP package before the spreadsheet reader opens it.
//!
//! A ZIP states the unpacked size of each part, but nothing holds a part to it: the inflater
//! stops where the compressed data ends, not where the header said. So every part is inflated
//! here once, through a reader that counts the bytes it produces and stops one byte past the
//! budget; the sizes the ZIP declares are never trusted. calamine then inflates the parts it needs
//! again, with the same `zip` crate from the same bytes, so it can never unpack more than was
//! counted here. (Inflating twice costs time, not memory: parts are streamed, never held.)
//!
//! The same pass checks the one count calamine 0.35 reserves memory for before reading: the
//! `uniqueCount` of the shared strings table.

use std::io::{BufReader, Cursor, Read};

use quick_xml::events::Event;
use quick_xml::name::QName;

use super::InputError;

/// What kind of package a ZIP is, from the names of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Package {
    /// An Office Open XML workbook (`.xlsx`, `.xlsm`).
    Workbook,
    /// An Excel binary workbook (`.xlsb`).
    BinaryWorkbook,
    /// An OpenDocument file (a LibreOffice `.ods` spreadsheet, or some other document).
    OpenDocument,
    /// Some other ZIP archive.
    Other,
}

/// The smallest shared string, `<si/>`, in bytes.
const SMALLEST_SHARED_STRING: u64 = 5;

/// Inflates every part of the ZIP `bytes`, counting, and refuses the package when the parts
/// unpack to more than `max_unpacked` bytes in all or declare more shared strings than they hold.
pub(super) fn inspect(bytes: &[u8], max_unpacked: u64) -> Result<Package, InputError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| InputError::Spreadsheet(format!("the ZIP structure is damaged ({e})")))?;
    let mut package = Package::Other;
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        // A part the `zip` crate cannot open (encrypted, unknown compression) cannot be
        // inflated by calamine either: there is nothing to count.
        let Ok(mut part) = archive.by_index(index) else {
            continue;
        };
        // calamine finds parts by this normalised name.
        let name = part.name().replace('\\', "/").to_ascii_lowercase();
        package = match name.as_str() {
            "xl/workbook.xml" => Package::Workbook,
            "xl/workbook.bin" if package != Package::Workbook => Package::BinaryWorkbook,
            "content.xml" | "mimetype" if package == Package::Other => Package::OpenDocument,
            _ => package,
        };
        let budget = max_unpacked - total;
        let mut counted = Counter::new((&mut part).take(budget.saturating_add(1)));
        let declared_strings = if name == "xl/sharedstrings.xml" {
            shared_strings(&mut counted)
        } else {
            drain(&mut counted);
            None
        };
        let unpacked = counted.count;
        total += unpacked;
        if total > max_unpacked {
            return Err(InputError::UnpacksTooLarge { max: max_unpacked });
        }
        if let Some(declared) = declared_strings {
            let room = unpacked / SMALLEST_SHARED_STRING;
            if declared > room {
                return Err(InputError::Spreadsheet(format!(
                    "its shared strings part declares {declared} shared strings but its \
                     {unpacked} bytes can hold at most {room}"
                )));
            }
        }
    }
    Ok(package)
}

/// Counts the bytes read through it.
struct Counter<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Counter<R> {
    const fn new(inner: R) -> Self {
        Self { inner, count: 0 }
    }
}

impl<R: Read> Read for Counter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count += read as u64;
        Ok(read)
    }
}

/// Reads `part` to its end, or to its first error (where calamine would stop too).
fn drain(part: &mut impl Read) {
    let mut buffer = vec![0u8; 64 << 10];
    while let Ok(read) = part.read(&mut buffer) {
        if read == 0 {
            break;
        }
    }
}

/// Reads the shared strings part to its end, parsing its start as calamine's
/// `read_shared_strings` does (the same XML reader, version and settings): the first `sst`
/// element, and the largest `uniqueCount` on it that calamine could reserve room for.
fn shared_strings(part: &mut impl Read) -> Option<u64> {
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
    let config = xml.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buffer = Vec::new();
    let mut declared = None;
    loop {
        buffer.clear();
        match xml.read_event_into(&mut buffer) {
            Ok(Event::Start(element)) if element.local_name().as_ref() == b"sst" => {
                // calamine takes the first attribute so named and gives up at a malformed one:
                // every one before that is checked.
                for attribute in element.attributes() {
                    let Ok(attribute) = attribute else { break };
                    if attribute.key == QName(b"uniqueCount") {
                        declared = declared.max(parsed_count(&attribute.value));
                    }
                }
                break;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    drop(buffer);
    drain(&mut xml.into_inner());
    declared
}

/// A count as calamine parses it (`atoi_simd`: digits, perhaps after a `+`), saturating; `None`
/// when it is not a number, which calamine then ignores.
fn parsed_count(value: &[u8]) -> Option<u64> {
    let digits = value.strip_prefix(b"+").unwrap_or(value);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}
