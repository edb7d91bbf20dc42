//! `pipeline.toml` + flags + environment → one validated [`Config`].
//!
//! Why a hand-written walk over `toml::de::DeTable` instead of `#[serde(deny_unknown_fields)]`:
//! serde stops at the first error, and fixing a config one error per run is what we want to spare
//! users (DESIGN.md §2: all problems at once, exit 2). The spanned table keeps every value's
//! position, so each [`ConfigProblem`] names the file, line and full key and says what to do.
//! Flags and environment variables arrive merged by clap as [`Overrides`] (precedence: flags >
//! environment > file > defaults) and are validated with the same rules.
//!
//! The API key is never read from the file: [`resolve_api_key`] reads the environment variable or
//! key file the config names, and [`ApiKey`] never prints more than its prefix.

mod api_key;
mod read;
mod rules;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use api_key::{ApiKey, KeyKind, redact_secrets, resolve_api_key};
pub use rules::{is_loopback_http_allowed, parse_relative_duration};

use rules::{ACCOUNT, API_BASE, RPS_WANT, Rule, SOURCE, STORAGE_URL, STREAM, VERSION};

/// Our visitor-event columns; `[visitors.columns]` maps them to the file's columns.
pub const VISITOR_COLUMNS: &[&str] = &[
    "visitor_id",
    "timestamp",
    "session_id",
    "email",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "landing_page",
    "country",
    "device",
    "browser",
    "site_id",
    "experiment",
    "variant",
];

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// The file it was read from; `None` when only defaults and overrides were used.
    pub source: Option<PathBuf>,
    pub stripe: StripeConfig,
    pub extract: ExtractConfig,
    pub storage: StorageConfig,
    pub transform: TransformConfig,
    pub visitors: VisitorsConfig,
    pub run: RunConfig,
    /// Set by global flags only, never by the file.
    pub runtime: RuntimeConfig,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StripeConfig {
    pub api_key_env: String,
    pub api_key_file: Option<PathBuf>,
    pub api_base: String,
    pub stripe_version: String,
    pub accounts: Vec<String>,
    /// The key's own account id, for keys Stripe refuses `/v1/account` (checked against what
    /// Stripe says when both are known).
    pub account_id: Option<String>,
    pub allow_secret_key: bool,
    /// `None`: 90 % of the key's mode limit, decided by the client.
    pub max_requests_per_second: Option<f64>,
    pub max_in_flight: u32,
    pub timeout_seconds: u32,
    pub max_retries: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExtractConfig {
    pub lookback: RelativeDuration,
    pub streams: Vec<String>,
    pub overlap_seconds: u32,
    pub event_lag_seconds: u32,
    pub part_target_mb: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    pub url: String,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransformConfig {
    pub report_timezone: String,
    pub settlement_currency: Option<String>,
    pub discount_mode: DiscountMode,
    pub churn_recognition: ChurnRecognition,
    pub kpi_windows_days: Vec<u32>,
    /// One more KPI range with fixed dates, besides the windows.
    pub kpi_range: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    pub models: Vec<String>,
    /// The models' memory budget in bytes (sorts, aggregations and joins spill past it); `None`
    /// = half of this machine's memory.
    pub memory_limit: Option<u64>,
    /// A local directory for the run's intermediate tables and spill files; `None` = the
    /// lake's `_work/` (spill files: beside it on a local lake, else the system's temporary
    /// directory).
    pub work_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VisitorsConfig {
    pub source: Option<String>,
    pub format: VisitorFormat,
    pub preset: VisitorPreset,
    pub max_bad_row_ratio: f64,
    pub metadata_keys: Vec<String>,
    pub session_timeout_minutes: u32,
    /// Our column name → the file's column name.
    pub columns: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunConfig {
    pub exit_99_when_nothing_to_do: bool,
}

/// How this process runs, from global flags (and their environment variables) only: tests and
/// replays pin the clock and shorten the retry delay; Airflow turns the progress line off.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeConfig {
    /// The run's clock (Unix seconds): `--now` / `STRIPELAKE_NOW`; `None` = the real time.
    pub now: Option<i64>,
    /// First retry delay: `--retry-base-ms` / `STRIPELAKE_RETRY_BASE_MS` (default 500).
    pub retry_base_ms: u64,
    /// The terminal progress line (`--no-progress` / `STRIPELAKE_NO_PROGRESS` turn it off).
    pub progress: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            now: None,
            retry_base_ms: 500,
            progress: true,
        }
    }
}

impl RuntimeConfig {
    /// The run's clock in milliseconds: `--now` (whole seconds) when pinned, else the real
    /// time, so two runs in one second still stamp their rows apart.
    pub fn now_ms(&self) -> i64 {
        match self.now {
            Some(seconds) => seconds.saturating_mul(1000),
            None => chrono::Utc::now().timestamp_millis(),
        }
    }
}

impl Default for StripeConfig {
    fn default() -> Self {
        Self {
            api_key_env: "STRIPE_API_KEY".into(),
            api_key_file: None,
            api_base: "https://api.stripe.com".into(),
            stripe_version: "2026-07-29.dahlia".into(),
            accounts: Vec::new(),
            account_id: None,
            allow_secret_key: false,
            max_requests_per_second: None,
            max_in_flight: 24,
            timeout_seconds: 30,
            max_retries: 8,
        }
    }
}

impl Default for ExtractConfig {
    fn default() -> Self {
        Self {
            lookback: RelativeDuration::Months(12),
            streams: Vec::new(),
            overlap_seconds: 600,
            event_lag_seconds: 60,
            part_target_mb: 128,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            url: "file://./stripelake-data".into(),
            options: BTreeMap::new(),
        }
    }
}

impl Default for TransformConfig {
    fn default() -> Self {
        Self {
            report_timezone: "UTC".into(),
            settlement_currency: None,
            discount_mode: DiscountMode::default(),
            churn_recognition: ChurnRecognition::default(),
            kpi_windows_days: vec![7, 30],
            kpi_range: None,
            models: Vec::new(),
            memory_limit: None,
            work_dir: None,
        }
    }
}

impl Default for VisitorsConfig {
    fn default() -> Self {
        Self {
            source: None,
            format: VisitorFormat::default(),
            preset: VisitorPreset::default(),
            max_bad_row_ratio: 0.01,
            metadata_keys: vec!["visitor_id".into()],
            session_timeout_minutes: 30,
            columns: BTreeMap::new(),
        }
    }
}

/// A closed set of spellings in pipeline.toml.
trait Choice: Sized {
    const NAMES: &'static [&'static str];
    fn from_name(name: &str) -> Option<Self>;
}

macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($var:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        /// The first variant is the default.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($var),+ }
        impl $name {
            /// The spelling used in pipeline.toml.
            pub fn as_str(self) -> &'static str { match self { $(Self::$var => $text),+ } }
        }
        impl Default for $name {
            fn default() -> Self { [$(Self::$var),+][0] }
        }
        impl Choice for $name {
            const NAMES: &'static [&'static str] = &[$($text),+];
            fn from_name(name: &str) -> Option<Self> {
                match name { $($text => Some(Self::$var),)+ _ => None }
            }
        }
    };
}

choice!(
    /// Which coupons reduce MRR (METRICS.md).
    DiscountMode { ForeverOnly => "forever_only", AllActive => "all_active" }
);
choice!(
    /// When a cancelled subscription stops counting as MRR.
    ChurnRecognition { AtEnd => "at_end", AtRequest => "at_request" }
);
choice!(VisitorFormat { Auto => "auto", Csv => "csv", Ndjson => "ndjson", Parquet => "parquet" });
choice!(VisitorPreset {
    Custom => "custom", Sandbox => "sandbox", Plausible => "plausible", Posthog => "posthog",
});

/// A lookback such as `12mo`, also used by `--since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativeDuration {
    Days(u32),
    Weeks(u32),
    Months(u32),
    Years(u32),
}

impl fmt::Display for RelativeDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days(n) => write!(f, "{n}d"),
            Self::Weeks(n) => write!(f, "{n}w"),
            Self::Months(n) => write!(f, "{n}mo"),
            Self::Years(n) => write!(f, "{n}y"),
        }
    }
}

