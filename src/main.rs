use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cht_portal::cli::Cli::parse();
    cht_portal::commands::run(cli).await
}
