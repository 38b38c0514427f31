//! Configuration of CHT Portal: built-in defaults, then an optional TOML file, then environment
//! variables (`DATABASE_URL`, then `PORTAL_*`, with `__` between nested keys), then secrets read
//! from files named by `PORTAL_<KEY>_FILE`.
//!
//! Every error names the configuration key *and* the environment variable that sets it, so an
//! operator knows where to look whichever way they configure the portal.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use portal_crypto::MasterKey;
use serde::{Deserialize, Serialize};
use url::Url;

mod master_key;

pub use master_key::{MasterKeySource, resolve_master_key};

/// Every setting, spelled as its environment variable after `PORTAL_` (lower case, `__` between
/// levels). Other `PORTAL_*` variables are not settings: Kubernetes, for one, injects
/// `PORTAL_PORT` and friends for a service named "portal", so they are reported, not fatal.
pub const ENV_KEYS: [&str; 29] = [
    "listen",
    "data_dir",
    "database_url",
    "master_key",
    "environment",
    "public_url",
    "migrate_on_start",
    "behind_proxy",
    "session__idle_timeout_minutes",
    "session__absolute_timeout_hours",
    "login__max_failures_per_account",
    "login__max_failures_per_address",
    "login__window_minutes",
    "login__lockout_minutes",
    "login__max_oidc_starts_per_address",
    "login__oidc_start_window_minutes",
    "log__format",
    "log__filter",
    "smtp__host",
    "smtp__port",
    "smtp__tls",
    "smtp__username",
    "smtp__password",
    "smtp__from",
    "links__invitation_hours",
    "links__password_reset_minutes",
    "links__max_reset_requests_per_account",
    "links__max_reset_requests_per_address",
    "links__reset_request_window_minutes",
];

/// `PORTAL_*` variables in the environment that name no setting (to warn about typos).
#[must_use]
pub fn unrecognised_environment() -> Vec<String> {
    unrecognised(std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()))
}

/// The names among `names` that look like settings (`PORTAL_*`) but are none.
pub fn unrecognised(names: impl IntoIterator<Item = String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|name| {
            name.strip_prefix("PORTAL_").is_some_and(|rest| {
                let key = rest.to_ascii_lowercase();
                let secret_file = key
                    .strip_suffix("_file")
                    .is_some_and(|k| SECRET_KEYS.contains(&k));
                key != "config" && !secret_file && !ENV_KEYS.contains(&key.as_str())
            })
        })
        .collect()
}

/// Keys whose value may come from a file named by `PORTAL_<KEY>_FILE` (Docker/Kubernetes secrets).
pub const SECRET_KEYS: [&str; 3] = ["master_key", "database_url", "smtp__password"];

/// Whether missing production settings may be filled in with development conveniences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Generates a master key into the data directory when none is configured.
    Development,
    /// Refuses to start without an explicit master key or an `https://` `public_url`.
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// A session unused for this long ends.
    pub idle_timeout_minutes: u32,
    /// A session ends this long after sign-in, however active.
    pub absolute_timeout_hours: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginThrottleConfig {
    /// Failed sign-ins for one account, within the window, before it is locked.
    pub max_failures_per_account: u32,
    /// Failed sign-ins from one client address, within the window, before it is locked.
    pub max_failures_per_address: u32,
    pub window_minutes: u32,
    pub lockout_minutes: u32,
    /// Sign-ins started at an identity provider from one client address within the window
    /// below; each writes a row and calls out to the provider, and needs no account.
    pub max_oidc_starts_per_address: u32,
    pub oidc_start_window_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `info,portal_web=debug`.
    pub filter: String,
}

/// How the portal talks TLS to the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Implicit,
    /// No TLS at all: development and tests on loopback only; refused in production.
    None,
}

/// Outgoing e-mail (invitation and password-reset links). Without `host`, the portal sends no
/// e-mail and shows invitation links to the person who invites instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: Option<String>,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender, e.g. `CHT Portal <portal@health.go.ke>`; required with `host`.
    pub from: Option<String>,
}

/// Sign-in links: how long they work, and how often a forgotten password may be asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksConfig {
    /// How long an invitation link works.
    pub invitation_hours: u32,
    /// How long a password-reset link works.
    pub password_reset_minutes: u32,
    /// "Forgot your password?" requests per e-mail address within the window below.
    pub max_reset_requests_per_account: u32,
    /// "Forgot your password?" requests per client address within the window below.
    pub max_reset_requests_per_address: u32,
    pub reset_request_window_minutes: u32,
}

