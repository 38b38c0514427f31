//! Persistence of CHT Portal on SQLite or PostgreSQL through sea-orm.
//!
//! Callers use the repository modules ([`tenants`], [`instances`], [`users`], [`sessions`],
//! [`throttle`], [`audit`]); the entities are an implementation detail. Every change to a tenant
//! or instance is written in one transaction with its audit event, so the trail never misses a
//! change and never records one that did not happen.

pub mod access;
pub mod audit;
pub mod cht_identities;
pub mod entity;
pub mod instances;
pub mod invitations;
pub mod oidc;
pub mod people;
pub mod places;
pub mod rate_limit;
pub mod second_factor;
pub mod sessions;
pub mod staging;
pub mod tenants;
pub mod throttle;
pub mod users;

use std::time::Duration;

use portal_migrations::MigratorTrait;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, SqlErr};

pub use audit::{AuditContext, AuditRecord};
pub use sea_orm::DatabaseConnection as Db;

/// Errors of the store, phrased so the web layer can show the non-internal ones as they are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the message says which and how to fix it.
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The operation would break a rule of the data model (e.g. deleting a tenant that still has
    /// instances); the message explains it.
    #[error("{0}")]
    Refused(String),
    #[error("stored secret unreadable: {0}")]
    Secret(#[from] portal_crypto::SealError),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Maps a unique-constraint violation to a [`StoreError::Conflict`] with `message`.
pub(crate) fn conflict_on_unique(err: DbErr, message: impl FnOnce() -> String) -> StoreError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(message()),
        _ => StoreError::Database(err),
    }
}

/// Opens the database at `url`. SQLite runs in WAL mode with foreign keys on and a busy timeout,
/// so several readers and one writer (and several portal processes) work together.
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        options.map_sqlx_sqlite_opts(|opts: SqliteConnectOptions| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
        });
    } else {
        options.max_connections(20);
    }
    Ok(Database::connect(options).await?)
}

/// Applies every pending migration; returns how many were applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<usize> {
    let pending = portal_migrations::Migrator::get_pending_migrations(db)
        .await?
        .len();
    portal_migrations::Migrator::up(db, None).await?;
    Ok(pending)
}

/// True when the database answers.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

/// "sqlite" or "postgres", for logs and health output.
#[must_use]
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "other",
    }
}
