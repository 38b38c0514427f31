//! Decoding uploads (encodings, delimiters, quoting, spreadsheets, limits) and matching headers.

mod common;

use std::sync::Arc;

use common::{CHP, config, contact_type, places, today};
use portal_staging::input::{ExpectedColumn, InputError, SourceFormat, match_columns};
use portal_staging::{Engine, Limits, ProblemKind, RowStatus, Scope, Table, Validator, decode};

fn rows(table: &Table) -> Vec<(usize, Vec<&str>)> {
    table
        .rows()
        .map(|r| (r.line, r.cells().collect()))
        .collect()
}

fn csv(bytes: &[u8]) -> Table {
    decode(bytes, &Limits::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn utf8_with_bom_crlf_quoted_newlines_and_blank_lines() {
    let text =
        "\u{FEFF}Name,Notes\r\n\r\n\"Doe, Jane\",\"two\r\nlines\"\r\n , \r\n,,\r\nJohn ,  x  \r\n";
    let table = csv(text.as_bytes());
    assert_eq!(table.header, vec!["Name", "Notes"]);
    assert_eq!(table.header_line, 1);
    assert_eq!(
        table.format,
        SourceFormat::Csv {
            encoding: "UTF-8",
            delimiter: ','
        }
    );
    assert_eq!(
        rows(&table),
        vec![
            (3, vec!["Doe, Jane", "two\r\nlines"]),
            (7, vec!["John", "x"])
        ]
    );
    assert!(table.notices.is_empty());
}

#[test]
fn semicolons_are_sniffed_from_the_header_respecting_quotes() {
    let table = csv(b"\"Name, full\";Phone;Sex\nJane;0712;f\n");
    assert_eq!(table.header, vec!["Name, full", "Phone", "Sex"]);
    assert_eq!(rows(&table), vec![(2, vec!["Jane", "0712", "f"])]);
    let table = csv(b"Name\tPhone\nJane\t0712\n");
    assert_eq!(rows(&table), vec![(2, vec!["Jane", "0712"])]);
    // A header of one column: a comma by default.
    let table = csv(b"Name\nJane;Doe\n");
    assert_eq!(rows(&table), vec![(2, vec!["Jane;Doe"])]);
}

#[test]
fn windows_1252_and_latin1_are_converted_and_said_so() {
    // "Nyeri Ménéz" and "Murang'a – Kangéma" as Excel on Windows saves them.
    let bytes = b"Sub County,CHU\nNyeri M\xE9n\xE9z,Murang'a \x96 Kang\xE9ma\n";
    let table = csv(bytes);
    assert_eq!(
        rows(&table),
        vec![(2, vec!["Nyeri Ménéz", "Murang'a – Kangéma"])]
    );
    let SourceFormat::Csv { encoding, .. } = table.format else {
        panic!("CSV")
    };
    assert_eq!(encoding, "windows-1252");
    assert_eq!(table.notices.len(), 1);
    assert!(
        table.notices[0].contains("Windows-1252"),
        "{}",
        table.notices[0]
    );

    // ISO-8859-1 text (the same bytes for these letters): "São Tomé, Côte d'Ivoire, Ñandú".
    let table = csv(b"Place\nS\xE3o Tom\xE9\nC\xF4te d'Ivoire\n\xD1and\xFA\n");
    let names: Vec<&str> = table.rows().filter_map(|r| r.get(0)).collect();
    assert_eq!(names, vec!["São Tomé", "Côte d'Ivoire", "Ñandú"]);
}

#[test]
fn utf16_with_bom_is_read() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "Name\tPhone\r\nMénéz\t0712\r\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let table = csv(&bytes);
    assert_eq!(rows(&table), vec![(2, vec!["Ménéz", "0712"])]);
}

#[test]
fn undecodable_and_binary_files_are_refused_with_a_reason() {
    let error = decode(b"%PDF-1.7 ...", &Limits::default()).unwrap_err();
    assert_eq!(
        error,
        InputError::NotASpreadsheet("a PDF document".to_owned())
    );
    assert!(error.to_string().contains("CSV UTF-8"));
    let error = decode(b"Name\nJa\0ne\n", &Limits::default()).unwrap_err();
    assert!(matches!(error, InputError::NotASpreadsheet(_)), "{error:?}");
    assert!(error.to_string().contains("line 2"), "{error}");
    let error = decode(b"\xEF\xBB\xBFName\n\xFF\n", &Limits::default()).unwrap_err();
    assert!(
        matches!(
            error,
            InputError::Undecodable {
                encoding: "UTF-8",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        decode(b"", &Limits::default()).unwrap_err(),
        InputError::Empty
    );
    assert_eq!(
        decode(b"\n\n", &Limits::default()).unwrap_err(),
        InputError::Empty
    );
    assert_eq!(
        decode(b"Name\n\n", &Limits::default()).unwrap_err(),
        InputError::NoRows
    );
    let error = decode(b"PK\x03\x04garbage", &Limits::default()).unwrap_err();
    assert!(matches!(error, InputError::Spreadsheet(_)), "{error:?}");
}

#[test]
fn limits_are_explicit_errors() {
    let limits = Limits {
        max_bytes: 20,
        max_rows: 2,
        max_columns: 3,
        ..Limits::default()
    };
    assert_eq!(
        decode(&[b'a'; 21], &limits).unwrap_err(),
        InputError::TooLarge {
            actual: 21,
            max: 20
        }
    );
    assert_eq!(
        decode(b"A\n1\n2\n3\n", &limits).unwrap_err(),
        InputError::TooManyRows { max: 2 }
    );
    let error = decode(b"A,B,C,D\n1\n", &limits).unwrap_err();
    assert_eq!(
        error,
        InputError::TooManyColumns {
            line: 1,
            count: 4,
            max: 3
        }
    );
    assert!(
        error.to_string().starts_with("Line 1 has 4 columns"),
        "{error}"
    );
}

#[test]
fn an_unclosed_quote_is_noticed() {
    let table = csv(b"Name,Phone\n\"Jane,0712\nJohn,0713\n");
    assert_eq!(table.len(), 1);
    assert!(
        table.notices.iter().any(|n| n.contains("never closed")),
        "{:?}",
        table.notices
    );
}

fn xlsx_fixture() -> Vec<u8> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    // Row 1 is left blank: the header is on row 2.
    for (col, header) in ["Name", "Phone", "Born", "Score", "Ok"].iter().enumerate() {
        sheet
            .write_string(1, u16::try_from(col).unwrap(), *header)
            .unwrap();
    }
    sheet.write_string(2, 0, "  Ménéz  ").unwrap();
    sheet.write_number(2, 1, 712_345_678.0).unwrap();
    let born = ExcelDateTime::from_ymd(1990, 2, 26).unwrap();
    sheet
        .write_datetime_with_format(2, 2, &born, &date)
        .unwrap();
    sheet.write_number(2, 3, 1.5).unwrap();
    sheet.write_boolean(2, 4, true).unwrap();
    sheet.write_string(3, 0, "Short").unwrap();
    sheet.write_number(4, 1, 254_712_345_678.0).unwrap();
    workbook.save_to_buffer().unwrap()
}

#[test]
fn xlsx_first_sheet_numbers_and_dates() {
    let table = csv(&xlsx_fixture());
    assert_eq!(table.format, SourceFormat::Spreadsheet);
    assert_eq!(table.header, vec!["Name", "Phone", "Born", "Score", "Ok"]);
    assert_eq!(table.header_line, 2);
    assert_eq!(
        rows(&table),
        vec![
            (3, vec!["Ménéz", "712345678", "1990-02-26", "1.5", "TRUE"]),
            (4, vec!["Short"]),
            (5, vec!["", "254712345678"]),
        ]
    );
}

#[test]
fn spreadsheet_rows_are_validated_like_csv_rows() {
    use rust_xlsxwriter::Workbook;
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (col, header) in ["CHU", "Name", "Phone"].iter().enumerate() {
        sheet
            .write_string(0, u16::try_from(col).unwrap(), *header)
            .unwrap();
    }
    sheet.write_string(1, 0, "Kalawa").unwrap();
    sheet.write_string(1, 1, "jane roe").unwrap();
    sheet.write_number(1, 2, 712_345_678.0).unwrap();
    let bytes = workbook.save_to_buffer().unwrap();

    let config = config(CHP);
    let validator = Arc::new(Validator::new(contact_type(&config, "chp_area")).unwrap());
    let engine = Engine::new(validator, Arc::new(places()));
    let table = decode(&bytes, &Limits::default()).unwrap();
    let batch = engine.validate_table(&table, &Scope::All, today()).unwrap();
    let row = batch.row(0).unwrap();
    assert_eq!(row.status(), RowStatus::Valid, "{:?}", row.problems());
    assert_eq!(row.line(), 2);
    assert_eq!(row.value(5), "+254712345678");
    assert_eq!(row.value(6), "Jane Roe Area");
}

#[test]
fn zip_bombs_are_refused_before_inflating() {
    let limits = Limits {
        max_unpacked_bytes: 1_000,
        ..Limits::default()
    };
    assert_eq!(
        decode(&xlsx_fixture(), &limits).unwrap_err(),
        InputError::UnpacksTooLarge { max: 1_000 }
    );
}

#[test]
fn headers_match_forgivingly_and_problems_are_named() {
    let expected = [
        ExpectedColumn {
            header: "Sub County",
            required: false,
        },
        ExpectedColumn {
            header: "CHU",
            required: true,
        },
        ExpectedColumn {
            header: "CHP Phone",
            required: true,
        },
        ExpectedColumn {
            header: "CHP Name",
            required: true,
        },
    ];
    let header: Vec<String> = [
        "\u{FEFF}\"chu\"",
        "Notes",
        "  CHP\u{00A0}\u{00A0}PHONE ",
        "chp name",
        "",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let map = match_columns(&header, &expected).unwrap();
    assert_eq!(map.positions, vec![None, Some(0), Some(2), Some(3)]);
    assert_eq!(
        map.ignored,
        vec![(1, "Notes".to_owned()), (4, String::new())]
    );
    assert_eq!(
        map.notices(),
        vec![
            "Column 2 \"Notes\" is not a column of this template and is ignored.",
            "Column 5 has no header and is ignored."
        ]
    );

    let header: Vec<String> = ["CHU", "chu ", "Other"]
        .iter()
        .map(ToString::to_string)
        .collect();
    let error = match_columns(&header, &expected).unwrap_err();
    assert_eq!(error.missing, vec!["CHP Phone", "CHP Name"]);
    assert_eq!(error.duplicates, vec![("CHU".to_owned(), vec![1, 2])]);
    assert_eq!(
        error.to_string(),
        "Missing columns: CHP Phone, CHP Name. Add them to the header row (download the \
         template to see every column). The column \"CHU\" appears more than once (columns 1 \
         and 2). Keep one."
    );
}

#[test]
fn ragged_rows_are_kept_and_reported() {
    let config = config(CHP);
    let batch = common::stage(
        contact_type(&config, "chp_area"),
        &places(),
        &Scope::All,
        "CHU,Name,Phone\nKalawa,Jane Roe\nKalawa,Doe, Jane,0712345678\nKalawa,Jo Roe,0712345679,,\n",
    );
    assert_eq!(batch.len(), 3);
    let short = &batch.row(0).unwrap().problems()[0];
    assert_eq!(short.kind, ProblemKind::Ragged);
    assert_eq!(short.message, "This row has 2 cells but the header has 3");
    let long = &batch.row(1).unwrap().problems()[0];
    assert_eq!(long.kind, ProblemKind::Ragged);
    assert_eq!(long.value, "0712345678");
    assert!(long.fix.contains("double quotes"), "{}", long.fix);
    // Empty extra cells are harmless.
    assert_eq!(batch.row(2).unwrap().status(), RowStatus::Valid);
}

#[test]
fn the_exports_own_columns_are_read_back_without_a_notice() {
    // The shape of the portal's rows-with-errors export (written by `portal-batches`): "Line",
    // the uploaded columns (one the template does not know among them), "Errors".
    let config = config(CHP);
    let ct = contact_type(&config, "chp_area");
    let mut export = portal_csv::CsvWriter::new();
    export.row(["Line", "CHU", "Name", "Notes", "Phone", "Errors"]);
    export.row([
        "3",
        "Kalawa",
        "Jo \"JJ\" Roe",
        "=call first",
        "07123",
        "Phone: Not valid.",
    ]);
    export.row([
        "4",
        "Nowhere",
        "Ann Roe",
        "",
        "0712345677",
        "CHU: Cannot find.",
    ]);
    let export = export.into_bytes();
    let table = decode(&export, &Limits::default()).unwrap();
    assert_eq!(table.len(), 2);
    let validator = Arc::new(Validator::new(ct).unwrap());
    let map = validator.column_map(&table.header).unwrap();
    assert_eq!(map.export_columns, [0, 5]);
    assert_eq!(
        map.uploaded_header(&table.header),
        ["CHU", "Name", "Notes", "Phone"]
    );
    let engine = Engine::new(Arc::clone(&validator), Arc::new(places()));
    let again = engine.validate_table(&table, &Scope::All, today()).unwrap();
    // Only the column the template does not know is reported, not "Line" or "Errors".
    assert_eq!(
        again.notices(),
        ["Column 4 \"Notes\" is not a column of this template and is ignored."]
    );
    assert_eq!(again.counts().error, 2);
    assert_eq!(again.row(0).unwrap().raw(4), "Jo \"JJ\" Roe");
    assert_eq!(again.row(0).unwrap().raw(5), "07123");
}

#[test]
fn a_row_typed_into_a_form_keeps_its_cells_as_typed() {
    let header: Vec<String> = ["CHP Name", "Note"].map(str::to_owned).to_vec();
    // A typed leading quote is the person's text, not an export's neutralised formula.
    let typed = ["  Jane Wanjiku ".to_owned(), "'=call first".to_owned()];
    let table = Table::typed(header.clone(), &typed, &Limits::default()).unwrap();
    assert_eq!(table.format, SourceFormat::Form);
    let row = table.row(0).unwrap();
    assert_eq!(row.line, 2);
    assert_eq!(
        row.cells().collect::<Vec<_>>(),
        ["Jane Wanjiku", "'=call first"]
    );
    // Missing trailing cells are empty.
    let short = Table::typed(header.clone(), &typed[..1], &Limits::default()).unwrap();
    assert_eq!(
        short.row(0).unwrap().cells().collect::<Vec<_>>(),
        ["Jane Wanjiku", ""]
    );

    let empty = Table::typed(
        header.clone(),
        &[String::new(), " ".into()],
        &Limits::default(),
    );
    assert!(matches!(empty, Err(InputError::NoRows)), "{empty:?}");
    let limits = Limits {
        max_cell_bytes: 4,
        ..Limits::default()
    };
    let long = Table::typed(header, &typed, &limits).unwrap_err();
    assert_eq!(
        long.to_string(),
        "The value typed for \"CHP Name\" is longer than 4 bytes: shorten it."
    );
}