/// A configuration value that must never be printed (database URLs may embed passwords).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The settings as written by the operator, before secrets are resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where `serve` listens.
    pub listen: SocketAddr,
    /// Where the SQLite database and the development master key live.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; defaults to a SQLite file in `data_dir`.
    pub database_url: Option<SecretString>,
    /// Base64 of 32 random bytes (`openssl rand -base64 32`).
    pub master_key: Option<SecretString>,
    pub environment: Environment,
    /// The address people use to reach the portal; `https://` turns on `Secure` cookies.
    pub public_url: Option<Url>,
    /// Apply database migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// Trust `X-Forwarded-For` for the client address (only behind a reverse proxy you run).
    pub behind_proxy: bool,
    pub session: SessionConfig,
    pub login: LoginThrottleConfig,
    pub log: LogConfig,
    pub smtp: SmtpConfig,
    pub links: LinksConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            master_key: None,
            environment: Environment::Development,
            public_url: None,
            migrate_on_start: true,
            behind_proxy: false,
            session: SessionConfig {
                idle_timeout_minutes: 30,
                absolute_timeout_hours: 12,
            },
            login: LoginThrottleConfig {
                max_failures_per_account: 5,
                max_failures_per_address: 20,
                window_minutes: 15,
                lockout_minutes: 15,
                max_oidc_starts_per_address: 20,
                oidc_start_window_minutes: 10,
            },
            log: LogConfig {
                format: LogFormat::Text,
                filter: "info,sqlx=warn".to_owned(),
            },
            smtp: SmtpConfig {
                host: None,
                port: 587,
                tls: SmtpTls::Starttls,
                username: None,
                password: None,
                from: None,
            },
            links: LinksConfig {
                invitation_hours: 72,
                password_reset_minutes: 60,
                max_reset_requests_per_account: 3,
                max_reset_requests_per_address: 20,
                reset_request_window_minutes: 60,
            },
        }
    }
}

/// A configuration problem, phrased for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: String) -> Self {
        Self {
            problems: vec![problem],
        }
    }
}

/// The environment variable that sets a (dotted) configuration key.
#[must_use]
pub fn env_var_for(key: &str) -> String {
    format!("PORTAL_{}", key.replace('.', "__").to_uppercase())
}

/// "key `a.b` (environment variable PORTAL_A__B)": how every message names a setting.
#[must_use]
pub fn describe_key(key: &str) -> String {
    format!("key `{key}` (environment variable {})", env_var_for(key))
}

