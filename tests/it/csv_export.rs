//! Files the portal produces are safe to open in a spreadsheet: a staged cell that would be read
//! as a formula (`=HYPERLINK(…)`, `+1`, `-2`, `@SUM(A1)`) is neutralised in the rows-with-errors
//! export, and uploading the export again gives back the values as staged.
//!
//! The rows-with-errors export (`invalid.csv`) gives back the upload to fix offline: the row's
//! line in the uploaded file, exactly the uploaded columns, the errors; every error row however
//! many pages the export reads them in.

use portal_domain::RowStatus;
use reqwest::StatusCode;

use crate::staging::{setup, upload_rows};
use crate::support::{csrf_token, location};

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
    assert_eq!(rows[0][0], "Line");
    assert_eq!(rows[0][4], "CHP Name");
    let names: Vec<&str> = rows[1..].iter().map(|r| r[4].as_str()).collect();
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
    let phones: Vec<&str> = rows[1..].iter().map(|r| r[5].as_str()).collect();
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

/// The batch id at the end of a batch page's address.
fn batch_id(batch: &str) -> uuid::Uuid {
    batch.rsplit('/').next().unwrap().parse().unwrap()
}

/// The export of a batch: its Content-Disposition, its bytes and its cells.
async fn export_rows(
    s: &crate::staging::Setup,
    batch: &str,
) -> (String, Vec<u8>, Vec<Vec<String>>) {
    let export = s
        .app
        .get_with(&s.national, &format!("{batch}/invalid.csv"))
        .await;
    assert_eq!(export.status(), StatusCode::OK);
    let disposition = export.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = export.bytes().await.unwrap().to_vec();
    let rows = quoted_cells_checked(std::str::from_utf8(&bytes).unwrap());
    (disposition, bytes, rows)
}

#[tokio::test]
async fn the_export_gives_the_original_line_the_uploaded_columns_and_the_errors() {
    let s = setup().await;
    let (app, national, staging) = (&s.app, &s.national, &s.staging);
    // Columns in another order than the template, two optional ones left out, one the template
    // does not know ("Notes"), and a blank line: lines are not row numbers.
    let csv = "CHP Phone,chp name,Notes,Sub County,CHU\r\n\
               0712345678,Mary Wanjiku,ok,Kibwezi,Kalawa\r\n\
               \r\n\
               12345,Peter Otieno,=call first,Kibwezi,Kalawa\r\n\
               0722000111,Jane Doe,,Kibwezi,Kalawwa\r\n";
    let uploaded = upload_rows(
        app,
        national,
        staging,
        CHP,
        "Makueni CHPs (v2).csv",
        csv.into(),
    )
    .await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let batch = location(&uploaded);

    let (disposition, _, rows) = export_rows(&s, &batch).await;
    assert_eq!(
        disposition,
        "attachment; filename=\"Makueni-CHPs--v2-errors.csv\""
    );
    assert_eq!(
        rows[0],
        [
            "Line",
            "CHP Phone",
            "chp name",
            "Notes",
            "Sub County",
            "CHU",
            "Errors"
        ]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[1][..6],
        [
            "4",
            "12345",
            "Peter Otieno",
            "'=call first",
            "Kibwezi",
            "Kalawa"
        ]
    );
    assert!(
        rows[1][6].starts_with("CHP Phone: Not a valid KE phone number."),
        "{:?}",
        rows[1][6]
    );
    assert_eq!(
        rows[2][..6],
        ["5", "0722000111", "Jane Doe", "", "Kibwezi", "Kalawwa"]
    );
    assert!(rows[2][6].starts_with("CHU: "), "{:?}", rows[2][6]);

    // Editing a row (cells in template order) keeps its cell of the unknown column.
    let token = csrf_token(&app.get_with(national, &batch).await.text().await.unwrap()).unwrap();
    let mut form: Vec<(&str, &str)> = vec![("_csrf", &token), ("contact_type", CHP)];
    let cells = ["Kibwezi", "Kalawa", "", "Peter Otieno", "54321", ""];
    form.extend(cells.iter().map(|c| ("cell", *c)));
    let edited = national
        .post(app.url(&format!("{batch}/rows/1")))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(edited.status().is_redirection(), "{}", edited.status());
    let (_, bytes, first) = export_rows(&s, &batch).await;
    assert_eq!(
        first[1][..4],
        ["4", "54321", "Peter Otieno", "'=call first"]
    );

    // The export uploaded again: "Line" and "Errors" are the export's own columns (no notice),
    // the rows read back as staged, and its export has the same columns.
    let again = upload_rows(app, national, staging, CHP, "fixed.csv", bytes).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let again = location(&again);
    let info = portal_store::staging::batch(&app.db, s.w.i1, batch_id(&again))
        .await
        .unwrap();
    assert_eq!(
        info.notices,
        ["Column 4 \"Notes\" is not a column of this template and is ignored."]
    );
    let (_, _, rows) = export_rows(&s, &again).await;
    assert_eq!(rows[0], first[0]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][..4], ["2", "54321", "Peter Otieno", "'=call first"]);
    assert_eq!(rows[2][0], "3");
}

