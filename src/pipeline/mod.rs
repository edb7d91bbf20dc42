//! The pipeline: which stages a command runs and in what order, under one run id and one opened
//! lake; what each stage reports ([`stage`]); the one rule that turns the reports into an exit
//! code and decides whether the models run ([`verdict`]); and the one run summary, printed and
//! written once after the last stage ([`summary`]).
//!
//! `run` is extract → load-visitors → transform; `extract`, `load-visitors` and `transform` are
//! each one of them; `demo` is `run` against the built-in sandbox. Problems with the flags or the
//! key are found before the lake is opened: they exit 2 and write nothing.

pub mod commands;
pub mod demo;
pub mod stage;
mod stages;
pub mod summary;
pub mod verdict;

use std::time::Instant;

use serde_json::Map;

use crate::config::{ApiKey, Config};
use crate::error::Error;
use crate::extract::{ExtractArgs, Plan};
use crate::storage::Storage;
use crate::storage::table::run_summary_path;
use crate::transform::args::TransformArgs;
use crate::visitors::args::LoadVisitorsArgs;
use stage::{Stage, StageReport};
use summary::RunSummary;

/// `run`: the flags of extract and of load-visitors.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub extract: ExtractArgs,
    #[command(flatten)]
    pub visitors: LoadVisitorsArgs,
}

