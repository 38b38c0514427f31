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

/// A cached place as a refresh stores it. Units (`c_community_health_unit`) carry the codes
/// Kenya's CHP areas copy from them, different per unit as on CHT.
#[must_use]
pub fn place(
    id: &str,
    kind: &str,
    name: &str,
    ancestors: &[&str],
) -> portal_store::places::PlaceRecord {
    let mut properties = serde_json::Map::new();
    if kind == "c_community_health_unit" {
        let n = id.bytes().map(u32::from).sum::<u32>() % 900;
        properties.insert("code".into(), format!("100{n:03}").into());
        properties.insert("link_facility_code".into(), format!("10{n:03}").into());
        properties.insert(
            "link_facility_name".into(),
            format!("{name} Dispensary").into(),
        );
    }
    portal_store::places::PlaceRecord {
        id: id.to_owned(),
        contact_type: kind.to_owned(),
        name: name.to_owned(),
        ancestors: ancestors.iter().map(|s| (*s).to_owned()).collect(),
        properties,
    }
}
