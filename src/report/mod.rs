//! What people look at: `stripelake report` (one self-contained HTML file with charts) and
//! `stripelake digest` (the last day's numbers for Slack or email).
//!
//! Both read the committed marts and nothing else: no metric is computed here (figures are
//! selected, summed over days or grouped by month), so what a chart shows is what `stripelake
//! query` returns.

pub mod data;
pub mod digest;
pub mod html;
pub mod money;
pub mod page;
pub mod svg;

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

use crate::storage::Storage;
use crate::transform::TransformError;
pub use digest::DigestFormat;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The lake has no marts (or not the ones the report reads): a usage error.
    #[error(
        "the lake has no marts to report on ({0}): run `stripelake transform` (or `stripelake \
         run`) first"
    )]
    NoMarts(String),
    /// A mart lacks a column the report reads: built by another version of the models.
    #[error(
        "the marts do not have what the report reads ({0}): rebuild them with `stripelake \
         transform`"
    )]
    Stale(String),
    /// Reading the committed files failed (the store): worth retrying.
    #[error("reading the marts failed: {0}")]
    Query(String),
    /// The tiles and day ranges are computed by the transform for its as-of day.
    #[error(
        "the marts were built as of {built}, not {asked}: run `stripelake transform --as-of \
         {asked}` first, or leave out --as-of"
    )]
    AsOf { asked: NaiveDate, built: NaiveDate },
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Every mart the report and the digest read (all built by every transform).
const NEEDED: &[&str] = &[
    "kpi_summary",
    "kpi_top_customers",
    "kpi_recent_transactions",
    "mrr_daily",
    "mrr_subscription_daily",
    "revenue_daily",
    "revenue_per_visitor",
    "experiment_revenue",
    "customers",
];

/// Every committed table, or `NoMarts` when the transform has not run.
async fn open(storage: &Storage) -> Result<SessionContext, ReportError> {
    let ctx = crate::transform::open(storage).await?;
    for table in NEEDED {
        if !ctx.table_exist(*table).unwrap_or(false) {
            return Err(ReportError::NoMarts(format!("no `{table}`")));
        }
    }
    Ok(ctx)
}

/// The report's figures and its HTML.
pub async fn report(
    storage: &Storage,
    as_of: Option<NaiveDate>,
    months: u32,
) -> Result<(page::Report, String), ReportError> {
    let ctx = open(storage).await?;
    let report = page::build(&ctx, as_of, months.clamp(1, 120)).await?;
    let html = html::page(&report, &money::Currencies::from_seed());
    Ok((report, html))
}

/// The digest, rendered.
pub async fn digest(
    storage: &Storage,
    as_of: Option<NaiveDate>,
    format: DigestFormat,
) -> Result<(digest::Digest, String), ReportError> {
    let ctx = open(storage).await?;
    let d = digest::build(&ctx, as_of).await?;
    let text = d.render(&money::Currencies::from_seed(), format);
    Ok((d, text))
}
