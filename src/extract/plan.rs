//! What one extraction is asked to do — its flags, checked before anything is written — and how
//! each stream is brought up to date ([`SyncPlan`]).

use serde::Serialize;
use serde_json::Value;

use super::list::{Slice, SliceBudget};
use crate::config::{self, Config, RelativeDuration};
use crate::stripe::streams::{self, StreamDef};

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

impl ExtractArgs {
    /// The flags that override `pipeline.toml` (validated by the config loader).
    pub fn overrides(
        &self,
        storage: Option<String>,
        api_base: Option<String>,
    ) -> config::Overrides {
        config::Overrides {
            storage_url: storage,
            api_base,
            accounts: (!self.accounts.is_empty()).then(|| self.accounts.clone()),
            streams: (!self.streams.is_empty()).then(|| self.streams.clone()),
            stripe_version: self.stripe_version.clone(),
            max_requests_per_second: self.max_requests_per_second,
            visitors_source: None,
        }
    }
}

/// What one extraction run is asked to do.
#[derive(Clone, Debug)]
pub struct Plan {
    pub run_id: String,
    /// The run's clock, Unix seconds (windows and cursors).
    pub now: i64,
    /// The same clock in milliseconds: each row's `_extracted_at`.
    pub now_ms: i64,
    /// Lower bound of a backfill (lookback or `--since`).
    pub since: i64,
    /// Upper bound of every window (`--until`, default now).
    pub until: i64,
    pub full_refresh: bool,
    pub overlap: i64,
    pub event_lag: i64,
    pub part_target_bytes: usize,
    pub stripe_version: String,
    /// `[stripe] account_id`: the key's own account, when Stripe will not say.
    pub account_id: Option<String>,
    pub streams: Vec<&'static StreamDef>,
    /// Slices in flight across the account's streams (the request slots).
    pub budget: std::sync::Arc<SliceBudget>,
}

impl Plan {
    /// The plan of `args` over `cfg`, or what is wrong with the flags (a usage error: nothing
    /// has been requested or written yet).
    pub fn new(
        cfg: &Config,
        args: &ExtractArgs,
        now_ms: i64,
        run_id: &str,
    ) -> Result<Plan, String> {
        let now = now_ms.div_euclid(1000);
        let streams = streams::select(&cfg.extract.streams)?;
        let since = match &args.since {
            Some(s) => parse_time(s, now, "--since")?,
            None => back_from(now, cfg.extract.lookback),
        };
        let until = match &args.until {
            Some(s) => parse_time(s, now, "--until")?.min(now),
            None => now,
        };
        if since >= until {
            return Err(format!(
                "--since must be before --until (got {since} ≥ {until})"
            ));
        }
        Ok(Plan {
            run_id: run_id.into(),
            now,
            now_ms,
            since,
            until,
            full_refresh: args.full_refresh,
            overlap: cfg.extract.overlap_seconds as i64,
            event_lag: cfg.extract.event_lag_seconds as i64,
            part_target_bytes: cfg.extract.part_target_mb as usize * 1024 * 1024,
            stripe_version: cfg.stripe.stripe_version.clone(),
            account_id: cfg.stripe.account_id.clone(),
            streams,
            // A slice between requests (decoding, writing, waiting on its sub-lists) holds no
            // request slot: a quarter more slices than slots keep the slots busy.
            budget: SliceBudget::new(cfg.stripe.max_in_flight as usize * 5 / 4),
        })
    }
}

/// How a stream is brought up to date this run.
#[derive(Clone, Debug)]
pub enum SyncPlan {
    /// Everything created in the slices; `reason` says why when a cursor existed.
    Backfill {
        slices: Vec<Slice>,
        reason: Option<String>,
    },
    /// New objects in the slices, then the objects events named (id → the event's snapshot).
    Incremental {
        slices: Vec<Slice>,
        changed: Vec<(String, Value)>,
    },
    /// The whole list again, replacing the account's rows.
    FullRefresh,
    /// After a backfill: the objects its events say were deleted, fetched again; only those
    /// Stripe confirms gone are written (as tombstones).
    Deletions { changed: Vec<(String, Value)> },
    /// One object, appended.
    Snapshot,
}

/// The mode a stream ran in, as the run summary shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    Backfill,
    Incremental,
    FullRefresh,
    Snapshot,
    /// The stream failed before a mode was chosen.
    None,
}

impl SyncPlan {
    pub fn mode(&self) -> SyncMode {
        match self {
            SyncPlan::Backfill { .. } => SyncMode::Backfill,
            SyncPlan::Incremental { .. } | SyncPlan::Deletions { .. } => SyncMode::Incremental,
            SyncPlan::FullRefresh => SyncMode::FullRefresh,
            SyncPlan::Snapshot => SyncMode::Snapshot,
        }
    }

    pub fn reason(&self) -> Option<String> {
        match self {
            SyncPlan::Backfill { reason, .. } => reason.clone(),
            _ => None,
        }
    }

    /// Where the slices start: the lower bound of the history a backfill covered.
    pub fn first_slice_start(&self) -> Option<i64> {
        match self {
            SyncPlan::Backfill { slices, .. } | SyncPlan::Incremental { slices, .. } => {
                slices.first().and_then(|s| s.range).map(|r| r.0)
            }
            _ => None,
        }
    }
}

/// `--since`/`--until`: a date, RFC 3339, or a duration back from now.
pub fn parse_time(value: &str, now: i64, flag: &str) -> Result<i64, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp()));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(t.timestamp());
    }
    let looks_relative = value.starts_with(|c: char| c.is_ascii_digit())
        && ["d", "w", "mo", "y"].iter().any(|u| value.ends_with(u));
    match config::parse_relative_duration(value) {
        Ok(rel) => Ok(back_from(now, rel)),
        Err(why) if looks_relative => Err(format!("{flag} {why}")),
        Err(_) => Err(format!(
            "{flag} `{value}`: expected a date (2025-01-31), RFC 3339 (2025-01-31T12:00:00Z) or a relative duration (30d, 12mo, 1y)"
        )),
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
