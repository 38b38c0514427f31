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
