//! `stripelake demo`: `run` against the built-in sandbox account, served in-process on a free
//! loopback port and talked to over HTTP, into a local directory; then the headline figures.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::stage::{Stage, StageReport, Status};
use super::{RunContext, prepare_extract, run_id, run_stages};
use crate::config::{ApiKey, Config, RuntimeConfig};
use crate::error::Error;
use crate::extract::ExtractArgs;
use crate::sandbox::{self, KeySpec, Sandbox};
use crate::storage::Storage;
use crate::visitors::args::LoadVisitorsArgs;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the demo writes its outputs.
    #[arg(long, default_value = "./stripelake-data")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
}

pub async fn demo(args: DemoArgs, runtime: RuntimeConfig) -> Result<(), Error> {
    let account = sandbox::command::AccountArgs {
        seed: args.seed,
        scale: args.scale,
        now: None,
        out: None,
    }
    .gen_config()?;
    let sandbox = Sandbox::start(account, 0, vec![KeySpec::full(sandbox::DEFAULT_TEST_KEY)])
        .await
        .map_err(|e| Error::io("cannot start the sandbox", e))?;
    tracing::info!(url = %sandbox.base_url(), "Sandbox started.");
    let reachable = probe(&sandbox).await?;
    let (expected_path, visitors_path) = write_sandbox_files(&sandbox, &args.out)?;

    let mut cfg = Config {
        runtime,
        ..Config::default()
    };
    cfg.storage.url = storage_url(&args.out);
    cfg.stripe.api_base = sandbox.base_url();
    // The sandbox has no rate limit; Stripe's test-mode pace would only make the demo wait.
    cfg.stripe.max_requests_per_second = Some(500.0);
    cfg.visitors.source = Some(visitors_path.display().to_string());
    let key = ApiKey::new(sandbox::DEFAULT_TEST_KEY);
    let extract = ExtractArgs {
        since: Some("2000-01-01".into()),
        ..ExtractArgs::default()
    };
    let now_ms = cfg.runtime.now_ms();
    let id = run_id(now_ms);
    let (plan, live) = prepare_extract(&cfg, &key, &extract, now_ms, &id)?;
    let ctx = RunContext::open(cfg, now_ms, id).await?;
    let mut reports = run_stages(&ctx, &key, &plan, live, &LoadVisitorsArgs::default()).await;
    shorten_models(&mut reports);
    let headline = headline(&ctx.storage).await;
    let report = write_report(&ctx.storage, &args.out).await;
    tell(
        &args.out,
        &sandbox,
        reachable,
        &reports,
        &headline,
        report.as_ref(),
    );
    let stages_run: Vec<&str> = reports
        .iter()
        .filter(|r| r.status != Status::Skipped)
        .map(|r| r.stage.command())
        .collect();
    let mut extra = Map::new();
    extra.insert(
        "sandbox".into(),
        json!({"url": sandbox.base_url(), "objects": sandbox.with_account(|a| a.store.total_objects()), "resources_reachable": reachable, "requests": sandbox.stats().requests}),
    );
    extra.insert("stages_run".into(), json!(stages_run));
    extra.insert("headline".into(), headline);
    extra.insert(
        "outputs".into(),
        json!([
            args.out.join("raw").display().to_string(),
            args.out.join("marts").display().to_string(),
            expected_path.display().to_string(),
            visitors_path.display().to_string(),
            args.out.join("report.html").display().to_string()
        ]),
    );
    ctx.finish("demo", &reports, extra).await
}

/// The account's expected metrics (the oracle) and its web-analytics export, beside the lake.
fn write_sandbox_files(sandbox: &Sandbox, out: &Path) -> Result<(PathBuf, PathBuf), Error> {
    let dir = out.join("sandbox");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let (expected, csv) =
        sandbox.with_account(|a| (sandbox::oracle::expected(a), sandbox::visitors::csv(a)));
    let expected_path = dir.join("expected_metrics.json");
    let json =
        serde_json::to_vec(&expected).map_err(|e| Error::io("serialising the oracle", e.into()))?;
    std::fs::write(&expected_path, json)
        .map_err(|e| Error::io(format!("cannot write {}", expected_path.display()), e))?;
    let visitors_path = dir.join("visitor_events.csv");
    std::fs::write(&visitors_path, csv)
        .map_err(|e| Error::io(format!("cannot write {}", visitors_path.display()), e))?;
    Ok((expected_path, visitors_path))
}

