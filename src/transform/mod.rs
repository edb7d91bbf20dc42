//! Transform: the SQL models of `sql/` over the committed raw tables (DESIGN.md §5).
//!
//! Raw tables are registered from their manifests under their stream names; `params` carries the
//! `[transform]` options as a one-row table (models stay plain SQL, no templating); staging and
//! intermediate models are kept in memory, marts are written as Parquet and committed with a
//! manifest exactly like extraction, so readers only ever see complete tables.

pub mod args;
pub mod models;
pub mod money;
pub mod mrr;
pub mod query;
pub mod tables;
pub mod udf;
pub mod work;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde::Serialize;

use crate::storage::manifest::FileEntry;
use crate::storage::{Change, Part, Storage, StorageError, Table};
use models::{GraphError, Layer, Model};

/// What the models are told (METRICS.md options); `None` lets the models decide from the data.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pub as_of: Option<NaiveDate>,
    pub report_timezone: String,
    pub settlement_currency: Option<String>,
    pub discount_mode: String,
    pub churn_recognition: String,
    pub livemode: Option<bool>,
    /// Named KPI ranges: (name, first day, last day); empty = the configured windows before as_of.
    pub kpi_ranges: Vec<(String, NaiveDate, NaiveDate)>,
    pub kpi_windows_days: Vec<u32>,
    /// Inactivity that ends a web session; `None` = 30 minutes (METRICS.md §6.2).
    pub session_timeout_minutes: Option<u32>,
    /// Stripe metadata keys holding a visitor id, in the order tried; empty = `visitor_id`.
    pub visitor_metadata_keys: Vec<String>,
    /// Also the ranges the report and the digest compare with (the previous window, the day
    /// before, the same weekday a week before); off in the hand-computed scenarios.
    pub report_ranges: bool,
    /// The memory budget of the models' operators in bytes; `None` = unbounded (tests).
    pub memory_limit: Option<u64>,
    /// A local directory for the run's work area (intermediates, spill files); `None` = the
    /// lake's `_work/` (see `work`).
    pub work_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("model `{model}` ({file}) failed: {message}")]
    Model {
        model: String,
        file: String,
        message: String,
    },
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// A check's query returned violations.
    #[error("{0}")]
    Check(String),
    /// `query`: bad SQL, an unknown table, an unreadable file (a usage error).
    #[error("{0}")]
    Query(String),
    /// A model's rows are not unique by its declared grain.
    #[error("{0}")]
    Grain(String),
    /// `--as-of` names a day the lake cannot cover yet (a usage error).
    #[error("{0}")]
    AsOf(String),
}

#[derive(Debug, Serialize, Clone)]
pub struct ModelOutcome {
    pub model: String,
    pub layer: &'static str,
    /// `ok`, `failed`, or `skipped` (an input failed).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rows: u64,
    pub files: usize,
    pub seconds: f64,
    /// What its sorts, aggregations and joins wrote to disk to stay within the memory budget.
    #[serde(skip_serializing_if = "is_zero")]
    pub spilled_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Bytes spilled by every operator of an executed plan.
fn spilled_bytes(plan: &dyn datafusion::physical_plan::ExecutionPlan) -> u64 {
    let own = plan.metrics().and_then(|m| m.spilled_bytes()).unwrap_or(0) as u64;
    own + plan
        .children()
        .into_iter()
        .map(|c| spilled_bytes(c.as_ref()))
        .sum::<u64>()
}

/// A model's error for the summary; one that ran out of its memory budget says which setting
/// to raise.
fn explain_memory(e: TransformError, limit: Option<u64>) -> String {
    // DataFusion's own advice names its settings, not ours: only the first line of its cause.
    let exhausted = match &e {
        TransformError::DataFusion(d) => match d.find_root() {
            datafusion::error::DataFusionError::ResourcesExhausted(m) => {
                let first = m.lines().next().unwrap_or_default();
                Some(
                    first
                        .split(" with top memory")
                        .next()
                        .unwrap_or(first)
                        .to_string(),
                )
            }
            _ => None,
        },
        _ => None,
    };
    match (exhausted, limit) {
        (Some(cause), Some(limit)) => {
            // The consumers DataFusion names are for whoever tunes the models: under -v.
            tracing::debug!(error = %e, "The memory budget's top consumers.");
            format!(
                "needs more memory than its budget of {} MiB, even spilling to disk: raise \
             `[transform] memory_limit` (or --memory-limit, e.g. {} MiB) ({cause})",
                limit >> 20,
                (limit >> 20) * 2
            )
        }
        _ => e.to_string(),
    }
}

fn layer_name(l: Layer) -> &'static str {
    match l {
        Layer::Staging => "staging",
        Layer::Intermediate => "intermediate",
        Layer::Mart => "mart",
        Layer::Check => "check",
    }
}

