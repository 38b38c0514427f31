use std::process::ExitCode;

use clap::Parser;

/// mimalloc: large uploads are validated on several threads, a pattern where it keeps
/// fragmentation (and so resident memory) lower than the system allocator; the figures are in
/// docs/performance.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cht_portal::cli::Cli::parse();
    cht_portal::commands::run(cli).await
}