/// The per-model list is long; the demo shows the count built.
fn shorten_models(reports: &mut [StageReport]) {
    for r in reports.iter_mut().filter(|r| r.stage == Stage::Transform) {
        if let Some(models) = r.detail.remove("models") {
            let list = models.as_array().map(Vec::as_slice).unwrap_or_default();
            let built = list.iter().filter(|m| m["status"] == "ok").count();
            r.detail.insert("models_built".into(), json!(built));
            r.detail.insert("models_total".into(), json!(list.len()));
        }
    }
}

/// What the demo did, for the person who ran it (stderr; stdout keeps the summary).
fn tell(
    out: &Path,
    sandbox: &Sandbox,
    reachable: usize,
    reports: &[StageReport],
    headline: &Value,
    report: Option<&crate::report::page::Report>,
) {
    let objects = sandbox.with_account(|a| a.store.total_objects());
    let detail = |stage: Stage| {
        reports
            .iter()
            .find(|r| r.stage == stage)
            .map(|r| Value::Object(r.detail.clone()))
            .unwrap_or_default()
    };
    eprintln!(
        "demo: sandbox account with {objects} objects served at {}; {reachable} list endpoints answered",
        sandbox.base_url()
    );
    eprintln!(
        "demo: extracted {} rows into {}/raw (Parquet + manifests)",
        detail(Stage::Extract)["totals"]["rows"],
        out.display()
    );
    match report {
        Some(r) => eprintln!(
            "demo: built the models into {}/marts; the report is {}/report.html\n{}",
            out.display(),
            out.display(),
            crate::report::html::kpi_table(r, &crate::report::money::Currencies::from_seed())
                .trim_end()
        ),
        None => eprintln!("demo: built the models into {}/marts", out.display()),
    }
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
        detail(Stage::LoadVisitors)["visitors"]["rows"],
        split.join(", ")
    );
}

/// `report.html` beside the lake; `None` (and a warning) when the marts cannot be read, since
/// the run's own summary already says why.
async fn write_report(storage: &Storage, out: &Path) -> Option<crate::report::page::Report> {
    let built = crate::report::report(storage, None, 12).await;
    let written = built.and_then(|(report, html)| {
        let path = out.join("report.html");
        std::fs::write(&path, html)
            .map(|_| report)
            .map_err(|source| crate::report::ReportError::Write {
                path: path.display().to_string(),
                source,
            })
    });
    match written {
        Ok(report) => Some(report),
        Err(e) => {
            tracing::warn!(error = %e, "The demo could not write its report.");
            None
        }
    }
}

fn storage_url(out: &Path) -> String {
    format!(
        "file://{}",
        std::path::absolute(out)
            .unwrap_or_else(|_| out.to_path_buf())
            .display()
    )
}

/// The 30-day KPI row and the attribution split, read back from the committed marts.
async fn headline(storage: &Storage) -> Value {
    let kpis = "SELECT start_date, end_date, gross_revenue_settlement, net_revenue_settlement, \
                transactions, new_customers, churned_subscriptions, failed_payments, mrr, arr, \
                active_subscriptions, unique_visitors, revenue_per_visitor FROM kpi_summary \
                WHERE range_name = 'last_30_days'";
    let attribution = "SELECT CASE WHEN match_method LIKE 'metadata:%' THEN 'metadata' \
                       ELSE match_method END AS match_method, count(*) AS charges, \
                       sum(gross_settlement) AS gross_settlement FROM revenue_attribution \
                       GROUP BY 1 ORDER BY 1";
    let mut headline = rows(storage, kpis)
        .await
        .into_iter()
        .next()
        .unwrap_or(json!({}));
    headline["attribution"] = json!(rows(storage, attribution).await);
    headline
}

/// The rows of a query over the lake as JSON objects; none when it cannot be read.
async fn rows(storage: &Storage, sql: &str) -> Vec<Value> {
    let Ok(ctx) = crate::transform::open(storage).await else {
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
    serde_json::from_slice::<Vec<Value>>(&writer.into_inner()).unwrap_or_default()
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