/// `--models` / `[transform] models` name models that exist (checked before the lake opens).
pub fn check_models(wanted: &[String]) -> Result<(), TransformError> {
    let all = models::embedded()?;
    let known: BTreeSet<&str> = all.iter().map(|m| m.name.as_str()).collect();
    match wanted.iter().find(|w| !known.contains(w.as_str())) {
        None => Ok(()),
        Some(name) => Err(GraphError::Unknown {
            name: name.clone(),
            known: known.into_iter().collect::<Vec<_>>().join(", "),
        }
        .into()),
    }
}

/// Runs the models (all, or `wanted` and what they read) and commits every mart.
pub async fn run(
    storage: &Storage,
    params: &Params,
    wanted: &[String],
    run_id: &str,
) -> Result<Vec<ModelOutcome>, TransformError> {
    build_models(storage, params, models::embedded()?, wanted, run_id, false)
        .await
        .map(|(_, outcomes)| outcomes)
}

/// `run`, also returning the session: intermediate models stay queryable (tests, debugging).
pub async fn build(
    storage: &Storage,
    params: &Params,
    wanted: &[String],
    run_id: &str,
) -> Result<(SessionContext, Vec<ModelOutcome>), TransformError> {
    build_models(storage, params, models::embedded()?, wanted, run_id, true).await
}

/// `build` over a given model set (tests swap a model to prove a check can fail). Unless
/// `keep_intermediate`, a staging or intermediate model's work files are deleted as soon as its
/// last reader is built, and the run's work area when it ends, however it ends.
pub async fn build_models(
    storage: &Storage,
    params: &Params,
    all: Vec<Model>,
    wanted: &[String],
    run_id: &str,
    keep_intermediate: bool,
) -> Result<(SessionContext, Vec<ModelOutcome>), TransformError> {
    let spills = params.memory_limit.is_some();
    let work = work::WorkArea::new(storage, params.work_dir.as_deref(), run_id, spills)?;
    let built = build_in(
        storage,
        params,
        all,
        wanted,
        run_id,
        keep_intermediate,
        &work,
    )
    .await;
    // Kept for `build`'s callers, who query the intermediates; `vacuum` sweeps it later.
    if !keep_intermediate && let Err(e) = work.remove().await {
        tracing::warn!(error = %e, "The run's work area was not removed; `vacuum` will.");
    }
    built
}

