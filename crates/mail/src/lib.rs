//! Outgoing e-mail of CHT Portal: plain-text messages over SMTP with `lettre`, with TLS required
//! (STARTTLS that must succeed, or TLS from the first byte) unless the configuration explicitly
//! says `tls = "none"`, which production refuses (see `portal_config::Config::validate`).
//!
//! Messages carry sign-in links, so nothing here logs a message body.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portal_config::{SmtpConfig, SmtpTls};

/// Why a message could not be sent (or the mailer could not be built), for the operator.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the e-mail settings are not usable: {0}")]
    Settings(String),
    #[error("the address {0} cannot receive e-mail: {1}")]
    Address(String, String),
    #[error("the SMTP server did not accept the message: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("the message could not be built: {0}")]
    Message(#[from] lettre::error::Error),
}

/// One plain-text message.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sends e-mail through the configured SMTP server. Cheap to clone (connections are pooled).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The mailer the configuration describes; `Ok(None)` when no SMTP host is configured.
    pub fn from_config(config: &SmtpConfig) -> Result<Option<Self>, MailError> {
        let Some(host) = config
            .host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        else {
            return Ok(None);
        };
        let from: Mailbox = config
            .from
            .as_deref()
            .unwrap_or_default()
            .parse()
            .map_err(|e| MailError::Settings(format!("smtp.from is not an address: {e}")))?;
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(TlsParameters::new(host.to_owned())?),
            SmtpTls::Implicit => Tls::Wrapper(TlsParameters::new(host.to_owned())?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(20)));
        if let (Some(username), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.expose().to_owned(),
            ));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends `message`; an error says what went wrong without the message's content.
    pub async fn send(&self, message: &Outgoing) -> Result<(), MailError> {
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                MailError::Address(message.to.clone(), e.to_string())
            })?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())?;
        self.transport.send(email).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(port: u16) -> SmtpConfig {
        SmtpConfig {
            host: Some("127.0.0.1".to_owned()),
            port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: Some("CHT Portal <portal@health.go.ke>".to_owned()),
        }
    }

    #[test]
    fn no_host_means_no_mailer() {
        let mut settings = config(25);
        settings.host = None;
        assert!(Mailer::from_config(&settings).unwrap().is_none());
    }

    #[test]
    fn a_bad_sender_is_named() {
        let mut settings = config(25);
        settings.from = Some("not an address".to_owned());
        let error = Mailer::from_config(&settings).unwrap_err().to_string();
        assert!(error.contains("smtp.from"), "{error}");
    }

    #[tokio::test]
    async fn delivers_to_the_loopback_server() {
        let sink = test_smtp::SmtpSink::start().await;
        let mailer = Mailer::from_config(&config(sink.port())).unwrap().unwrap();
        mailer
            .send(&Outgoing {
                to: "Wanjiku Kamau <wanjiku@health.go.ke>".to_owned(),
                subject: "Your access to CHT Portal".to_owned(),
                body: "Open https://portal.example/invite/abc to set your password.\n".to_owned(),
            })
            .await
            .unwrap();
        let message = sink.wait_for(1).await.remove(0);
        assert_eq!(message.from, "portal@health.go.ke");
        assert_eq!(message.to, vec!["wanjiku@health.go.ke".to_owned()]);
        assert!(message.text().contains("/invite/abc"), "{}", message.data);
        assert!(message.data.contains("Subject: Your access to CHT Portal"));
    }

    #[tokio::test]
    async fn a_refused_starttls_sends_nothing() {
        // The sink offers no STARTTLS: a `starttls` mailer must give up rather than send in clear.
        let sink = test_smtp::SmtpSink::start().await;
        let mut settings = config(sink.port());
        settings.tls = SmtpTls::Starttls;
        let mailer = Mailer::from_config(&settings).unwrap().unwrap();
        let sent = mailer
            .send(&Outgoing {
                to: "wanjiku@health.go.ke".to_owned(),
                subject: "x".to_owned(),
                body: "secret link".to_owned(),
            })
            .await;
        assert!(sent.is_err());
        assert!(sink.messages().is_empty());
    }
}
