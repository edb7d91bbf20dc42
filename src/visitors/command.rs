//! `stripelake load-visitors` (also the middle stage of `run`): the summary and the verdict.

use serde_json::{Value, json};

use super::{VisitorError, load};
use crate::config::Config;
use crate::error::Error;
use crate::storage::Storage;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct LoadVisitorsArgs {
    /// Visitor events to load: a path, glob or store URL (overrides `[visitors] source`; the
    /// config loader applies it, so the stage reads only the config).
    #[arg(long, env = "STRIPELAKE_VISITORS")]
    pub visitors: Option<String>,
    /// Load every file again, even those already loaded (their new rows replace the old).
    #[arg(long)]
    pub reload: bool,
}

fn verdict_of(e: VisitorError) -> Error {
    match e {
        VisitorError::Storage(e) => Error::Transient(e.to_string()),
        other => Error::Usage(other.to_string()),
    }
}

/// Runs one load. Without a configured source there is nothing to do (status `skipped`).
pub async fn run(
    cfg: &Config,
    args: &LoadVisitorsArgs,
    run_id: &str,
) -> (Value, Result<(), Error>) {
    let mut summary = json!({"command": "load-visitors", "run_id": run_id});
    // `--visitors` has already overridden `[visitors] source` in the config.
    let Some(source) = cfg.visitors.source.clone() else {
        summary["status"] = json!("skipped");
        summary["reason"] = json!("no visitors source: set [visitors] source or pass --visitors");
        return (summary, Ok(()));
    };
    let storage = match Storage::open(&cfg.storage.url, &cfg.storage.options) {
        Ok(s) => s,
        Err(e) => {
            summary["status"] = json!("failed");
            return (summary, Err(Error::Usage(e.to_string())));
        }
    };
    let started = std::time::Instant::now();
    let outcome = load(
        &storage,
        &cfg.visitors,
        &source,
        &cfg.storage.options,
        run_id,
        args.reload,
    )
    .await;
    summary["seconds"] = json!((started.elapsed().as_secs_f64() * 100.0).round() / 100.0);
    match outcome {
        Err(e) => {
            let e = verdict_of(e);
            summary["status"] = json!("failed");
            summary["error"] = json!(e.to_string());
            (summary, Err(e))
        }
        Ok(report) => {
            tracing::info!(
                files_loaded = report.files_loaded,
                files_unchanged = report.files_unchanged,
                rows = report.rows,
                bad_rows = report.bad_rows,
                "visitor events loaded"
            );
            let refused = report.refused.len();
            summary["status"] = json!(if refused == 0 { "ok" } else { "partial" });
            summary["visitors"] = serde_json::to_value(&report).unwrap_or_default();
            if refused == 0 {
                return (summary, Ok(()));
            }
            let files: Vec<String> = report
                .refused
                .iter()
                .map(|r| format!("{} ({})", r.file, r.reason))
                .collect();
            let message = format!(
                "{refused} visitor file(s) refused, nothing of them loaded (the other files \
                 were): {}. Bad rows are in {} with their line and reason: fix the export or \
                 the [visitors.columns] mapping, or raise [visitors] max_bad_row_ratio",
                files.join("; "),
                report
                    .quarantine
                    .as_deref()
                    .unwrap_or("quarantine/visitor_events/")
            );
            (summary, Err(Error::Partial(message)))
        }
    }
}