/// One run: its configuration, its lake (opened once), its id and its clock.
pub struct RunContext {
    pub cfg: Config,
    pub storage: Storage,
    pub run_id: String,
    /// The run's clock (Unix milliseconds): every row it writes is stamped with it.
    pub now_ms: i64,
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl RunContext {
    /// Opens the lake for a run named `run_id` (see [`run_id`]), and proves it writable.
    pub async fn open(cfg: Config, now_ms: i64, run_id: String) -> Result<RunContext, Error> {
        let storage = Storage::open(&cfg.storage.url, &cfg.storage.options)?;
        storage.probe_writable(&run_id).await?;
        Ok(RunContext::with(cfg, storage, now_ms, run_id))
    }

    fn with(cfg: Config, storage: Storage, now_ms: i64, run_id: String) -> RunContext {
        RunContext {
            cfg,
            storage,
            run_id,
            now_ms,
            started: Instant::now(),
            started_at: chrono::Utc::now(),
        }
    }

    /// A run of `cfg` now (or at `--now`).
    pub async fn start(cfg: Config) -> Result<RunContext, Error> {
        let now_ms = cfg.runtime.now_ms();
        RunContext::open(cfg, now_ms, run_id(now_ms)).await
    }

    /// The verdict over the reports, and the summary: written to `_runs/<run_id>.json`, then
    /// printed as the last stdout line. The error returned is the verdict's: its exit code is
    /// the summary's.
    pub async fn finish(
        self,
        command: &'static str,
        reports: &[StageReport],
        extra: Map<String, serde_json::Value>,
    ) -> Result<(), Error> {
        let verdict = verdict::verdict(reports, self.cfg.run.exit_99_when_nothing_to_do);
        let summary = RunSummary {
            command,
            run_id: &self.run_id,
            started_at: self.started_at,
            duration_seconds: self.started.elapsed().as_secs_f64(),
            verdict: &verdict,
            stages: reports,
            extra,
        }
        .to_json();
        let body = crate::telemetry::summary_text(&summary, true).into_bytes();
        if let Err(e) = self
            .storage
            .put(&run_summary_path(&self.run_id), body)
            .await
        {
            tracing::warn!(error = %e, "Could not write the run summary file.");
        }
        crate::telemetry::print_summary(&summary);
        verdict.error.map_or(Ok(()), Err)
    }
}

/// A run id: the run's clock as a UTC timestamp, then the real time in microseconds (fixed
/// width). Staging takes the newest version of an object by `_extracted_at`, then `_run_id`:
/// so a later run always wins, even in the same second or with a pinned `--now`.
pub fn run_id(now_ms: i64) -> String {
    let stamp = chrono::DateTime::from_timestamp_millis(now_ms).map_or_else(
        || now_ms.to_string(),
        |d| d.format("%Y%m%dT%H%M%SZ").to_string(),
    );
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{stamp}-{micros:013x}")
}

/// The key rules, then the extraction plan: both before the lake is touched.
fn prepare_extract(
    cfg: &Config,
    key: &ApiKey,
    args: &ExtractArgs,
    now_ms: i64,
    run_id: &str,
) -> Result<(Plan, bool), Error> {
    let live = crate::stripe::keys::check(key, cfg.stripe.allow_secret_key, &cfg.extract.streams)
        .map_err(Error::Usage)?;
    let plan = Plan::new(cfg, args, now_ms, run_id).map_err(Error::Usage)?;
    Ok((plan, live))
}

/// A visitors source that is not there: a usage error before the lake is opened.
fn prepare_visitors(cfg: &Config) -> Result<(), Error> {
    match &cfg.visitors.source {
        Some(source) => Ok(crate::visitors::preflight(source)?),
        None => Ok(()),
    }
}

/// `stripelake run`: extract, then (unless extraction committed nothing) load-visitors and
/// transform.
pub async fn run(cfg: Config, key: &ApiKey, args: &RunArgs) -> Result<(), Error> {
    let now_ms = cfg.runtime.now_ms();
    let id = run_id(now_ms);
    let (plan, live) = prepare_extract(&cfg, key, &args.extract, now_ms, &id)?;
    prepare_visitors(&cfg)?;
    let ctx = RunContext::open(cfg, now_ms, id).await?;
    let reports = run_stages(&ctx, key, &plan, live, &args.visitors).await;
    ctx.finish("run", &reports, Map::new()).await
}

/// The stages of `run` (and `demo`), each after the verdict lets it.
async fn run_stages(
    ctx: &RunContext,
    key: &ApiKey,
    plan: &Plan,
    live: bool,
    visitors: &LoadVisitorsArgs,
) -> Vec<StageReport> {
    let mut reports = vec![stages::extract(ctx, key, plan, live).await];
    if !verdict::later_stages_run(&reports) {
        let why = "extraction committed nothing";
        reports.push(StageReport::skipped(Stage::LoadVisitors, why));
        reports.push(StageReport::skipped(Stage::Transform, why));
        return reports;
    }
    reports.push(stages::load_visitors(ctx, visitors).await);
    reports.push(stages::transform(ctx, &TransformArgs::default()).await);
    reports
}

/// `stripelake extract`.
pub async fn extract(cfg: Config, key: &ApiKey, args: &ExtractArgs) -> Result<(), Error> {
    let now_ms = cfg.runtime.now_ms();
    let id = run_id(now_ms);
    let (plan, live) = prepare_extract(&cfg, key, args, now_ms, &id)?;
    let ctx = RunContext::open(cfg, now_ms, id).await?;
    let report = stages::extract(&ctx, key, &plan, live).await;
    ctx.finish("extract", &[report], Map::new()).await
}

/// `stripelake load-visitors`.
pub async fn load_visitors(cfg: Config, args: &LoadVisitorsArgs) -> Result<(), Error> {
    prepare_visitors(&cfg)?;
    let ctx = RunContext::start(cfg).await?;
    let report = stages::load_visitors(&ctx, args).await;
    ctx.finish("load-visitors", &[report], Map::new()).await
}

/// `stripelake transform`.
pub async fn transform(cfg: Config, args: &TransformArgs) -> Result<(), Error> {
    crate::transform::check_models(stages::wanted_models(&cfg, args))?;
    // Models over a lake with nothing extracted are empty marts: a mistyped path, said as such.
    let storage = Storage::open_existing(&cfg.storage.url, &cfg.storage.options)?;
    let now_ms = cfg.runtime.now_ms();
    let id = run_id(now_ms);
    storage.probe_writable(&id).await?;
    if !crate::storage::table::has_raw_tables(&storage).await? {
        return Err(Error::Usage(format!(
            "{} holds no extracted tables (nothing under _manifests/raw/): check --storage / \
             [storage] url, or run `stripelake extract` first",
            cfg.storage.url
        )));
    }
    let ctx = RunContext::with(cfg, storage, now_ms, id);
    let report = stages::transform(&ctx, args).await;
    ctx.finish("transform", &[report], Map::new()).await
}
