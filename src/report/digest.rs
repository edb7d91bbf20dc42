//! The daily digest: the last complete day against the day before and the same weekday a week
//! before, from `kpi_summary`'s day ranges, as text, Markdown, JSON or Slack Block Kit.

use std::fmt::Write;

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde_json::{Value, json};

use super::ReportError;
use super::data::{Kpis, built_for, int, kpis, range, rows, text};
use super::money::{Currencies, group};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DigestFormat {
    Text,
    Markdown,
    Json,
    Slack,
}

#[derive(Debug, Serialize)]
pub struct Digest {
    pub day: String,
    pub day_before: String,
    pub week_before: String,
    pub currency: String,
    pub figures: Vec<Figure>,
    pub largest_new_customer: Option<NewCustomer>,
}

#[derive(Debug, Serialize)]
pub struct Figure {
    pub key: &'static str,
    pub label: &'static str,
    pub money: bool,
    pub day: i64,
    pub day_before: i64,
    pub week_before: i64,
}

#[derive(Debug, Serialize)]
pub struct NewCustomer {
    pub customer_key: String,
    pub net_sales: i64,
}

/// What each figure is, and where `kpi_summary` has it.
/// (key, label, is money, its value in a range).
type FigureOf = (&'static str, &'static str, bool, fn(&Kpis) -> i64);

const FIGURES: &[FigureOf] = &[
    ("net_revenue", "Net revenue", true, |k| {
        k.net_revenue_settlement
    }),
    ("payments", "Payments", false, |k| k.transactions),
    ("new_customers", "New customers", false, |k| k.new_customers),
    // Customers who started paying for a subscription (a second one is expansion, METRICS §3).
    ("new_subscribers", "New subscribers", false, |k| {
        k.new_subscribers
    }),
    (
        "churned_subscriptions",
        "Churned subscriptions",
        false,
        |k| k.churned_subscriptions,
    ),
    ("mrr", "MRR", true, |k| k.mrr),
    ("net_mrr_movement", "Net MRR movement", true, |k| {
        k.net_mrr_movement
    }),
    ("failed_payments", "Failed payments", false, |k| {
        k.failed_payments
    }),
    ("disputes_opened", "Disputes opened", false, |k| {
        k.disputes_opened
    }),
];

pub async fn build(ctx: &SessionContext, as_of: Option<NaiveDate>) -> Result<Digest, ReportError> {
    let all = kpis(ctx).await?;
    let (day, before, week) = (
        range(&all, "last_1_days")?,
        range(&all, "previous_1_days")?,
        range(&all, "week_before_1_days")?,
    );
    let built = built_for(&day.end_date, as_of)?;
    let currency = day.settlement_currency.clone();
    // The new customer (first payment that day) with the most net sales that day.
    let largest = rows(
        ctx,
        &format!(
            "SELECT t.customer_key, t.net_sales FROM kpi_top_customers t JOIN customers c ON \
             c.customer_key = t.customer_key WHERE t.range_name = 'last_1_days' AND \
             c.first_payment_date = DATE '{built}' ORDER BY t.net_sales DESC, t.customer_key LIMIT 1"
        ),
    )
    .await?;
    Ok(Digest {
        day: day.end_date.clone(),
        day_before: before.end_date.clone(),
        week_before: week.end_date.clone(),
        currency,
        figures: FIGURES
            .iter()
            .map(|(key, label, money, of)| Figure {
                key,
                label,
                money: *money,
                day: of(day),
                day_before: of(before),
                week_before: of(week),
            })
            .collect(),
        largest_new_customer: largest.first().map(|r| NewCustomer {
            customer_key: text(r, "customer_key"),
            net_sales: int(r, "net_sales"),
        }),
    })
}

impl Digest {
    fn shown(&self, c: &Currencies, f: &Figure, v: i64) -> String {
        match f.money {
            true => c.format(v, &self.currency),
            false if v < 0 => format!("−{}", group(v.unsigned_abs())),
            false => group(v as u64),
        }
    }

    /// The largest new customer, its key passed through `escape` (keys hold billing emails,
    /// which payers write).
    fn newcomer(&self, c: &Currencies, escape: fn(&str) -> String) -> String {
        match &self.largest_new_customer {
            Some(n) => format!(
                "{} ({})",
                escape(&n.customer_key),
                c.format(n.net_sales, &self.currency)
            ),
            None => "none".into(),
        }
    }

    pub fn render(&self, c: &Currencies, format: DigestFormat) -> String {
        match format {
            DigestFormat::Text => self.text(c),
            DigestFormat::Markdown => self.markdown(c),
            DigestFormat::Json => self.json(c).to_string(),
            DigestFormat::Slack => self.slack(c).to_string(),
        }
    }

