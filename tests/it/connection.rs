//! "Test connection" against the CHT simulator over real HTTP.

use cht_client::{ChtClient, ChtConfig, NewUser};
use cht_sim::{RunningSim, SimConfig, Simulator, Version};
use reqwest::StatusCode;

use crate::support::*;
use crate::tenants::create_tenant;

const SIM_PASSWORD: &str = "Sim-Service-Pass-2026";

async fn start_sim(version: Version) -> RunningSim {
    Simulator::start(SimConfig {
        version,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// Adds an instance through the UI and returns its page path.
async fn add_instance(
    app: &TestApp,
    tenant: &str,
    base_url: &str,
    username: &str,
    password: &str,
) -> String {
    let response = app
        .submit(
            &format!("/tenants/{tenant}/instances/new"),
            &format!("/tenants/{tenant}/instances"),
            &[
                ("name", "County"),
                ("base_url", base_url),
                ("service_username", username),
                ("service_password", password),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response).split('?').next().unwrap().to_owned()
}

/// Presses "Test connection" the way HTMX does (header token, partial answer).
async fn test_connection(app: &TestApp, page: &str) -> String {
    let token = csrf_token(&app.get(page).await.text().await.unwrap()).unwrap();
    let response = app
        .client
        .post(app.url(&format!("{page}/test")))
        .header("hx-request", "true")
        .header("x-csrf-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    page_text(response).await
}

async fn create_sim_user(sim: &RunningSim, username: &str, roles: &[&str]) {
    let admin =
        ChtClient::new(ChtConfig::new(&sim.base_url(), "medic", "password").unwrap()).unwrap();
    admin
        .create_user(NewUser {
            username: username.into(),
            password: Some(SIM_PASSWORD.into()),
            roles: roles.iter().map(ToString::to_string).collect(),
            password_change_required: Some(false),
            ..Default::default()
        })
        .await
        .expect("create CHT user");
}

#[tokio::test]
async fn an_admin_account_connects_with_every_permission() {
    let sim = start_sim(Version::V5_2).await;
    let app = TestApp::signed_in_admin().await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;
    let page = add_instance(&app, &tenant, &sim.base_url(), "medic", "password").await;

    let report = test_connection(&app, &page).await;
    assert!(
        report.starts_with("<div id=\"connection-report\""),
        "a partial for HTMX: {report}"
    );
    assert!(
        report.contains("Connected to CHT 5.2.0 as <strong>medic</strong>"),
        "{report}"
    );
    assert!(
        report.contains("every permission the portal needs"),
        "{report}"
    );
    assert!(!report.contains("password"), "no secret in the report");
    let event = app.last_audit("instance.connection_tested").await;
    assert_eq!(event.details["ok"], true);
    assert_eq!(event.details["cht_version"], "5.2.0");
    assert_eq!(event.actor_label, ADMIN_EMAIL);
}

#[tokio::test]
async fn missing_permissions_are_named_one_by_one() {
    let sim = start_sim(Version::V4_22).await;
    create_sim_user(&sim, "portal_svc", &["data_entry"]).await;
    let app = TestApp::signed_in_admin().await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;
    let page = add_instance(&app, &tenant, &sim.base_url(), "portal_svc", SIM_PASSWORD).await;

    let report = test_connection(&app, &page).await;
    assert!(report.contains("Connected to CHT 4.22.0"), "{report}");
    for permission in [
        "can_edit",
        "can_create_users",
        "can_update_users",
        "can_delete_users",
        "can_view_users",
        "can_create_places",
        "can_update_places",
        "can_create_people",
    ] {
        assert!(
            report.contains(&format!("<code>{permission}</code>")),
            "{permission}: {report}"
        );
    }
    assert!(
        !report.contains("<code>can_view_contacts</code>"),
        "data_entry can view contacts"
    );
    assert!(report.contains("data_entry"));
}

#[tokio::test]
async fn wrong_credentials_and_unreachable_instances_are_explained() {
    let sim = start_sim(Version::V5_2).await;
    let app = TestApp::signed_in_admin().await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;

    let page = add_instance(
        &app,
        &tenant,
        &sim.base_url(),
        "medic",
        "Not-The-Password-99",
    )
    .await;
    let report = test_connection(&app, &page).await;
    assert!(
        report.contains("CHT refused the service account's user name or password"),
        "{report}"
    );
    assert!(!report.contains("Not-The-Password-99"));

    // Correcting the password on the same page replaces the cached client.
    let fixed = app
        .submit(
            &page,
            &page,
            &[
                ("name", "County"),
                ("base_url", &sim.base_url()),
                ("service_username", "medic"),
                ("service_password", "password"),
            ],
        )
        .await;
    assert_eq!(fixed.status(), StatusCode::SEE_OTHER);
    assert!(
        test_connection(&app, &page)
            .await
            .contains("every permission")
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let page = {
        let response = app
            .submit(
                &format!("/tenants/{tenant}/instances/new"),
                &format!("/tenants/{tenant}/instances"),
                &[
                    ("name", "Gone"),
                    ("base_url", &format!("http://{closed}")),
                    ("service_username", "medic"),
                    ("service_password", "password"),
                ],
            )
            .await;
        location(&response).split('?').next().unwrap().to_owned()
    };
    let report = test_connection(&app, &page).await;
    assert!(report.contains("could not reach the instance"), "{report}");
}

#[tokio::test]
async fn without_javascript_the_whole_page_comes_back_with_the_report() {
    let sim = start_sim(Version::V5_2).await;
    let app = TestApp::signed_in_admin().await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;
    let page = add_instance(&app, &tenant, &sim.base_url(), "medic", "password").await;
    let response = app.submit(&page, &format!("{page}/test"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = page_text(response).await;
    assert!(
        html.contains("<!DOCTYPE html>") && html.contains("Connected to CHT 5.2.0"),
        "{html}"
    );
}

#[tokio::test]
async fn testing_needs_a_platform_administrator_and_the_right_tenant() {
    let sim = start_sim(Version::V5_2).await;
    let app = TestApp::signed_in_admin().await;
    let kenya = create_tenant(&app, "ke-moh", "Kenya").await;
    let uganda = create_tenant(&app, "ug-moh", "Uganda").await;
    let page = add_instance(&app, &kenya, &sim.base_url(), "medic", "password").await;
    let instance = page.rsplit('/').next().unwrap();
    let token = csrf_token(&app.get(&page).await.text().await.unwrap()).unwrap();
    let foreign = app
        .post_form(
            &format!("/tenants/{uganda}/instances/{instance}/test"),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let no_token = app.post_form(&format!("{page}/test"), &[]).await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);

    app.create_user("clerk@health.go.ke", ADMIN_PASSWORD, false, false)
        .await;
    let clerk = http_client();
    app.login_with(&clerk, "clerk@health.go.ke", ADMIN_PASSWORD)
        .await;
    let response = app
        .submit_with(&clerk, "/", &format!("{page}/test"), &[])
        .await;
    // Someone with no access in the tenant is not even told that it exists.
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
