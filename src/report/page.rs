//! The report's content: every figure it shows, gathered from the marts into one structure that
//! the HTML draws and that is embedded in the page as JSON (so a test, or a person, can check
//! every number against `stripelake query`).

use chrono::{Months, NaiveDate};
use datafusion::prelude::SessionContext;
use serde::Serialize;

use super::ReportError;
use super::data::{
    Kpis, built_for, currency_code, date, decimal, int, kpis, month_of, range, rows, text,
};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub as_of: String,
    pub first_day: String,
    pub months: u32,
    pub settlement_currency: String,
    /// When the newest raw row was extracted (UTC).
    pub last_extracted: Option<String>,
    pub current: Kpis,
    pub previous: Kpis,
    /// Month-end settlement MRR (and ARR), the last point on as_of.
    pub mrr: Vec<MrrPoint>,
    pub movements: Vec<MonthMovements>,
    pub bridge: Bridge,
    pub revenue: Vec<RevenueDay>,
    /// First-touch channels over the last 30 days (empty without visitor data).
    pub channels: Vec<Channel>,
    pub experiments: Vec<Experiment>,
    pub top_customers: Vec<TopCustomer>,
    pub transactions: Vec<Transaction>,
    pub reconstructed: Vec<Share>,
    /// Native MRR per presentment currency on as_of (more than one: the per-currency view).
    pub currencies: Vec<CurrencyMrr>,
}

