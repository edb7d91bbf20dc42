//! `stripelake bench visitors`: visitor events loaded and attributed at scale. A sandbox account
//! is extracted (CPU-bound, no rate limit); its web-analytics export is padded with browsing
//! visitors to `--events` events; then `load-visitors` and `transform` run as child processes,
//! each measured for wall time and peak RSS. The attribution is checked against the generator's
//! own visitor ↔ charge links, so the figures are for a correct run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::{extract_unthrottled, io, measure_child, serve_account};
use crate::sandbox::{oracle, visitors};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchVisitorsArgs {
    /// Sandbox size of the account whose revenue is attributed (1 ≈ 6k objects).
    #[arg(long, default_value_t = 5.0)]
    pub scale: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Visitor events in the export (the account's own, padded with browsing visitors).
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Where the lake and the export go (default: a temporary directory, removed afterwards).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub async fn run(args: BenchVisitorsArgs) -> std::io::Result<Value> {
    let (sandbox, now, _) = serve_account(args.seed, args.scale).await?;
    let root = args.out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("stripelake-bench-visitors-{}", std::process::id()))
    });
    std::fs::create_dir_all(&root)?;
    let lake_url = format!("file://{}", root.join("lake").display());
    let export = root.join("visitor_events.csv");
    let (events, truth) = {
        let file = std::fs::File::create(&export)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let events = sandbox.with_account(|a| visitors::write_padded(a, &mut w, args.events))?;
        std::io::Write::flush(&mut w)?;
        (events, sandbox.with_account(oracle::expected).attribution)
    };
    let export_mb = std::fs::metadata(&export)?.len() as f64 / 1e6;
    extract_unthrottled(&sandbox, &lake_url, now).await?;
    drop(sandbox);

    let export_text = export.display().to_string();
    let load = measure_child(
        &[
            "load-visitors",
            "--storage",
            &lake_url,
            "--visitors",
            &export_text,
        ],
        now,
    )
    .await?;
    if load.summary["status"] != "ok" {
        return Err(io(format!("load-visitors failed: {}", load.summary)));
    }
    let loaded = load.summary["load_visitors"]["visitors"]["rows"]
        .as_f64()
        .unwrap_or(0.0);
    let transform = measure_child(&["transform", "--storage", &lake_url], now).await?;
    let models = transform.summary["transform"]["models"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let attribution_models: Vec<Value> = models
        .iter()
        .filter(|m| {
            let name = m["model"].as_str().unwrap_or_default();
            name.contains("visitor")
                || name.contains("attribution")
                || name.contains("charge_")
                || name.contains("channel")
                || name.contains("experiment")
        })
        .map(|m| json!({"model": m["model"], "seconds": m["seconds"], "rows": m["rows"], "status": m["status"]}))
        .collect();
    let attribution_seconds: f64 = attribution_models
        .iter()
        .filter_map(|m| m["seconds"].as_f64())
        .sum();
    let check = check_against_truth(&lake_url, &truth).await?;
    if check["equal_to_the_generator"] != true {
        return Err(io(format!(
            "attribution differs from the generator's links: {check}"
        )));
    }
    if args.out.is_none() {
        let _ = std::fs::remove_dir_all(&root);
    }
    Ok(json!({
        "status": transform.summary["status"],
        "sandbox_scale": args.scale,
        "events": events,
        "export_mb": export_mb,
        "events_loaded": loaded,
        "load_wall_seconds": load.wall,
        "load_events_per_second": loaded / load.wall.max(1e-9),
        "load_peak_rss_mb": load.peak_kb as f64 / 1024.0,
        "transform_wall_seconds": transform.wall,
        "transform_peak_rss_mb": transform.peak_kb as f64 / 1024.0,
        "attribution_models_seconds": attribution_seconds,
        "events_attributed_per_second": loaded / attribution_seconds.max(1e-9),
        "attribution_models": attribution_models,
        "oracle": check,
    }))
}

/// The attributed charges against the generator's links: every traceable charge attributed to
/// its visitor, and nothing else attributed.
async fn check_against_truth(
    lake_url: &str,
    truth: &[oracle::AttributedCharge],
) -> std::io::Result<Value> {
    let storage = crate::storage::Storage::open(lake_url, &Default::default()).map_err(io)?;
    let ctx = crate::transform::open(&storage).await.map_err(io)?;
    let batches = ctx
        .sql("SELECT charge_id, visitor_id FROM revenue_attribution WHERE visitor_id IS NOT NULL")
        .await
        .map_err(io)?
        .collect()
        .await
        .map_err(io)?;
    let mut got: BTreeMap<String, String> = BTreeMap::new();
    for b in &batches {
        let text = |i: usize| {
            arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8)
                .map_err(io)
                .map(|a| {
                    let a = a
                        .as_any()
                        .downcast_ref::<arrow::array::StringArray>()
                        .cloned();
                    a.unwrap_or_else(|| arrow::array::StringArray::from(Vec::<&str>::new()))
                })
        };
        let (charges, visitors) = (text(0)?, text(1)?);
        for r in 0..b.num_rows() {
            got.insert(charges.value(r).into(), visitors.value(r).into());
        }
    }
    let want: BTreeMap<String, String> = truth
        .iter()
        .map(|a| (a.charge_id.clone(), a.visitor_id.clone()))
        .collect();
    let exact = got == want;
    Ok(json!({
        "traceable_charges": want.len(),
        "attributed_charges": got.len(),
        "equal_to_the_generator": exact,
    }))
}