/// Overrides from flags and environment variables, already merged by clap.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub storage_url: Option<String>,
    pub api_base: Option<String>,
    pub accounts: Option<Vec<String>>,
    pub streams: Option<Vec<String>>,
    pub stripe_version: Option<String>,
    pub max_requests_per_second: Option<f64>,
    pub visitors_source: Option<String>,
}

const FLAG_STORAGE: &str = "--storage / STRIPELAKE_STORAGE";
const FLAG_API_BASE: &str = "--api-base / STRIPELAKE_API_BASE";
const FLAG_ACCOUNTS: &str = "--accounts / STRIPELAKE_ACCOUNTS";
const FLAG_STREAMS: &str = "--streams / STRIPELAKE_STREAMS";
const FLAG_VERSION: &str = "--stripe-version / STRIPELAKE_STRIPE_VERSION";
const FLAG_RPS: &str = "--max-requests-per-second / STRIPELAKE_MAX_RPS";
const FLAG_VISITORS: &str = "--visitors / STRIPELAKE_VISITORS";

/// One thing wrong with the configuration. `key` is a dotted key (`stripe.max_in_flight`) or,
/// for overrides, the flag and its environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(self))]
pub struct ConfigProblem {
    pub file: Option<String>,
    pub line: Option<usize>,
    /// Only for TOML syntax errors.
    pub column: Option<usize>,
    pub key: String,
    pub message: String,
}

impl ConfigProblem {
    fn unplaced(key: &str, message: impl Into<String>) -> Self {
        Self {
            file: None,
            line: None,
            column: None,
            key: key.into(),
            message: message.into(),
        }
    }
}

fn render(p: &ConfigProblem) -> String {
    let mut out = String::new();
    if let Some(file) = &p.file {
        out.push_str(file);
        for n in [p.line, p.column].into_iter().flatten() {
            out.push_str(&format!(":{n}"));
        }
        out.push_str(": ");
    }
    if !p.key.is_empty() {
        out.push_str(&p.key);
        out.push_str(": ");
    }
    out + &p.message
}

/// Every problem found, in file order, then those from overrides.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_all(&self.0))]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

fn render_all(problems: &[ConfigProblem]) -> String {
    let n = problems.len();
    let mut out = format!(
        "{n} problem{} in the configuration:",
        if n == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push('\n');
        out.push_str(&render(p));
    }
    out
}

/// Reads `path` (if given), applies `overrides`, and validates everything. `None` means no file:
/// defaults and overrides only (the CLI decides whether `./pipeline.toml` is used).
pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigErrors> {
    let Some(path) = path else {
        return build(None, overrides);
    };
    let label = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => build(Some((&text, &label)), overrides).map(|config| Config {
            source: Some(path.to_path_buf()),
            ..config
        }),
        Err(e) => {
            let message = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "file not found: check the --config path, or omit --config to run on the \
                     defaults"
                        .to_string()
                }
                _ => format!("cannot read the file: {e}: check that it is a readable text file"),
            };
            let first = ConfigProblem {
                file: Some(label),
                ..ConfigProblem::unplaced("", message)
            };
            let rest = build(None, overrides)
                .err()
                .map(|e| e.0)
                .unwrap_or_default();
            Err(ConfigErrors([vec![first], rest].concat()))
        }
    }
}

/// Like [`load`], for a file already in memory; `file_label` names it in problems.
pub fn parse_str(
    text: &str,
    file_label: &str,
    overrides: &Overrides,
) -> Result<Config, ConfigErrors> {
    build(Some((text, file_label)), overrides)
}

fn build(file: Option<(&str, &str)>, overrides: &Overrides) -> Result<Config, ConfigErrors> {
    let mut config = Config::default();
    let mut reader = read::Ctx::new(file);
    if let Some((_, label)) = file {
        config.source = Some(PathBuf::from(label));
        reader.read_document(&mut config);
    }
    let from_flags = apply_overrides(overrides, &mut config);
    let problems: Vec<_> = reader
        .into_problems()
        .into_iter()
        .chain(from_flags)
        .collect();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(problems))
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

