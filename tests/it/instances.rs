use portal_domain::{InstanceId, TenantId};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};

use crate::support::*;
use crate::tenants::create_tenant;

const SECRET: &str = "Medic-S3cret-Passw0rd";

async fn add_instance(
    app: &TestApp,
    tenant: &str,
    name: &str,
    password: &str,
) -> reqwest::Response {
    app.submit(
        &format!("/tenants/{tenant}/instances/new"),
        &format!("/tenants/{tenant}/instances"),
        &[
            ("name", name),
            ("base_url", "https://nairobi.echis.go.ke/"),
            ("service_username", "portal-svc"),
            ("service_password", password),
        ],
    )
    .await
}

/// The stored column, read with plain SQL (the test adds exactly one instance).
async fn raw_sealed_password(app: &TestApp) -> String {
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT service_password_sealed FROM cht_instances",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    rows[0]
        .try_get::<String>("", "service_password_sealed")
        .unwrap()
}

fn ids(location: &str) -> (String, String) {
    let parts: Vec<&str> = location.split('?').next().unwrap().split('/').collect();
    (parts[2].to_owned(), parts[4].to_owned())
}

#[tokio::test]
async fn an_instance_is_created_with_its_password_encrypted_at_rest() {
    let app = TestApp::signed_in_admin().await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;
    let response = add_instance(&app, &tenant, "Nairobi County", SECRET).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, instance) = ids(&location(&response));

    let sealed = raw_sealed_password(&app).await;
    assert!(
        !sealed.contains(SECRET),
        "the raw row does not hold the plaintext"
    );
    assert!(sealed.starts_with("v1."), "{sealed}");

    // With the master key, and only for this row, it opens again.
    let (key, _) = app.config.master_key().unwrap();
    let tenant_id: TenantId = tenant.parse().unwrap();
    let instance_id: InstanceId = instance.parse().unwrap();
    let opened = portal_store::instances::service_password(&app.db, &key, tenant_id, instance_id)
        .await
        .unwrap();
    assert_eq!(opened, SECRET);

    let page = app
        .get(&format!("/tenants/{tenant}/instances/{instance}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("https://nairobi.echis.go.ke"),
        "the address is normalised"
    );
    assert!(!page.contains(SECRET), "the password is never sent back");

    let event = app.last_audit("instance.created").await;
    assert_eq!(event.details["name"], "Nairobi County");
    assert!(!event.details.to_string().contains(SECRET));
    assert_eq!(event.tenant_id.map(|u| u.to_string()), Some(tenant.clone()));
}

#[tokio::test]
async fn editing_keeps_or_replaces_the_password_and_audits_without_it() {
    let app = TestApp::signed_in_admin().await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;
    let (_, instance) = ids(&location(
        &add_instance(&app, &tenant, "Nairobi", SECRET).await,
    ));
    let page = format!("/tenants/{tenant}/instances/{instance}");
    let (key, _) = app.config.master_key().unwrap();
    let (tenant_id, instance_id) = (tenant.parse().unwrap(), instance.parse().unwrap());

    let keep = app
        .submit(
            &page,
            &page,
            &[
                ("name", "Nairobi County"),
                ("base_url", "https://nairobi.echis.go.ke"),
                ("service_username", "portal-svc"),
                ("service_password", ""),
            ],
        )
        .await;
    assert_eq!(keep.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        portal_store::instances::service_password(&app.db, &key, tenant_id, instance_id)
            .await
            .unwrap(),
        SECRET
    );
    let event = app.last_audit("instance.updated").await;
    assert_eq!(event.details["changes"]["name"]["from"], "Nairobi");
    assert!(event.details["changes"].get("service_password").is_none());

    let replace = app
        .submit(
            &page,
            &page,
            &[
                ("name", "Nairobi County"),
                ("base_url", "http://10.0.0.5:5988"),
                ("service_username", "portal-svc"),
                ("service_password", "New-Pass-2026"),
            ],
        )
        .await;
    assert_eq!(replace.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        portal_store::instances::service_password(&app.db, &key, tenant_id, instance_id)
            .await
            .unwrap(),
        "New-Pass-2026"
    );
    let event = app.last_audit("instance.updated").await;
    assert_eq!(event.details["changes"]["service_password"], "changed");
    assert!(!event.details.to_string().contains("New-Pass-2026"));
}

