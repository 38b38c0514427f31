use std::sync::Arc;

use chrono::Duration;
use portal_config::Config;
use portal_crypto::MasterKey;
use portal_store::Db;
use portal_store::rate_limit::RateLimit;
use portal_store::sessions::SessionPolicy;
use portal_store::throttle::ThrottlePolicy;

use crate::Clock;

/// The web settings derived from [`Config`].
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub session: SessionPolicy,
    pub throttle: ThrottlePolicy,
    /// Sign-ins started at an identity provider, per client address.
    pub oidc_starts: RateLimit,
    /// Cookies carry `Secure` and the HSTS header is sent (the portal is served over HTTPS).
    pub secure: bool,
    /// Take the client address from `X-Forwarded-For` (set by our own reverse proxy).
    pub behind_proxy: bool,
    /// `environment = "production"`: stricter checks where development needs latitude.
    pub production: bool,
    /// `scheme://host[:port]` of `public_url`: what a same-site `Origin` header must be.
    pub public_origin: Option<String>,
    /// Sign-in links (invitations, password resets) and the e-mail that carries them.
    pub links: LinkSettings,
}

/// How long sign-in links work, how often a forgotten password may be asked about, and the
/// mailer (`None`: no SMTP configured, links are shown to the person who invites instead).
#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub invitation_lifetime: Duration,
    pub reset_lifetime: Duration,
    pub reset_requests_per_account: RateLimit,
    pub reset_requests_per_address: RateLimit,
    pub mailer: Option<portal_mail::Mailer>,
}

impl LinkSettings {
    fn from_config(config: &Config) -> Result<Self, portal_mail::MailError> {
        let window = Duration::minutes(config.links.reset_request_window_minutes.into());
        Ok(Self {
            invitation_lifetime: Duration::hours(config.links.invitation_hours.into()),
            reset_lifetime: Duration::minutes(config.links.password_reset_minutes.into()),
            reset_requests_per_account: RateLimit {
                limit: config.links.max_reset_requests_per_account,
                window,
            },
            reset_requests_per_address: RateLimit {
                limit: config.links.max_reset_requests_per_address,
                window,
            },
            mailer: portal_mail::Mailer::from_config(&config.smtp)?,
        })
    }
}

impl WebSettings {
    /// Plain HTTP on a loopback address with the default timeouts and limits: for tests and
    /// benchmarks that run the portal in process.
    #[must_use]
    pub fn development() -> Self {
        Self::from_config(&Config::default())
    }

    /// Like [`WebSettings::try_from_config`]; unusable e-mail settings turn e-mail off (with
    /// an error in the log) instead of failing.
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        Self::try_from_config(config).unwrap_or_else(|error| {
            tracing::error!(%error, "e-mail is off");
            let mut without_mail = config.clone();
            without_mail.smtp.host = None;
            Self::try_from_config(&without_mail).expect("settings without e-mail")
        })
    }

    /// The settings, or why the e-mail settings cannot be used.
    pub fn try_from_config(config: &Config) -> Result<Self, portal_mail::MailError> {
        Ok(Self {
            session: SessionPolicy {
                idle_timeout: Duration::minutes(config.session.idle_timeout_minutes.into()),
                absolute_timeout: Duration::hours(config.session.absolute_timeout_hours.into()),
            },
            throttle: ThrottlePolicy {
                max_failures_per_account: config.login.max_failures_per_account,
                max_failures_per_address: config.login.max_failures_per_address,
                window: Duration::minutes(config.login.window_minutes.into()),
                lockout: Duration::minutes(config.login.lockout_minutes.into()),
            },
            oidc_starts: RateLimit {
                limit: config.login.max_oidc_starts_per_address,
                window: Duration::minutes(config.login.oidc_start_window_minutes.into()),
            },
            secure: config.cookies_secure(),
            behind_proxy: config.behind_proxy,
            production: config.environment == portal_config::Environment::Production,
            public_origin: config
                .public_url
                .as_ref()
                .map(|u| u.origin().ascii_serialization()),
            links: LinkSettings::from_config(config)?,
        })
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub master_key: MasterKey,
    pub settings: WebSettings,
    pub clock: Clock,
    /// One CHT client per instance (`portal-cht-pool`), shared by every request.
    pub cht: portal_cht_pool::ChtPool,
    /// casbin-backed permission and scope checks, shared by every request.
    pub access: portal_access::Authorizer,
    /// OpenID Connect back channel, with discovery cached per issuer.
    pub oidc: portal_oidc::OidcClient,
    /// Staged batches, with recently used place indexes and batches kept in memory.
    pub staging: portal_batches::Staging,
    /// Each Argon2 check takes 19 MiB and a core for ~50 ms: a burst of sign-ins waits here
    /// instead of exhausting memory on the blocking pool.
    pub password_checks: tokio::sync::Semaphore,
    /// How many authorization refusals each person has had recorded lately.
    pub denials: crate::denials::DenialLimiter,
}

impl AppState {
    #[must_use]
    pub fn new(db: Db, master_key: MasterKey, settings: WebSettings, clock: Clock) -> Self {
        Self(Arc::new(Inner {
            access: portal_access::Authorizer::new(db.clone()),
            oidc: portal_oidc::OidcClient::new(std::time::Duration::from_secs(10)),
            staging: portal_batches::Staging::new(
                db.clone(),
                portal_crypto::AuditDigester::new(&master_key),
            ),
            cht: portal_cht_pool::ChtPool::new(db.clone(), master_key.clone()),
            db,
            master_key,
            settings,
            clock,
            denials: crate::denials::DenialLimiter::default(),
            password_checks: tokio::sync::Semaphore::new(
                2 * std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
