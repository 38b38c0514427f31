use reqwest::StatusCode;

use crate::support::*;

pub async fn create_tenant(app: &TestApp, slug: &str, name: &str) -> String {
    let response = app
        .submit("/tenants", "/tenants", &[("slug", slug), ("name", name)])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "tenant {slug} is created"
    );
    let target = location(&response);
    target
        .trim_start_matches("/tenants/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_admin_creates_lists_edits_and_deletes_a_tenant() {
    let app = TestApp::signed_in_admin().await;
    let id = create_tenant(&app, " KE-moh ", "  Kenya Ministry of Health ").await;

    let detail = app
        .get(&format!("/tenants/{id}?notice=tenant-created"))
        .await
        .text()
        .await
        .unwrap();
    assert!(detail.contains("Kenya Ministry of Health"));
    assert!(detail.contains("Tenant created."));
    let list = app.get("/tenants").await.text().await.unwrap();
    assert!(list.contains("ke-moh"), "the slug is normalised");

    let created = app.last_audit("tenant.created").await;
    assert_eq!(created.target_id.as_deref(), Some(id.as_str()));
    assert_eq!(created.details["slug"], "ke-moh");
    assert_eq!(created.actor_label, ADMIN_EMAIL);

    let response = app
        .submit(
            &format!("/tenants/{id}"),
            &format!("/tenants/{id}"),
            &[("slug", "ke-moh"), ("name", "Kenya MoH")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let updated = app.last_audit("tenant.updated").await;
    assert_eq!(updated.details["changes"]["name"]["to"], "Kenya MoH");
    assert!(
        updated.details["changes"].get("slug").is_none(),
        "only what changed is recorded"
    );

    let response = app
        .submit(
            &format!("/tenants/{id}"),
            &format!("/tenants/{id}/delete"),
            &[],
        )
        .await;
    assert_eq!(location(&response), "/tenants?notice=tenant-deleted");
    assert_eq!(
        app.get(&format!("/tenants/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.last_audit("tenant.deleted").await.details["name"],
        "Kenya MoH"
    );
}

#[tokio::test]
async fn invalid_tenant_input_is_explained_per_field_and_kept() {
    let app = TestApp::signed_in_admin().await;
    let response = app
        .submit("/tenants", "/tenants", &[("slug", "ke moh!"), ("name", "")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = page_text(response).await;
    assert!(
        html.contains("Short name \"ke moh!\" may use only letters a-z, digits and hyphens"),
        "{html}"
    );
    assert!(html.contains("Name is required"));
    assert!(html.contains("value=\"ke moh!\""), "what was typed is kept");
    assert!(
        portal_store::tenants::list(&app.db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_duplicate_short_name_is_a_clear_conflict() {
    let app = TestApp::signed_in_admin().await;
    create_tenant(&app, "ug-moh", "Uganda").await;
    let response = app
        .submit(
            "/tenants",
            "/tenants",
            &[("slug", "UG-MOH"), ("name", "Uganda again")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        page_text(response)
            .await
            .contains("A tenant with the short name \"ug-moh\" already exists")
    );
    assert_eq!(portal_store::tenants::list(&app.db).await.unwrap().len(), 1);
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in_and_posts_do_nothing() {
    let app = TestApp::spawn().await;
    let response = app.get("/tenants").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Ftenants");
    let htmx = app
        .client
        .get(app.url("/tenants"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    // HTMX needs a non-redirect answer to act on HX-Redirect (XHR follows a 303 by itself).
    assert_eq!(htmx.status(), StatusCode::NO_CONTENT);
    assert_eq!(htmx.headers()["hx-redirect"], "/login?next=%2Ftenants");
    assert!(htmx.headers().get("location").is_none());
    let post = app
        .submit(
            "/login",
            "/tenants",
            &[("slug", "ke-moh"), ("name", "Kenya")],
        )
        .await;
    assert_eq!(location(&post), "/login?next=%2F");
    assert!(
        portal_store::tenants::list(&app.db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn users_who_are_not_platform_administrators_cannot_manage_tenants() {
    let app = TestApp::spawn().await;
    app.create_user("clerk@health.go.ke", ADMIN_PASSWORD, false, false)
        .await;
    app.login("clerk@health.go.ke", ADMIN_PASSWORD).await;
    let home = app.get("/").await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(
        home.text()
            .await
            .unwrap()
            .contains("no access to a tenant yet")
    );
    // The list answers, with nothing in it and no form to create a tenant.
    let list = app.get("/tenants").await;
    assert_eq!(list.status(), StatusCode::OK);
    let list = list.text().await.unwrap();
    assert!(list.contains("no access to a tenant yet"));
    assert!(!list.contains("Create tenant"));
    let token = csrf_token(&app.get("/").await.text().await.unwrap()).unwrap();
    let response = app
        .post_form(
            "/tenants",
            &[("_csrf", &token), ("slug", "ke-moh"), ("name", "Kenya")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        portal_store::tenants::list(&app.db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn malformed_ids_are_not_found_not_errors() {
    let app = TestApp::signed_in_admin().await;
    assert_eq!(
        app.get("/tenants/not-a-uuid").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/tenants/{}", uuid::Uuid::new_v4()))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}
