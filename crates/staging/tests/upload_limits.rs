//! Uploads built to exhaust memory are refused with a message naming the limit, in memory
//! bounded by the limits, whatever the file claims about itself. A test that reached an
//! allocation abort would kill this test process: each passing test also proves no abort.

mod hostile;

use hostile::{Entry, Piece};
use portal_staging::input::InputError;
use portal_staging::{Limits, Table, decode};

fn refused(bytes: &[u8], limits: &Limits) -> InputError {
    match decode(bytes, limits) {
        Ok(table) => panic!("accepted: {:?}", table.header),
        Err(error) => error,
    }
}

fn rows(table: &Table) -> Vec<(usize, Vec<&str>)> {
    table
        .rows()
        .map(|r| (r.line, r.cells().collect()))
        .collect()
}

#[test]
fn a_sheet_with_cells_a1_and_xfd1048576_is_refused_at_the_far_cell() {
    let bytes = hostile::two_cell_sheet();
    assert!(bytes.len() < 3_000, "{} bytes", bytes.len());
    let error = refused(&bytes, &Limits::default());
    assert_eq!(
        error,
        InputError::CellBeyondColumns {
            cell: "XFD1048576".to_owned(),
            column: 16_384,
            max: 200
        }
    );
    let message = error.to_string();
    assert!(
        message.starts_with("Cell XFD1048576 is in column 16384; at most 200 columns are read."),
        "{message}"
    );
}

#[test]
fn cells_far_down_cost_nothing_and_keep_their_row_numbers() {
    // Rows are kept only when they hold something: a data row on the sheet's last row is fine.
    let bytes = hostile::xlsx(&format!(
        "{}{}",
        hostile::row(2, &["", "Name", "Phone"]),
        hostile::row(1_048_576, &["", "Jane", "0712"]),
    ));
    let table = decode(&bytes, &Limits::default()).unwrap();
    // As before: a column empty on every row (A) is not part of the table.
    assert_eq!(table.header, vec!["Name", "Phone"]);
    assert_eq!(table.header_line, 2);
    assert_eq!(rows(&table), vec![(1_048_576, vec!["Jane", "0712"])]);
}

#[test]
fn a_zip_that_declares_small_sizes_is_measured_while_unpacking() {
    let limits = Limits {
        max_unpacked_bytes: 1 << 20,
        ..Limits::default()
    };
    // Declares 1,000 bytes; unpacks to 2 MiB (checksum right: only the count can catch it).
    let lying = hostile::lying_zip(2 << 20, 1_000);
    assert_eq!(
        refused(&lying, &limits),
        InputError::UnpacksTooLarge { max: 1 << 20 }
    );
    // The same file under the limit is read: the count is of what is unpacked.
    let table = decode(&hostile::lying_zip(100_000, 1_000), &limits).unwrap();
    assert_eq!(rows(&table), vec![(2, vec!["Jane", "0712345678"])]);
}

#[test]
fn a_deflate_bomb_is_refused_at_the_limit_not_at_its_size() {
    // 4 GiB - 1 of zeros in a 27 MB file; the reader stops at the limit.
    let bomb = hostile::deflate_bomb(u64::from(u32::MAX));
    assert!(bomb.len() < Limits::default().max_bytes, "{}", bomb.len());
    let limits = Limits {
        max_unpacked_bytes: 16 << 20,
        ..Limits::default()
    };
    let started = std::time::Instant::now();
    let error = refused(&bomb, &limits);
    assert_eq!(error, InputError::UnpacksTooLarge { max: 16 << 20 });
    assert!(
        error
            .to_string()
            .starts_with("The spreadsheet unpacks to more than 16777216 bytes."),
        "{error}"
    );
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}

#[test]
fn a_shared_strings_count_the_part_cannot_hold_is_refused() {
    let error = refused(
        &hostile::shared_strings_count_lie("1000000000000"),
        &Limits::default(),
    );
    let message = error.to_string();
    assert!(
        message.contains("declares 1000000000000 shared strings"),
        "{message}"
    );
    // A true count is read as usual (the sheet is a header only).
    assert_eq!(
        refused(&hostile::shared_strings_count_lie("1"), &Limits::default()),
        InputError::NoRows
    );
}

#[test]
fn a_zip64_end_record_claiming_millions_of_entries_is_refused() {
    // The `zip` crate reserves room for every entry the end record claims, and checks first that
    // the central directory could hold them: this keeps that check from being lost unnoticed.
    let bytes = hostile::zip64_entry_count_lie(30_000_000);
    let message = refused(&bytes, &Limits::default()).to_string();
    assert!(
        message.contains("the ZIP structure is damaged"),
        "{message}"
    );
    // A true count in a ZIP64 end record is fine.
    let bytes = hostile::zip64_entry_count_lie(5);
    assert_eq!(refused(&bytes, &Limits::default()), InputError::NoRows);
}

#[test]
fn xls_workbooks_are_refused_with_what_to_do_instead() {
    for bytes in [hostile::SMALL_XLS, hostile::HUGE_DIMENSIONS_XLS] {
        let error = refused(bytes, &Limits::default());
        assert!(
            matches!(error, InputError::UnsupportedSpreadsheet(_)),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("Excel 97-2003 workbook (.xls)")
                && message.contains("\"Excel Workbook (.xlsx)\"")
                && message.contains("\"CSV UTF-8\""),
            "{message}"
        );
    }
}

