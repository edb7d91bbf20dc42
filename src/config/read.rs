//! The walk over the spanned TOML table: every value is checked where it stands, and every
//! problem is kept with its byte offset so they can be reported in file order.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::rules::*;
use super::*;

type Val<'i> = Spanned<DeValue<'i>>;

const SECRET_IN_FILE: &str = "secrets are never read from pipeline.toml: put the key in the \
    environment variable named by [stripe] api_key_env (default STRIPE_API_KEY) or in a key file \
    ([stripe] api_key_file)";
const SECRET_OPTION: &str = "secrets are never read from pipeline.toml: set AWS_SECRET_ACCESS_KEY \
    (or the store's standard environment variable) instead";
const SECRET_WORDS: &[&str] = &[
    "secret",
    "password",
    "token",
    "access_key",
    "account_key",
    "sas",
];
const SECTIONS: &[&str] = &[
    "stripe",
    "extract",
    "storage",
    "transform",
    "visitors",
    "run",
];
const BIG: i64 = u32::MAX as i64;

/// Collects problems with their byte offset, so they can be reported in file order.
pub(super) struct Ctx<'t> {
    text: &'t str,
    file: Option<String>,
    found: Vec<(usize, ConfigProblem)>,
}

impl<'t> Ctx<'t> {
    /// `file` is the text and its label; `None` when there is no file.
    pub(super) fn new(file: Option<(&'t str, &str)>) -> Self {
        let (text, file) = file.map_or(("", None), |(t, l)| (t, Some(l.to_string())));
        Self {
            text,
            file,
            found: Vec::new(),
        }
    }

    /// The problems in file order (those without a position last).
    pub(super) fn into_problems(mut self) -> Vec<ConfigProblem> {
        self.found.sort_by_key(|(at, _)| *at);
        self.found.into_iter().map(|(_, p)| p).collect()
    }

    pub(super) fn read_document(&mut self, config: &mut Config) {
        read_document(self, config)
    }

    fn report(&mut self, at: usize, key: &str, message: impl Into<String>) {
        let before = self.text.get(..at).unwrap_or(self.text);
        let line = self.file.as_ref().map(|_| before.matches('\n').count() + 1);
        let file = self.file.clone();
        let problem = ConfigProblem {
            file,
            line,
            ..ConfigProblem::unplaced(key, message)
        };
        self.found.push((at, problem));
    }

    fn wrong(&mut self, key: &str, v: &Val<'_>, want: &str) {
        self.report(
            v.span().start,
            key,
            format!("must be {want}, got {}", describe(v.get_ref())),
        );
    }

    /// Reports `err` unless it is on `skip_line`; returns the line it is on.
    fn syntax_error(&mut self, err: &toml::de::Error, skip_line: Option<usize>) -> Option<usize> {
        let at = err.span().map_or(0, |s| s.start);
        let before = self.text.get(..at).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        if skip_line == Some(line) {
            return None;
        }
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let message = format!(
            "invalid TOML: {}: fix the syntax here",
            err.message().trim()
        );
        self.report(at, "", message);
        if let Some((_, p)) = self.found.last_mut() {
            p.column = Some(column);
        }
        Some(line)
    }
}

fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => shown(s),
        DeValue::Integer(i) => i.to_string(),
        DeValue::Float(x) => x.as_str().to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(_) => "a list".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

fn read_document(cx: &mut Ctx<'_>, config: &mut Config) {
    let (root, errors) = DeTable::parse_recoverable(cx.text);
    if !errors.is_empty() {
        // Recovery often adds follow-on errors on the same line: keep the first of each line.
        let mut last_line = None;
        for e in &errors {
            let line = cx.syntax_error(e, last_line);
            last_line = line.or(last_line);
        }
        return;
    }
    scan_api_key(cx, "", root.get_ref());
    for (k, v) in root.get_ref() {
        let name: &str = k.get_ref();
        match (name, v.get_ref()) {
            ("api_key", _) => {}
            ("stripe", DeValue::Table(t)) => read_stripe(cx, t, &mut config.stripe),
            ("extract", DeValue::Table(t)) => read_extract(cx, t, &mut config.extract),
            ("storage", DeValue::Table(t)) => read_storage(cx, t, &mut config.storage),
            ("transform", DeValue::Table(t)) => read_transform(cx, t, &mut config.transform),
            ("visitors", DeValue::Table(t)) => read_visitors(cx, t, &mut config.visitors),
            ("run", DeValue::Table(t)) => read_run(cx, t, &mut config.run),
            _ if SECTIONS.contains(&name) => {
                cx.wrong(name, v, &format!("a table (a [{name}] section)"))
            }
            _ => unknown_section(cx, name, k.span().start),
        }
    }
}

fn unknown_section(cx: &mut Ctx<'_>, name: &str, at: usize) {
    let all = SECTIONS
        .iter()
        .map(|s| format!("[{s}]"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = match suggest(name, SECTIONS) {
        Some(s) => format!("unknown section: did you mean [{s}]?"),
        None => format!("unknown section: remove it (known sections: {all})"),
    };
    cx.report(at, name, message);
}

/// `api_key` is refused wherever it appears, even inside unknown sections.
fn scan_api_key(cx: &mut Ctx<'_>, path: &str, t: &DeTable<'_>) {
    for (k, v) in t {
        let key = if path.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{path}.{}", k.get_ref())
        };
        if k.get_ref() == "api_key" {
            cx.report(k.span().start, &key, SECRET_IN_FILE);
        }
        let tables = match v.get_ref() {
            DeValue::Table(t) => vec![t],
            DeValue::Array(a) => a.iter().filter_map(|e| e.get_ref().as_table()).collect(),
            _ => Vec::new(),
        };
        tables.into_iter().for_each(|t| scan_api_key(cx, &key, t));
    }
}

/// The known entries of a section, as (name, full key, value); reports the unknown ones.
fn entries<'a, 'i>(
    cx: &mut Ctx<'_>,
    section: &str,
    known: &[&str],
    t: &'a DeTable<'i>,
) -> Vec<(&'a str, String, &'a Val<'i>)> {
    let mut out = Vec::new();
    for (k, v) in t {
        let name: &'a str = k.get_ref();
        let key = format!("{section}.{name}");
        if known.contains(&name) {
            out.push((name, key, v));
        } else if name != "api_key" {
            let message = match suggest(name, known) {
                Some(s) => format!("unknown key: did you mean `{s}`?"),
                None => format!(
                    "unknown key: remove it (known keys in [{section}]: {})",
                    known.join(", ")
                ),
            };
            cx.report(k.span().start, &key, message);
        }
    }
    out
}

fn string<'v>(cx: &mut Ctx<'_>, key: &str, v: &'v Val<'_>, want: &str) -> Option<&'v str> {
    match v.get_ref() {
        DeValue::String(s) => Some(s),
        _ => {
            cx.wrong(key, v, want);
            None
        }
    }
}

