//! `stripelake bench extract`: extraction against the sandbox at Stripe's pace (150 ms pages,
//! 100 req/s) or CPU-bound (no latency, no limit). The extractor runs as a child process so its
//! peak memory is measured apart from the sandbox's.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::sandbox::{DEFAULT_TEST_KEY, GenConfig, KeySpec, Knobs, Sandbox, generate};

pub mod transform;
pub mod visitors;

/// `stripelake bench …`: each prints one JSON report (figures for BENCHMARKS.md).
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Extraction against the sandbox at Stripe's pace, or CPU-bound with --cpu.
    Extract(BenchExtractArgs),
    /// The SQL models over a large lake (copies of a sandbox account), against a full scan.
    Transform(transform::BenchTransformArgs),
    /// Visitor events loaded and attributed (the sandbox's export padded to --events).
    Visitors(visitors::BenchVisitorsArgs),
}

pub async fn run(command: BenchCommand) -> Result<(), crate::error::Error> {
    let (name, report) = match command {
        BenchCommand::Extract(args) => ("extraction", extract(args).await),
        BenchCommand::Transform(args) => ("transform", transform::run(args).await),
        BenchCommand::Visitors(args) => ("visitors", visitors::run(args).await),
    };
    let report = report.map_err(|e| crate::error::Error::io(format!("{name} benchmark"), e))?;
    crate::telemetry::print_summary(&report);
    Ok(())
}