fn apply_overrides(o: &Overrides, c: &mut Config) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    let url = flag(
        &mut out,
        FLAG_STORAGE,
        o.storage_url.as_deref(),
        &STORAGE_URL,
    );
    set(&mut c.storage.url, url);
    let base = flag(&mut out, FLAG_API_BASE, o.api_base.as_deref(), &API_BASE);
    set(&mut c.stripe.api_base, base);
    let accounts = flag_list(&mut out, FLAG_ACCOUNTS, o.accounts.as_deref(), &ACCOUNT);
    set(&mut c.stripe.accounts, accounts);
    let streams = flag_list(&mut out, FLAG_STREAMS, o.streams.as_deref(), &STREAM);
    set(&mut c.extract.streams, streams);
    let version = flag(
        &mut out,
        FLAG_VERSION,
        o.stripe_version.as_deref(),
        &VERSION,
    );
    set(&mut c.stripe.stripe_version, version);
    let source = flag(
        &mut out,
        FLAG_VISITORS,
        o.visitors_source.as_deref(),
        &SOURCE,
    );
    set(&mut c.visitors.source, source.map(Some));
    match o.max_requests_per_second {
        Some(x) if x.is_finite() && x > 0.0 => c.stripe.max_requests_per_second = Some(x),
        Some(x) => out.push(ConfigProblem::unplaced(
            FLAG_RPS,
            format!("must be {RPS_WANT}, got {x}"),
        )),
        None => {}
    }
    out
}

/// Checks one override value; a bad one is reported under the flag's label.
fn flag(
    out: &mut Vec<ConfigProblem>,
    label: &str,
    value: Option<&str>,
    rule: &Rule,
) -> Option<String> {
    let checked = rule.check(value?.trim());
    checked
        .map_err(|m| out.push(ConfigProblem::unplaced(label, m)))
        .ok()
}

/// Checks every element of a list override; `None` if any is bad.
fn flag_list(
    out: &mut Vec<ConfigProblem>,
    label: &str,
    values: Option<&[String]>,
    rule: &Rule,
) -> Option<Vec<String>> {
    let checked: Vec<_> = values?
        .iter()
        .map(|v| flag(out, label, Some(v), rule))
        .collect();
    checked.into_iter().collect()
}

#[cfg(test)]
mod tests;

/// `2GiB`, `512MiB`, `1.5GB`, `800mb` or bytes: a byte count of at least 1 MiB.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bad = || format!("`{text}`: expected a size like 2GiB, 512MiB or 1.5GB");
    let n: f64 = number.parse().map_err(|_| bad())?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kib" | "k" => 1024.0,
        "mib" | "m" => 1024.0 * 1024.0,
        "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        "tib" | "t" => 1024f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return Err(bad()),
    };
    let bytes = n * scale;
    if !bytes.is_finite() || !(1024.0 * 1024.0..=1e15).contains(&bytes) {
        return Err(format!("`{text}`: must be between 1MiB and 1PB"));
    }
    Ok(bytes as u64)
}

/// Half of the memory this process may use — the machine's (`/proc/meminfo`), or its
/// container's cgroup limit when lower (an Airflow worker pod) — or 2 GiB where neither can be
/// read: the default budget of the models.
pub fn default_memory_limit() -> u64 {
    let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    });
    // cgroup v2, then v1; "max" or a huge v1 sentinel mean no limit.
    let container = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|f| std::fs::read_to_string(f).ok()?.trim().parse::<u64>().ok())
    .filter(|&bytes| bytes < 1 << 60);
    match (machine, container) {
        (Some(m), Some(c)) => m.min(c) / 2,
        (Some(b), None) | (None, Some(b)) => b / 2,
        (None, None) => 2 << 30,
    }
}

/// `START..END` as `YYYY-MM-DD..YYYY-MM-DD` (inclusive), for `kpi_range` and `--kpi-range`.
pub fn parse_date_range(text: &str) -> Result<(chrono::NaiveDate, chrono::NaiveDate), String> {
    let bad = || format!("`{text}`: expected START..END as YYYY-MM-DD..YYYY-MM-DD");
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| bad());
    let (start, end) = (day(a)?, day(b)?);
    if start > end {
        return Err(format!("`{text}`: the range ends before it starts"));
    }
    Ok((start, end))
}
