//! Files the portal produces are safe to open in a spreadsheet: a staged cell that would be read
//! as a formula (`=HYPERLINK(…)`, `+1`, `-2`, `@SUM(A1)`) is neutralised in the rows-with-errors
//! export, and uploading the export again gives back the values as staged.

use reqwest::StatusCode;

use crate::staging::{setup, upload_rows};
use crate::support::location;

const CHP: &str = "d_community_health_volunteer_area";

/// The cells of a CSV file whose every cell is quoted, checking on the way that no cell starts
/// (inside its quotes) with a character a spreadsheet reads as the start of a formula.
fn quoted_cells_checked(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in text.trim_start_matches('\u{FEFF}').split_terminator("\r\n") {
        let mut cells = Vec::new();
        let mut rest = line;
        loop {
            let inner = rest
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("every cell is quoted: {line:?}"));
            // The cell ends at the first quote that is not doubled.
            let mut end = 0;
            let bytes = inner.as_bytes();
            while bytes[end] != b'"' || bytes.get(end + 1) == Some(&b'"') {
                end += if bytes[end] == b'"' { 2 } else { 1 };
            }
            let cell = inner[..end].replace("\"\"", "\"");
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']),
                "a cell a spreadsheet would run as a formula: {cell:?}"
            );
            cells.push(cell);
            match inner[end + 1..].strip_prefix(',') {
                Some(next) => rest = next,
                None => break,
            }
        }
        rows.push(cells);
    }
    rows
}

#[tokio::test]
async fn formula_cells_are_neutralised_in_the_export_and_read_back_on_upload() {
    let s = setup().await;
    let (app, national, staging) = (&s.app, &s.national, &s.staging);
    // Every row has a bad phone, so every row is in the export. Upload trims cells, so the tab-
    // and CR-led cells are stored (and exported) as "@x" and "-3".
    let csv = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
               Kibwezi,Kalawa,,\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",12345,\n\
               Kibwezi,Kalawa,,+1,+2,\n\
               Kibwezi,Kalawa,,-2,-3,\n\
               Kibwezi,Kalawa,,@SUM(A1),\"\t@x\",\n\
               Kibwezi,Kalawa,,'Ndege,\"\r-3\",\n\
               Kibwezi,Kalawa,,\"a,=1+2\",\"x;=1+2\",\n";
    let uploaded = upload_rows(app, national, staging, CHP, "formulas.csv", csv.into()).await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let batch = location(&uploaded);
    let id: uuid::Uuid = batch.rsplit('/').next().unwrap().parse().unwrap();
    let staged = portal_store::staging::all_rows(&app.db, id).await.unwrap();
    assert_eq!(staged.len(), 6);
    let staged: Vec<Vec<String>> = staged.into_iter().map(|r| r.raw).collect();
    assert_eq!(staged[0][3], "=HYPERLINK(\"http://x\",\"y\")");
    assert_eq!(staged[3][4], "@x");
    assert_eq!(staged[4][4], "-3");

    let export = app
        .get_with(national, &format!("{batch}/invalid.csv"))
        .await;
    assert_eq!(export.status(), StatusCode::OK);
    let bytes = export.bytes().await.unwrap().to_vec();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let rows = quoted_cells_checked(&text);
    assert_eq!(rows.len(), 7, "the header and every row: {text}");
    assert_eq!(rows[0][3], "CHP Name");
    let names: Vec<&str> = rows[1..].iter().map(|r| r[3].as_str()).collect();
    assert_eq!(
        names,
        [
            "'=HYPERLINK(\"http://x\",\"y\")",
            "'+1",
            "'-2",
            "'@SUM(A1)",
            "'Ndege",
            "a,=1+2"
        ]
    );
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
        "quoted as OWASP shows: {text}"
    );
    let phones: Vec<&str> = rows[1..].iter().map(|r| r[4].as_str()).collect();
    assert_eq!(phones, ["12345", "'+2", "'-3", "'@x", "'-3", "x;=1+2"]);

    // Uploading the export again: the values as staged, not as neutralised.
    let again = upload_rows(app, national, staging, CHP, "rows-with-errors.csv", bytes).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let id: uuid::Uuid = location(&again)
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let read_back: Vec<Vec<String>> = portal_store::staging::all_rows(&app.db, id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.raw)
        .collect();
    assert_eq!(read_back, staged);
}

#[tokio::test]
async fn the_template_comes_from_the_same_writer() {
    let s = setup().await;
    let template = s
        .app
        .get_with(&s.national, &format!("{}/template/{CHP}", s.staging))
        .await;
    assert_eq!(template.status(), StatusCode::OK);
    let text = template.text().await.unwrap();
    assert_eq!(
        quoted_cells_checked(&text),
        [[
            "Sub County",
            "CHU",
            "Outgoing CHP",
            "CHP Name",
            "CHP Phone",
            "Require password change"
        ]]
    );
}
