//! Uploads built to exhaust memory, sent to the real upload route by an operator who may stage
//! in one sub-county: each is refused with a message naming the limit, and the portal answers
//! afterwards. The portal runs inside this test process, so an allocation abort would end the
//! test run: a pass also proves none happened.

#[path = "../../crates/staging/tests/hostile/mod.rs"]
mod hostile;

use portal_domain::BuiltinRole;
use portal_store::access::GrantScope;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};

use crate::staging::{makueni, shared_config};
use crate::support::{TestApp, csrf_token, page_text};
use crate::world::{World, role, signed_in};

struct Setup {
    app: TestApp,
    operator: Client,
    staging: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    makueni(&app, &w).await;
    w.person(
        &app,
        "national@health.go.ke",
        w.a,
        role(BuiltinRole::NationalAdmin),
        GrantScope::Tenant,
    )
    .await;
    let national = signed_in(&app, "national@health.go.ke").await;
    let page = format!("/tenants/{}/config", w.a);
    let token = csrf_token(&app.get_with(&national, &page).await.text().await.unwrap()).unwrap();
    let config = Part::bytes(shared_config("chis-ke.config.json")).file_name("config.json");
    let saved = national
        .post(app.url(&format!("{page}/upload?_csrf={token}")))
        .multipart(Form::new().part("file", config))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    // Staging in one sub-county is enough to send any file.
    w.person(
        &app,
        "kibwezi@health.go.ke",
        w.a,
        role(BuiltinRole::RegionManager),
        w.place(w.i1, "kibwezi"),
    )
    .await;
    let operator = signed_in(&app, "kibwezi@health.go.ke").await;
    let staging = format!("/tenants/{}/instances/{}/staging", w.a, w.i1);
    Setup {
        app,
        operator,
        staging,
    }
}

impl Setup {
    /// Uploads `bytes` as `name`; returns the status and the page's text.
    async fn upload(&self, name: &str, bytes: Vec<u8>) -> (StatusCode, String) {
        self.upload_part(name, Part::bytes(bytes)).await
    }

    async fn upload_part(&self, name: &str, file: Part) -> (StatusCode, String) {
        let page = self.app.get_with(&self.operator, &self.staging).await;
        let token = csrf_token(&page.text().await.unwrap()).unwrap();
        let form = Form::new()
            .text("contact_type", "d_community_health_volunteer_area")
            .part("file", file.file_name(name.to_owned()));
        let response = self
            .operator
            .post(
                self.app
                    .url(&format!("{}/upload?_csrf={token}", self.staging)),
            )
            .multipart(form)
            .send()
            .await
            .unwrap();
        (response.status(), page_text(response).await)
    }

    /// Uploads `bytes`, expects a refusal whose page says `message`, then checks that the portal
    /// still answers.
    async fn refused(&self, name: &str, bytes: Vec<u8>, message: &str) {
        let (status, text) = self.upload(name, bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {text}");
        assert!(text.contains(message), "{name}: {message:?} not in {text}");
        self.still_answers().await;
    }

    async fn still_answers(&self) {
        assert_eq!(self.app.get("/healthz").await.status(), StatusCode::OK);
        let page = self.app.get_with(&self.operator, &self.staging).await;
        assert_eq!(page.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn hostile_spreadsheets_are_refused_and_the_portal_answers() {
    let s = setup().await;
    s.refused(
        "two-cells.xlsx",
        hostile::two_cell_sheet(),
        "Cell XFD1048576 is in column 16384; at most 200 columns are read.",
    )
    .await;
    // Declares 1,000 bytes, unpacks to 300 MiB; and 4 GiB that says so.
    s.refused(
        "lying.xlsx",
        hostile::lying_zip(300 << 20, 1_000),
        "The spreadsheet unpacks to more than 268435456 bytes.",
    )
    .await;
    s.refused(
        "bomb.xlsx",
        hostile::deflate_bomb(u64::from(u32::MAX)),
        "The spreadsheet unpacks to more than 268435456 bytes.",
    )
    .await;
    s.refused(
        "strings.xlsx",
        hostile::shared_strings_count_lie("1000000000000"),
        "declares 1000000000000 shared strings",
    )
    .await;
    s.refused(
        "wide.xlsx",
        hostile::wide_xlsx(20_000),
        "Cell GS1 is in column 201; at most 200 columns are read.",
    )
    .await;
    for xls in [hostile::SMALL_XLS, hostile::HUGE_DIMENSIONS_XLS] {
        s.refused(
            "old.xls",
            xls.to_vec(),
            "This is an Excel 97-2003 workbook (.xls), or a workbook protected by a password, \
             which the portal does not read. Open it in Excel or LibreOffice and save it as \
             \"Excel Workbook (.xlsx)\"",
        )
        .await;
    }
}

#[tokio::test]
async fn hostile_csv_files_are_refused_and_the_portal_answers() {
    let s = setup().await;
    s.refused(
        "wide.csv",
        hostile::wide_csv(20_000),
        "Line 1 has 20000 columns; at most 200 are accepted.",
    )
    .await;
    s.refused(
        "long-cell.csv",
        hostile::csv_with_long_line(20 << 20),
        "Line 2, column 1 holds more than 32768 bytes; at most 32768 bytes are accepted in one \
         cell.",
    )
    .await;
    // One line of 50 MB: over the upload limit, refused before it is read. A browser sends
    // the length first: the transport layer refuses at once.
    let (status, text) = s
        .upload("long-line.csv", hostile::csv_with_long_line(50 << 20))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        text.contains("The request is larger than 33 MiB, the most the portal accepts."),
        "{text}"
    );
    s.still_answers().await;
    // Sent without a length, the route reads it up to its limit and says which.
    let chunks = hostile::csv_with_long_line(50 << 20)
        .chunks(1 << 20)
        .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
        .collect::<Vec<_>>();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let (status, text) = s.upload_part("long-line.csv", Part::stream(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("The file is larger than 33554432 bytes, the most accepted here."),
        "{text}"
    );
    s.still_answers().await;
}
