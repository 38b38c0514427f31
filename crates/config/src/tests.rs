// figment::Jail closures must return figment::Result, whose error is large by design.
#![allow(clippy::result_large_err)]

use figment::Jail;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn load_in_jail(jail: &Jail, file: Option<&str>) -> Result<Config, ConfigError> {
    let path = file.map(|f| jail.directory().join(f));
    Config::from_figment(Config::figment(path.as_deref())?)
}

#[test]
fn defaults_serve_on_localhost_with_sqlite_in_data_dir() {
    Jail::expect_with(|jail| {
        let config = load_in_jail(jail, None).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.database_url().expose(),
            "sqlite://./data/portal.db?mode=rwc"
        );
        assert_eq!(config.environment, Environment::Development);
        assert!(config.migrate_on_start);
        assert!(!config.cookies_secure());
        Ok(())
    });
}

#[test]
fn file_then_environment_override_in_order() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "portal.toml",
            r#"
            listen = "0.0.0.0:9000"
            public_url = "https://portal.health.go.ke"
            [session]
            idle_timeout_minutes = 10
            absolute_timeout_hours = 8
            "#,
        )?;
        jail.set_env("PORTAL_SESSION__IDLE_TIMEOUT_MINUTES", "45");
        jail.set_env("DATABASE_URL", "postgres://from-database-url/portal");
        let config = load_in_jail(jail, Some("portal.toml")).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.session.idle_timeout_minutes, 45);
        assert_eq!(config.session.absolute_timeout_hours, 8);
        assert_eq!(
            config.database_url().expose(),
            "postgres://from-database-url/portal"
        );
        assert!(config.cookies_secure());

        jail.set_env("PORTAL_DATABASE_URL", "postgres://portal-wins/portal");
        let config = load_in_jail(jail, Some("portal.toml")).unwrap();
        assert_eq!(
            config.database_url().expose(),
            "postgres://portal-wins/portal"
        );
        Ok(())
    });
}

#[test]
fn secrets_can_come_from_files() {
    Jail::expect_with(|jail| {
        let key = MasterKey::generate();
        jail.create_file("master.key", &format!("{}\n", key.to_base64()))?;
        jail.set_env(
            "PORTAL_MASTER_KEY_FILE",
            jail.directory().join("master.key").display(),
        );
        let config = load_in_jail(jail, None).unwrap();
        let (loaded, source) = config.master_key().unwrap();
        assert_eq!(loaded.id(), key.id());
        assert_eq!(source, MasterKeySource::Configured);
        Ok(())
    });
}

#[test]
fn malformed_value_names_key_and_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTAL_LISTEN", "not-an-address");
        let err = load_in_jail(jail, None).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("key `listen`"), "{message}");
        assert!(message.contains("PORTAL_LISTEN"), "{message}");
        Ok(())
    });
}

#[test]
fn malformed_nested_value_names_key_and_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTAL_SESSION__IDLE_TIMEOUT_MINUTES", "soon");
        let message = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(
            message.contains("`session.idle_timeout_minutes`"),
            "{message}"
        );
        assert!(
            message.contains("PORTAL_SESSION__IDLE_TIMEOUT_MINUTES"),
            "{message}"
        );
        Ok(())
    });
}

#[test]
fn unknown_key_in_file_is_reported_not_ignored() {
    Jail::expect_with(|jail| {
        jail.create_file("portal.toml", "lisen = \"0.0.0.0:80\"\n")?;
        let message = load_in_jail(jail, Some("portal.toml"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("unknown key `lisen`"), "{message}");
        assert!(message.contains("portal.toml"), "{message}");
        Ok(())
    });
}

#[test]
fn missing_config_file_is_named() {
    Jail::expect_with(|jail| {
        let message = load_in_jail(jail, Some("nope.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("nope.toml") && message.contains("does not exist"),
            "{message}"
        );
        Ok(())
    });
}

#[test]
fn zero_timeouts_and_foreign_database_schemes_are_rejected() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTAL_LOGIN__LOCKOUT_MINUTES", "0");
        jail.set_env("DATABASE_URL", "mysql://localhost/portal");
        let err = load_in_jail(jail, None).unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(err.problems[0].contains("PORTAL_LOGIN__LOCKOUT_MINUTES"));
        assert!(err.problems[1].contains("sqlite: or postgres://"));
        Ok(())
    });
}

#[test]
fn production_requires_a_master_key() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTAL_ENVIRONMENT", "production");
        jail.set_env("PORTAL_PUBLIC_URL", "https://portal.health.go.ke");
        let config = load_in_jail(jail, None).unwrap();
        let message = config.master_key().unwrap_err().to_string();
        assert!(message.contains("PORTAL_MASTER_KEY"), "{message}");
        Ok(())
    });
}

#[test]
fn production_requires_an_https_public_url() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTAL_ENVIRONMENT", "production");
        let message = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(
            message.contains("key `public_url`")
                && message.contains("PORTAL_PUBLIC_URL")
                && message.contains("is required when `environment` is production"),
            "{message}"
        );

        jail.set_env("PORTAL_PUBLIC_URL", "http://portal.health.go.ke");
        let message = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(
            message.contains("PORTAL_PUBLIC_URL") && message.contains("must start with https://"),
            "{message}"
        );

        jail.set_env("PORTAL_PUBLIC_URL", "https://portal.health.go.ke");
        let config = load_in_jail(jail, None).unwrap();
        assert!(config.cookies_secure());
        Ok(())
    });
}

