//! Fixtures shared by the crates' tests and benchmarks (never by the portal itself).

use chrono::Utc;
use portal_crypto::MasterKey;
use portal_domain::{
    BaseUrl, InstanceId, InstanceName, ServiceUsername, TenantId, TenantName, TenantSlug,
};
use portal_store::instances::{self, InstanceFields, ServicePassword};
use portal_store::{AuditContext, Db, tenants};

/// A migrated SQLite database in a temporary directory (removed with the directory).
///
/// # Panics
/// When the database cannot be created: a broken test environment.
pub async fn sqlite() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("portal.db").display()
    );
    (dir, migrated(&url).await)
}

/// The database at `url`, migrated.
///
/// # Panics
/// When it cannot be reached or migrated.
pub async fn migrated(url: &str) -> Db {
    let db = portal_store::connect(url).await.expect("the database");
    portal_store::migrate(&db).await.expect("the migrations");
    db
}

/// A tenant "Kenya" (`ke`) with one instance named `instance_name` at `base_url`, whose service
/// account is `username` / `password`, its password sealed with `key`.
///
/// # Panics
/// When a value is invalid or a write fails.
pub async fn tenant_with_instance(
    db: &Db,
    key: &MasterKey,
    instance_name: &str,
    base_url: &str,
    (username, password): (&str, &str),
) -> (TenantId, InstanceId) {
    let ctx = AuditContext::command_line(Utc::now());
    let tenant = tenants::create(
        db,
        &ctx,
        &TenantSlug::parse("ke").unwrap(),
        &TenantName::parse("Kenya").unwrap(),
    )
    .await
    .expect("a tenant")
    .id;
    let instance = instances::create(
        db,
        &ctx,
        key,
        tenant,
        &InstanceFields {
            name: InstanceName::parse(instance_name).unwrap(),
            base_url: BaseUrl::parse(base_url).unwrap(),
            service_username: ServiceUsername::parse(username).unwrap(),
            service_password: Some(ServicePassword::parse(password).unwrap()),
        },
    )
    .await
    .expect("an instance")
    .id;
    (tenant, instance)
}