async fn build_in(
    storage: &Storage,
    params: &Params,
    all: Vec<Model>,
    wanted: &[String],
    run_id: &str,
    keep_intermediate: bool,
    work: &work::WorkArea,
) -> Result<(SessionContext, Vec<ModelOutcome>), TransformError> {
    let ctx = tables::session_within(storage, params.memory_limit, work.spill_dir()).await?;
    work.register_store(&ctx)?;
    let mut external = tables::register_raw(&ctx, storage).await?;
    external.extend(tables::register_seeds(&ctx)?);
    tables::register_params(&ctx, params)?;
    external.insert("params".into());
    external.insert("kpi_windows".into());
    external.insert("visitor_metadata_keys".into());
    tables::register_schema(&ctx, models::LATEST)?;
    let mut all = all;
    all.extend(models::latest_relations().map_err(TransformError::Setup)?);
    let ordered = models::order(&all, &external)?;
    let selected = models::select(ordered, wanted)?;
    let in_work_area: BTreeSet<&str> = selected
        .iter()
        .filter(|m| matches!(m.layer, Layer::Staging | Layer::Intermediate))
        .map(|m| m.name.as_str())
        .collect();
    let mut readers: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for m in &selected {
        for d in &m.deps {
            *readers.entry(d.as_str()).or_default() += 1;
        }
    }
    let mut outcomes = Vec::new();
    let mut broken: BTreeSet<String> = BTreeSet::new();
    // Marts written and checked for their grain, committed only after the checks.
    let mut written: Vec<(&Model, Vec<FileEntry>)> = Vec::new();
    for model in &selected {
        let started = Instant::now();
        let mut outcome = ModelOutcome {
            model: model.name.clone(),
            layer: layer_name(model.layer),
            status: "ok",
            error: None,
            rows: 0,
            files: 0,
            seconds: 0.0,
            spilled_bytes: 0,
        };
        if let Some(input) = model.deps.iter().find(|d| broken.contains(*d)) {
            outcome.status = "skipped";
            outcome.error = Some(format!("input `{input}` failed"));
            broken.insert(model.name.clone());
            outcomes.push(outcome);
            continue;
        }
        let built = materialise(
            &ctx,
            storage,
            work,
            model,
            run_id,
            &mut outcome.spilled_bytes,
        );
        match built.await {
            Ok((rows, files)) => {
                outcome.rows = rows;
                outcome.files = files.len();
                if model.layer == Layer::Mart {
                    written.push((model, files));
                }
                if model.name == SETTINGS {
                    refuse_a_future_as_of(&ctx).await?;
                }
            }
            Err(e @ TransformError::Storage(_)) => return Err(e),
            Err(e) => {
                let message = TransformError::Model {
                    model: model.name.clone(),
                    file: match model.generated {
                        true => model.file.clone(),
                        false => format!("sql/{}", model.file),
                    },
                    message: explain_memory(e, params.memory_limit),
                }
                .to_string();
                tracing::error!(model = %model.name, error = %message, "Model failed.");
                outcome.status = "failed";
                outcome.error = Some(message);
                broken.insert(model.name.clone());
            }
        }
        outcome.seconds = started.elapsed().as_secs_f64();
        // The process's high-water mark so far: which model drives the peak, in the logs.
        let peak_rss_mb = crate::telemetry::peak_rss_mb().map(|mb| mb.round());
        let rss_mb = crate::telemetry::rss_mb().map(|mb| mb.round());
        tracing::info!(model = %model.name, rows = outcome.rows, seconds = outcome.seconds, status = outcome.status, peak_rss_mb, rss_mb, "Model done.");
        // The runner's own relations are reported only when they fail.
        if !model.generated || outcome.status != "ok" {
            outcomes.push(outcome);
        }
        for d in &model.deps {
            let left = readers.get_mut(d.as_str()).map(|n| {
                *n -= 1;
                *n
            });
            if left == Some(0) && !keep_intermediate && in_work_area.contains(d.as_str()) {
                ctx.deregister_table(d.as_str())?;
                // Space back early; what is left goes with the work area at the end.
                if let Err(e) = work.forget(d).await {
                    tracing::warn!(model = %d, error = %e, "Work files not deleted yet.");
                }
            }
        }
    }
    commit_checked(storage, &selected, written, &mut outcomes, run_id).await?;
    Ok((ctx, outcomes))
}

