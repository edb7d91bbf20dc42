//! The command line (DESIGN.md §7): global flags, one subcommand per stage, and the sandbox.
//! Each arm resolves the configuration and hands over to the pipeline or the module that owns
//! the command.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::bench::BenchCommand;
use crate::config::{self, ApiKey, Config, Overrides};
use crate::error::Error;
use crate::extract::ExtractArgs;
use crate::pipeline::commands::{CheckArgs, DigestArgs, KeyLinkArgs, ReportArgs, VacuumArgs};
use crate::pipeline::demo::DemoArgs;
use crate::pipeline::{self, RunArgs};
use crate::sandbox::command::SandboxCommand;
use crate::telemetry::LogFormat;
use crate::transform::args::TransformArgs;
use crate::transform::query::QueryArgs;
use crate::visitors::args::LoadVisitorsArgs;

const EXIT_CODES: &str = "\
Exit codes:
  0   ok
  1   partial failure: some streams, models or visitor files failed, the rest committed
  2   configuration or usage error (every problem is listed)
  3   authentication failed (revoked or mistyped key)
  4   missing permission on the restricted key (the permission is named)
  5   transient failure after retries (Airflow should retry)
  99  nothing to do (only with [run] exit_99_when_nothing_to_do = true)

The API key comes from the environment variable named in pipeline.toml (default STRIPE_API_KEY)
or a key file; never from pipeline.toml itself. Logs go to stderr; the last stdout line of a run
is a one-line JSON summary, also written to _runs/<run_id>.json in the lake.";

#[derive(Debug, Parser)]
#[command(name = "stripelake", version, about = "Stripe → Parquet revenue lake: extract, transform, attribute", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Config file (default: ./pipeline.toml when it exists, else built-in defaults).
    #[arg(long, global = true, env = "STRIPELAKE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Storage root URL: file://DIR, s3://bucket/prefix, gs://…, az://…, memory://.
    #[arg(long, global = true, env = "STRIPELAKE_STORAGE")]
    pub storage: Option<String>,
    /// Stripe API base URL (plain http only on loopback, e.g. the sandbox).
    #[arg(long, global = true, env = "STRIPELAKE_API_BASE")]
    pub api_base: Option<String>,
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "STRIPELAKE_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// More log detail (-v debug, -vv trace). Secrets are never logged at any level.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The run's clock as Unix seconds instead of the real time: replays and tests pin it (the
    /// run id, `_extracted_at`, backfill windows and cursors follow it).
    #[arg(
        long,
        global = true,
        env = "STRIPELAKE_NOW",
        value_name = "UNIX_SECONDS"
    )]
    pub now: Option<i64>,
    /// First delay before retrying a failed Stripe request (doubles per attempt, with jitter).
    #[arg(
        long,
        global = true,
        env = "STRIPELAKE_RETRY_BASE_MS",
        default_value_t = 500
    )]
    pub retry_base_ms: u64,
    /// No progress line on the terminal (it is never drawn when stderr is not a terminal).
    #[arg(long, global = true, env = "STRIPELAKE_NO_PROGRESS")]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every stage in order: extract, load-visitors, transform.
    Run(RunArgs),
    /// Stripe objects → Parquet under raw/.
    Extract(ExtractArgs),
    /// SQL models → marts/.
    Transform(TransformArgs),
    /// Web-analytics visitor events → raw/visitor_events.
    LoadVisitors(LoadVisitorsArgs),
    /// Check the key: prefix, /v1/balance, then every permission the selected streams need.
    Check(CheckArgs),
    /// Print Stripe's create-restricted-key URL with the needed read permissions pre-filled.
    KeyLink(KeyLinkArgs),
    /// Delete data files no manifest names and work areas no run uses (left by crashed runs).
    Vacuum(VacuumArgs),
    /// SQL over the committed tables.
    Query(QueryArgs),
    /// One self-contained HTML file with the KPIs and charts, from the marts.
    Report(ReportArgs),
    /// The last day against the day before and a week before, for Slack or email.
    Digest(DigestArgs),
    /// The whole pipeline against the built-in sandbox account.
    Demo(DemoArgs),
    /// The Stripe-compatible sandbox account.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Benchmarks (not tests): figures go to BENCHMARKS.md.
    #[command(subcommand)]
    Bench(BenchCommand),
}

pub async fn run(cli: Cli) -> Result<(), Error> {
    let g = &cli.global;
    match cli.command {
        Command::Run(args) => {
            let cfg = g.config_with(
                args.extract
                    .overrides(g.storage.clone(), g.api_base.clone()),
                args.visitors.visitors.clone(),
            )?;
            pipeline::run(cfg.clone(), &api_key(&cfg)?, &args).await
        }
        Command::Extract(args) => {
            let cfg = g.config_with(args.overrides(g.storage.clone(), g.api_base.clone()), None)?;
            pipeline::extract(cfg.clone(), &api_key(&cfg)?, &args).await
        }
        Command::Transform(args) => pipeline::transform(g.config()?, &args).await,
        Command::LoadVisitors(args) => {
            let cfg = g.config_with(g.overrides(), args.visitors.clone())?;
            pipeline::load_visitors(cfg, &args).await
        }
        Command::Check(args) => {
            let cfg = g.config()?;
            pipeline::commands::check(&cfg, &api_key(&cfg)?, &args).await
        }
        Command::KeyLink(args) => pipeline::commands::key_link(&g.config()?, &args),
        Command::Vacuum(args) => pipeline::commands::vacuum(&g.config()?, &args).await,
        Command::Query(args) => pipeline::commands::query(&g.config()?, &args).await,
        Command::Report(args) => pipeline::commands::report(&g.config()?, &args).await,
        Command::Digest(args) => pipeline::commands::digest(&g.config()?, &args).await,
        Command::Demo(args) => pipeline::demo::demo(args, g.runtime()).await,
        Command::Sandbox(command) => crate::sandbox::command::run(command).await,
        Command::Bench(command) => crate::bench::run(command).await,
    }
}

impl Global {
    /// The configuration with the common flags (`--storage`, `--api-base`) applied.
    pub fn config(&self) -> Result<Config, Error> {
        self.config_with(self.overrides(), None)
    }

    fn overrides(&self) -> Overrides {
        Overrides {
            storage_url: self.storage.clone(),
            api_base: self.api_base.clone(),
            ..Overrides::default()
        }
    }

    /// `--config`, else `./pipeline.toml` when it exists, else defaults; then the overrides
    /// (and `--visitors`) and the runtime flags.
    fn config_with(
        &self,
        mut overrides: Overrides,
        visitors: Option<String>,
    ) -> Result<Config, Error> {
        overrides.visitors_source = visitors;
        let default_file = Path::new("pipeline.toml");
        let path = self
            .config
            .as_deref()
            .or(default_file.exists().then_some(default_file));
        let mut cfg = config::load(path, &overrides)?;
        cfg.runtime = self.runtime();
        Ok(cfg)
    }

    fn runtime(&self) -> config::RuntimeConfig {
        config::RuntimeConfig {
            now: self.now,
            retry_base_ms: self.retry_base_ms,
            progress: !self.no_progress,
        }
    }
}

/// The key from the variable or file the configuration names.
fn api_key(cfg: &Config) -> Result<ApiKey, Error> {
    config::resolve_api_key(cfg, &|name| std::env::var(name).ok())
        .map_err(|p| Error::Config(config::ConfigErrors(vec![p])))
}
