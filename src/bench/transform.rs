//! `stripelake bench transform`: the models over a large lake. A sandbox account is extracted
//! (CPU-bound, no rate limit), then its raw tables are copied into many accounts — the payment
//! tables and the subscription tables by separate factors, so the lake can have 1M balance
//! transactions without millions of subscriptions — and `transform` runs as a child process.
//! The yardstick is one full read of the same input Parquet (every column of every file).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, StringArray};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use super::{extract_unthrottled, io, measure_child, serve_account};
use crate::storage::{Change, Part, Storage, Table};
use crate::stripe::streams::STREAMS;

/// Tables copied `payment_copies` times; everything else is copied `subscription_copies` times.
const PAYMENT_TABLES: &[&str] = &["balance_transactions", "charges", "refunds", "disputes"];

#[derive(Debug, Clone, clap::Args)]
pub struct BenchTransformArgs {
    /// Sandbox size of the account that is copied (1 ≈ 6k objects).
    #[arg(long, default_value_t = 20.0)]
    pub scale: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Copies of balance transactions, charges, refunds and disputes (one account each).
    #[arg(long, default_value_t = 1)]
    pub payment_copies: u32,
    /// Copies of every other table: customers, subscriptions, invoices, events, prices, …
    #[arg(long, default_value_t = 1)]
    pub subscription_copies: u32,
    /// Where the lake goes (default: a temporary directory, removed afterwards).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Reuse the lake a previous run left in `--out` (same scale and copies): only the
    /// transform runs again, e.g. under another memory limit.
    #[arg(long, requires = "out")]
    pub reuse: bool,
    /// The transform's memory budget, passed on as `--memory-limit` (e.g. 1GiB; default: the
    /// transform's own default, half the machine's memory).
    #[arg(long)]
    pub memory_limit: Option<String>,
}

pub async fn run(args: BenchTransformArgs) -> std::io::Result<Value> {
    let (sandbox, now, _) = serve_account(args.seed, args.scale).await?;
    let root = args.out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("stripelake-bench-transform-{}", std::process::id()))
    });
    let base = root.join("extracted");
    let lake = root.join("lake");
    let base_url = format!("file://{}", base.display());
    let input_rows = match args.reuse && lake.join("_manifests").is_dir() {
        true => Value::Null,
        false => {
            extract_unthrottled(&sandbox, &base_url, now).await?;
            let rows = multiply(&base, &lake, &args).await?;
            let _ = std::fs::remove_dir_all(&base);
            rows
        }
    };
    drop(sandbox);
    let (scan_seconds, scan_rows) = full_scan(&lake).await?;

    let lake_url = format!("file://{}", lake.display());
    let mut command = vec!["transform", "--storage", &lake_url];
    if let Some(limit) = &args.memory_limit {
        command.extend(["--memory-limit", limit]);
    }
    let transform = measure_child(&command, now).await?;
    let models = transform.summary["transform"]["models"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rows_of = |name: &str| {
        models
            .iter()
            .find(|m| m["model"] == name)
            .map_or(Value::Null, |m| m["rows"].clone())
    };
    let mut slowest: Vec<&Value> = models.iter().collect();
    slowest.sort_by(|a, b| {
        b["seconds"]
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&a["seconds"].as_f64().unwrap_or(0.0))
    });
    if args.out.is_none() {
        let _ = std::fs::remove_dir_all(&root);
    }
    Ok(json!({
        "status": transform.summary["status"],
        "sandbox_scale": args.scale,
        "payment_copies": args.payment_copies,
        "subscription_copies": args.subscription_copies,
        "input_rows": input_rows,
        "input_rows_total": scan_rows,
        "transform_wall_seconds": transform.wall,
        "transform_cpu_seconds": transform.cpu,
        "transform_peak_rss_mb": transform.peak_kb as f64 / 1024.0,
        "memory_limit": args.memory_limit,
        "spilled_bytes": models.iter().filter_map(|m| m["spilled_bytes"].as_u64()).sum::<u64>(),
        "full_scan_seconds": scan_seconds,
        "ratio_to_full_scan": transform.wall / scan_seconds.max(1e-9),
        "mrr_subscription_daily_rows": rows_of("mrr_subscription_daily"),
        "revenue_daily_rows": rows_of("revenue_daily"),
        "slowest_models": slowest.iter().take(6).map(|m| json!({"model": m["model"], "seconds": m["seconds"], "rows": m["rows"]})).collect::<Vec<_>>(),
    }))
}

/// Copies every raw table of `base` into `lake`, one account per copy.
async fn multiply(
    base: &std::path::Path,
    lake: &std::path::Path,
    args: &BenchTransformArgs,
) -> std::io::Result<Value> {
    let from =
        Storage::open(&format!("file://{}", base.display()), &Default::default()).map_err(io)?;
    let to =
        Storage::open(&format!("file://{}", lake.display()), &Default::default()).map_err(io)?;
    let mut counts = serde_json::Map::new();
    for def in STREAMS {
        let Some(m) = Table::raw(&from, def.name).latest().await.map_err(io)? else {
            continue;
        };
        let copies = if PAYMENT_TABLES.contains(&def.name) {
            args.payment_copies
        } else {
            args.subscription_copies
        };
        let mut batches = Vec::new();
        for f in &m.files {
            let file = std::fs::File::open(base.join(&f.path))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.build())
                .map_err(io)?;
            for batch in reader {
                batches.push(batch.map_err(io)?);
            }
        }
        let Some(schema) = batches.first().map(|b| b.schema()) else {
            continue;
        };
        let account_col = schema.index_of("_account").map_err(io)?;
        let mut rows = 0;
        for c in 0..copies.max(1) {
            let account = format!("acct_bench_{c:04}");
            let table = Table::raw(&to, def.name);
            let mut writer =
                table.writer(Part::Account(&account), "bench", schema.clone(), 256 << 20);
            for b in &batches {
                let mut columns: Vec<ArrayRef> = b.columns().to_vec();
                columns[account_col] =
                    Arc::new(StringArray::from(vec![account.as_str(); b.num_rows()]));
                let copy = RecordBatch::try_new(schema.clone(), columns).map_err(io)?;
                rows += copy.num_rows();
                writer.write(&copy).await.map_err(io)?;
            }
            let files = writer.finish().await.map_err(io)?;
            table
                .commit("bench", &files, Change::Append)
                .await
                .map_err(io)?;
        }
        counts.insert(def.name.into(), json!(rows));
    }
    Ok(Value::Object(counts))
}

/// Decodes every column of every committed raw file once: the cost of reading the input.
async fn full_scan(lake: &std::path::Path) -> std::io::Result<(f64, u64)> {
    let storage =
        Storage::open(&format!("file://{}", lake.display()), &Default::default()).map_err(io)?;
    let mut paths = Vec::new();
    for def in STREAMS {
        if let Some(m) = Table::raw(&storage, def.name).latest().await.map_err(io)? {
            paths.extend(m.files.iter().map(|f| lake.join(&f.path)));
        }
    }
    let started = Instant::now();
    let rows = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut rows = 0;
        for p in paths {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(p)?)
                .and_then(|b| b.build())
                .map_err(io)?;
            for batch in reader {
                rows += batch.map_err(io)?.num_rows() as u64;
            }
        }
        Ok(rows)
    })
    .await
    .map_err(io)??;
    Ok((started.elapsed().as_secs_f64(), rows))
}
