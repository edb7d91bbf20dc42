//! The command line (DESIGN.md §7): global flags, one subcommand per stage, and the sandbox.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::config::{self, Config, Overrides};
use crate::error::Error;
use crate::extract::command::ExtractArgs;
use crate::sandbox::{self, GenConfig, KeySpec, Knobs, Sandbox};
use crate::telemetry::{self, LogFormat};

const EXIT_CODES: &str = "\
Exit codes:
  0   ok
  1   partial failure: some streams or models failed, the rest committed
  2   configuration or usage error (every problem is listed)
  3   authentication failed (revoked or mistyped key)
  4   missing permission on the restricted key (the permission is named)
  5   transient failure after retries (Airflow should retry)
  99  nothing to do (only with [run] exit_99_when_nothing_to_do = true)

The API key comes from the environment variable named in pipeline.toml (default STRIPE_API_KEY)
or a key file; never from pipeline.toml itself. Logs go to stderr; the last stdout line of a run
is a one-line JSON summary.";

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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every stage in order: extract, load-visitors, transform.
    Run(RunArgs),
    /// Stripe objects → Parquet under raw/.
    Extract(ExtractArgs),
    /// SQL models → marts/.
    Transform(crate::transform::command::TransformArgs),
    /// Web-analytics visitor events → raw/visitor_events.
    LoadVisitors(crate::visitors::command::LoadVisitorsArgs),
    /// Check the key: prefix, /v1/balance, then every permission the selected streams need.
    Check(CheckArgs),
    /// Print Stripe's create-restricted-key URL with the needed read permissions pre-filled.
    KeyLink(KeyLinkArgs),
    /// Delete data files no manifest names (left by crashed runs).
    Vacuum(VacuumArgs),
    /// SQL over the committed tables.
    Query(crate::transform::query::QueryArgs),
    /// The whole pipeline against the built-in sandbox account.
    Demo(DemoArgs),
    /// The Stripe-compatible sandbox account.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Benchmarks (not tests): figures go to BENCHMARKS.md.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Extraction against the sandbox at Stripe's pace, or CPU-bound with --cpu.
    Extract(crate::bench::BenchExtractArgs),
    /// The SQL models over a large lake (copies of a sandbox account), against a full scan.
    Transform(crate::bench::transform::BenchTransformArgs),
    /// Visitor events loaded and attributed (the sandbox's export padded to --events).
    Visitors(crate::bench::visitors::BenchVisitorsArgs),
}

/// `run`: the flags of extract and of load-visitors.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub extract: ExtractArgs,
    #[command(flatten)]
    pub visitors: crate::visitors::command::LoadVisitorsArgs,
}

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// Keep orphans younger than this many minutes (a run in progress has uncommitted parts).
    #[arg(long, default_value_t = 60)]
    pub min_age_minutes: i64,
    /// Report what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// `table` (then the JSON summary line) or `json` (the summary only).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct KeyLinkArgs {
    /// The test-mode form (for an rk_test_ key).
    #[arg(long)]
    pub test: bool,
    /// The key's name in the Dashboard.
    #[arg(long, default_value = "stripelake")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo writes its outputs.
    #[arg(long, default_value = "./stripelake-data")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
}

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
    #[arg(long, default_value = sandbox::DEFAULT_TEST_KEY)]
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

