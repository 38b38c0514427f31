//! A deployment config with a `regex` property lacking `errorDescription` (as several deployed
//! francophone configs have) is saved over HTTP, and the page shows why it deserves a fix.

use reqwest::StatusCode;

use crate::staging::{shared_config, upload_config};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, page_text};
use crate::world::{World, signed_in};

#[tokio::test]
async fn a_togo_style_config_is_saved_and_its_warnings_are_shown() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let w = World::build(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL).await;
    let tenant = w.b.to_string();
    let bytes = shared_config("togo-style.config.json");

    let saved = upload_config(&app, &admin, &tenant, bytes.clone()).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER, "saved, not refused");
    let stored = portal_store::staging::config(&app.db, w.b)
        .await
        .unwrap()
        .expect("the config is stored");
    assert_eq!(stored.document.as_bytes(), bytes, "kept unchanged");

    let page = page_text(
        app.get_with(&admin, &format!("/tenants/{tenant}/config"))
            .await,
    )
    .await;
    assert!(page.contains("2 warning(s)"), "{page}");
    assert!(!page.contains("problem(s)"), "no errors: {page}");
    assert!(
        page.contains("$.contact_types[1].place_properties[1].errorDescription"),
        "{page}"
    );
    assert!(
        page.contains("Not a valid Code du village: expected text matching the pattern"),
        "{page}"
    );
    assert!(
        page.contains("Code du village"),
        "its column is listed: {page}"
    );
}
