//! The command line. Scripts and operators rely on these names: keep them stable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cht-portal",
    version,
    about = "User administration for Community Health Toolkit deployments"
)]
pub struct Cli {
    /// A TOML configuration file; settings in it are overridden by PORTAL_* environment variables.
    #[arg(long, global = true, env = "PORTAL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal over HTTP (applies pending database migrations first unless told not to).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage portal accounts from the server's shell.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Work with deployment configs (the User Management Tool's format).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a deployment config offline. Exits 0 when it is valid; otherwise prints each
    /// problem as a JSON path and a reason, and exits 1.
    Check(CheckConfigArgs),
}

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The deployment config (JSON).
    pub file: PathBuf,
    /// Print errors and warnings as a JSON array of {"severity", "path", "reason"} on standard
    /// output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080; environment: PORTAL_LISTEN].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Do not apply pending migrations at start (for deployments that run `migrate` separately).
    #[arg(long)]
    pub no_migrate: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a platform administrator. Prints a one-time password, to be changed at first
    /// sign-in, unless --password-stdin is given.
    Create(CreateAdminArgs),
    /// Lift a sign-in lock on an account (after too many failed attempts).
    Unlock(UnlockArgs),
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The email address of the locked account.
    #[arg(long)]
    pub email: String,
}

#[derive(Debug, Args)]
pub struct CreateAdminArgs {
    /// The administrator's email address; it is their sign-in name.
    #[arg(long)]
    pub email: String,
    /// The name shown in the portal [default: the part of the email before @].
    #[arg(long)]
    pub name: Option<String>,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn stable_names_parse() {
        let cli = Cli::try_parse_from([
            "cht-portal",
            "serve",
            "--listen",
            "0.0.0.0:9000",
            "--no-migrate",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Serve(ServeArgs {
                listen: Some(_),
                no_migrate: true
            })
        ));
        let cli = Cli::try_parse_from([
            "cht-portal",
            "admin",
            "create",
            "--email",
            "a@b.org",
            "--password-stdin",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Admin {
                command: AdminCommand::Create(CreateAdminArgs {
                    password_stdin: true,
                    ..
                })
            }
        ));
        assert!(Cli::try_parse_from(["cht-portal", "migrate"]).is_ok());
    }
}