#[derive(Debug, Default, Serialize)]
pub struct MrrPoint {
    pub date: String,
    pub mrr: i64,
    pub arr: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct MonthMovements {
    pub month: String,
    pub new: i64,
    pub expansion: i64,
    pub reactivation: i64,
    pub contraction: i64,
    pub churn: i64,
    pub fx: i64,
    pub net: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct Bridge {
    pub month: String,
    pub start: i64,
    pub new: i64,
    pub expansion: i64,
    pub reactivation: i64,
    pub contraction: i64,
    pub churn: i64,
    pub fx: i64,
    pub end: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct RevenueDay {
    pub date: String,
    pub gross: i64,
    pub refunds: i64,
    pub disputes: i64,
    pub fees: i64,
    pub net: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct Channel {
    pub channel: String,
    pub gross: i64,
    pub visitors: i64,
    pub revenue_per_visitor: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Experiment {
    pub experiment: String,
    pub variant: String,
    pub visitors: i64,
    pub converting_visitors: i64,
    pub gross: i64,
    pub revenue_per_visitor: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub struct TopCustomer {
    pub rank: i64,
    pub customer_key: String,
    pub net_sales: i64,
    pub charge_count: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct Transaction {
    pub created: String,
    pub category: String,
    pub customer_key: String,
    pub currency: String,
    pub presentment_amount: i64,
    pub net_settlement: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct Share {
    pub month: String,
    /// Per cent of the month's settlement MRR (summed over its days) from reconstructed states.
    pub reconstructed_pct: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct CurrencyMrr {
    pub currency: String,
    pub mrr: i64,
    pub active_subscriptions: i64,
    /// Month-end native MRR over the report's months.
    pub series: Vec<MrrPoint>,
}

/// Everything the report shows, as of the marts' `as_of` (the last day of `last_30_days`).
pub async fn build(
    ctx: &SessionContext,
    as_of: Option<NaiveDate>,
    months: u32,
) -> Result<Report, ReportError> {
    let all = kpis(ctx).await?;
    let current = range(&all, "last_30_days")?.clone();
    let previous = range(&all, "previous_30_days")?.clone();
    let built = built_for(&current.end_date, as_of)?;
    let first = month_of(built)
        .checked_sub_months(Months::new(months.saturating_sub(1)))
        .unwrap_or(built);
    Ok(Report {
        as_of: built.to_string(),
        first_day: first.to_string(),
        months,
        settlement_currency: current.settlement_currency.clone(),
        last_extracted: current.last_extracted_at.clone(),
        mrr: month_ends(ctx, first, built, "basis = 'settlement'").await?,
        movements: movements(ctx, first, built).await?,
        bridge: bridge(ctx, month_of(built), built).await?,
        revenue: revenue(ctx, first.max(daily_from(built)), built).await?,
        channels: channels(ctx).await?,
        experiments: experiments(ctx).await?,
        top_customers: top_customers(ctx).await?,
        transactions: transactions(ctx).await?,
        reconstructed: reconstructed(ctx, first, built).await?,
        currencies: currencies(ctx, first, built).await?,
        current,
        previous,
    })
}

/// Month-end MRR of `mrr_daily` rows matching `filter` (the last point is `last`).
async fn month_ends(
    ctx: &SessionContext,
    first: NaiveDate,
    last: NaiveDate,
    filter: &str,
) -> Result<Vec<MrrPoint>, ReportError> {
    let found = rows(
        ctx,
        &format!(
            "SELECT CAST(date AS VARCHAR) AS date, mrr, arr FROM mrr_daily WHERE {filter} AND \
             date BETWEEN DATE '{first}' AND DATE '{last}' ORDER BY date"
        ),
    )
    .await?;
    let mut out: Vec<MrrPoint> = Vec::new();
    for r in &found {
        let Some(d) = date(r, "date") else { continue };
        let point = MrrPoint {
            date: d.to_string(),
            mrr: int(r, "mrr"),
            arr: int(r, "arr"),
        };
        // Keep the last day of each month (and of the range).
        match out.last() {
            Some(p) if p.date[..7] == point.date[..7] => {
                out.pop();
                out.push(point);
            }
            _ => out.push(point),
        }
    }
    Ok(out)
}

async fn movements(
    ctx: &SessionContext,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<MonthMovements>, ReportError> {
    let found = rows(
        ctx,
        &format!(
            "SELECT CAST(date_trunc('month', date) AS DATE) AS month, sum(new_mrr) AS new, \
             sum(expansion_mrr) AS expansion, sum(reactivation_mrr) AS reactivation, \
             sum(contraction_mrr) AS contraction, sum(churned_mrr) AS churn, \
             sum(fx_adjustment) AS fx, sum(net_mrr_movement) AS net FROM mrr_daily WHERE basis = \
             'settlement' AND date BETWEEN DATE '{first}' AND DATE '{last}' GROUP BY 1 ORDER BY 1"
        ),
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| MonthMovements {
            month: text(r, "month")[..7.min(text(r, "month").len())].to_string(),
            new: int(r, "new"),
            expansion: int(r, "expansion"),
            reactivation: int(r, "reactivation"),
            contraction: int(r, "contraction"),
            churn: int(r, "churn"),
            fx: int(r, "fx"),
            net: int(r, "net"),
        })
        .collect())
}

/// The MRR bridge of the month of `last`: MRR the day before it began, the month's movements,
/// the FX adjustment, MRR on `last`.
async fn bridge(
    ctx: &SessionContext,
    month: NaiveDate,
    last: NaiveDate,
) -> Result<Bridge, ReportError> {
    let sums = rows(
        ctx,
        &format!(
            "SELECT sum(new_mrr) AS new, sum(expansion_mrr) AS expansion, sum(reactivation_mrr) \
             AS reactivation, sum(contraction_mrr) AS contraction, sum(churned_mrr) AS churn, \
             sum(fx_adjustment) AS fx FROM mrr_daily WHERE basis = 'settlement' AND date BETWEEN \
             DATE '{month}' AND DATE '{last}'"
        ),
    )
    .await?;
    let at = |d: NaiveDate| {
        format!("SELECT mrr FROM mrr_daily WHERE basis = 'settlement' AND date = DATE '{d}'")
    };
    let start = rows(ctx, &at(month.pred_opt().unwrap_or(month))).await?;
    let end = rows(ctx, &at(last)).await?;
    let s = sums.first().cloned().unwrap_or_default();
    Ok(Bridge {
        month: month.format("%Y-%m").to_string(),
        start: start.first().map_or(0, |r| int(r, "mrr")),
        new: int(&s, "new"),
        expansion: int(&s, "expansion"),
        reactivation: int(&s, "reactivation"),
        contraction: int(&s, "contraction"),
        churn: int(&s, "churn"),
        fx: int(&s, "fx"),
        end: end.first().map_or(0, |r| int(r, "mrr")),
    })
}

/// The first day of the daily revenue chart: at most 13 months of days (≈ 5 marks a day), so
/// a long `--months` keeps the file small.
fn daily_from(last: NaiveDate) -> NaiveDate {
    month_of(last)
        .checked_sub_months(Months::new(12))
        .unwrap_or(last)
}

/// Every day from `first` to `last`, zeros where nothing happened (the axis stays a calendar).
async fn revenue(
    ctx: &SessionContext,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<RevenueDay>, ReportError> {
    let found = rows(
        ctx,
        &format!(
            "SELECT CAST(date AS VARCHAR) AS date, sum(gross_charges_settlement) AS gross, \
             sum(refunds_settlement) AS refunds, sum(disputes_settlement) AS disputes, \
             sum(fees_settlement) AS fees, sum(net_revenue_settlement) AS net FROM revenue_daily \
             WHERE date BETWEEN DATE '{first}' AND DATE '{last}' GROUP BY date ORDER BY date"
        ),
    )
    .await?;
    let by_day: std::collections::HashMap<String, &serde_json::Map<String, serde_json::Value>> =
        found.iter().map(|r| (text(r, "date"), r)).collect();
    Ok(first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| {
            let date = d.to_string();
            match by_day.get(&date) {
                Some(r) => RevenueDay {
                    date,
                    gross: int(r, "gross"),
                    refunds: int(r, "refunds"),
                    disputes: int(r, "disputes"),
                    fees: int(r, "fees"),
                    net: int(r, "net"),
                },
                None => RevenueDay {
                    date,
                    ..RevenueDay::default()
                },
            }
        })
        .collect())
}

async fn channels(ctx: &SessionContext) -> Result<Vec<Channel>, ReportError> {
    let found = rows(
        ctx,
        "SELECT channel, gross_revenue_settlement AS gross, unique_visitors AS visitors, \
         CAST(revenue_per_visitor AS VARCHAR) AS rpv FROM revenue_per_visitor WHERE range_name = \
         'last_30_days' AND channel <> 'All' AND (unique_visitors > 0 OR \
         gross_revenue_settlement > 0) ORDER BY gross DESC, channel",
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| Channel {
            channel: text(r, "channel"),
            gross: int(r, "gross"),
            visitors: int(r, "visitors"),
            revenue_per_visitor: decimal(r, "rpv"),
        })
        .collect())
}

async fn experiments(ctx: &SessionContext) -> Result<Vec<Experiment>, ReportError> {
    let found = rows(
        ctx,
        "SELECT experiment, variant, visitors, converting_visitors, gross_settlement AS gross, \
         CAST(revenue_per_visitor AS VARCHAR) AS rpv FROM experiment_revenue ORDER BY \
         experiment, variant",
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| Experiment {
            experiment: text(r, "experiment"),
            variant: text(r, "variant"),
            visitors: int(r, "visitors"),
            converting_visitors: int(r, "converting_visitors"),
            gross: int(r, "gross"),
            revenue_per_visitor: decimal(r, "rpv"),
        })
        .collect())
}

async fn top_customers(ctx: &SessionContext) -> Result<Vec<TopCustomer>, ReportError> {
    let found = rows(
        ctx,
        "SELECT rank, customer_key, net_sales, charge_count FROM kpi_top_customers WHERE \
         range_name = 'last_30_days' AND rank <= 10 ORDER BY rank",
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| TopCustomer {
            rank: int(r, "rank"),
            customer_key: text(r, "customer_key"),
            net_sales: int(r, "net_sales"),
            charge_count: int(r, "charge_count"),
        })
        .collect())
}

async fn transactions(ctx: &SessionContext) -> Result<Vec<Transaction>, ReportError> {
    let found = rows(
        ctx,
        "SELECT CAST(created AS VARCHAR) AS created, category, customer_key, currency, \
         presentment_amount, net_settlement FROM kpi_recent_transactions WHERE range_name = \
         'last_30_days' ORDER BY rank",
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| Transaction {
            created: text(r, "created"),
            category: text(r, "category"),
            customer_key: text(r, "customer_key"),
            currency: text(r, "currency"),
            presentment_amount: int(r, "presentment_amount"),
            net_settlement: int(r, "net_settlement"),
        })
        .collect())
}

async fn reconstructed(
    ctx: &SessionContext,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<Share>, ReportError> {
    let found = rows(
        ctx,
        &format!(
            "SELECT CAST(date_trunc('month', date) AS DATE) AS month, sum(CASE WHEN state_source \
             = 'reconstructed' THEN mrr_settlement ELSE 0 END) AS rebuilt, sum(mrr_settlement) AS \
             total FROM mrr_subscription_daily WHERE date BETWEEN DATE '{first}' AND DATE \
             '{last}' GROUP BY 1 ORDER BY 1"
        ),
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| {
            let (rebuilt, total) = (int(r, "rebuilt"), int(r, "total"));
            let month = text(r, "month");
            Share {
                month: month[..7.min(month.len())].to_string(),
                reconstructed_pct: match total {
                    0 => 0.0,
                    t => (rebuilt as f64 * 1000.0 / t as f64).round() / 10.0,
                },
            }
        })
        .collect())
}

async fn currencies(
    ctx: &SessionContext,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<CurrencyMrr>, ReportError> {
    let found = rows(
        ctx,
        &format!(
            "SELECT currency, mrr, active_subscriptions FROM mrr_daily WHERE basis = 'native' AND \
             date = DATE '{last}' AND mrr > 0 ORDER BY mrr DESC, currency"
        ),
    )
    .await?;
    let mut out = Vec::new();
    for r in &found {
        // A code of letters only: it goes into the query and the page as it is.
        let currency = currency_code(&text(r, "currency"));
        let filter = format!("basis = 'native' AND lower(currency) = '{currency}'");
        out.push(CurrencyMrr {
            mrr: int(r, "mrr"),
            active_subscriptions: int(r, "active_subscriptions"),
            series: month_ends(ctx, first, last, &filter).await?,
            currency,
        });
    }
    Ok(out)
}
