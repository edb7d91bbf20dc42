//! The stages of a run as the pipeline sees them: each calls its module and turns what came back
//! into a [`StageReport`] (status, typed error, figures).

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::RunContext;
use super::stage::{Stage, StageReport};
use super::verdict;
use crate::config::ApiKey;
use crate::error::{Error, ExitClass};
use crate::extract::{self, AccountOutcome, Failure, Plan};
use crate::transform;
use crate::visitors;

/// Extraction of every account: `ok`, `partial` when some streams failed and others committed,
/// `failed` when none committed (or the key was refused).
pub async fn extract(ctx: &RunContext, key: &ApiKey, plan: &Plan, live: bool) -> StageReport {
    let started = Instant::now();
    let report = match extract::extract(&ctx.storage, &ctx.cfg, key, plan, live).await {
        Err(e) => StageReport::failed(Stage::Extract, e.into(), Map::new()),
        Ok(accounts) => {
            let mut detail = Map::new();
            detail.insert("accounts".into(), json!(accounts));
            detail.insert("totals".into(), extract::summary::totals(&accounts));
            streams_report(&accounts, detail)
        }
    };
    report.took(started)
}

/// The extraction's status from its streams; failed streams are classed by the run's rule.
fn streams_report(accounts: &[AccountOutcome], detail: Map<String, Value>) -> StageReport {
    let streams: Vec<_> = accounts.iter().flat_map(|a| &a.streams).collect();
    let failures: Vec<(&str, &Failure)> = streams
        .iter()
        .filter_map(|o| o.failure.as_ref().map(|f| (o.stream.as_str(), f)))
        .collect();
    let classes: BTreeSet<ExitClass> = failures.iter().map(|(_, f)| failure_class(f)).collect();
    let Some(class) = verdict::exit_class(&classes) else {
        return StageReport::ok(Stage::Extract, detail);
    };
    let listing = failures
        .iter()
        .map(|(s, f)| format!("{s}: {f}"))
        .collect::<Vec<_>>()
        .join("; ");
    let error = Error::of_class(class, listing);
    if failures.len() == streams.len() {
        StageReport::failed(Stage::Extract, error, detail)
    } else {
        StageReport::partial(Stage::Extract, error, detail)
    }
}

fn failure_class(f: &Failure) -> ExitClass {
    match f {
        Failure::Auth(_) => ExitClass::Auth,
        Failure::Permission(_) => ExitClass::Permission,
        Failure::Transient(_) => ExitClass::Transient,
        Failure::Api(_) | Failure::Storage(_) | Failure::Internal(_) => ExitClass::Partial,
    }
}

/// The visitor export: `skipped` without a source, `nothing_to_do` when every file was loaded
/// before, `partial`/`failed` when files were refused (the others commit).
pub async fn load_visitors(
    ctx: &RunContext,
    args: &visitors::args::LoadVisitorsArgs,
) -> StageReport {
    let started = Instant::now();
    // `--visitors` has already overridden `[visitors] source` in the config.
    let Some(source) = ctx.cfg.visitors.source.clone() else {
        return StageReport::skipped(
            Stage::LoadVisitors,
            "no visitors source: set [visitors] source or pass --visitors",
        );
    };
    let loaded = visitors::load(
        &ctx.storage,
        &ctx.cfg.visitors,
        &source,
        &ctx.cfg.storage.options,
        &ctx.run_id,
        args.reload,
    )
    .await;
    let report = match loaded {
        Err(e) => StageReport::failed(Stage::LoadVisitors, e.into(), Map::new()),
        Ok(loaded) => {
            tracing::info!(
                files_loaded = loaded.files_loaded,
                files_unchanged = loaded.files_unchanged,
                rows = loaded.rows,
                bad_rows = loaded.bad_rows,
                "visitor events loaded"
            );
            let mut detail = Map::new();
            detail.insert("visitors".into(), json!(loaded));
            visitors_report(&loaded, detail)
        }
    };
    report.took(started)
}

fn visitors_report(loaded: &visitors::LoadReport, detail: Map<String, Value>) -> StageReport {
    if loaded.refused.is_empty() {
        return if loaded.files_loaded == 0 {
            StageReport::nothing_to_do(Stage::LoadVisitors, detail)
        } else {
            StageReport::ok(Stage::LoadVisitors, detail)
        };
    }
    let files: Vec<String> = loaded
        .refused
        .iter()
        .map(|r| format!("{} ({})", r.file, r.reason))
        .collect();
    let quarantined = match &loaded.quarantine {
        Some(path) => format!(" Bad rows are in {path} with their line and reason."),
        None => String::new(),
    };
    let error = Error::Partial(format!(
        "{} visitor file(s) refused, nothing of them loaded (the other files were): {}.{quarantined} \
         Fix the export or the [visitors.columns] mapping, or raise [visitors] max_bad_row_ratio",
        loaded.refused.len(),
        files.join("; "),
    ));
    if loaded.files_loaded == 0 {
        StageReport::failed(Stage::LoadVisitors, error, detail)
    } else {
        StageReport::partial(Stage::LoadVisitors, error, detail)
    }
}

/// The models `--models` names, else `[transform] models` (empty: all).
pub fn wanted_models<'a>(
    cfg: &'a crate::config::Config,
    args: &'a transform::args::TransformArgs,
) -> &'a [String] {
    match args.models.is_empty() {
        true => &cfg.transform.models,
        false => &args.models,
    }
}

/// The models: `partial` when some failed (what reads them is skipped, the rest commit).
pub async fn transform(ctx: &RunContext, args: &transform::args::TransformArgs) -> StageReport {
    let started = Instant::now();
    let wanted = wanted_models(&ctx.cfg, args);
    let params = transform::args::params(&ctx.cfg, args);
    let report = match transform::run(&ctx.storage, &params, wanted, &ctx.run_id).await {
        Err(e) => StageReport::failed(Stage::Transform, e.into(), Map::new()),
        Ok(outcomes) => {
            let bad: Vec<&str> = outcomes
                .iter()
                .filter(|o| o.status != "ok")
                .map(|o| o.model.as_str())
                .collect();
            let error = (!bad.is_empty()).then(|| {
                Error::Partial(format!(
                    "{} of {} models did not build: {}",
                    bad.len(),
                    outcomes.len(),
                    bad.join(", ")
                ))
            });
            let mut detail = Map::new();
            detail.insert("models".into(), json!(outcomes));
            match error {
                None => StageReport::ok(Stage::Transform, detail),
                Some(e) => StageReport::partial(Stage::Transform, e, detail),
            }
        }
    };
    report.took(started)
}