impl Config {
    /// Loads the configuration from defaults, `file`, and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file)?)
    }

    /// The layered sources, exposed so tests can run them inside `figment::Jail`.
    pub fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::one(format!(
                    "the configuration file {} does not exist (given with --config)",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        Ok(figment
            .merge(Env::raw().only(&["database_url"]))
            .merge(
                Env::prefixed("PORTAL_")
                    .filter(|key| ENV_KEYS.contains(&key.as_str().to_ascii_lowercase().as_str()))
                    .split("__"),
            )
            .merge(SecretFiles))
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Self = figment.extract().map_err(|error| ConfigError {
            problems: error.into_iter().map(|e| explain(&e)).collect(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings together; [`Config::load`] runs it, and so does start-up, for a
    /// configuration built in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut require_positive = |key: &str, value: u32| {
            if value == 0 {
                problems.push(format!("{} must be at least 1", describe_key(key)));
            }
        };
        require_positive(
            "session.idle_timeout_minutes",
            self.session.idle_timeout_minutes,
        );
        require_positive(
            "session.absolute_timeout_hours",
            self.session.absolute_timeout_hours,
        );
        require_positive(
            "login.max_failures_per_account",
            self.login.max_failures_per_account,
        );
        require_positive(
            "login.max_failures_per_address",
            self.login.max_failures_per_address,
        );
        require_positive("login.window_minutes", self.login.window_minutes);
        require_positive("login.lockout_minutes", self.login.lockout_minutes);
        require_positive(
            "login.max_oidc_starts_per_address",
            self.login.max_oidc_starts_per_address,
        );
        require_positive(
            "login.oidc_start_window_minutes",
            self.login.oidc_start_window_minutes,
        );
        require_positive("links.invitation_hours", self.links.invitation_hours);
        require_positive(
            "links.password_reset_minutes",
            self.links.password_reset_minutes,
        );
        require_positive(
            "links.max_reset_requests_per_account",
            self.links.max_reset_requests_per_account,
        );
        require_positive(
            "links.max_reset_requests_per_address",
            self.links.max_reset_requests_per_address,
        );
        require_positive(
            "links.reset_request_window_minutes",
            self.links.reset_request_window_minutes,
        );
        problems.extend(self.smtp_problems());
        if let Some(url) = &self.database_url {
            let url = url.expose();
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                problems.push(format!(
                    "{} (or DATABASE_URL) must start with sqlite: or postgres://; the value given starts with \"{}\"",
                    describe_key("database_url"),
                    url.split(':').next().unwrap_or_default()
                ));
            }
        }
        match &self.public_url {
            Some(url) if !matches!(url.scheme(), "http" | "https") => problems.push(format!(
                "{} must be an http:// or https:// address",
                describe_key("public_url")
            )),
            // Production is reached over HTTPS at a known address: cookies are `Secure`, HSTS
            // is sent, and sign-in redirect addresses never come from a request's `Host`.
            Some(url) if self.environment == Environment::Production && url.scheme() != "https" => {
                problems.push(format!(
                    "{} must start with https:// when `environment` is production (it is {url})",
                    describe_key("public_url")
                ));
            }
            None if self.environment == Environment::Production => problems.push(format!(
                "{} is required when `environment` is production: the https:// address people \
                 use to reach the portal, e.g. https://portal.health.go.ke",
                describe_key("public_url")
            )),
            _ => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// What is wrong with the `smtp` section, if anything.
    fn smtp_problems(&self) -> Vec<String> {
        let smtp = &self.smtp;
        let mut problems = Vec::new();
        if smtp.host.as_deref().is_none_or(|h| h.trim().is_empty()) {
            return problems;
        }
        if smtp.from.as_deref().is_none_or(|f| f.trim().is_empty()) {
            problems.push(format!(
                "{} is required with `smtp.host`: the sender of the portal's e-mail, e.g. \
                 \"CHT Portal <portal@health.go.ke>\"",
                describe_key("smtp.from")
            ));
        }
        if smtp.port == 0 {
            problems.push(format!("{} must be at least 1", describe_key("smtp.port")));
        }
        if smtp.username.is_some() != smtp.password.is_some() {
            problems.push(format!(
                "{} and {} go together: give both, or neither for a server that needs no sign-in",
                describe_key("smtp.username"),
                describe_key("smtp.password")
            ));
        }
        // Links in these messages let their reader set a password: never over plain text.
        if self.environment == Environment::Production && smtp.tls == SmtpTls::None {
            problems.push(format!(
                "{} must be starttls or implicit when `environment` is production (it is none)",
                describe_key("smtp.tls")
            ));
        }
        problems
    }

    /// The database to use: the configured URL, or a SQLite file in the data directory.
    #[must_use]
    pub fn database_url(&self) -> SecretString {
        self.database_url.clone().unwrap_or_else(|| {
            SecretString::new(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("portal.db").display()
            ))
        })
    }

    /// Whether cookies must carry `Secure` (the portal is reached over HTTPS).
    #[must_use]
    pub fn cookies_secure(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
    }

    /// Resolves the master key (see [`resolve_master_key`]).
    pub fn master_key(&self) -> Result<(MasterKey, MasterKeySource), ConfigError> {
        resolve_master_key(self)
    }
}

/// Turns one figment error into a sentence that names the key, the variable and the source.
fn explain(error: &figment::Error) -> String {
    let key = error.path.join(".");
    let source = error
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(src) => format!(" (from {src})"),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    let what = match &error.kind {
        figment::error::Kind::UnknownField(field, _) => {
            // figment's path already ends with the unknown field.
            let full = if key.is_empty() { field.clone() } else { key };
            return format!(
                "unknown {}{source}; check the spelling against docs/configuration.md",
                describe_key(&full)
            );
        }
        figment::error::Kind::MissingField(field) => {
            let full = if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            };
            return format!("{} is missing{source}", describe_key(&full));
        }
        other => other.to_string(),
    };
    if key.is_empty() {
        format!("{what}{source}")
    } else {
        format!("{}: {what}{source}", describe_key(&key))
    }
}

/// Reads `PORTAL_<KEY>_FILE` for each secret key, so secrets need not sit in the environment.
struct SecretFiles;

impl Provider for SecretFiles {
    fn metadata(&self) -> Metadata {
        Metadata::named("PORTAL_*_FILE secret files")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for key in SECRET_KEYS {
            let var = format!("{}_FILE", env_var_for(key));
            let Some(path) = std::env::var_os(&var) else {
                continue;
            };
            let contents = std::fs::read_to_string(&path).map_err(|e| {
                figment::Error::from(format!(
                    "{var} names {}, which cannot be read: {e}",
                    Path::new(&path).display()
                ))
            })?;
            let value = Value::from(contents.trim_end_matches(['\n', '\r']).to_owned());
            // `smtp__password` is `password` inside the `smtp` table.
            match key.split_once("__") {
                Some((table, field)) => {
                    let mut inner = Dict::new();
                    inner.insert(field.to_owned(), value);
                    dict.insert(table.to_owned(), Value::from(inner));
                }
                None => {
                    dict.insert(key.to_owned(), value);
                }
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

#[cfg(test)]
mod tests;