#[test]
fn ods_and_xlsb_are_refused_with_what_to_do_instead() {
    let ods = hostile::zip(&[
        Entry::plain(
            "mimetype",
            b"application/vnd.oasis.opendocument.spreadsheet",
        ),
        Entry::plain("content.xml", b"<office:document-content/>"),
    ]);
    let message = refused(&ods, &Limits::default()).to_string();
    assert!(
        message.contains("OpenDocument file (such as a LibreOffice .ods spreadsheet)"),
        "{message}"
    );
    let xlsb = hostile::zip(&[Entry::plain("xl/workbook.bin", b"\0\0")]);
    let message = refused(&xlsb, &Limits::default()).to_string();
    assert!(message.contains("binary workbook (.xlsb)"), "{message}");
    let other = hostile::zip(&[Entry::plain("word/document.xml", b"<w:document/>")]);
    let message = refused(&other, &Limits::default()).to_string();
    assert!(message.contains("not an Excel workbook"), "{message}");
}

#[test]
fn a_csv_line_of_50_mb_is_refused_by_the_file_size() {
    let bytes = hostile::csv_with_long_line(50 << 20);
    let error = refused(&bytes, &Limits::default());
    assert_eq!(
        error,
        InputError::TooLarge {
            actual: bytes.len(),
            max: 32 << 20
        }
    );
    assert!(
        error
            .to_string()
            .contains("at most 33554432 bytes are accepted"),
        "{error}"
    );
}

#[test]
fn a_cell_over_the_cell_limit_is_refused_in_csv_and_in_sheets() {
    // 20 MB in one cell: under the file limit, over the cell limit.
    let bytes = hostile::csv_with_long_line(20 << 20);
    let error = refused(&bytes, &Limits::default());
    assert_eq!(
        error,
        InputError::CellTooLong {
            line: 2,
            column: 1,
            max: 32 << 10
        }
    );
    assert!(
        error.to_string().starts_with(
            "Line 2, column 1 holds more than 32768 bytes; at most 32768 bytes are accepted in one cell."
        ),
        "{error}"
    );
    // A quote opened and never closed swallows the rest of the file into one cell.
    let mut unclosed = b"Name,Phone\nJane,\"0712\n".to_vec();
    unclosed.extend(std::iter::repeat_n(b"John,0713\n", 5_000).flatten());
    assert_eq!(
        refused(&unclosed, &Limits::default()),
        InputError::CellTooLong {
            line: 2,
            column: 2,
            max: 32 << 10
        }
    );
    // The header counts too.
    let limits = Limits {
        max_cell_bytes: 8,
        ..Limits::default()
    };
    assert_eq!(
        refused(b"Name,Phone number\nJane,0712\n", &limits),
        InputError::CellTooLong {
            line: 1,
            column: 2,
            max: 8
        }
    );
    let sheet = hostile::xlsx(&format!(
        "{}{}",
        hostile::row(1, &["Name", "Phone"]),
        hostile::row(2, &["Jane", "0712 345 678 (home)"])
    ));
    assert_eq!(
        refused(&sheet, &limits),
        InputError::SheetCellTooLong {
            cell: "B2".to_owned(),
            max: 8
        }
    );
}

#[test]
fn twenty_thousand_columns_are_refused_in_csv_and_in_sheets() {
    let error = refused(&hostile::wide_csv(20_000), &Limits::default());
    assert_eq!(
        error,
        InputError::TooManyColumns {
            line: 1,
            count: 20_000,
            max: 200
        }
    );
    assert!(
        error
            .to_string()
            .starts_with("Line 1 has 20000 columns; at most 200 are accepted."),
        "{error}"
    );
    // 20 MB of delimiters: ten million columns on one line, counted without being kept.
    let mut commas = b"Name\n".to_vec();
    commas.resize(commas.len() + (20 << 20), b',');
    assert_eq!(
        refused(&commas, &Limits::default()),
        InputError::TooManyColumns {
            line: 2,
            count: (20 << 20) + 1,
            max: 200
        }
    );
    assert_eq!(
        refused(&hostile::wide_xlsx(20_000), &Limits::default()),
        InputError::CellBeyondColumns {
            cell: "GS1".to_owned(),
            column: 201,
            max: 200
        }
    );
}

#[test]
fn honest_sheets_still_read_with_deflated_parts() {
    let sheet = Entry::deflated(
        "xl/worksheets/sheet1.xml",
        &[
            Piece::Text(hostile::SHEET_START),
            Piece::Text(&hostile::row(1, &["Name", "Phone"])),
            Piece::Text(&hostile::row(3, &["Jane", "0712"])),
            Piece::Text(hostile::SHEET_END),
        ],
    );
    let table = decode(&hostile::xlsx_with(sheet, Vec::new()), &Limits::default()).unwrap();
    assert_eq!(table.header, vec!["Name", "Phone"]);
    assert_eq!(rows(&table), vec![(3, vec!["Jane", "0712"])]);
}