pub async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => extract(&cli.global, &args.extract, Some(&args.visitors)).await,
        Command::Extract(args) => extract(&cli.global, &args, None).await,
        Command::Transform(args) => transform(&cli.global, &args).await,
        Command::LoadVisitors(args) => {
            let overrides = Overrides {
                storage_url: cli.global.storage.clone(),
                api_base: cli.global.api_base.clone(),
                visitors_source: args.visitors.clone(),
                ..Overrides::default()
            };
            let cfg = load_config_with(&cli.global, &overrides)?;
            let run_id = crate::extract::command::new_run_id(chrono::Utc::now().timestamp());
            let (summary, outcome) = crate::visitors::command::run(&cfg, &args, &run_id).await;
            telemetry::print_summary(&summary);
            let nothing_new = summary["visitors"]["files_loaded"] == 0;
            match outcome {
                Ok(()) if nothing_new && cfg.run.exit_99_when_nothing_to_do => {
                    Err(Error::NothingToDo(
                        "no visitor file is new or changed since the last load".into(),
                    ))
                }
                other => other,
            }
        }
        Command::Check(args) => check(&cli.global, &args).await,
        Command::Vacuum(args) => {
            let cfg = load_config(&cli.global)?;
            let storage = crate::storage::Storage::open(&cfg.storage.url, &cfg.storage.options)
                .map_err(|e| Error::Usage(e.to_string()))?;
            let min_age = chrono::Duration::minutes(args.min_age_minutes.max(0));
            let report = crate::storage::vacuum::vacuum(&storage, min_age, args.dry_run)
                .await
                .map_err(|e| Error::Transient(e.to_string()))?;
            telemetry::print_summary(
                &json!({"command": "vacuum", "status": "ok", "report": report}),
            );
            Ok(())
        }
        Command::KeyLink(args) => {
            let cfg = load_config(&cli.global)?;
            let link = crate::keys::key_link(args.test, &args.name, &cfg.extract.streams)
                .map_err(Error::Usage)?;
            println!("{link}");
            Ok(())
        }
        Command::Query(args) => {
            let cfg = load_config(&cli.global)?;
            let storage = crate::storage::Storage::open(&cfg.storage.url, &cfg.storage.options)
                .map_err(|e| Error::Usage(e.to_string()))?;
            let text = crate::transform::query::run(&storage, &args).await?;
            println!("{text}");
            Ok(())
        }
        Command::Demo(args) => demo(args).await,
        Command::Bench(BenchCommand::Extract(args)) => {
            let report = crate::bench::extract(args)
                .await
                .map_err(|e| Error::io("extraction benchmark", e))?;
            telemetry::print_summary(&report);
            Ok(())
        }
        Command::Bench(BenchCommand::Transform(args)) => {
            let report = crate::bench::transform::run(args)
                .await
                .map_err(|e| Error::io("transform benchmark", e))?;
            telemetry::print_summary(&report);
            Ok(())
        }
        Command::Bench(BenchCommand::Visitors(args)) => {
            let report = crate::bench::visitors::run(args)
                .await
                .map_err(|e| Error::io("visitors benchmark", e))?;
            telemetry::print_summary(&report);
            Ok(())
        }
        Command::Sandbox(SandboxCommand::Serve(args)) => serve(args).await,
        Command::Sandbox(SandboxCommand::Oracle(args)) => oracle(args),
        Command::Sandbox(SandboxCommand::Bench(args)) => {
            let cfg = args.account.gen_config()?;
            let report = sandbox::bench::run(cfg, args.concurrency.max(1), args.seconds)
                .await
                .map_err(|e| Error::io("sandbox benchmark", e))?;
            telemetry::print_summary(&report);
            Ok(())
        }
    }
}

/// Extraction, and with `visitors` (`run`) the visitor load and the models after it: the
/// summary is printed whatever the outcome.
async fn extract(
    global: &Global,
    args: &ExtractArgs,
    visitors: Option<&crate::visitors::command::LoadVisitorsArgs>,
) -> Result<(), Error> {
    let mut overrides =
        crate::extract::command::overrides(global.storage.clone(), global.api_base.clone(), args);
    overrides.visitors_source = visitors.and_then(|v| v.visitors.clone());
    let cfg = load_config_with(global, &overrides)?;
    let key = config::resolve_api_key(&cfg, &|name| std::env::var(name).ok())
        .map_err(|p| Error::Config(config::ConfigErrors(vec![p])))?;
    let (mut summary, mut outcome) = crate::extract::command::run(&cfg, &key, args).await;
    if let Some(visitors) = visitors {
        summary["command"] = json!("run");
        // Models over what did commit: a partial extraction still refreshes the rest.
        if matches!(outcome, Ok(()) | Err(Error::Partial(_))) {
            let run_id = summary["run_id"].as_str().unwrap_or("run").to_string();
            let (v, verdict) = crate::visitors::command::run(&cfg, visitors, &run_id).await;
            summary["load_visitors"] = v;
            // Whatever happened to the visitor files, the models still run over what did
            // commit (revenue and MRR do not wait for web data); the run reports the failure.
            if let Err(e) = verdict
                && outcome.is_ok()
            {
                outcome = Err(e);
            }
            let transform_args = crate::transform::command::TransformArgs::default();
            let (t, verdict) = crate::transform::command::run(&cfg, &transform_args, &run_id).await;
            summary["transform"] = t;
            if outcome.is_ok() {
                outcome = verdict;
            }
        }
    }
    telemetry::print_summary(&summary);
    outcome
}

async fn check(global: &Global, args: &CheckArgs) -> Result<(), Error> {
    let cfg = load_config(global)?;
    let key = config::resolve_api_key(&cfg, &|name| std::env::var(name).ok())
        .map_err(|p| Error::Config(config::ConfigErrors(vec![p])))?;
    let (summary, probes, outcome) = crate::keys::run_check(&cfg, &key).await;
    if args.format == "table" && !probes.is_empty() {
        println!("{}", crate::keys::table(&probes));
    }
    telemetry::print_summary(&summary);
    outcome
}

async fn transform(
    global: &Global,
    args: &crate::transform::command::TransformArgs,
) -> Result<(), Error> {
    let cfg = load_config(global)?;
    let run_id = crate::extract::command::new_run_id(chrono::Utc::now().timestamp());
    let (summary, outcome) = crate::transform::command::run(&cfg, args, &run_id).await;
    telemetry::print_summary(&summary);
    outcome
}

