//! Hostile uploads, built byte by byte: spreadsheets whose parts lie about their size or shape,
//! deflate bombs, CSV files with a huge line or thousands of columns, and the `.xls` fixtures.
//!
//! Shared by the staging crate's tests and, through `#[path]`, by the portal's HTTP tests
//! (`tests/it/upload_limits.rs`), so both run the very same files. Only `std` is used: the ZIP
//! structure and the deflate streams are written here by hand, so every declared size, count
//! and offset is exactly what the test says it is.
#![allow(dead_code)]

/// A `.xls` workbook (BIFF8 in a compound file) with a header and one row; see
/// `fixtures/make_xls.py`.
pub const SMALL_XLS: &[u8] = include_bytes!("../fixtures/small.xls");

/// [`SMALL_XLS`] with its sheet's DIMENSIONS record claiming 1,048,576 × 16,384 cells.
pub const HUGE_DIMENSIONS_XLS: &[u8] = include_bytes!("../fixtures/huge-dimensions.xls");

/// One entry of a ZIP archive as written.
pub struct Entry {
    pub name: String,
    /// Bytes as stored: the data itself (`deflated == false`) or a raw deflate stream.
    pub stored: Vec<u8>,
    pub deflated: bool,
    pub crc32: u32,
    /// The uncompressed size written in the local header and the central directory.
    pub declared_size: u32,
}

impl Entry {
    /// An entry stored as is, with its true size and checksum.
    pub fn plain(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.to_owned(),
            stored: data.to_vec(),
            deflated: false,
            crc32: crc32(data),
            declared_size: u32::try_from(data.len()).expect("a small part"),
        }
    }

    /// A deflated entry that unpacks to `pieces`, declaring its true size and checksum.
    pub fn deflated(name: &str, pieces: &[Piece<'_>]) -> Self {
        let size: u64 = pieces.iter().map(Piece::len).sum();
        Self {
            name: name.to_owned(),
            stored: deflate(pieces),
            deflated: true,
            crc32: pieces_crc32(pieces),
            declared_size: u32::try_from(size).expect("below 4 GiB"),
        }
    }
}

/// A piece of an entry's uncompressed content.
#[derive(Clone, Copy)]
pub enum Piece<'a> {
    Text(&'a str),
    /// `count` copies of one byte (a run compresses about 160 to 1).
    Run(u8, u64),
}

impl Piece<'_> {
    fn len(&self) -> u64 {
        match self {
            Piece::Text(text) => text.len() as u64,
            Piece::Run(_, count) => *count,
        }
    }
}

/// A ZIP archive of `entries` (local headers, data, central directory, end record).
pub fn zip(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = u32::try_from(out.len()).expect("a small archive");
        let method: u16 = if entry.deflated { 8 } else { 0 };
        let compressed = u32::try_from(entry.stored.len()).expect("a small archive");
        let name = entry.name.as_bytes();
        let name_len = u16::try_from(name.len()).expect("a short name");
        // Local file header.
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend(20u16.to_le_bytes()); // version needed
        out.extend(0u16.to_le_bytes()); // flags
        out.extend(method.to_le_bytes());
        out.extend(0u16.to_le_bytes()); // time
        out.extend(0x21u16.to_le_bytes()); // date: 1980-01-01
        out.extend(entry.crc32.to_le_bytes());
        out.extend(compressed.to_le_bytes());
        out.extend(entry.declared_size.to_le_bytes());
        out.extend(name_len.to_le_bytes());
        out.extend(0u16.to_le_bytes()); // extra field length
        out.extend(name);
        out.extend(&entry.stored);
        // Its central directory header.
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes()); // version made by
        central.extend(20u16.to_le_bytes()); // version needed
        central.extend(0u16.to_le_bytes());
        central.extend(method.to_le_bytes());
        central.extend(0u16.to_le_bytes());
        central.extend(0x21u16.to_le_bytes());
        central.extend(entry.crc32.to_le_bytes());
        central.extend(compressed.to_le_bytes());
        central.extend(entry.declared_size.to_le_bytes());
        central.extend(name_len.to_le_bytes());
        central.extend([0u8; 12]); // extra, comment, disk, internal and external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name);
    }
    let directory_start = u32::try_from(out.len()).expect("a small archive");
    let directory_len = u32::try_from(central.len()).expect("a small archive");
    let count = u16::try_from(entries.len()).expect("few entries");
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend(directory_len.to_le_bytes());
    out.extend(directory_start.to_le_bytes());
    out.extend(0u16.to_le_bytes()); // comment length
    out
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

/// The start of a worksheet part, up to the opening of `sheetData`.
pub const SHEET_START: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
/// The end of a worksheet part.
pub const SHEET_END: &str = "</sheetData></worksheet>";