fn checked(cx: &mut Ctx<'_>, key: &str, v: &Val<'_>, rule: &Rule) -> Option<String> {
    let s = string(cx, key, v, rule.want)?;
    rule.check(s)
        .map_err(|m| cx.report(v.span().start, key, m))
        .ok()
}

fn int<T: TryFrom<i64>>(cx: &mut Ctx<'_>, key: &str, v: &Val<'_>, lo: i64, hi: i64) -> Option<T> {
    let n = match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    };
    let n = n
        .filter(|n| (lo..=hi).contains(n))
        .and_then(|n| T::try_from(n).ok());
    if n.is_none() {
        let want = match (lo, hi) {
            (0, BIG) => "an integer >= 0".to_string(),
            (1, BIG) => "a positive integer".to_string(),
            _ => format!("an integer from {lo} to {hi}"),
        };
        cx.wrong(key, v, &want);
    }
    n
}

fn float(cx: &mut Ctx<'_>, key: &str, v: &Val<'_>, want: &str, ok: fn(f64) -> bool) -> Option<f64> {
    let x = match v.get_ref() {
        DeValue::Float(x) => x.as_str().parse::<f64>().ok(),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n as f64),
        _ => None,
    };
    let x = x.filter(|x| x.is_finite() && ok(*x));
    if x.is_none() {
        cx.wrong(key, v, want);
    }
    x
}