#[tokio::test]
async fn invalid_instance_input_is_explained() {
    let app = TestApp::signed_in_admin().await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;
    let response = app
        .submit(
            &format!("/tenants/{tenant}/instances/new"),
            &format!("/tenants/{tenant}/instances"),
            &[
                ("name", "Nairobi"),
                ("base_url", "nairobi.echis.go.ke"),
                ("service_username", "Portal Svc"),
                ("service_password", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("is not a web address"), "{html}");
    assert!(html.contains("may use only lower-case letters, digits, _ and -"));
    assert!(html.contains("Service account password is required"));
    assert!(html.contains("value=\"Nairobi\""), "typed values are kept");
}

#[tokio::test]
async fn instance_names_are_unique_within_a_tenant_only() {
    let app = TestApp::signed_in_admin().await;
    let kenya = create_tenant(&app, "ke-moh", "Kenya").await;
    let uganda = create_tenant(&app, "ug-moh", "Uganda").await;
    assert_eq!(
        add_instance(&app, &kenya, "Training", SECRET)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let duplicate = add_instance(&app, &kenya, "Training", SECRET).await;
    assert_eq!(duplicate.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page_text(duplicate)
            .await
            .contains("already has an instance named \"Training\"")
    );
    assert_eq!(
        add_instance(&app, &uganda, "Training", SECRET)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn an_instance_is_reachable_only_under_its_own_tenant() {
    let app = TestApp::signed_in_admin().await;
    let kenya = create_tenant(&app, "ke-moh", "Kenya").await;
    let uganda = create_tenant(&app, "ug-moh", "Uganda").await;
    let (_, instance) = ids(&location(
        &add_instance(&app, &kenya, "Nairobi", SECRET).await,
    ));
    assert_eq!(
        app.get(&format!("/tenants/{uganda}/instances/{instance}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let response = app
        .submit(
            &format!("/tenants/{kenya}/instances/{instance}"),
            &format!("/tenants/{uganda}/instances/{instance}/delete"),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        portal_store::instances::list_for_tenant(&app.db, kenya.parse().unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_tenant_with_instances_cannot_be_deleted_until_they_are() {
    let app = TestApp::signed_in_admin().await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;
    let (_, instance) = ids(&location(
        &add_instance(&app, &tenant, "Nairobi", SECRET).await,
    ));
    let refused = app
        .submit(
            &format!("/tenants/{tenant}"),
            &format!("/tenants/{tenant}/delete"),
            &[],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("still has 1 CHT instance; delete it first")
    );

    let page = format!("/tenants/{tenant}/instances/{instance}");
    // The name must be typed to confirm; anything else deletes nothing.
    let unconfirmed = app
        .submit(
            &page,
            &format!("{page}/delete"),
            &[("confirm_name", "Nairob")],
        )
        .await;
    assert_eq!(unconfirmed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let deleted = app
        .submit(
            &page,
            &format!("{page}/delete"),
            &[("confirm_name", "Nairobi")],
        )
        .await;
    assert_eq!(
        location(&deleted),
        format!("/tenants/{tenant}?notice=instance-deleted")
    );
    assert_eq!(
        app.last_audit("instance.deleted").await.details["name"],
        "Nairobi"
    );
    let gone = app
        .submit(
            &format!("/tenants/{tenant}"),
            &format!("/tenants/{tenant}/delete"),
            &[],
        )
        .await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    let actions = app.audit_actions().await;
    let tail: Vec<&str> = actions
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        ["instance.created", "instance.deleted", "tenant.deleted"]
    );
}

#[tokio::test]
async fn a_new_address_needs_the_password_again() {
    let app = TestApp::signed_in_admin().await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;
    let (_, instance) = ids(&location(
        &add_instance(&app, &tenant, "Nairobi", SECRET).await,
    ));
    let page = format!("/tenants/{tenant}/instances/{instance}");
    let moved = app
        .submit(
            &page,
            &page,
            &[
                ("name", "Nairobi"),
                ("base_url", "https://attacker.example"),
                ("service_username", "portal-svc"),
                ("service_password", ""),
            ],
        )
        .await;
    assert_eq!(moved.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page_text(moved)
            .await
            .contains("Enter the service account password again")
    );
    let stored =
        portal_store::instances::get(&app.db, tenant.parse().unwrap(), instance.parse().unwrap())
            .await
            .unwrap();
    assert_eq!(
        stored.base_url, "https://nairobi.echis.go.ke",
        "nothing changed"
    );
    let with_password = app
        .submit(
            &page,
            &page,
            &[
                ("name", "Nairobi"),
                ("base_url", "https://nairobi2.echis.go.ke"),
                ("service_username", "portal-svc"),
                ("service_password", SECRET),
            ],
        )
        .await;
    assert_eq!(with_password.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn production_refuses_plain_http_addresses() {
    let app = TestApp::spawn_with(|c| {
        c.environment = portal_config::Environment::Production;
        c.public_url = Some("https://portal.health.go.ke".parse().unwrap());
        c.master_key = Some(portal_config::SecretString::new(
            portal_crypto::MasterKey::generate().to_base64(),
        ));
    })
    .await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let tenant = create_tenant(&app, "ke-moh", "Kenya").await;
    let plain = app
        .submit(
            &format!("/tenants/{tenant}/instances/new"),
            &format!("/tenants/{tenant}/instances"),
            &[
                ("name", "Nairobi"),
                ("base_url", "http://nairobi.echis.go.ke"),
                ("service_username", "portal-svc"),
                ("service_password", SECRET),
            ],
        )
        .await;
    assert_eq!(plain.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page_text(plain)
            .await
            .contains("must start with https:// in production")
    );
    assert_eq!(
        add_instance(&app, &tenant, "Nairobi", SECRET)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}