#[tokio::test]
async fn a_batch_of_several_export_pages_gives_every_error_row_in_order() {
    let s = setup().await;
    // 1,203 rows with errors (a bad phone), a valid row after every third: more than two pages
    // of the export's reads, with valid rows between them.
    let mut csv = String::from("Sub County,CHU,CHP Name,CHP Phone\r\n");
    let mut error_lines = Vec::new();
    let mut line = 1;
    for i in 0..1203 {
        line += 1;
        csv.push_str(&format!("Kibwezi,Kalawa,Error Person {i},12345\r\n"));
        error_lines.push(line.to_string());
        if i % 3 == 2 {
            line += 1;
            csv.push_str(&format!(
                "Kibwezi,Kalawa,Valid Person {i},07{:08}\r\n",
                10_000_000 + i
            ));
        }
    }
    let uploaded = upload_rows(&s.app, &s.national, &s.staging, CHP, "many.csv", csv.into()).await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let batch = location(&uploaded);
    let info = portal_store::staging::batch(&s.app.db, s.w.i1, batch_id(&batch))
        .await
        .unwrap();
    assert_eq!(info.error, 1203);

    let (_, _, rows) = export_rows(&s, &batch).await;
    assert_eq!(rows.len(), 1 + 1203);
    let lines: Vec<String> = rows[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(lines, error_lines);
    assert_eq!(rows[1203][3], "Error Person 1202");
}

#[tokio::test]
async fn a_batch_staged_before_the_header_was_kept_exports_the_template_columns() {
    use portal_store::staging::{NewBatch, RowRecord, StoredProblem};
    let s = setup().await;
    let info = portal_store::staging::create_batch(
        &s.app.db,
        &portal_store::AuditContext::command_line(chrono::Utc::now()),
        NewBatch {
            tenant_id: s.w.a,
            instance_id: s.w.i1,
            contact_type: CHP.into(),
            file_name: "old.csv".into(),
            anchors: vec![],
            notices: vec![],
            upload_header: None,
        },
        portal_domain::RowCounts {
            valid: 0,
            warning: 0,
            error: 1,
        },
        [RowRecord {
            idx: 0,
            line: 7,
            status: RowStatus::Error,
            raw: ["Kibwezi", "Kalawa", "", "Mary Wanjiku", "12345", ""]
                .map(str::to_owned)
                .to_vec(),
            problems: vec![StoredProblem {
                kind: portal_domain::ProblemKind::Invalid,
                column: Some("CHP Phone".into()),
                value: "12345".into(),
                message: "Not a valid KE phone number".into(),
                fix: "Enter a KE phone number.".into(),
            }],
            warnings: vec![],
            acknowledged: false,
            extra: vec![],
            place: None,
            depends_on: None,
        }]
        .into_iter(),
    )
    .await
    .unwrap();
    let batch = format!("{}/{}", s.staging, info.id);
    let (disposition, _, rows) = export_rows(&s, &batch).await;
    assert_eq!(disposition, "attachment; filename=\"old-errors.csv\"");
    assert_eq!(
        rows,
        [
            vec![
                "Line",
                "Sub County",
                "CHU",
                "Outgoing CHP",
                "CHP Name",
                "CHP Phone",
                "Require password change",
                "Errors"
            ],
            vec![
                "7",
                "Kibwezi",
                "Kalawa",
                "",
                "Mary Wanjiku",
                "12345",
                "",
                "CHP Phone: Not a valid KE phone number. Enter a KE phone number."
            ]
        ]
    );
}
