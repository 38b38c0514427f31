//! Cells the portal's exports neutralised against spreadsheet formulas (`'=…`) read back as
//! they were staged, from CSV and from a spreadsheet saved from the export; other cells that
//! start with a quote are left alone.

use portal_staging::{Limits, Table, decode};

fn cells(table: &Table) -> Vec<Vec<&str>> {
    table.rows().map(|r| r.cells().collect()).collect()
}

/// Staged values, and the way the export writes each.
const STAGED: [(&str, &str); 9] = [
    (
        "=HYPERLINK(\"http://x\",\"y\")",
        "'=HYPERLINK(\"http://x\",\"y\")",
    ),
    ("+1", "'+1"),
    ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("'=already quoted", "''=already quoted"),
    ("'Ndege", "'Ndege"),
    ("Mary", "Mary"),
];

#[test]
fn an_export_uploaded_again_gives_back_the_staged_values() {
    let mut csv = portal_csv::CsvWriter::new();
    csv.row(["Name"]);
    for (staged, written) in STAGED {
        assert_eq!(portal_csv::neutralise(staged), written);
        csv.row([staged]);
    }
    let table = decode(&csv.into_bytes(), &Limits::default()).unwrap();
    let expected: Vec<Vec<&str>> = STAGED.iter().map(|(staged, _)| vec![*staged]).collect();
    assert_eq!(cells(&table), expected);
}

#[test]
fn only_a_quote_before_a_formula_character_is_removed() {
    let text = "Name,Other\n'Ndege,'\n'=1,''+2\n' -3,x'=\n";
    let table = decode(text.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(
        cells(&table),
        [vec!["'Ndege", "'"], vec!["=1", "'+2"], vec!["' -3", "x'="]]
    );
}

#[test]
fn a_spreadsheet_saved_from_the_export_reads_back_too() {
    use rust_xlsxwriter::Workbook;
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "Name").unwrap();
    for (row, (_, written)) in (1u32..).zip(STAGED) {
        sheet.write_string(row, 0, written).unwrap();
    }
    let bytes = workbook.save_to_buffer().unwrap();
    let table = decode(&bytes, &Limits::default()).unwrap();
    // Spreadsheet cells are trimmed like CSV cells; the quote protects the leading tab and CR.
    let expected: Vec<Vec<&str>> = STAGED.iter().map(|(staged, _)| vec![*staged]).collect();
    assert_eq!(cells(&table), expected);
}
