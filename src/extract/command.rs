//! `stripelake extract`: configuration → key rules → storage → every account → run summary
//! (`_runs/<run_id>.json` and the last stdout line) → an exit code that says what happened.

use std::time::Duration;

use serde_json::json;

use super::{Failure, Plan, StreamOutcome, extract_account};
use crate::config::{self, ApiKey, Config, RelativeDuration};
use crate::error::Error;
use crate::storage::Storage;
use crate::stripe::{ClientConfig, StripeClient, StripeError, streams};

/// Flags of `extract` (and of `run`, which starts with it).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ExtractArgs {
    /// Start of the backfill: a date (2025-01-31), RFC 3339, or relative (12mo, 30d, 1y).
    #[arg(long)]
    pub since: Option<String>,
    /// End of every window (default now), same forms as --since.
    #[arg(long)]
    pub until: Option<String>,
    /// Only these streams (comma-separated); children of a named parent come along.
    #[arg(long, value_delimiter = ',', env = "STRIPELAKE_STREAMS")]
    pub streams: Vec<String>,
    /// Ignore cursors: backfill every selected stream again.
    #[arg(long)]
    pub full_refresh: bool,
    /// Connect accounts (acct_…) to extract, each with its own cursors.
    #[arg(long, value_delimiter = ',', env = "STRIPELAKE_ACCOUNTS")]
    pub accounts: Vec<String>,
    /// Pin another Stripe-Version.
    #[arg(long, env = "STRIPELAKE_STRIPE_VERSION")]
    pub stripe_version: Option<String>,
    /// Request rate ceiling (default: 90 % of the key mode's limit).
    #[arg(long, env = "STRIPELAKE_MAX_RPS")]
    pub max_requests_per_second: Option<f64>,
}

pub fn overrides(
    global_storage: Option<String>,
    global_api_base: Option<String>,
    args: &ExtractArgs,
) -> config::Overrides {
    config::Overrides {
        storage_url: global_storage,
        api_base: global_api_base,
        accounts: (!args.accounts.is_empty()).then(|| args.accounts.clone()),
        streams: (!args.streams.is_empty()).then(|| args.streams.clone()),
        stripe_version: args.stripe_version.clone(),
        max_requests_per_second: args.max_requests_per_second,
        visitors_source: None,
    }
}

/// Restricted keys only; a secret key only when explicitly allowed. Returns whether it is live.
pub fn check_key(key: &ApiKey, cfg: &Config) -> Result<bool, Error> {
    crate::keys::check(key, cfg.stripe.allow_secret_key, &cfg.extract.streams).map_err(Error::Usage)
}

/// `--since`/`--until`: a date, RFC 3339, or a duration back from now.
pub fn parse_time(value: &str, now: i64, flag: &str) -> Result<i64, Error> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp()));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(t.timestamp());
    }
    match config::parse_relative_duration(value) {
        Ok(rel) => Ok(back_from(now, rel)),
        Err(_) => Err(Error::Usage(format!(
            "{flag} `{value}`: expected a date (2025-01-31), RFC 3339 (2025-01-31T12:00:00Z) or a relative duration (30d, 12mo, 1y)"
        ))),
    }
}

fn back_from(now: i64, rel: RelativeDuration) -> i64 {
    let months = |n: u32| {
        chrono::DateTime::from_timestamp(now, 0)
            .and_then(|d| d.checked_sub_months(chrono::Months::new(n)))
            .map_or(now, |d| d.timestamp())
    };
    match rel {
        RelativeDuration::Days(n) => now - n as i64 * 86_400,
        RelativeDuration::Weeks(n) => now - n as i64 * 7 * 86_400,
        RelativeDuration::Months(n) => months(n),
        RelativeDuration::Years(n) => months(12 * n),
    }
}

