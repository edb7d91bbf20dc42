//! `stripelake transform`'s flags, and the options the models are told (pipeline.toml and flags).

use chrono::NaiveDate;
use clap::Args;

use super::Params;
use crate::config::Config;

#[derive(Debug, Args, Default, Clone)]
pub struct TransformArgs {
    /// Only these models (and what they read), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Last day of the MRR tables (report time zone); default: the day before the latest extraction.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
    /// An extra KPI range for kpi_summary (overrides `[transform] kpi_range`), besides the
    /// windows of `kpi_windows_days`.
    #[arg(long, value_name = "START..END", value_parser = crate::config::parse_date_range)]
    pub kpi_range: Option<(NaiveDate, NaiveDate)>,
    /// Memory the models may hold before spilling to disk, e.g. 2GiB (overrides `[transform]
    /// memory_limit`; default half of the machine's or its container's memory).
    #[arg(long, value_name = "SIZE", value_parser = crate::config::parse_byte_size)]
    pub memory_limit: Option<u64>,
}

pub fn params(cfg: &Config, args: &TransformArgs) -> Params {
    let t = &cfg.transform;
    Params {
        as_of: args.as_of,
        report_timezone: t.report_timezone.clone(),
        settlement_currency: t.settlement_currency.clone(),
        discount_mode: t.discount_mode.as_str().into(),
        churn_recognition: t.churn_recognition.as_str().into(),
        livemode: None,
        kpi_ranges: args
            .kpi_range
            .or(t.kpi_range)
            .map(|(a, b)| vec![(format!("{a}..{b}"), a, b)])
            .unwrap_or_default(),
        kpi_windows_days: t.kpi_windows_days.clone(),
        session_timeout_minutes: Some(cfg.visitors.session_timeout_minutes),
        visitor_metadata_keys: cfg.visitors.metadata_keys.clone(),
        report_ranges: true,
        memory_limit: Some(
            args.memory_limit
                .or(t.memory_limit)
                .unwrap_or_else(crate::config::default_memory_limit),
        ),
        work_dir: t.work_dir.clone(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse_date_range as parse_range;

    #[test]
    fn kpi_ranges_parse_or_say_what_is_expected() {
        let d = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert_eq!(
            parse_range("2026-01-01..2026-03-31"),
            Ok((d("2026-01-01"), d("2026-03-31")))
        );
        assert_eq!(
            parse_range("2026-01-01"),
            Err("`2026-01-01`: expected START..END as YYYY-MM-DD..YYYY-MM-DD".into())
        );
        assert_eq!(
            parse_range("2026-03-01..2026-01-01"),
            Err("`2026-03-01..2026-01-01`: the range ends before it starts".into())
        );
    }
}