    fn title(&self) -> String {
        format!(
            "Stripe digest for {} (against {} and {}), amounts in {}",
            self.day,
            self.day_before,
            self.week_before,
            self.currency.to_uppercase()
        )
    }

    fn text(&self, c: &Currencies) -> String {
        let mut table = vec![[
            String::new(),
            self.day.clone(),
            self.day_before.clone(),
            self.week_before.clone(),
        ]];
        for f in &self.figures {
            table.push([
                f.label.to_string(),
                self.shown(c, f, f.day),
                self.shown(c, f, f.day_before),
                self.shown(c, f, f.week_before),
            ]);
        }
        let widths: Vec<usize> = (0..4)
            .map(|i| {
                table
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = format!("{}\n", self.title());
        for row in &table {
            let line: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let pad = widths[i] - cell.chars().count();
                    match i {
                        0 => format!("{cell}{}", " ".repeat(pad)),
                        _ => format!("{}{cell}", " ".repeat(pad)),
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", line.join("   ").trim_end());
        }
        let _ = write!(
            out,
            "Largest new customer: {}",
            self.newcomer(c, str::to_string)
        );
        out
    }

    fn markdown(&self, c: &Currencies) -> String {
        let mut out = format!(
            "**{}**\n\n| | {} | {} | {} |\n|---|---:|---:|---:|\n",
            self.title(),
            self.day,
            self.day_before,
            self.week_before
        );
        for f in &self.figures {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                f.label,
                self.shown(c, f, f.day),
                self.shown(c, f, f.day_before),
                self.shown(c, f, f.week_before)
            );
        }
        let _ = write!(
            out,
            "\nLargest new customer: {}",
            self.newcomer(c, markdown_text)
        );
        out
    }

    fn json(&self, c: &Currencies) -> Value {
        let mut figures = serde_json::Map::new();
        for f in &self.figures {
            figures.insert(
                f.key.into(),
                json!({"day": f.day, "day_before": f.day_before, "week_before": f.week_before,
                       "shown": [self.shown(c, f, f.day), self.shown(c, f, f.day_before), self.shown(c, f, f.week_before)]}),
            );
        }
        json!({
            "day": self.day, "day_before": self.day_before, "week_before": self.week_before,
            "currency": self.currency, "figures": figures,
            "largest_new_customer": self.largest_new_customer,
        })
    }

    /// Slack Block Kit: a header, one field per figure (at most ten per section), a context.
    fn slack(&self, c: &Currencies) -> Value {
        let fields: Vec<Value> = self
            .figures
            .iter()
            .map(|f| {
                json!({"type": "mrkdwn", "text": format!(
                    "*{}*\n{} (day before {}, a week before {})",
                    f.label,
                    self.shown(c, f, f.day),
                    self.shown(c, f, f.day_before),
                    self.shown(c, f, f.week_before)
                )})
            })
            .collect();
        // `text` is what notifications and clients without blocks show.
        json!({"text": self.title(), "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": format!("Stripe digest — {}", self.day)}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
                "Largest new customer: {} · amounts in {}", self.newcomer(c, slack_text), self.currency.to_uppercase())}]},
        ]})
    }
}

/// Text inside a Markdown table cell or line: `|` would end the cell, `*` start emphasis, `<`
/// an HTML tag. (`_` stays: every Stripe id has one, and inside a word it emphasises nothing.)
fn markdown_text(raw: &str) -> String {
    let mut out = String::new();
    for ch in raw.chars() {
        if matches!(ch, '|' | '*' | '`' | '[' | ']' | '<' | '>' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Text in Slack mrkdwn: `&`, `<` and `>` are control characters (`<!channel>` pings everyone).
fn slack_text(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_keys_cannot_format_or_ping() {
        let digest = Digest {
            day: "2026-03-08".into(),
            day_before: "2026-03-07".into(),
            week_before: "2026-03-01".into(),
            currency: "usd".into(),
            figures: Vec::new(),
            largest_new_customer: Some(NewCustomer {
                customer_key: "email:<!channel>|*a*@x.io".into(),
                net_sales: 100,
            }),
        };
        let c = Currencies::from_seed();
        let slack = digest.render(&c, DigestFormat::Slack);
        assert!(!slack.contains("<!channel>"), "{slack}");
        assert!(
            slack.contains("email:&lt;!channel&gt;|*a*@x.io ($1.00)"),
            "{slack}"
        );
        let markdown = digest.render(&c, DigestFormat::Markdown);
        assert!(
            markdown.ends_with("email:\\<!channel\\>\\|\\*a\\*@x.io ($1.00)"),
            "{markdown}"
        );
        let text = digest.render(&c, DigestFormat::Text);
        assert!(
            text.ends_with("email:<!channel>|*a*@x.io ($1.00)"),
            "{text}"
        );
    }
}