/// The configuration with the common flags (`--storage`, `--api-base`) applied.
pub fn load_config(global: &Global) -> Result<Config, Error> {
    let overrides = Overrides {
        storage_url: global.storage.clone(),
        api_base: global.api_base.clone(),
        ..Overrides::default()
    };
    load_config_with(global, &overrides)
}

/// `--config`, else `./pipeline.toml` when it exists, else defaults; then the overrides.
fn load_config_with(global: &Global, overrides: &Overrides) -> Result<Config, Error> {
    let default_file = Path::new("pipeline.toml");
    let path = global
        .config
        .as_deref()
        .or(default_file.exists().then_some(default_file));
    Ok(config::load(path, overrides)?)
}

async fn serve(args: ServeArgs) -> Result<(), Error> {
    let cfg = args.account.gen_config()?;
    let keys = vec![
        KeySpec::full(&args.key),
        KeySpec::full(sandbox::DEFAULT_LIVE_KEY),
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
        let csv = sandbox.with_account(sandbox::visitors::csv);
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
        sandbox::DEFAULT_LIVE_KEY
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
    let account = sandbox::generate::generate(&args.gen_config()?);
    let expected = sandbox::oracle::expected(&account);
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

/// Starts the sandbox in-process and runs every stage that exists so far.
async fn demo(args: DemoArgs) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let cfg = AccountArgs {
        seed: args.seed,
        scale: args.scale,
        now: None,
        out: None,
    }
    .gen_config()?;
    let sandbox = Sandbox::start(cfg, 0, vec![KeySpec::full(sandbox::DEFAULT_TEST_KEY)])
        .await
        .map_err(|e| Error::io("cannot start the sandbox", e))?;
    tracing::info!(url = %sandbox.base_url(), "Sandbox started.");
    let reachable = probe(&sandbox).await?;
    let dir = args.out.join("sandbox");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let (objects, expected, csv) = sandbox.with_account(|a| {
        (
            a.store.total_objects(),
            sandbox::oracle::expected(a),
            sandbox::visitors::csv(a),
        )
    });
    let expected_path = dir.join("expected_metrics.json");
    let json =
        serde_json::to_vec(&expected).map_err(|e| Error::io("serialising the oracle", e.into()))?;
    std::fs::write(&expected_path, json)
        .map_err(|e| Error::io(format!("cannot write {}", expected_path.display()), e))?;
    let visitors_path = dir.join("visitor_events.csv");
    std::fs::write(&visitors_path, csv)
        .map_err(|e| Error::io(format!("cannot write {}", visitors_path.display()), e))?;
    let extract = demo_extract(&sandbox, &args.out).await;
    let extracted = extract.0["totals"]["rows"].as_u64().unwrap_or(0);
    let run_id = extract.0["run_id"].as_str().unwrap_or("demo").to_string();
    let visitors = demo_visitors(&args.out, &visitors_path, &run_id).await;
    let transform = demo_transform(&args.out, &run_id).await;
    let headline = demo_headline(&args.out).await;
    let summary = json!({
        "command": "demo",
        "sandbox": {"url": sandbox.base_url(), "objects": objects, "resources_reachable": reachable, "requests": sandbox.stats().requests},
        "stages_run": ["extract", "load-visitors", "transform"],
        "extract": extract.0,
        "load_visitors": visitors.0,
        "transform": transform.0,
        "headline": headline,
        "outputs": [args.out.join("raw").display().to_string(), args.out.join("marts").display().to_string(), expected_path.display().to_string(), visitors_path.display().to_string()],
        "duration_seconds": started.elapsed().as_secs_f64(),
    });
    eprintln!(
        "demo: sandbox account with {objects} objects served at {}; {reachable} list endpoints answered",
        sandbox.base_url()
    );
    eprintln!(
        "demo: extracted {extracted} rows into {}/raw (Parquet + manifests)",
        args.out.display()
    );
    eprintln!(
        "demo: wrote {} and {}",
        expected_path.display(),
        visitors_path.display()
    );
    let mut kpis = headline.clone();
    if let Some(k) = kpis.as_object_mut() {
        k.remove("attribution");
    }
    eprintln!(
        "demo: built the models into {}/marts: {kpis}",
        args.out.display()
    );
    let split: Vec<String> = headline["attribution"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {}",
                r["match_method"].as_str().unwrap_or("?"),
                r["charges"]
            )
        })
        .collect();
    eprintln!(
        "demo: loaded {} visitor events; charges by attribution rule: {}",
        summary["load_visitors"]["visitors"]["rows"],
        split.join(", ")
    );
    telemetry::print_summary(&summary);
    extract.1.and(visitors.1).and(transform.1)
}