/// The parts every workbook needs besides its sheet.
fn workbook_parts() -> Vec<Entry> {
    vec![
        Entry::plain("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        Entry::plain("_rels/.rels", ROOT_RELS.as_bytes()),
        Entry::plain("xl/workbook.xml", WORKBOOK.as_bytes()),
        Entry::plain("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
    ]
}

/// An `.xlsx` whose only sheet holds `rows` (the XML inside `sheetData`).
pub fn xlsx(rows: &str) -> Vec<u8> {
    let mut parts = workbook_parts();
    let sheet = format!("{SHEET_START}{rows}{SHEET_END}");
    parts.push(Entry::plain("xl/worksheets/sheet1.xml", sheet.as_bytes()));
    zip(&parts)
}

/// An `.xlsx` with its sheet and other parts as given.
pub fn xlsx_with(sheet: Entry, more: Vec<Entry>) -> Vec<u8> {
    let mut parts = workbook_parts();
    parts.push(sheet);
    parts.extend(more);
    zip(&parts)
}

/// A row of inline-string cells, starting at column A.
pub fn row(number: u32, cells: &[&str]) -> String {
    let mut xml = format!(r#"<row r="{number}">"#);
    for (index, text) in cells.iter().enumerate() {
        let column = column_name(u32::try_from(index).expect("few columns"));
        xml.push_str(&format!(
            r#"<c r="{column}{number}" t="inlineStr"><is><t>{text}</t></is></c>"#
        ));
    }
    xml.push_str("</row>");
    xml
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`, `16383` → `XFD`.
pub fn column_name(index: u32) -> String {
    let mut name = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        let rem = u8::try_from((n - 1) % 26).expect("below 26");
        name.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII")
}

/// ~1 KB: a header in A1 and one number in XFD1048576, the last cell of a sheet, with the
/// dimension to match. Sizing the sheet from its corners asks for ~17 billion cells.
pub fn two_cell_sheet() -> Vec<u8> {
    let mut parts = workbook_parts();
    let sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData>{}<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>{SHEET_END}"#,
        row(1, &["Name"])
    );
    parts.push(Entry::plain("xl/worksheets/sheet1.xml", sheet.as_bytes()));
    zip(&parts)
}

/// A header and a data row, then `padding` spaces between rows: the sheet unpacks to about
/// `padding` bytes while its headers declare `declared` (a ZIP that lies about itself).
pub fn lying_zip(padding: u64, declared: u32) -> Vec<u8> {
    let header = format!("{SHEET_START}{}", row(1, &["Name", "Phone"]));
    let data = format!("{}{SHEET_END}", row(2, &["Jane", "0712345678"]));
    let pieces = [
        Piece::Text(&header),
        Piece::Run(b' ', padding),
        Piece::Text(&data),
    ];
    let mut sheet = Entry::deflated("xl/worksheets/sheet1.xml", &pieces);
    sheet.declared_size = declared;
    xlsx_with(sheet, Vec::new())
}

/// A deflate bomb that declares its true size: a valid workbook plus a part of `size` zero
/// bytes (about 160 to 1). Its checksum is left at 0: computing it costs a pass over `size`
/// bytes, and a reader must stop at its limit long before the end of the part where the
/// checksum is checked.
pub fn deflate_bomb(size: u64) -> Vec<u8> {
    let sheet = Entry::plain(
        "xl/worksheets/sheet1.xml",
        format!("{SHEET_START}{}{SHEET_END}", row(1, &["Name"])).as_bytes(),
    );
    let mut bomb = Entry::deflated("xl/media/image1.bin", &[]);
    bomb.stored = deflate(&[Piece::Run(0, size)]);
    bomb.declared_size = u32::try_from(size).unwrap_or(u32::MAX);
    xlsx_with(sheet, vec![bomb])
}

/// A shared strings part that declares `unique_count` strings and holds one.
pub fn shared_strings_count_lie(unique_count: &str) -> Vec<u8> {
    let strings = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="{unique_count}"><si><t>Name</t></si></sst>"#
    );
    let sheet = Entry::plain(
        "xl/worksheets/sheet1.xml",
        format!(r#"{SHEET_START}<row r="1"><c r="A1" t="s"><v>0</v></c></row>{SHEET_END}"#)
            .as_bytes(),
    );
    xlsx_with(
        sheet,
        vec![Entry::plain("xl/sharedStrings.xml", strings.as_bytes())],
    )
}

/// A workbook whose ZIP ends with a ZIP64 end record claiming `count` entries (the reader then
/// reserves room for every one of them before reading the first).
pub fn zip64_entry_count_lie(count: u64) -> Vec<u8> {
    let mut bytes = xlsx(&row(1, &["Name"]));
    // The ordinary end record is the last 22 bytes; put the ZIP64 end record and its locator
    // before it, pointing at the same central directory.
    let end = bytes.split_off(bytes.len() - 22);
    let directory_len = u64::from(u32::from_le_bytes(end[12..16].try_into().unwrap()));
    let directory_start = u64::from(u32::from_le_bytes(end[16..20].try_into().unwrap()));
    let record_at = bytes.len() as u64;
    bytes.extend(0x0606_4b50u32.to_le_bytes());
    bytes.extend(44u64.to_le_bytes()); // size of the rest of the record
    bytes.extend(45u16.to_le_bytes());
    bytes.extend(45u16.to_le_bytes());
    bytes.extend([0u8; 8]); // disk numbers
    bytes.extend(count.to_le_bytes()); // entries on this disk
    bytes.extend(count.to_le_bytes()); // entries in all
    bytes.extend(directory_len.to_le_bytes());
    bytes.extend(directory_start.to_le_bytes());
    bytes.extend(0x0706_4b50u32.to_le_bytes());
    bytes.extend(0u32.to_le_bytes());
    bytes.extend(record_at.to_le_bytes());
    bytes.extend(1u32.to_le_bytes());
    // The ordinary end record says "see the ZIP64 record".
    let mut end = end;
    end[8..12].copy_from_slice(&[0xFF; 4]);
    end[12..20].copy_from_slice(&[0xFF; 8]);
    bytes.extend(end);
    bytes
}

/// A sheet whose header row has `columns` cells.
pub fn wide_xlsx(columns: usize) -> Vec<u8> {
    let headers: Vec<String> = (0..columns).map(|i| format!("C{i}")).collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    xlsx(&format!("{}{}", row(1, &headers), row(2, &["x"])))
}

/// A CSV file whose header has `columns` columns, and one data row.
pub fn wide_csv(columns: usize) -> Vec<u8> {
    let mut text: String = (0..columns)
        .map(|i| format!("C{i}"))
        .collect::<Vec<_>>()
        .join(",");
    text.push_str("\nx\n");
    text.into_bytes()
}

/// A CSV file with a header, then one line of `len` bytes (one cell, no delimiter).
pub fn csv_with_long_line(len: usize) -> Vec<u8> {
    let mut bytes = b"Name,Phone\n".to_vec();
    bytes.resize(bytes.len() + len, b'a');
    bytes.push(b'\n');
    bytes
}

// ---------------------------------------------------------------------------------------------
// Deflate (fixed Huffman codes: a literal, then matches of 258 bytes at distance 1 for a run)

struct BitWriter {
    out: Vec<u8>,
    bits: u64,
    count: u32,
}

impl BitWriter {
    /// Writes `len` bits of `value`, least significant first (deflate's order for headers).
    fn bits(&mut self, value: u32, len: u32) {
        self.bits |= u64::from(value) << self.count;
        self.count += len;
        while self.count >= 8 {
            self.out.push((self.bits & 0xFF) as u8);
            self.bits >>= 8;
            self.count -= 8;
        }
    }

    /// Writes a Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let reversed = code.reverse_bits() >> (32 - len);
        self.bits(reversed, len);
    }

    fn literal(&mut self, byte: u8) {
        match byte {
            0..=143 => self.code(0x30 + u32::from(byte), 8),
            _ => self.code(0x190 + u32::from(byte - 144), 9),
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.out.push((self.bits & 0xFF) as u8);
        }
        self.out
    }
}

/// A raw deflate stream (one final block, fixed codes) of `pieces`.
pub fn deflate(pieces: &[Piece<'_>]) -> Vec<u8> {
    let mut w = BitWriter {
        out: Vec::new(),
        bits: 0,
        count: 0,
    };
    w.bits(1, 1); // final block
    w.bits(1, 2); // fixed Huffman codes
    for piece in pieces {
        match *piece {
            Piece::Text(text) => text.bytes().for_each(|b| w.literal(b)),
            Piece::Run(_, 0) => {}
            Piece::Run(byte, count) => {
                w.literal(byte);
                let mut left = count - 1;
                while left >= 258 {
                    w.code(0xC5, 8); // length code 285: 258 bytes
                    w.code(0, 5); // distance code 0: 1 byte back
                    left -= 258;
                }
                (0..left).for_each(|_| w.literal(byte));
            }
        }
    }
    w.code(0, 7); // end of block
    w.finish()
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE)

fn crc32_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    table
}

pub fn crc32(data: &[u8]) -> u32 {
    let table = crc32_table();
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

fn pieces_crc32(pieces: &[Piece<'_>]) -> u32 {
    let table = crc32_table();
    let mut c = !0u32;
    for piece in pieces {
        match *piece {
            Piece::Text(text) => {
                for b in text.bytes() {
                    c = table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
                }
            }
            Piece::Run(byte, count) => {
                for _ in 0..count {
                    c = table[((c ^ u32::from(byte)) & 0xFF) as usize] ^ (c >> 8);
                }
            }
        }
    }
    !c
}