/// Stripe's live read limit and page size: the ceiling any extractor can reach.
pub const STRIPE_REQUESTS_PER_SECOND: f64 = 100.0;
pub const OBJECTS_PER_PAGE: f64 = 100.0;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchExtractArgs {
    /// Sandbox size (1 ≈ 6k objects; 160 ≈ 1M).
    #[arg(long, default_value_t = 20.0)]
    pub scale: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Latency the sandbox adds to every request (Stripe's list pages take ~150 ms).
    #[arg(long, default_value_t = 150)]
    pub latency_ms: u64,
    /// The sandbox's rate limit (Stripe live: 100 req/s); 0 = none.
    #[arg(long, default_value_t = 100.0)]
    pub sandbox_rate: f64,
    /// The extractor's own rate (default: 90 % of Stripe's live limit).
    #[arg(long, default_value_t = 90.0)]
    pub rate: f64,
    /// CPU-bound variant: no latency, no limits, report objects per CPU-second.
    #[arg(long)]
    pub cpu: bool,
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime of a process, in seconds.
fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// One run of this binary as a child: wall time, peak RSS, CPU and its JSON summary.
struct ChildRun {
    wall: f64,
    peak_kb: u64,
    cpu: f64,
    summary: Value,
}

async fn measure_child(args: &[&str], now: i64) -> std::io::Result<ChildRun> {
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .args(args)
        .env("STRIPE_API_KEY", DEFAULT_TEST_KEY)
        .env("STRIPELAKE_NOW", now.to_string())
        .env_remove("STRIPELAKE_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let (mut peak_kb, mut cpu) = (0, 0.0);
    let stdout = child.stdout.take();
    let reader = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut text = String::new();
        if let Some(mut out) = stdout {
            let _ = out.read_to_string(&mut text).await;
        }
        text
    });
    loop {
        if let Some(kb) = proc_status_kb(pid, "VmHWM:") {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(c) = proc_cpu_seconds(pid) {
            cpu = c;
        }
        if child.try_wait()?.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let stdout = reader.await.map_err(std::io::Error::other)?;
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    Ok(ChildRun {
        wall,
        peak_kb,
        cpu,
        summary,
    })
}

/// Extracts the whole served account into `storage` as fast as the machine allows (no rate
/// limit): the lake the transform and visitor benchmarks start from.
async fn extract_unthrottled(sandbox: &Sandbox, storage: &str, now: i64) -> std::io::Result<()> {
    let run = measure_child(
        &[
            "extract",
            "--api-base",
            &sandbox.base_url(),
            "--storage",
            storage,
            "--since",
            "2000-01-01",
            "--max-requests-per-second",
            "100000",
        ],
        now,
    )
    .await?;
    if run.summary["status"] != "ok" {
        return Err(io(format!("extraction failed: {}", run.summary)));
    }
    Ok(())
}

/// A sandbox account generated for today (UTC midnight) and served on a free port: the
/// sandbox, its clock and its object count.
async fn serve_account(seed: u64, scale: f64) -> std::io::Result<(Sandbox, i64, usize)> {
    let now = chrono::Utc::now().timestamp();
    let now = now - now.rem_euclid(86_400);
    let config = GenConfig {
        seed,
        scale,
        now,
        livemode: false,
    };
    let account = tokio::task::spawn_blocking(move || generate::generate(&config))
        .await
        .map_err(std::io::Error::other)?;
    let objects = account.store.total_objects();
    let sandbox = Sandbox::serve(account, 0, vec![KeySpec::full(DEFAULT_TEST_KEY)]).await?;
    Ok((sandbox, now, objects))
}

pub async fn extract(args: BenchExtractArgs) -> std::io::Result<Value> {
    let (sandbox, now, objects) = serve_account(args.seed, args.scale).await?;
    let (latency, limit, rate) = if args.cpu {
        (0, None, 100_000.0)
    } else {
        (
            args.latency_ms,
            (args.sandbox_rate > 0.0).then_some(args.sandbox_rate),
            args.rate,
        )
    };
    sandbox.set_knobs(Knobs {
        latency_ms: latency,
        rate_limit: limit,
        burst: limit,
        ..Knobs::default()
    });
    let dir = std::env::temp_dir().join(format!("stripelake-bench-{}", std::process::id()));
    let storage = format!("file://{}", dir.display());
    let rate_text = rate.to_string();
    let run = measure_child(
        &[
            "extract",
            "--api-base",
            &sandbox.base_url(),
            "--storage",
            &storage,
            "--since",
            "2000-01-01",
            "--max-requests-per-second",
            &rate_text,
        ],
        now,
    )
    .await?;
    let (wall, peak_kb, cpu, summary) = (run.wall, run.peak_kb, run.cpu, run.summary);
    let _ = std::fs::remove_dir_all(&dir);
    let totals = &summary["extract"]["totals"];
    let rows = totals["rows"].as_f64().unwrap_or(0.0);
    let requests = totals["requests"].as_f64().unwrap_or(0.0);
    let per_second = rows / wall;
    let ceiling = STRIPE_REQUESTS_PER_SECOND * OBJECTS_PER_PAGE;
    Ok(json!({
        "variant": if args.cpu { "cpu_bound" } else { "rate_limited" },
        "sandbox_objects": objects,
        "rows_extracted": rows,
        "status": summary["status"],
        "wall_seconds": wall,
        "objects_per_second": per_second,
        "fraction_of_10k_ceiling": per_second / ceiling,
        "requests_per_second": requests / wall,
        "objects_per_request": rows / requests.max(1.0),
        "sandbox_429s": sandbox.stats().rate_limited,
        "client_429s": totals["rate_limited"],
        "retries": totals["retries"],
        "extractor_peak_rss_mb": peak_kb as f64 / 1024.0,
        "extractor_cpu_seconds": cpu,
        "objects_per_cpu_second": rows / cpu.max(1e-9),
        "latency_ms": latency,
        "sandbox_rate_limit": limit,
        "extractor_rate": rate,
        "streams": per_stream(&summary),
    }))
}

/// Rows (with embedded children), requests and seconds per stream: where the requests went.
fn per_stream(summary: &Value) -> Value {
    let streams = summary["extract"]["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["streams"].as_array().into_iter().flatten());
    let mut out = serde_json::Map::new();
    for s in streams {
        let children: f64 = s["child_rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c[1].as_f64())
            .sum();
        let rows = s["rows"].as_f64().unwrap_or(0.0) + children;
        let requests = s["requests"].as_f64().unwrap_or(0.0);
        out.insert(
            s["stream"].as_str().unwrap_or("?").to_string(),
            json!({
                "rows": rows,
                "requests": requests,
                "rows_per_request": rows / requests.max(1.0),
                "seconds": s["duration_seconds"],
            }),
        );
    }
    Value::Object(out)
}
