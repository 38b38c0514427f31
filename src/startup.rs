//! Turning a [`Config`] into a running portal: database, migrations, master key, state.

use anyhow::Context;
use portal_config::{Config, MasterKeySource};
use portal_store::Db;
use portal_web::{AppState, Clock, WebSettings};

/// Opens the database, creating the data directory for SQLite.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    let url = config.database_url();
    if url.expose().starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
    }
    portal_store::connect(url.expose())
        .await
        .context("cannot open the database (check `database_url` / DATABASE_URL)")
}

pub async fn migrate(db: &Db) -> anyhow::Result<usize> {
    let applied = portal_store::migrate(db)
        .await
        .context("database migration failed")?;
    tracing::info!(
        applied,
        backend = portal_store::backend_name(db),
        "database schema is up to date"
    );
    Ok(applied)
}

/// Everything `serve` needs, ready to bind.
pub async fn prepare(
    config: &Config,
    clock: Clock,
    run_migrations: bool,
) -> anyhow::Result<AppState> {
    // Settings built in code get the checks a loaded file gets (production needs an https
    // public_url); then the key: a production start without one must fail before it changes
    // the database.
    config.validate()?;
    let (master_key, source) = config.master_key()?;
    let db = open_database(config).await?;
    if run_migrations {
        migrate(&db).await?;
    }
    match source {
        MasterKeySource::Configured => {
            tracing::info!(key_id = master_key.id(), "using the configured master key")
        }
        MasterKeySource::DevelopmentFile { path, generated } => {
            tracing::warn!(key_id = master_key.id(), path = %path.display(), generated, "using the development master key file");
        }
    }
    Ok(AppState::new(
        db,
        master_key,
        WebSettings::try_from_config(config)?,
        clock,
    ))
}
