//! The portal's database schema as ordered migrations. Each one runs unchanged on SQLite and
//! PostgreSQL; where the two need different SQL (triggers), the migration says so explicitly.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_foundation;
mod m20261125_000002_create_access;
mod m20261125_000003_create_staging;
mod m20261206_000001_batch_anchors_text;
mod m20261206_000002_grants_outlive_instances;
mod m20261206_000003_invitations;
mod m20261206_000004_second_factor;
mod m20261206_000005_cht_sign_in;
mod m20261206_000006_batch_header;
mod m20261206_000007_staged_parents;
mod m20261206_000008_people_cache;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_foundation::Migration),
            Box::new(m20261125_000002_create_access::Migration),
            Box::new(m20261125_000003_create_staging::Migration),
            Box::new(m20261206_000001_batch_anchors_text::Migration),
            Box::new(m20261206_000002_grants_outlive_instances::Migration),
            Box::new(m20261206_000003_invitations::Migration),
            Box::new(m20261206_000004_second_factor::Migration),
            Box::new(m20261206_000005_cht_sign_in::Migration),
            Box::new(m20261206_000006_batch_header::Migration),
            Box::new(m20261206_000007_staged_parents::Migration),
            Box::new(m20261206_000008_people_cache::Migration),
        ]
    }
}
