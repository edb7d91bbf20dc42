//! What the report and the digest show, read from the committed marts only: no metric is
//! computed here, figures are selected, summed over days or grouped by month.

use chrono::{Datelike, NaiveDate};
use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde_json::{Map, Value};

use super::ReportError;

/// Runs a query over the marts; each row as a JSON object.
pub async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Map<String, Value>>, ReportError> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(|e| ReportError::Stale(e.strip_backtrace()))?
        .collect()
        .await
        .map_err(|e| ReportError::Query(format!("{sql}: {e}")))?;
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for b in &batches {
        writer
            .write(b)
            .map_err(|e| ReportError::Query(e.to_string()))?;
    }
    writer
        .finish()
        .map_err(|e| ReportError::Query(e.to_string()))?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Value> =
        serde_json::from_slice(&bytes).map_err(|e| ReportError::Query(e.to_string()))?;
    Ok(values
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .collect())
}

pub fn int(row: &Map<String, Value>, key: &str) -> i64 {
    match &row.get(key) {
        Some(Value::Number(n)) => n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// A decimal column (written as a string by arrow's JSON writer), or `None`.
pub fn decimal(row: &Map<String, Value>, key: &str) -> Option<f64> {
    match row.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn text(row: &Map<String, Value>, key: &str) -> String {
    match row.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub fn date(row: &Map<String, Value>, key: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&text(row, key), "%Y-%m-%d").ok()
}

/// One range's row of `kpi_summary`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Kpis {
    pub range_name: String,
    pub start_date: String,
    pub end_date: String,
    pub mrr: i64,
    pub arr: i64,
    pub active_subscriptions: i64,
    pub active_customers: i64,
    pub gross_revenue_settlement: i64,
    pub net_revenue_settlement: i64,
    pub transactions: i64,
    pub new_customers: i64,
    pub new_subscribers: i64,
    pub churned_subscriptions: i64,
    pub failed_payments: i64,
    pub disputes_opened: i64,
    pub net_mrr_movement: i64,
    pub unique_visitors: i64,
    pub revenue_per_visitor: Option<f64>,
    /// The transform's settlement currency and when the newest data was extracted (the same in
    /// every range).
    pub settlement_currency: String,
    pub last_extracted_at: Option<String>,
}

/// Every range of `kpi_summary`, by name.
pub async fn kpis(ctx: &SessionContext) -> Result<Vec<Kpis>, ReportError> {
    let found = rows(
        ctx,
        "SELECT range_name, CAST(start_date AS VARCHAR) AS start_date, CAST(end_date AS VARCHAR) \
         AS end_date, mrr, arr, active_subscriptions, active_customers, \
         gross_revenue_settlement, net_revenue_settlement, transactions, new_customers, \
         new_subscribers, churned_subscriptions, failed_payments, disputes_opened, \
         net_mrr_movement, unique_visitors, CAST(revenue_per_visitor AS VARCHAR) AS \
         revenue_per_visitor, settlement_currency, CAST(last_extracted_at AS VARCHAR) AS \
         last_extracted_at FROM kpi_summary ORDER BY range_name",
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| Kpis {
            range_name: text(r, "range_name"),
            start_date: text(r, "start_date"),
            end_date: text(r, "end_date"),
            mrr: int(r, "mrr"),
            arr: int(r, "arr"),
            active_subscriptions: int(r, "active_subscriptions"),
            active_customers: int(r, "active_customers"),
            gross_revenue_settlement: int(r, "gross_revenue_settlement"),
            net_revenue_settlement: int(r, "net_revenue_settlement"),
            transactions: int(r, "transactions"),
            new_customers: int(r, "new_customers"),
            new_subscribers: int(r, "new_subscribers"),
            churned_subscriptions: int(r, "churned_subscriptions"),
            failed_payments: int(r, "failed_payments"),
            disputes_opened: int(r, "disputes_opened"),
            net_mrr_movement: int(r, "net_mrr_movement"),
            unique_visitors: int(r, "unique_visitors"),
            revenue_per_visitor: decimal(r, "revenue_per_visitor"),
            settlement_currency: currency_code(&text(r, "settlement_currency")),
            last_extracted_at: Some(text(r, "last_extracted_at")).filter(|t| !t.is_empty()),
        })
        .collect())
}

/// The range named `name`, or the error that says to run the transform.
pub fn range<'a>(all: &'a [Kpis], name: &str) -> Result<&'a Kpis, ReportError> {
    all.iter()
        .find(|k| k.range_name == name)
        .ok_or_else(|| ReportError::NoMarts(format!("kpi_summary has no `{name}` range")))
}

/// The day the marts were built for (a range's last day); `asked` must be that day.
pub fn built_for(end_date: &str, asked: Option<NaiveDate>) -> Result<NaiveDate, ReportError> {
    let built = NaiveDate::parse_from_str(end_date, "%Y-%m-%d")
        .map_err(|_| ReportError::NoMarts("kpi_summary has no end date".into()))?;
    match asked.filter(|d| *d != built) {
        Some(asked) => Err(ReportError::AsOf { asked, built }),
        None => Ok(built),
    }
}

/// A currency code as it may appear in a page or a query: ISO 4217 letters, lower case.
pub fn currency_code(raw: &str) -> String {
    raw.chars()
        .filter(char::is_ascii_alphabetic)
        .take(8)
        .collect::<String>()
        .to_lowercase()
}

/// The first day of `d`'s month.
pub fn month_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}