/// Commits the marts no failed check vouches against. A mart a failing (or skipped) check reads
/// is withheld, and so is every mart built from a withheld one: the previous version stays, and
/// its written files are deleted. Each mart is replaced whole, and its old files go once the new
/// version is committed, so `marts/<model>/*.parquet` is the committed table.
async fn commit_checked(
    storage: &Storage,
    selected: &[Model],
    written: Vec<(&Model, Vec<FileEntry>)>,
    outcomes: &mut [ModelOutcome],
    run_id: &str,
) -> Result<(), TransformError> {
    let failed_checks: BTreeSet<&str> = outcomes
        .iter()
        .filter(|o| o.layer == "check" && o.status != "ok")
        .map(|o| o.model.as_str())
        .collect();
    // Why each withheld mart is withheld; in build order, so a reader follows what it reads.
    let mut withheld: std::collections::BTreeMap<&str, String> = Default::default();
    // A check vouches for the marts it reads; what they were built from is not withheld for it.
    let marts: BTreeSet<&str> = selected
        .iter()
        .filter(|m| m.layer == Layer::Mart)
        .map(|m| m.name.as_str())
        .collect();
    for check in selected
        .iter()
        .filter(|m| failed_checks.contains(m.name.as_str()))
    {
        for dep in check.deps.iter().filter(|d| marts.contains(d.as_str())) {
            withheld
                .entry(dep.as_str())
                .or_insert_with(|| format!("check `{}` failed", check.name));
        }
    }
    for model in selected {
        let reason = model.deps.iter().find_map(|d| {
            withheld
                .get(d.as_str())
                .map(|_| format!("it reads `{d}`, withheld"))
        });
        if let Some(reason) = reason {
            withheld.entry(model.name.as_str()).or_insert(reason);
        }
    }
    for (model, files) in written {
        let Some(reason) = withheld.get(model.name.as_str()) else {
            Table::mart(storage, &model.name)
                .commit(run_id, &files, Change::Replace(&[Part::Whole]))
                .await?;
            continue;
        };
        for f in &files {
            storage.delete(&f.path).await?;
        }
        if let Some(o) = outcomes.iter_mut().find(|o| o.model == model.name) {
            tracing::error!(model = %model.name, reason = %reason, "Mart not committed.");
            o.status = "failed";
            o.error = Some(format!(
                "not committed ({reason}): the previous version stays"
            ));
        }
    }
    Ok(())
}

/// Staging and intermediate models are written to the run's work area and read from there;
/// marts to `marts/<model>/` (committed with a manifest once the checks have run): their rows
/// and files.
async fn materialise(
    ctx: &SessionContext,
    storage: &Storage,
    work: &work::WorkArea,
    model: &Model,
    run_id: &str,
    spilled: &mut u64,
) -> Result<(u64, Vec<FileEntry>), TransformError> {
    let df = ctx.sql(&model.sql).await?;
    if model.layer == Layer::Check {
        let violations = df.collect().await?;
        let count: usize = violations.iter().map(|b| b.num_rows()).sum();
        if count == 0 {
            return Ok((0, Vec::new()));
        }
        let shown: Vec<RecordBatch> = violations
            .iter()
            .filter(|b| b.num_rows() > 0)
            .take(1)
            .map(|b| b.slice(0, 1))
            .collect();
        let first = arrow::util::pretty::pretty_format_batches(&shown)
            .map(|t| t.to_string())
            .unwrap_or_default();
        return Err(TransformError::Check(format!(
            "{count} rows break this check; the first:\n{}",
            first.lines().take(6).collect::<Vec<_>>().join("\n")
        )));
    }
    if model.view {
        ctx.register_table(model.name.as_str(), df.into_view())?;
        check_grain(ctx, model).await?;
        return Ok((0, Vec::new()));
    }
    if model.layer != Layer::Mart {
        // Every column nullable: the plan's nullability and the batches' can disagree, and the
        // table's consumers do not care.
        let fields: Vec<_> = df
            .schema()
            .as_arrow()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let schema = Arc::new(arrow::datatypes::Schema::new(fields));
        let mut writer = work.writer(&model.name, run_id, schema.clone());
        let plan = df.create_physical_plan().await?;
        let mut stream = datafusion::physical_plan::execute_stream(plan.clone(), ctx.task_ctx())?;
        while let Some(batch) = stream.next().await {
            let batch = RecordBatch::try_new(schema.clone(), batch?.columns().to_vec())
                .map_err(|e| TransformError::Setup(e.to_string()))?;
            writer.write(&batch).await?;
        }
        *spilled += spilled_bytes(plan.as_ref());
        let files = writer.finish_at_least_one().await?;
        let rows = files.iter().map(|f| f.rows).sum();
        work.register(ctx, &model.name, &files, schema).await?;
        check_grain(ctx, model).await?;
        return Ok((rows, Vec::new()));
    }
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mart = Table::mart(storage, &model.name);
    let mut writer = mart.writer(Part::Whole, run_id, schema.clone(), 256 * 1024 * 1024);
    let plan = df.create_physical_plan().await?;
    let mut stream = datafusion::physical_plan::execute_stream(plan.clone(), ctx.task_ctx())?;
    while let Some(batch) = stream.next().await {
        writer.write(&batch?).await?;
    }
    *spilled += spilled_bytes(plan.as_ref());
    let files = writer.finish_at_least_one().await?;
    let rows = files.iter().map(|f| f.rows).sum();
    // Its grain is checked on the written files before they are committed: a mart with
    // duplicate keys is never published.
    tables::register_files(ctx, storage, &model.name, &files, Some(schema)).await?;
    if let Err(e) = check_grain(ctx, model).await {
        ctx.deregister_table(model.name.as_str())?;
        for f in &files {
            storage.delete(&f.path).await?;
        }
        return Err(e);
    }
    Ok((rows, files))
}