#[test]
fn development_needs_no_public_url_and_may_use_http() {
    Jail::expect_with(|jail| {
        assert!(load_in_jail(jail, None).unwrap().public_url.is_none());
        jail.set_env("PORTAL_PUBLIC_URL", "http://127.0.0.1:8080");
        let config = load_in_jail(jail, None).unwrap();
        assert!(!config.cookies_secure());
        Ok(())
    });
}

#[test]
fn malformed_master_key_is_explained() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTAL_MASTER_KEY", "c2hvcnQ=");
        let config = load_in_jail(jail, None).unwrap();
        let message = config.master_key().unwrap_err().to_string();
        assert!(
            message.contains("PORTAL_MASTER_KEY") && message.contains("32 bytes"),
            "{message}"
        );
        Ok(())
    });
}

#[test]
fn development_key_is_generated_once_with_owner_only_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    let (first, source) = config.master_key().unwrap();
    let MasterKeySource::DevelopmentFile { path, generated } = source else {
        panic!("expected a development key file");
    };
    assert!(generated);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (second, source) = config.master_key().unwrap();
    assert_eq!(first.id(), second.id());
    assert!(matches!(
        source,
        MasterKeySource::DevelopmentFile {
            generated: false,
            ..
        }
    ));
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let config = Config {
        database_url: Some(SecretString::new("postgres://u:hunter2@db/portal")),
        ..Config::default()
    };
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn unrelated_portal_variables_do_not_stop_the_portal() {
    Jail::expect_with(|jail| {
        jail.set_env("PORTAL_PORT", "tcp://10.0.0.1:80");
        jail.set_env("PORTAL_SESION__IDLE_TIMEOUT_MINUTES", "5");
        let config = load_in_jail(jail, None).unwrap();
        assert_eq!(config.session.idle_timeout_minutes, 30);
        // The check itself is pure: the test runner's own PORTAL_TEST_* variables stay out.
        let names = [
            "PORTAL_PORT",
            "PORTAL_SESION__IDLE_TIMEOUT_MINUTES",
            "PORTAL_LISTEN",
            "PORTAL_MASTER_KEY_FILE",
            "PORTAL_CONFIG",
            "HOME",
        ];
        let unknown = unrecognised(names.map(String::from));
        assert_eq!(
            unknown,
            ["PORTAL_PORT", "PORTAL_SESION__IDLE_TIMEOUT_MINUTES"]
        );
        Ok(())
    });
}

#[test]
fn env_keys_cover_every_setting() {
    let full = Config {
        database_url: Some(SecretString::new("sqlite::memory:")),
        master_key: Some(SecretString::new("k")),
        public_url: Some("https://x.org".parse().unwrap()),
        ..Config::default()
    };
    let data = Figment::from(Serialized::defaults(full)).data().unwrap();
    let mut leaves = Vec::new();
    fn walk(prefix: &str, dict: &Dict, out: &mut Vec<String>) {
        for (key, value) in dict {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}__{key}")
            };
            match value {
                Value::Dict(_, inner) => walk(&path, inner, out),
                _ => out.push(path),
            }
        }
    }
    walk("", &data[&Profile::Default], &mut leaves);
    leaves.sort();
    let mut expected: Vec<String> = ENV_KEYS.iter().map(|k| (*k).to_owned()).collect();
    expected.sort();
    assert_eq!(leaves, expected);
}

#[test]
fn smtp_defaults_to_none_and_to_starttls_with_a_sender_and_tls_in_production() {
    Jail::expect_with(|jail| {
        let config = load_in_jail(jail, None).unwrap();
        assert_eq!(config.smtp.host, None);
        assert_eq!(config.smtp.tls, SmtpTls::Starttls);
        assert_eq!(config.links.invitation_hours, 72);

        jail.set_env("PORTAL_SMTP__HOST", "smtp.health.go.ke");
        let message = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(
            message.contains("PORTAL_SMTP__FROM") && message.contains("is required"),
            "{message}"
        );
        jail.set_env("PORTAL_SMTP__FROM", "CHT Portal <portal@health.go.ke>");
        jail.set_env("PORTAL_SMTP__USERNAME", "portal");
        jail.create_file("smtp.pass", "s3cret\n")?;
        jail.set_env(
            "PORTAL_SMTP__PASSWORD_FILE",
            jail.directory().join("smtp.pass").display(),
        );
        let config = load_in_jail(jail, None).unwrap();
        assert_eq!(
            config.smtp.password.as_ref().map(SecretString::expose),
            Some("s3cret")
        );
        assert!(!format!("{config:?}").contains("s3cret"));

        jail.set_env("PORTAL_SMTP__TLS", "none");
        load_in_jail(jail, None).expect("plain SMTP is allowed in development");
        jail.set_env("PORTAL_ENVIRONMENT", "production");
        jail.set_env("PORTAL_PUBLIC_URL", "https://portal.health.go.ke");
        jail.set_env("PORTAL_MASTER_KEY", MasterKey::generate().to_base64());
        let message = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(
            message.contains("PORTAL_SMTP__TLS")
                && message.contains("must be starttls or implicit"),
            "{message}"
        );
        jail.set_env("PORTAL_SMTP__TLS", "implicit");
        load_in_jail(jail, None).unwrap();
        Ok(())
    });
}
