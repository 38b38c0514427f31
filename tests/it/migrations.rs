use portal_migrations::{Migrator, MigratorTrait};

use crate::support::*;

#[tokio::test]
async fn migrations_run_up_from_empty_down_and_up_again() {
    let database = TestDatabase::create().await;
    let db = portal_store::connect(&database.url).await.unwrap();
    assert_eq!(
        Migrator::get_pending_migrations(&db).await.unwrap().len(),
        Migrator::migrations().len()
    );
    assert_eq!(
        portal_store::migrate(&db).await.unwrap(),
        Migrator::migrations().len()
    );
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        portal_store::migrate(&db).await.unwrap(),
        0,
        "applying twice is a no-op"
    );

    Migrator::down(&db, None).await.unwrap();
    assert_eq!(
        Migrator::get_pending_migrations(&db).await.unwrap().len(),
        Migrator::migrations().len()
    );
    portal_store::migrate(&db).await.unwrap();
    // The schema works after the round trip.
    assert!(portal_store::tenants::list(&db).await.unwrap().is_empty());
}

/// m20261206_000002: grants written before it keep every field through the SQLite rebuild, and
/// afterwards outlive the instance they name; reverting refuses while one would be lost.
#[tokio::test]
async fn grants_survive_the_migration_and_then_outlive_their_instance() {
    use portal_domain::{
        BaseUrl, Email, InstanceName, RoleKey, ServiceUsername, TenantName, TenantSlug,
    };
    use portal_store::access::{self, GrantScope, Grantee, NewGrant};
    use portal_store::instances::{self, InstanceFields, ServicePassword};
    use sea_orm::{ConnectionTrait, EntityTrait};

    const NAME: &str = "m20261206_000002_grants_outlive_instances";
    let database = TestDatabase::create().await;
    let db = portal_store::connect(&database.url).await.unwrap();
    let all = Migrator::migrations();
    let before = all.iter().position(|m| m.name() == NAME).unwrap();
    let reverted_by_down = u32::try_from(all.len() - before).unwrap();
    Migrator::up(&db, Some(u32::try_from(before).unwrap()))
        .await
        .unwrap();

    let ctx = portal_store::AuditContext::command_line(chrono::Utc::now());
    let tenant = portal_store::tenants::create(
        &db,
        &ctx,
        &TenantSlug::parse("ke").unwrap(),
        &TenantName::parse("Kenya").unwrap(),
    )
    .await
    .unwrap()
    .id;
    let instance = instances::create(
        &db,
        &ctx,
        &portal_crypto::MasterKey::generate(),
        tenant,
        &InstanceFields {
            name: InstanceName::parse("Nairobi").unwrap(),
            base_url: BaseUrl::parse("https://nairobi.echis.go.ke").unwrap(),
            service_username: ServiceUsername::parse("portal").unwrap(),
            service_password: Some(ServicePassword::parse("service-password-123").unwrap()),
        },
    )
    .await
    .unwrap()
    .id;
    let (grant, _) = access::grant(
        &db,
        &ctx,
        Grantee::Invite {
            email: Email::parse("county@health.go.ke").unwrap(),
            display_name: "County".into(),
        },
        NewGrant {
            tenant_id: tenant,
            role_key: RoleKey::parse("region_manager").unwrap(),
            scope: GrantScope::Place {
                instance_id: instance,
                place_id: "nairobi".into(),
                place_name: "Nairobi County".into(),
            },
            expires_at: Some(chrono::Utc::now() + chrono::Duration::days(30)),
        },
    )
    .await
    .unwrap();

    portal_store::migrate(&db).await.unwrap();
    let model = |db: &portal_store::Db| {
        let db = db.clone();
        async move {
            portal_store::entity::grant::Entity::find_by_id(grant.id)
                .one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        access::get_grant(&db, tenant, grant.id).await.unwrap(),
        grant,
        "every field came through"
    );

    // No foreign key any more: the row stays when its instance's row goes.
    db.execute_unprepared("DELETE FROM cht_instances")
        .await
        .unwrap();
    assert!(model(&db).await.is_some());
    // Grants still belong to real tenants and people.
    let orphan = db
        .execute_unprepared(&format!(
            "INSERT INTO grants (id, tenant_id, user_id, role_key, created_at) \
             VALUES ('{}', '{}', '{}', 'region_manager', '2026-01-01T00:00:00Z')",
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7()
        ))
        .await;
    assert!(orphan.is_err(), "tenant and user keys are kept");

    let refused = Migrator::down(&db, Some(reverted_by_down))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("1 grant(s) name a CHT instance that was deleted"),
        "{refused}"
    );
    assert!(model(&db).await.is_some(), "nothing was lost by trying");
}