/// The model that resolves `params` against the data.
const SETTINGS: &str = "stg_settings";

/// An `--as-of` after the last day the extracted data covers (the day before the latest
/// extraction) would give flat MRR and empty days for dates nothing was extracted for: refused,
/// before any mart is written.
async fn refuse_a_future_as_of(ctx: &SessionContext) -> Result<(), TransformError> {
    let sql = format!(
        "SELECT CAST(as_of AS VARCHAR), CAST(last_complete_day AS VARCHAR) FROM {SETTINGS} \
         WHERE last_complete_day IS NOT NULL AND as_of > last_complete_day"
    );
    let found = ctx.sql(&sql).await?.collect().await?;
    let Some(batch) = found.iter().find(|b| b.num_rows() > 0) else {
        return Ok(());
    };
    let value = |i: usize| {
        arrow::util::display::array_value_to_string(batch.column(i), 0).unwrap_or_default()
    };
    Err(TransformError::AsOf(format!(
        "--as-of {} is after {}, the last day the lake covers (the day before its latest \
         extraction): extract first, or pass a day up to {}",
        value(0),
        value(1),
        value(1)
    )))
}

/// Fails when two rows of the model share its declared grain, naming one duplicated key.
async fn check_grain(ctx: &SessionContext, model: &Model) -> Result<(), TransformError> {
    let Some(grain) = &model.unique else {
        return Ok(());
    };
    let (keys, sql) = match grain {
        models::Grain::OneRow => (
            Vec::new(),
            format!(
                "SELECT count(*) AS n FROM {} HAVING count(*) > 1",
                model.name
            ),
        ),
        models::Grain::Columns(columns) => {
            let list = columns.join(", ");
            (
                columns.clone(),
                format!(
                    "SELECT {list}, count(*) AS n FROM {} GROUP BY {list} HAVING count(*) > 1 \
                     LIMIT 1",
                    model.name
                ),
            )
        }
    };
    let found = ctx.sql(&sql).await?.collect().await?;
    let Some(batch) = found.iter().find(|b| b.num_rows() > 0) else {
        return Ok(());
    };
    let value = |i: usize| {
        arrow::util::display::array_value_to_string(batch.column(i), 0)
            .unwrap_or_else(|_| "?".into())
    };
    let key = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} = {}", value(i)))
        .collect::<Vec<_>>()
        .join(", ");
    let times = value(keys.len());
    Err(TransformError::Grain(match grain {
        models::Grain::OneRow => format!("declares `-- unique: {grain}` but has {times} rows"),
        models::Grain::Columns(_) => format!(
            "declares `-- unique: {grain}` but {key} appears {times} times: the model \
             duplicates rows (a join fans out, or an input holds duplicates)"
        ),
    }))
}

/// Every committed raw table and mart, registered by name: for `query`, tests and analysts.
pub async fn open(storage: &Storage) -> Result<SessionContext, TransformError> {
    let ctx = tables::session(storage).await?;
    let mut names: BTreeSet<String> = tables::register_raw(&ctx, storage).await?;
    names.extend(tables::register_marts(&ctx, storage).await?);
    Ok(ctx)
}
