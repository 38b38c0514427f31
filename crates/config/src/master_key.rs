use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use portal_crypto::MasterKey;

use crate::{Config, ConfigError, Environment, describe_key};

/// Where the master key came from, so start-up can say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    Configured,
    DevelopmentFile { path: PathBuf, generated: bool },
}

/// The configured master key; in development, the key file in the data directory, generated on
/// first run with owner-only permissions. Production refuses to invent a key: losing it would
/// make every stored CHT password unreadable.
pub fn resolve_master_key(config: &Config) -> Result<(MasterKey, MasterKeySource), ConfigError> {
    if let Some(text) = &config.master_key {
        let key = MasterKey::from_base64(text.expose()).map_err(|e| {
            ConfigError::one(format!(
                "{} (or PORTAL_MASTER_KEY_FILE) {e}",
                describe_key("master_key")
            ))
        })?;
        return Ok((key, MasterKeySource::Configured));
    }
    if config.environment == Environment::Production {
        return Err(ConfigError::one(format!(
            "{} is required when `environment` is production; generate one with `openssl rand -base64 32` and set PORTAL_MASTER_KEY or PORTAL_MASTER_KEY_FILE",
            describe_key("master_key")
        )));
    }
    let path = config.data_dir.join("master.key");
    let io_error = |e: std::io::Error| {
        ConfigError::one(format!(
            "cannot use the development master key file {}: {e}",
            path.display()
        ))
    };
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(io_error)?;
        let key = MasterKey::from_base64(&text).map_err(|e| {
            ConfigError::one(format!(
                "the development master key file {} {e}",
                path.display()
            ))
        })?;
        let mode = std::fs::metadata(&path)
            .map_err(io_error)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "the master key file is readable by other users; run chmod 600 on it");
        }
        return Ok((
            key,
            MasterKeySource::DevelopmentFile {
                path,
                generated: false,
            },
        ));
    }
    std::fs::create_dir_all(&config.data_dir).map_err(io_error)?;
    let key = MasterKey::generate();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_error)?;
    file.write_all(format!("{}\n", key.to_base64()).as_bytes())
        .map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    tracing::warn!(
        path = %path.display(),
        "NO MASTER KEY CONFIGURED: generated a development master key. CHT passwords stored by this \
         portal can only be read with this file. For production set environment = \"production\" and \
         PORTAL_MASTER_KEY or PORTAL_MASTER_KEY_FILE, and back the key up."
    );
    Ok((
        key,
        MasterKeySource::DevelopmentFile {
            path,
            generated: true,
        },
    ))
}
