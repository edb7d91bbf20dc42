//! Web-analytics visitor events → `raw/visitor_events` (DESIGN.md §6): files found by a path,
//! glob or store URL; CSV, NDJSON or Parquet read through a column mapping (a preset or
//! `[visitors.columns]`); bad rows quarantined with file, line and reason; each file loaded once.
//! Sessions, channels and attribution are SQL models over the table this writes.

pub mod args;
pub mod channel;
pub mod load;
mod mapping;
mod read;
mod source;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub use load::{LoadReport, load};
pub use mapping::{Lookup, Mapping};
pub use source::preflight;

/// `raw.visitor_events`: the mapped columns, then where each row came from.
pub fn schema() -> SchemaRef {
    let utc = Some("UTC".into());
    let mut fields = vec![
        Field::new("visitor_id", DataType::Utf8, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Second, utc.clone()),
            false,
        ),
    ];
    // The optional columns, text, in `VISITOR_COLUMNS` order.
    fields.extend(
        crate::config::VISITOR_COLUMNS[2..]
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true)),
    );
    fields.extend([
        Field::new("_source_file", DataType::Utf8, false),
        Field::new("_line", DataType::Int64, false),
        Field::new("_load_id", DataType::Utf8, false),
        Field::new(
            "_loaded_at",
            DataType::Timestamp(TimeUnit::Millisecond, utc),
            false,
        ),
    ]);
    Arc::new(Schema::new(fields))
}

/// What each column of `raw.visitor_events` holds (the data dictionary).
pub const COLUMN_DOCS: &[(&str, &str)] = &[
    ("visitor_id", "the analytics tool's visitor id, trimmed"),
    ("timestamp", "when the event happened (UTC)"),
    ("session_id", "the export's session id, if it has one"),
    (
        "email",
        "the email the visitor identified with, trimmed and lowercased",
    ),
    ("referrer", "the referring URL (or host)"),
    ("utm_source", "utm_source of the landing URL"),
    ("utm_medium", "utm_medium of the landing URL"),
    ("utm_campaign", "utm_campaign of the landing URL"),
    ("landing_page", "the page (URL or path) of the event"),
    ("country", "country of the visitor, as the export gives it"),
    ("device", "device type, as the export gives it"),
    ("browser", "browser, as the export gives it"),
    ("site_id", "the site or host the event belongs to"),
    ("experiment", "the experiment the visitor was in"),
    ("variant", "the experiment variant the visitor saw"),
    (
        "_source_file",
        "the file the row was loaded from (path or store URL)",
    ),
    (
        "_line",
        "its line in that file (CSV counts the header as line 1; Parquet: row number from 1)",
    ),
    ("_load_id", "the run that loaded it"),
    ("_loaded_at", "when it was loaded (UTC)"),
];

#[derive(Debug, thiserror::Error)]
pub enum VisitorError {
    #[error(
        "{file}: no column `{column}` for {ours}: the file's columns are {found}; map it in \
         pipeline.toml ([visitors.columns] {ours} = \"<column>\") or choose a [visitors] preset"
    )]
    MissingColumn {
        file: String,
        column: String,
        ours: String,
        found: String,
    },
    #[error("visitors source `{location}`: {message}")]
    Source { location: String, message: String },
    #[error("{file}: {message}")]
    Format { file: String, message: String },
    /// The store holding the export did not answer (a retry later can help).
    #[error("visitors source `{location}`: {message}")]
    Unavailable { location: String, message: String },
    #[error("{0}")]
    Storage(#[from] crate::storage::StorageError),
}

/// A timestamp as Unix seconds: RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]` or `…T…` with a `+0000`
/// style offset or without a zone (UTC), or epoch seconds, milliseconds, microseconds or
/// nanoseconds. Only years 1970 to 9999: anything else is a bad row, not a date in year 57970.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDateTime};
    const LAST: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let seconds = if t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = t.parse().ok()?;
        match n {
            n if n >= 100_000_000_000_000_000 => n / 1_000_000_000,
            n if n >= 100_000_000_000_000 => n / 1_000_000,
            n if n >= 100_000_000_000 => n / 1000,
            n => n,
        }
    } else if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        d.timestamp()
    } else {
        let zoned = [
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f %z",
        ];
        let naive = [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f UTC",
        ];
        zoned
            .iter()
            .find_map(|f| DateTime::parse_from_str(t, f).ok().map(|d| d.timestamp()))
            .or_else(|| {
                naive.iter().find_map(|f| {
                    NaiveDateTime::parse_from_str(t, f)
                        .ok()
                        .map(|d| d.and_utc().timestamp())
                })
            })?
    };
    (0..=LAST).contains(&seconds).then_some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_the_usual_export_forms() {
        let want = 1_767_225_600; // 2026-01-01T00:00:00Z
        for t in [
            "2026-01-01T00:00:00Z",
            "2026-01-01T01:00:00+01:00",
            "2026-01-01 00:00:00",
            "2026-01-01 00:00:00.250",
            "2026-01-01T00:00:00.123456",
            "2026-01-01 00:00:00 UTC",
            "1767225600",
            "1767225600000",
            "1767225600000000",
            "1767225600000000000",
            "2026-01-01T00:00:00+0000",
            "2026-01-01T01:00:00+0100",
            "2026-01-01 00:00:00 +0000",
            " 2026-01-01T00:00:00Z ",
        ] {
            assert_eq!(parse_timestamp(t), Some(want), "{t}");
        }
        for t in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "12:00",
            "99999999999999999999",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_timestamp(t), None, "{t}");
        }
    }
}
