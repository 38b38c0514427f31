//! `cht-sim`: run the CHT API simulator standalone.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use cht_sim::{FaultConfig, Seed, SimConfig, Simulator, Version};

#[derive(Debug, Parser)]
#[command(
    name = "cht-sim",
    version,
    about = "Simulator of the CHT server API for tests and demos"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:5988")]
    listen: SocketAddr,
    /// Name of the CouchDB server admin.
    #[arg(long, default_value = "medic")]
    admin_user: String,
    #[arg(long, default_value = "password")]
    admin_password: String,
    /// Simulated CHT version (4.22.0 and 5.2.0 are the modelled releases; 4.9+ accepted).
    #[arg(long, default_value = "5.2.0")]
    cht_version: Version,
    /// `demo` for a generated Kenya-shaped hierarchy, or a JSON file holding an array of docs.
    #[arg(long)]
    seed: Option<String>,
    /// Number of places in the demo hierarchy (4 to 200000).
    #[arg(long, default_value_t = 200)]
    seed_size: usize,
    /// Seed of the demo generator and of the fault dice.
    #[arg(long, default_value_t = 20_240_601)]
    rng_seed: u64,
    /// Fixed latency added to every CHT request.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Uniform extra latency in 0..=N ms.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Share (0..1) of requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share (0..1) of requests never answered.
    #[arg(long, default_value_t = 0.0)]
    timeout_rate: f64,
    /// Share (0..1) of writes answered 409.
    #[arg(long, default_value_t = 0.0)]
    conflict_rate: f64,
    /// Keep state in this JSON file (loaded at start when present, saved on change).
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Disable CHT's login rate limiter.
    #[arg(long)]
    no_rate_limit: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "cht_sim=info".into()),
        )
        .init();
    let args = Args::parse();
    let seed = match args.seed.as_deref() {
        None => Seed::Empty,
        Some("demo") => Seed::Demo,
        Some(path) => Seed::File(PathBuf::from(path)),
    };
    let cfg = SimConfig {
        listen: args.listen,
        admin_user: args.admin_user,
        admin_password: args.admin_password,
        version: args.cht_version,
        seed,
        seed_size: args.seed_size,
        rng_seed: args.rng_seed,
        faults: FaultConfig {
            latency_ms: args.latency_ms,
            jitter_ms: args.jitter_ms,
            error_rate: args.error_rate,
            timeout_rate: args.timeout_rate,
            conflict_rate: args.conflict_rate,
            burst_429: 0,
        },
        state_file: args.state_file,
        rate_limit: !args.no_rate_limit,
        settings: None,
    };
    let running = Simulator::start(cfg).await?;
    println!("cht-sim listening on {}", running.base_url());
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
