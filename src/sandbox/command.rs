//! `stripelake sandbox serve | oracle | bench`: the sandbox account from the command line.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{GenConfig, KeySpec, Knobs, Sandbox};
use crate::error::Error;

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the sandbox account on a loopback port until interrupted.
    Serve(ServeArgs),
    /// Write the oracle's expected metrics for an account as JSON.
    Oracle(AccountArgs),
    /// Measure generation time and pages served per second (a benchmark, not a test).
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    /// Concurrent clients paging through the account.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// How long to serve, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

#[derive(Debug, Args, Clone)]
pub struct AccountArgs {
    /// Seed of the generated account (same seed and scale, same bytes).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Size: 1 ≈ 200 customers and ~10k objects; 150 ≈ 1.5M objects.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// The sandbox clock as Unix seconds (default: the start of today, UTC).
    #[arg(long)]
    pub now: Option<i64>,
    /// Output file (default stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 12111)]
    pub port: u16,
    /// The full-access restricted test key to accept.
    #[arg(long, default_value = super::DEFAULT_TEST_KEY)]
    pub key: String,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Requests per second before 429s (unset = unlimited).
    #[arg(long)]
    pub rate_limit: Option<f64>,
    /// Share of requests answered with a 500.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share of requests whose connection is reset.
    #[arg(long, default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Share of responses cut off mid-body.
    #[arg(long, default_value_t = 0.0)]
    pub truncate_rate: f64,
    /// Also write the account's visitor-events CSV here.
    #[arg(long)]
    pub visitors_out: Option<PathBuf>,
}

/// Start of the current UTC day: the default sandbox clock, stable within a day.
pub fn today_utc() -> i64 {
    let now = chrono::Utc::now().timestamp();
    now - now.rem_euclid(86_400)
}

impl AccountArgs {
    pub fn gen_config(&self) -> Result<GenConfig, Error> {
        if !(self.scale > 0.0 && self.scale <= 10_000.0) {
            return Err(Error::Usage(format!(
                "--scale must be in (0, 10000], got {}",
                self.scale
            )));
        }
        Ok(GenConfig {
            seed: self.seed,
            scale: self.scale,
            now: self.now.unwrap_or_else(today_utc),
            livemode: false,
        })
    }
}

pub async fn run(command: SandboxCommand) -> Result<(), Error> {
    match command {
        SandboxCommand::Serve(args) => serve(args).await,
        SandboxCommand::Oracle(args) => oracle(args),
        SandboxCommand::Bench(args) => {
            let cfg = args.account.gen_config()?;
            let report = super::bench::run(cfg, args.concurrency.max(1), args.seconds)
                .await
                .map_err(|e| Error::io("sandbox benchmark", e))?;
            crate::telemetry::print_summary(&report);
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), Error> {
    let cfg = args.account.gen_config()?;
    let keys = vec![
        KeySpec::full(&args.key),
        KeySpec::full(super::DEFAULT_LIVE_KEY),
    ];
    let sandbox = Sandbox::start(cfg, args.port, keys)
        .await
        .map_err(|e| Error::io(format!("cannot serve on 127.0.0.1:{}", args.port), e))?;
    sandbox.set_knobs(Knobs {
        latency_ms: args.latency_ms,
        rate_limit: args.rate_limit,
        burst: None,
        server_error_rate: args.error_rate,
        reset_rate: args.reset_rate,
        truncate_rate: args.truncate_rate,
        ..Knobs::default()
    });
    if let Some(path) = &args.visitors_out {
        let csv = sandbox.with_account(super::visitors::csv);
        std::fs::write(path, csv)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    }
    let objects = sandbox.with_account(|a| a.store.total_objects());
    tracing::info!(url = %sandbox.base_url(), objects, "Sandbox Stripe API listening.");
    eprintln!(
        "sandbox: {} ({objects} objects, seed {}, scale {})",
        sandbox.base_url(),
        args.account.seed,
        args.account.scale
    );
    eprintln!(
        "sandbox: accepted keys: {} (test, full access), {} (live, full access)",
        args.key,
        super::DEFAULT_LIVE_KEY
    );
    eprintln!(
        "sandbox: try  STRIPE_API_KEY={} curl -H \"Authorization: Bearer $STRIPE_API_KEY\" {}/v1/customers",
        args.key,
        sandbox.base_url()
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Error::io("waiting for Ctrl-C", e))?;
    Ok(())
}

fn oracle(args: AccountArgs) -> Result<(), Error> {
    let account = super::generate::generate(&args.gen_config()?);
    let expected = super::oracle::expected(&account);
    let text = serde_json::to_string(&expected)
        .map_err(|e| Error::io("serialising the oracle", e.into()))?;
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e)),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}
