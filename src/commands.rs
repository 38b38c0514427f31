//! What each subcommand does. Errors end the program with a message on stderr and exit code 1
//! (2 for configuration errors), never with a panic.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, bail};
use portal_config::Config;
use portal_domain::{Email, NewPassword};
use portal_store::users::{self, NewUser};
use portal_store::{AuditContext, StoreError};
use portal_web::{Application, Clock};
use rand::Rng;

use crate::cli::{
    AdminCommand, CheckConfigArgs, Cli, Command, ConfigCommand, CreateAdminArgs, ServeArgs,
    UnlockArgs,
};
use crate::{startup, telemetry};

pub async fn run(cli: Cli) -> ExitCode {
    // Offline and independent of the portal's own settings.
    if let Command::Config {
        command: ConfigCommand::Check(args),
    } = &cli.command
    {
        return check_config(args);
    }
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Command::Serve(ServeArgs {
        listen: Some(listen),
        ..
    }) = &cli.command
    {
        config.listen = *listen;
    }
    telemetry::init(&config.log);
    let unrecognised = portal_config::unrecognised_environment();
    if !unrecognised.is_empty() {
        tracing::warn!(variables = ?unrecognised, "ignoring PORTAL_* environment variables that name no setting; check their spelling against docs/configuration.md");
    }
    let result = match cli.command {
        Command::Serve(args) => serve(&config, &args).await,
        Command::Migrate => migrate(&config).await,
        Command::Admin {
            command: AdminCommand::Create(args),
        } => create_admin(&config, &args).await,
        Command::Admin {
            command: AdminCommand::Unlock(args),
        } => unlock(&config, &args).await,
        Command::Config { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config, args: &ServeArgs) -> anyhow::Result<()> {
    let run_migrations = config.migrate_on_start && !args.no_migrate;
    let state = startup::prepare(config, Clock::system(), run_migrations).await?;
    let app = Application::bind(config.listen, state)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = app.local_addr()?;
    tracing::info!(%address, "CHT Portal is serving on http://{address}");
    app.serve(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = startup::open_database(config).await?;
    let applied = startup::migrate(&db).await?;
    println!(
        "Applied {applied} migration{}; the database schema is up to date.",
        if applied == 1 { "" } else { "s" }
    );
    Ok(())
}

/// The operator's way out when someone (or an attacker) has locked an account.
async fn unlock(config: &Config, args: &UnlockArgs) -> anyhow::Result<()> {
    let email = Email::parse(&args.email).map_err(|e| anyhow::anyhow!("--email: {}", e.reason))?;
    let db = startup::open_database(config).await?;
    startup::migrate(&db).await?;
    portal_store::throttle::reset(
        &db,
        &portal_store::throttle::ThrottleKey::Account(email.as_str().to_owned()),
    )
    .await?;
    portal_store::audit::record(
        &db,
        &AuditContext::command_line(chrono::Utc::now()),
        portal_store::AuditRecord::new(portal_domain::AuditAction::AccountUnlocked)
            .details(serde_json::json!({ "email": email.as_str() })),
    )
    .await?;
    println!("Sign-in for {email} is unlocked.");
    Ok(())
}

/// Easy to read aloud and type: no 0/O, 1/l/I.
fn generate_one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

async fn create_admin(config: &Config, args: &CreateAdminArgs) -> anyhow::Result<()> {
    let email = Email::parse(&args.email).map_err(|e| anyhow::anyhow!("--email: {}", e.reason))?;
    let display_name = match &args.name {
        Some(name) => portal_domain::TenantName::parse(name)
            .map_err(|e| anyhow::anyhow!("--name: {}", e.reason))?
            .as_str()
            .to_owned(),
        None => email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    let (password, one_time) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            bail!("--password-stdin: standard input held no password");
        }
        (
            NewPassword::parse(line, email.as_str())
                .map_err(|e| anyhow::anyhow!("--password-stdin: {e}"))?,
            false,
        )
    } else {
        let generated = generate_one_time_password();
        (
            NewPassword::parse(&generated, email.as_str())
                .context("generated password failed the policy")?,
            true,
        )
    };
    let db = startup::open_database(config).await?;
    startup::migrate(&db).await?;
    let hash = portal_crypto::hash_password(password.expose())?;
    let created = users::create(
        &db,
        &AuditContext::command_line(chrono::Utc::now()),
        NewUser {
            email: email.clone(),
            display_name,
            password_hash: hash,
            password_must_change: one_time,
            is_platform_admin: true,
        },
    )
    .await;
    match created {
        Ok(user) => {
            println!(
                "Created platform administrator {} ({}).",
                user.email, user.display_name
            );
            if one_time {
                println!("One-time password: {}", password.expose());
                println!(
                    "Sign in at http://{}/login; the portal will ask for a new password at first sign-in.",
                    config.listen
                );
            }
            Ok(())
        }
        Err(StoreError::Conflict(message)) => bail!("{message}"),
        Err(other) => Err(other.into()),
    }
}

/// `config check FILE`: 0 when valid (warnings, such as a regex without `errorDescription`, are
/// printed but accepted), 1 with every problem, 2 when the file cannot be read.
fn check_config(args: &CheckConfigArgs) -> ExitCode {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.file.display());
            return ExitCode::from(2);
        }
    };
    match portal_deploy_config::check(&bytes) {
        Ok(config) => {
            let warnings = config.warnings();
            if args.json {
                println!(
                    "{}",
                    portal_deploy_config::render_check_json(&[], &warnings)
                );
            } else {
                let types: Vec<&str> = config
                    .contact_types
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect();
                println!(
                    "{}: valid. {} user type(s) ({}), {} instance(s). Deployment profile: {}.",
                    args.file.display(),
                    types.len(),
                    types.join(", "),
                    config.domains.len(),
                    config.profile().summary()
                );
                for warning in &warnings {
                    eprintln!("  warning: {warning}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            if args.json {
                println!(
                    "{}",
                    portal_deploy_config::render_check_json(&problems, &[])
                );
            } else {
                eprintln!("{}: {} problem(s)", args.file.display(), problems.len());
                for problem in &problems {
                    eprintln!("  {problem}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_passwords_satisfy_the_policy_and_differ() {
        let a = generate_one_time_password();
        assert_eq!(a.len(), 23);
        assert!(NewPassword::parse(&a, "x@y.org").is_ok());
        assert_ne!(a, generate_one_time_password());
    }
}
