//! End to end in headless Chromium (through ChromeDriver): what a person does on first use.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::*;

/// A ChromeDriver process on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_browser() -> (Driver, Client) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (tests/run installs chromium and chromium-driver)");
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            // No network but loopback here: keep Chromium from reaching out at start.
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1024,768",
                     format!("--user-data-dir={}", driver._profile.path().display())]
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    let mut last_error = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not start Chromium through ChromeDriver: {last_error:?}");
}

async fn fill(browser: &Client, name: &str, value: &str) {
    let field = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!("[name='{name}']")))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

async fn click_button(browser: &Client, label: &str) {
    let xpath = format!("//button[normalize-space()='{label}'] | //a[normalize-space()='{label}']");
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn wait_for_text(browser: &Client, text: &str) {
    let xpath = format!("//*[contains(normalize-space(), \"{text}\")]");
    if browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&xpath))
        .await
        .is_err()
    {
        let html = browser.source().await.unwrap_or_default();
        panic!("the page never showed \"{text}\":\n{html}");
    }
}

async fn screenshot(browser: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test]
async fn first_sign_in_then_a_tenant_and_an_instance_in_a_real_browser() {
    let app = TestApp::spawn().await;
    let sim = cht_sim::Simulator::start(cht_sim::SimConfig::default())
        .await
        .unwrap();
    app.create_user(ADMIN_EMAIL, "one-time-pass-4821", true, true)
        .await;
    let (_driver, browser) = start_browser().await;

    browser.goto(&app.url("/tenants")).await.unwrap();
    wait_for_text(&browser, "Sign in").await;
    fill(&browser, "email", ADMIN_EMAIL).await;
    fill(&browser, "password", "one-time-pass-4821").await;
    click_button(&browser, "Sign in").await;

    wait_for_text(&browser, "Choose your own password").await;
    // The embedded htmx loaded under the CSP (no CDN, no inline script).
    let htmx = browser
        .execute(
            "return typeof window.htmx === 'object' && htmx.version",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(htmx, json!("2.0.11"));
    fill(&browser, "current_password", "one-time-pass-4821").await;
    fill(&browser, "new_password", ADMIN_PASSWORD).await;
    fill(&browser, "confirm_password", ADMIN_PASSWORD).await;
    click_button(&browser, "Change password").await;

    wait_for_text(&browser, "Password changed.").await;
    fill(&browser, "name", "Kenya Ministry of Health").await;
    fill(&browser, "slug", "ke moh").await;
    click_button(&browser, "Create tenant").await;
    wait_for_text(&browser, "may use only letters a-z").await;
    fill(&browser, "slug", "ke-moh").await;
    click_button(&browser, "Create tenant").await;
    wait_for_text(&browser, "Tenant created.").await;

    click_button(&browser, "Add CHT instance").await;
    wait_for_text(&browser, "Service account password").await;
    fill(&browser, "name", "Nairobi County").await;
    fill(&browser, "base_url", &sim.base_url()).await;
    fill(&browser, "service_username", "medic").await;
    fill(&browser, "service_password", "password").await;
    click_button(&browser, "Add instance").await;
    wait_for_text(&browser, "CHT instance added.").await;
    click_button(&browser, "Test connection").await;
    wait_for_text(&browser, "every permission the portal needs").await;
    screenshot(&browser, "instance-added").await;
    let url = browser.current_url().await.unwrap();
    assert!(url.path().contains("/instances/"), "{url}");

    click_button(&browser, "Sign out").await;
    wait_for_text(&browser, "You have signed out.").await;
    browser.close().await.unwrap();

    let tenants = portal_store::tenants::list(&app.db).await.unwrap();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].instance_count, 1);
}

#[tokio::test]
async fn a_staged_row_is_fixed_inline_in_a_real_browser() {
    use crate::world::{World, role};
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    crate::staging::makueni(&app, &w).await;
    w.person(
        &app,
        "national@health.go.ke",
        w.a,
        role(portal_domain::BuiltinRole::NationalAdmin),
        portal_store::access::GrantScope::Tenant,
    )
    .await;
    let config = crate::staging::shared_config("chis-ke.config.json");
    portal_store::staging::save_config(
        &app.db,
        &portal_store::AuditContext::command_line(chrono::Utc::now()),
        w.a,
        std::str::from_utf8(&config).unwrap(),
        json!({}),
    )
    .await
    .unwrap();
    let upload = app.config.data_dir.join("chps.csv");
    std::fs::write(
        &upload,
        "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
         Kibwezi,Kalawa,,Mary Wanjiku,0712345678,\n\
         Kibwezi,Kalawwa,,John Mwangi,0722000111,\n",
    )
    .unwrap();
    let (_driver, browser) = start_browser().await;

    browser
        .goto(&app.url(&format!("/tenants/{}/instances/{}/staging", w.a, w.i1)))
        .await
        .unwrap();
    fill(&browser, "email", "national@health.go.ke").await;
    fill(&browser, "password", ADMIN_PASSWORD).await;
    click_button(&browser, "Sign in").await;
    wait_for_text(&browser, "Community Health Promoter").await;
    let file = browser
        .find(Locator::Css("#file-d_community_health_volunteer_area"))
        .await
        .unwrap();
    file.send_keys(upload.to_str().unwrap()).await.unwrap();
    browser
        .form(Locator::Css(
            "form:has(#file-d_community_health_volunteer_area)",
        ))
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    wait_for_text(
        &browser,
        "Cannot find 'CHU' matching 'Kalawwa' under 'Kibwezi'",
    )
    .await;
    wait_for_text(&browser, "Did you mean 'Kalawa Community Health Unit'?").await;

    // Edit in place: HTMX swaps the row for a form, and the saved row back in.
    browser
        .find(Locator::Css("#row-1 a.button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let chu = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#row-1 #cell-1"))
        .await
        .unwrap();
    chu.clear().await.unwrap();
    chu.send_keys("Kalawa").await.unwrap();
    browser
        .find(Locator::Css("#row-1 button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#row-1 .badge.ok"))
        .await
        .expect("the fixed row shows as valid without a page load");
    // The counts followed the edit.
    wait_for_text(&browser, "Errors 0").await;
    screenshot(&browser, "staging-row-fixed").await;
    browser.close().await.unwrap();
    let event = app.last_audit("stage.row_edited").await;
    assert_eq!(event.details["row"], 1);
}