fn demo_storage_url(out: &Path) -> String {
    format!(
        "file://{}",
        std::path::absolute(out)
            .unwrap_or_else(|_| out.to_path_buf())
            .display()
    )
}

async fn demo_visitors(
    out: &Path,
    file: &Path,
    run_id: &str,
) -> (serde_json::Value, Result<(), Error>) {
    let mut cfg = Config::default();
    cfg.storage.url = demo_storage_url(out);
    cfg.visitors.source = Some(file.display().to_string());
    let args = crate::visitors::command::LoadVisitorsArgs::default();
    crate::visitors::command::run(&cfg, &args, run_id).await
}

async fn demo_transform(out: &Path, run_id: &str) -> (serde_json::Value, Result<(), Error>) {
    let mut cfg = Config::default();
    cfg.storage.url = demo_storage_url(out);
    let args = crate::transform::command::TransformArgs::default();
    let (mut summary, verdict) = crate::transform::command::run(&cfg, &args, run_id).await;
    // The per-model list is long; the demo shows the count and the time.
    if let Some(models) = summary.as_object_mut().and_then(|o| o.remove("models")) {
        let list = models.as_array().map(Vec::as_slice).unwrap_or_default();
        let built = list.iter().filter(|m| m["status"] == "ok").count();
        summary["models_built"] = json!(built);
        summary["models_total"] = json!(list.len());
    }
    (summary, verdict)
}

/// The 30-day KPI row, read back from the committed marts.
async fn demo_headline(out: &Path) -> serde_json::Value {
    let kpis = "SELECT start_date, end_date, gross_revenue_settlement, net_revenue_settlement, \
                transactions, new_customers, churned_subscriptions, failed_payments, mrr, arr, \
                active_subscriptions, unique_visitors, revenue_per_visitor FROM kpi_summary \
                WHERE range_name = 'last_30_days'";
    let attribution = "SELECT CASE WHEN match_method LIKE 'metadata:%' THEN 'metadata' \
                       ELSE match_method END AS match_method, count(*) AS charges, \
                       sum(gross_settlement) AS gross_settlement FROM revenue_attribution \
                       GROUP BY 1 ORDER BY 1";
    let mut headline = demo_rows(out, kpis)
        .await
        .into_iter()
        .next()
        .unwrap_or(json!({}));
    headline["attribution"] = json!(demo_rows(out, attribution).await);
    headline
}

/// The rows of a query over the demo's lake as JSON objects; none when it cannot be read.
async fn demo_rows(out: &Path, sql: &str) -> Vec<serde_json::Value> {
    let Ok(storage) = crate::storage::Storage::open(&demo_storage_url(out), &Default::default())
    else {
        return Vec::new();
    };
    let Ok(ctx) = crate::transform::open(&storage).await else {
        return Vec::new();
    };
    let Ok(df) = ctx.sql(sql).await else {
        return Vec::new();
    };
    let Ok(batches) = df.collect().await else {
        return Vec::new();
    };
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    let written = batches.iter().try_for_each(|b| writer.write(b));
    if written.is_err() || writer.finish().is_err() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<serde_json::Value>>(&writer.into_inner()).unwrap_or_default()
}

/// The extract stage against the in-process sandbox, into `<out>` (no pipeline.toml needed).
async fn demo_extract(sandbox: &Sandbox, out: &Path) -> (serde_json::Value, Result<(), Error>) {
    let mut cfg = Config::default();
    cfg.storage.url = demo_storage_url(out);
    cfg.stripe.api_base = sandbox.base_url();
    // The sandbox has no rate limit; Stripe's test-mode pace would only make the demo wait.
    cfg.stripe.max_requests_per_second = Some(500.0);
    let key = config::ApiKey::new(sandbox::DEFAULT_TEST_KEY);
    let args = ExtractArgs {
        since: Some("2000-01-01".into()),
        ..ExtractArgs::default()
    };
    crate::extract::command::run(&cfg, &key, &args).await
}

/// One authenticated `limit=1` call per list endpoint, over real HTTP.
async fn probe(sandbox: &Sandbox) -> Result<usize, Error> {
    let client = reqwest::Client::new();
    let mut ok = 0;
    for (path, _, _) in sandbox::RESOURCES
        .iter()
        .filter(|r| r.0 != "subscription_items")
    {
        let url = format!("{}/v1/{path}?limit=1", sandbox.base_url());
        let response = client
            .get(&url)
            .bearer_auth(sandbox::DEFAULT_TEST_KEY)
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => ok += 1,
            Ok(r) => {
                return Err(Error::Transient(format!(
                    "sandbox answered {} for /v1/{path}",
                    r.status()
                )));
            }
            Err(e) => {
                return Err(Error::Transient(format!(
                    "sandbox unreachable for /v1/{path}: {e}"
                )));
            }
        }
    }
    Ok(ok)
}