fn boolean(cx: &mut Ctx<'_>, key: &str, v: &Val<'_>) -> Option<bool> {
    let b = v.get_ref().as_bool();
    if b.is_none() {
        cx.wrong(key, v, "true or false");
    }
    b
}

fn choice<T: Choice>(cx: &mut Ctx<'_>, key: &str, v: &Val<'_>) -> Option<T> {
    let want = format!("one of {}", T::NAMES.join(", "));
    let s = string(cx, key, v, &want)?;
    let found = T::from_name(s);
    if found.is_none() {
        let hint = suggest(s, T::NAMES)
            .map(|n| format!(": did you mean `{n}`?"))
            .unwrap_or_default();
        cx.report(
            v.span().start,
            key,
            format!("must be {want}, got {}{hint}", shown(s)),
        );
    }
    found
}

fn duration(cx: &mut Ctx<'_>, key: &str, v: &Val<'_>) -> Option<RelativeDuration> {
    let s = string(cx, key, v, DURATION_WANT)?;
    parse_relative_duration(s)
        .map_err(|m| cx.report(v.span().start, key, m))
        .ok()
}

/// Checks every element (so all bad ones are reported); `None` if the value or any element is bad.
fn list<'v, 'i, T>(
    cx: &mut Ctx<'_>,
    key: &str,
    v: &'v Val<'i>,
    want: &str,
    item: impl Fn(&mut Ctx<'_>, &'v Val<'i>) -> Option<T>,
) -> Option<Vec<T>> {
    let DeValue::Array(items) = v.get_ref() else {
        cx.wrong(key, v, want);
        return None;
    };
    let checked: Vec<Option<T>> = items.iter().map(|e| item(cx, e)).collect();
    checked.into_iter().collect()
}

fn strings(cx: &mut Ctx<'_>, key: &str, v: &Val<'_>, rule: &Rule) -> Option<Vec<String>> {
    let want = format!("a list of strings, each {}", rule.want);
    list(cx, key, v, &want, |cx, e| checked(cx, key, e, rule))
}

/// A string → string table; `key_ok` reports and rejects keys it does not accept.
fn string_map(
    cx: &mut Ctx<'_>,
    key: &str,
    v: &Val<'_>,
    want: &str,
    key_ok: fn(&mut Ctx<'_>, &str, &str, usize) -> bool,
) -> Option<BTreeMap<String, String>> {
    let DeValue::Table(t) = v.get_ref() else {
        cx.wrong(key, v, want);
        return None;
    };
    let mut out = Some(BTreeMap::new());
    for (k, value) in t {
        let (name, full) = (k.get_ref().as_ref(), format!("{key}.{}", k.get_ref()));
        let accepted = name != "api_key" && key_ok(cx, &full, name, k.span().start);
        let value = if accepted {
            checked(cx, &full, value, &NON_EMPTY)
        } else {
            None
        };
        match (value, out.as_mut()) {
            (Some(s), Some(m)) => drop(m.insert(name.to_string(), s)),
            (None, _) => out = None,
            _ => {}
        }
    }
    out
}

fn option_key_ok(cx: &mut Ctx<'_>, full: &str, name: &str, at: usize) -> bool {
    let lower = name.to_ascii_lowercase();
    let secret = SECRET_WORDS.iter().any(|w| lower.contains(w));
    if secret {
        cx.report(at, full, SECRET_OPTION);
    }
    !secret
}

fn column_ok(cx: &mut Ctx<'_>, full: &str, name: &str, at: usize) -> bool {
    let known = VISITOR_COLUMNS.contains(&name);
    if !known {
        let message = match suggest(name, VISITOR_COLUMNS) {
            Some(s) => format!("unknown column: did you mean `{s}`?"),
            None => format!("unknown column: use one of {}", VISITOR_COLUMNS.join(", ")),
        };
        cx.report(at, full, message);
    }
    known
}

const STRIPE_KEYS: &[&str] = &[
    "api_key_env",
    "api_key_file",
    "api_base",
    "stripe_version",
    "accounts",
    "account_id",
    "allow_secret_key",
    "max_requests_per_second",
    "max_in_flight",
    "timeout_seconds",
    "max_retries",
];

fn read_stripe(cx: &mut Ctx<'_>, t: &DeTable<'_>, c: &mut StripeConfig) {
    for (name, key, v) in entries(cx, "stripe", STRIPE_KEYS, t) {
        let key = &key;
        match name {
            "api_key_env" => set(&mut c.api_key_env, checked(cx, key, v, &ENV_NAME)),
            "api_key_file" => set(
                &mut c.api_key_file,
                checked(cx, key, v, &KEY_FILE).map(|p| Some(p.into())),
            ),
            "api_base" => set(&mut c.api_base, checked(cx, key, v, &API_BASE)),
            "stripe_version" => set(&mut c.stripe_version, checked(cx, key, v, &VERSION)),
            "accounts" => set(&mut c.accounts, strings(cx, key, v, &ACCOUNT)),
            "account_id" => set(&mut c.account_id, checked(cx, key, v, &ACCOUNT).map(Some)),
            "allow_secret_key" => set(&mut c.allow_secret_key, boolean(cx, key, v)),
            "max_requests_per_second" => set(
                &mut c.max_requests_per_second,
                float(cx, key, v, RPS_WANT, |x| x > 0.0).map(Some),
            ),
            "max_in_flight" => set(&mut c.max_in_flight, int(cx, key, v, 1, 256)),
            "timeout_seconds" => set(&mut c.timeout_seconds, int(cx, key, v, 1, 600)),
            _ => set(&mut c.max_retries, int(cx, key, v, 0, 50)),
        }
    }
    if let (Some(_), Some((k, _))) = (t.get("api_key_env"), t.get_key_value("api_key_file")) {
        let message = "conflicts with api_key_env: set only one of them";
        cx.report(k.span().start, "stripe.api_key_file", message);
    }
}

const EXTRACT_KEYS: &[&str] = &[
    "lookback",
    "streams",
    "overlap_seconds",
    "event_lag_seconds",
    "part_target_mb",
];

fn read_extract(cx: &mut Ctx<'_>, t: &DeTable<'_>, c: &mut ExtractConfig) {
    for (name, key, v) in entries(cx, "extract", EXTRACT_KEYS, t) {
        let key = &key;
        match name {
            "lookback" => set(&mut c.lookback, duration(cx, key, v)),
            "streams" => set(&mut c.streams, strings(cx, key, v, &STREAM)),
            "overlap_seconds" => set(&mut c.overlap_seconds, int(cx, key, v, 0, BIG)),
            "event_lag_seconds" => set(&mut c.event_lag_seconds, int(cx, key, v, 0, BIG)),
            _ => set(&mut c.part_target_mb, int(cx, key, v, 1, 1024)),
        }
    }
}

fn read_storage(cx: &mut Ctx<'_>, t: &DeTable<'_>, c: &mut StorageConfig) {
    for (name, key, v) in entries(cx, "storage", &["url", "options"], t) {
        match name {
            "url" => set(&mut c.url, checked(cx, &key, v, &STORAGE_URL)),
            _ => {
                let want = "a table of object store options like { region = \"eu-west-1\" }";
                set(&mut c.options, string_map(cx, &key, v, want, option_key_ok))
            }
        }
    }
}

const TRANSFORM_KEYS: &[&str] = &[
    "report_timezone",
    "settlement_currency",
    "discount_mode",
    "churn_recognition",
    "kpi_windows_days",
    "kpi_range",
    "models",
    "memory_limit",
    "work_dir",
];

fn read_transform(cx: &mut Ctx<'_>, t: &DeTable<'_>, c: &mut TransformConfig) {
    for (name, key, v) in entries(cx, "transform", TRANSFORM_KEYS, t) {
        let key = &key;
        match name {
            "report_timezone" => set(&mut c.report_timezone, checked(cx, key, v, &TIMEZONE)),
            "settlement_currency" => set(
                &mut c.settlement_currency,
                checked(cx, key, v, &CURRENCY).map(Some),
            ),
            "discount_mode" => set(&mut c.discount_mode, choice(cx, key, v)),
            "churn_recognition" => set(&mut c.churn_recognition, choice(cx, key, v)),
            "kpi_windows_days" => {
                let want = "a list of positive integers (days)";
                let days = list(cx, key, v, want, |cx, e| int(cx, key, e, 1, BIG));
                set(&mut c.kpi_windows_days, days)
            }
            "kpi_range" => {
                let range = string(cx, key, v, "a date range like \"2026-01-01..2026-03-31\"")
                    .and_then(|s| {
                        crate::config::parse_date_range(s)
                            .map_err(|m| cx.report(v.span().start, key, m))
                            .ok()
                    });
                set(&mut c.kpi_range, range.map(Some))
            }
            "memory_limit" => {
                let size = string(cx, key, v, "a size like \"2GiB\" or \"512MiB\"").and_then(|s| {
                    crate::config::parse_byte_size(s)
                        .map_err(|m| cx.report(v.span().start, key, m))
                        .ok()
                });
                set(&mut c.memory_limit, size.map(Some))
            }
            "work_dir" => {
                let dir = string(cx, key, v, "a local directory path");
                set(&mut c.work_dir, dir.map(|d| Some(d.into())))
            }
            _ => set(&mut c.models, strings(cx, key, v, &MODEL)),
        }
    }
}

const VISITORS_KEYS: &[&str] = &[
    "source",
    "format",
    "preset",
    "max_bad_row_ratio",
    "metadata_keys",
    "session_timeout_minutes",
    "columns",
];

fn read_visitors(cx: &mut Ctx<'_>, t: &DeTable<'_>, c: &mut VisitorsConfig) {
    for (name, key, v) in entries(cx, "visitors", VISITORS_KEYS, t) {
        let key = &key;
        match name {
            "source" => set(&mut c.source, checked(cx, key, v, &SOURCE).map(Some)),
            "format" => set(&mut c.format, choice(cx, key, v)),
            "preset" => set(&mut c.preset, choice(cx, key, v)),
            "max_bad_row_ratio" => {
                let want = "a number from 0 to 1 (0.01 = 1 % of rows)";
                set(
                    &mut c.max_bad_row_ratio,
                    float(cx, key, v, want, |x| (0.0..=1.0).contains(&x)),
                )
            }
            "metadata_keys" => set(&mut c.metadata_keys, strings(cx, key, v, &METADATA_KEY)),
            "session_timeout_minutes" => {
                set(&mut c.session_timeout_minutes, int(cx, key, v, 1, 1440))
            }
            _ => {
                let want = "a table mapping our column names to the file's column names";
                set(&mut c.columns, string_map(cx, key, v, want, column_ok))
            }
        }
    }
}

fn read_run(cx: &mut Ctx<'_>, t: &DeTable<'_>, c: &mut RunConfig) {
    for (_, key, v) in entries(cx, "run", &["exit_99_when_nothing_to_do"], t) {
        set(&mut c.exit_99_when_nothing_to_do, boolean(cx, &key, v));
    }
}