pub fn new_run_id(now: i64) -> String {
    let stamp = chrono::DateTime::from_timestamp(now, 0).map_or_else(
        || now.to_string(),
        |d| d.format("%Y%m%dT%H%M%SZ").to_string(),
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{stamp}-{:06x}", (nanos ^ std::process::id()) & 0xFF_FFFF)
}

/// Runs the extraction; returns the summary and the error that decides the exit code.
pub async fn run(
    cfg: &Config,
    key: &ApiKey,
    args: &ExtractArgs,
) -> (serde_json::Value, Result<(), Error>) {
    let started = std::time::Instant::now();
    let now = clock();
    let run_id = new_run_id(now);
    let result = run_accounts(cfg, key, args, now, &run_id).await;
    let (accounts, outcome) = match result {
        Ok(accounts) => {
            let verdict = verdict(accounts.iter().flat_map(|(_, o)| o.iter()));
            (accounts, verdict)
        }
        Err(e) => (Vec::new(), Err(e)),
    };
    let summary = json!({
        "command": "extract",
        "run_id": run_id,
        "status": match &outcome { Ok(()) => "ok", Err(Error::Partial(_)) => "partial", Err(_) => "failed" },
        "exit_code": outcome.as_ref().err().map_or(0, Error::exit_code),
        "error": outcome.as_ref().err().map(|e| e.to_string()),
        "duration_seconds": started.elapsed().as_secs_f64(),
        "accounts": accounts.iter().map(|(a, o)| json!({"account": a, "streams": o})).collect::<Vec<_>>(),
        "totals": totals(accounts.iter().flat_map(|(_, o)| o.iter())),
    });
    if let Ok(storage) = Storage::open(&cfg.storage.url, &cfg.storage.options) {
        let body = serde_json::to_vec_pretty(&summary).unwrap_or_default();
        if let Err(e) = storage.put(&format!("_runs/{run_id}.json"), body).await {
            tracing::warn!(error = %e, "Could not write the run summary file.");
        }
    }
    (summary, outcome)
}

/// The client settings of `[stripe]`; the default pace is 90 % of the key mode's limit.
pub fn client_config(cfg: &Config, live: bool) -> ClientConfig {
    let mode_limit = if live { 100.0 } else { 25.0 };
    ClientConfig {
        api_base: cfg.stripe.api_base.clone(),
        stripe_version: cfg.stripe.stripe_version.clone(),
        requests_per_second: cfg
            .stripe
            .max_requests_per_second
            .unwrap_or(mode_limit * 0.9),
        max_in_flight: cfg.stripe.max_in_flight as usize,
        timeout: Duration::from_secs(cfg.stripe.timeout_seconds as u64),
        max_retries: cfg.stripe.max_retries,
        retry_base: retry_base(),
    }
}

async fn run_accounts(
    cfg: &Config,
    key: &ApiKey,
    args: &ExtractArgs,
    now: i64,
    run_id: &str,
) -> Result<Vec<(String, Vec<StreamOutcome>)>, Error> {
    let live = check_key(key, cfg)?;
    let storage = Storage::open(&cfg.storage.url, &cfg.storage.options)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let selected = streams::select(&cfg.extract.streams).map_err(Error::Usage)?;
    let since = match &args.since {
        Some(s) => parse_time(s, now, "--since")?,
        None => back_from(now, cfg.extract.lookback),
    };
    let until = match &args.until {
        Some(s) => parse_time(s, now, "--until")?.min(now),
        None => now,
    };
    if since >= until {
        return Err(Error::Usage(format!(
            "--since must be before --until (got {since} ≥ {until})"
        )));
    }
    let plan = Plan {
        run_id: run_id.into(),
        now,
        since,
        until,
        full_refresh: args.full_refresh,
        overlap: cfg.extract.overlap_seconds as i64,
        event_lag: cfg.extract.event_lag_seconds as i64,
        part_target_bytes: cfg.extract.part_target_mb as usize * 1024 * 1024,
        stripe_version: cfg.stripe.stripe_version.clone(),
        streams: selected,
        // A slice between requests (decoding, writing, waiting on its sub-lists) holds no request
        // slot: a quarter more slices than slots keep the slots busy.
        budget: super::SliceBudget::new(cfg.stripe.max_in_flight as usize * 5 / 4),
    };
    let client_config = client_config(cfg, live);
    let accounts: Vec<Option<String>> = if cfg.stripe.accounts.is_empty() {
        vec![None]
    } else {
        cfg.stripe.accounts.iter().cloned().map(Some).collect()
    };
    let mut results = Vec::new();
    for account in accounts {
        let client = StripeClient::new(client_config.clone(), key, account.clone())
            .map_err(|e| Error::Usage(e.to_string()))?;
        let progress = Progress::start(&client, account.as_deref().unwrap_or("the key's account"));
        let outcomes = extract_account(&storage, &client, &plan).await;
        progress.finish();
        let outcomes = outcomes.map_err(|e| match e {
            StripeError::Auth { message, .. } => Error::Auth(message),
            other => Error::Transient(other.to_string()),
        })?;
        for o in &outcomes {
            match &o.failure {
                None => {
                    tracing::info!(stream = %o.stream, mode = %o.mode, rows = o.counts.rows, pages = o.counts.pages, retries = o.counts.retries, "Stream committed.")
                }
                Some(f) => tracing::error!(stream = %o.stream, failure = %f, "Stream failed."),
            }
        }
        results.push((account.unwrap_or_else(|| "self".into()), outcomes));
    }
    Ok(results)
}

/// A live line on a terminal (requests, current rate, 429s); nothing when stderr is not a TTY,
/// so Airflow logs stay plain.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    fn start(client: &StripeClient, account: &str) -> Progress {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() || std::env::var_os("STRIPELAKE_NO_PROGRESS").is_some()
        {
            return Progress {
                bar: None,
                ticker: None,
            };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} extracting {prefix}: {msg} [{elapsed}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_prefix(account.to_string());
        let (b, c) = (bar.clone(), client.clone());
        let ticker = tokio::spawn(async move {
            loop {
                let (requests, retries, limited) = c.stats.snapshot();
                b.set_message(format!(
                    "{requests} requests, {retries} retries, {limited} × 429, pacing {:.0} req/s",
                    c.current_rate()
                ));
                b.tick();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Progress {
            bar: Some(bar),
            ticker: Some(ticker),
        }
    }

    fn finish(self) {
        if let Some(t) = self.ticker {
            t.abort();
        }
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// The run's clock: now, or `STRIPELAKE_NOW` (Unix seconds) so tests and replays can pin it.
fn clock() -> i64 {
    std::env::var("STRIPELAKE_NOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp())
}

/// First retry delay; tests shorten it through `STRIPELAKE_RETRY_BASE_MS`.
fn retry_base() -> Duration {
    let ms = std::env::var("STRIPELAKE_RETRY_BASE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    Duration::from_millis(ms)
}

/// All streams ok → 0; only missing permissions → 4; only transient → 5; otherwise partial (1).
fn verdict<'a>(outcomes: impl Iterator<Item = &'a StreamOutcome>) -> Result<(), Error> {
    let failures: Vec<(&str, &Failure)> = outcomes
        .filter_map(|o| o.failure.as_ref().map(|f| (o.stream.as_str(), f)))
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    let listing = failures
        .iter()
        .map(|(s, f)| format!("{s}: {f}"))
        .collect::<Vec<_>>()
        .join("; ");
    if failures
        .iter()
        .all(|(_, f)| matches!(f, Failure::Permission(_)))
    {
        Err(Error::Permission(listing))
    } else if failures
        .iter()
        .all(|(_, f)| matches!(f, Failure::Transient(_)))
    {
        Err(Error::Transient(listing))
    } else {
        Err(Error::Partial(listing))
    }
}

fn totals<'a>(outcomes: impl Iterator<Item = &'a StreamOutcome>) -> serde_json::Value {
    let (mut rows, mut requests, mut retries, mut limited, mut failed) = (0, 0, 0, 0, 0);
    for o in outcomes {
        rows += o.counts.rows + o.counts.child_rows.iter().map(|(_, n)| n).sum::<u64>();
        requests += o.counts.requests;
        retries += o.counts.retries;
        limited += o.counts.rate_limited;
        failed += o.failure.is_some() as u64;
    }
    json!({"rows": rows, "requests": requests, "retries": retries, "rate_limited": limited, "failed_streams": failed})
}
