//! The report as one self-contained HTML file: inline CSS and SVG, no script, font or image
//! from anywhere, readable with JavaScript off; the figures also embedded as JSON.

use std::fmt::Write;

use super::data::Kpis;
use super::money::{Currencies, group};
use super::page::Report;
use super::svg::{self, Part, esc};

const STYLE: &str = "
:root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --up: #2f7d4f; --down: #c8453b; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--ink); background: #f5f7fa; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 16px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; }
p.meta { color: var(--muted); margin: 0 0 16px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.tile .label { color: var(--muted); font-size: 13px; }
.tile .value { font-size: 22px; font-weight: 600; margin: 2px 0; font-variant-numeric: tabular-nums; }
.tile .change { font-size: 13px; color: var(--muted); }
.change.good { color: var(--up); } .change.bad { color: var(--down); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px; }
svg.chart { width: 100%; height: auto; display: block; }
svg .tick { font-size: 11px; fill: #616e7c; }
.legend { font-size: 13px; color: var(--muted); margin: 4px 0 0; }
.legend span { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; vertical-align: -1px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.num, th.num { text-align: right; }
footer { color: var(--muted); font-size: 13px; margin-top: 32px; }
@media (max-width: 600px) { svg .tick { font-size: 15px; } .tile .value { font-size: 19px; } .wide svg.chart { min-width: 640px; } }
";

/// The whole page.
pub fn page(r: &Report, c: &Currencies) -> String {
    let cur = r.settlement_currency.as_str();
    let money = |v: i64| c.format(v, cur);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>Revenue report — {}</title><style>{STYLE}</style></head><body><main>",
        esc(&r.as_of)
    );
    let _ = write!(
        out,
        "<h1>Revenue report</h1><p class=\"meta\">As of {} · {} months from {} · amounts in {} \
         (settlement) · data last extracted {}</p>",
        esc(&r.as_of),
        r.months,
        esc(&r.first_day),
        esc(&cur.to_uppercase()),
        esc(r.last_extracted.as_deref().unwrap_or("never"))
    );
    tiles(&mut out, r, c);
    section(&mut out, "MRR and ARR");
    let mrr: Vec<(String, i64)> = r
        .mrr
        .iter()
        .map(|p| (p.date[..7].to_string(), p.mrr))
        .collect();
    let arr: Vec<(String, i64)> = r
        .mrr
        .iter()
        .map(|p| (p.date[..7].to_string(), p.arr))
        .collect();
    let _ = write!(
        out,
        "<div class=\"pair\"><div class=\"card\"><strong>MRR</strong>{}</div><div class=\"card\"><strong>ARR</strong>{}</div></div>",
        svg::line(
            svg::HALF,
            "mrr",
            "MRR at the end of each month",
            &mrr,
            &money
        ),
        svg::line(
            svg::HALF,
            "arr",
            "ARR at the end of each month",
            &arr,
            &money
        )
    );
    movements(&mut out, r, &money);
    revenue(&mut out, r, &money);
    visitors(&mut out, r, c);
    customers(&mut out, r, c);
    if r.currencies.len() > 1 {
        per_currency(&mut out, r, c);
    }
    reconstructed(&mut out, r);
    // No `<`, `>` or `&` inside the island: nothing in the data can end it or open a comment.
    let data = serde_json::to_string(r)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let _ = write!(
        out,
        "<footer>Built by stripelake from the committed marts (<code>stripelake report</code>); \
         every figure is in the JSON below and can be checked with <code>stripelake query</code>.</footer>\
         <script type=\"application/json\" id=\"report-data\">{data}</script></main></body></html>"
    );
    out
}

fn section(out: &mut String, title: &str) {
    let _ = write!(out, "<h2>{}</h2>", esc(title));
}

/// One KPI of the headline: the last 30 days and the 30 before, as shown and as numbers.
pub struct Kpi {
    pub key: &'static str,
    pub label: &'static str,
    pub now: String,
    pub before: String,
    /// `None`: no figure (revenue per visitor without visitor data).
    pub now_value: Option<f64>,
    pub before_value: Option<f64>,
    /// Green when it rises (MRR), or red (churn, failed payments).
    pub higher_is_better: bool,
}

/// The headline KPIs: the report's tiles, the demo's table.
pub fn kpis(r: &Report, c: &Currencies) -> Vec<Kpi> {
    let cur = r.settlement_currency.as_str();
    let (now, before) = (&r.current, &r.previous);
    let money = |key, label, of: fn(&Kpis) -> i64| Kpi {
        key,
        label,
        now: c.format(of(now), cur),
        before: c.format(of(before), cur),
        now_value: Some(of(now) as f64),
        before_value: Some(of(before) as f64),
        higher_is_better: true,
    };
    let count = |key, label, of: fn(&Kpis) -> i64| Kpi {
        key,
        label,
        now: group_signed(of(now)),
        before: group_signed(of(before)),
        now_value: Some(of(now) as f64),
        before_value: Some(of(before) as f64),
        higher_is_better: true,
    };
    let worse = |k: Kpi| Kpi {
        higher_is_better: false,
        ..k
    };
    let rpv = |v: Option<f64>| v.map_or("—".to_string(), |v| c.format_decimal(v, cur));
    vec![
        money("mrr", "MRR", |k| k.mrr),
        money("arr", "ARR", |k| k.arr),
        count("active_subscriptions", "Active subscriptions", |k| {
            k.active_subscriptions
        }),
        count("active_customers", "Active customers", |k| {
            k.active_customers
        }),
        money("net_revenue", "Net revenue, 30 days", |k| {
            k.net_revenue_settlement
        }),
        count("new_customers", "New customers", |k| k.new_customers),
        worse(count(
            "churned_subscriptions",
            "Churned subscriptions",
            |k| k.churned_subscriptions,
        )),
        worse(count("failed_payments", "Failed payments", |k| {
            k.failed_payments
        })),
        Kpi {
            key: "revenue_per_visitor",
            label: "Revenue per visitor",
            now: rpv(now.revenue_per_visitor),
            before: rpv(before.revenue_per_visitor),
            now_value: now.revenue_per_visitor,
            before_value: before.revenue_per_visitor,
            higher_is_better: true,
        },
    ]
}

/// The change of a KPI against the period before: its class, arrow and percentage.
fn change(k: &Kpi) -> (&'static str, &'static str, String) {
    let (Some(now), Some(before)) = (k.now_value, k.before_value) else {
        return ("", "", String::new());
    };
    let delta = now - before;
    let (better, worse) = match k.higher_is_better {
        true => ("good", "bad"),
        false => ("bad", "good"),
    };
    let (class, arrow) = match delta {
        d if d > 0.0 => (better, "▲"),
        d if d < 0.0 => (worse, "▼"),
        _ => ("", "="),
    };
    let pct = match before {
        b if b != 0.0 => format!("{:+.1} %", delta / b.abs() * 100.0),
        _ => String::new(),
    };
    (class, arrow, pct)
}

/// The KPIs as an aligned text table (the demo prints it).
pub fn kpi_table(r: &Report, c: &Currencies) -> String {
    let mut rows = vec![[
        String::new(),
        format!("30 days to {}", r.current.end_date),
        format!("30 days to {}", r.previous.end_date),
        "change".to_string(),
    ]];
    for k in kpis(r, c) {
        let (_, arrow, pct) = change(&k);
        rows.push([
            k.label.to_string(),
            k.now.clone(),
            k.before.clone(),
            format!("{arrow} {pct}"),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = " ".repeat(widths[i] - cell.chars().count());
                match i {
                    0 | 3 => format!("{cell}{pad}"),
                    _ => format!("{pad}{cell}"),
                }
            })
            .collect();
        let _ = writeln!(out, "  {}", cells.join("   ").trim_end());
    }
    out
}

fn tiles(out: &mut String, r: &Report, c: &Currencies) {
    out.push_str("<div class=\"tiles\">");
    for k in kpis(r, c) {
        let (class, arrow, pct) = change(&k);
        let pct = match pct.is_empty() {
            true => pct,
            false => format!(" ({pct})"),
        };
        let _ = write!(
            out,
            "<div class=\"tile\" data-tile=\"{}\" data-value=\"{}\" data-previous=\"{}\"><div class=\"label\">{}</div><div class=\"value\">{}</div><div class=\"change {class}\">{arrow} vs {}{pct}</div></div>",
            k.key,
            k.now_value.map(|v| v.to_string()).unwrap_or_default(),
            k.before_value.map(|v| v.to_string()).unwrap_or_default(),
            esc(k.label),
            esc(&k.now),
            esc(&k.before)
        );
    }
    out.push_str("</div>");
}

fn group_signed(n: i64) -> String {
    match n < 0 {
        true => format!("−{}", group(n.unsigned_abs())),
        false => group(n as u64),
    }
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    out.push_str("<p class=\"legend\">");
    for (name, color) in items {
        let _ = write!(
            out,
            "<span style=\"background:{color}\"></span>{}",
            esc(name)
        );
    }
    out.push_str("</p>");
}

fn movements(out: &mut String, r: &Report, money: &dyn Fn(i64) -> String) {
    section(out, "MRR movements");
    let months: Vec<(String, Vec<Part<'_>>)> = r
        .movements
        .iter()
        .map(|m| {
            (
                m.month.clone(),
                vec![
                    Part {
                        name: "new",
                        value: m.new,
                        color: svg::NEW,
                    },
                    Part {
                        name: "expansion",
                        value: m.expansion,
                        color: svg::EXPANSION,
                    },
                    Part {
                        name: "reactivation",
                        value: m.reactivation,
                        color: svg::REACTIVATION,
                    },
                    Part {
                        name: "contraction",
                        value: m.contraction,
                        color: svg::CONTRACTION,
                    },
                    Part {
                        name: "churn",
                        value: m.churn,
                        color: svg::CHURN,
                    },
                ],
            )
        })
        .collect();
    let net: Vec<i64> = r.movements.iter().map(|m| m.net).collect();
    let b = &r.bridge;
    let steps = [
        ("start", "start", b.start),
        ("new", "new", b.new),
        ("expansion", "exp.", b.expansion),
        ("reactivation", "react.", b.reactivation),
        ("contraction", "contr.", b.contraction),
        ("churn", "churn", b.churn),
        ("fx", "FX", b.fx),
        ("end", "end", b.end),
    ];
    let _ = write!(
        out,
        "<div class=\"pair\"><div class=\"card\"><strong>By month</strong>{}",
        svg::stacked(
            svg::HALF,
            "movements",
            "MRR movements by month, with the net movement",
            &months,
            Some(&net),
            money
        )
    );
    legend(
        out,
        &[
            ("new", svg::NEW),
            ("expansion", svg::EXPANSION),
            ("reactivation", svg::REACTIVATION),
            ("contraction", svg::CONTRACTION),
            ("churn", svg::CHURN),
            ("net", svg::LINE),
        ],
    );
    let _ = write!(
        out,
        "</div><div class=\"card\"><strong>Bridge, {}</strong>{}</div></div>",
        esc(&b.month),
        svg::waterfall(
            svg::HALF,
            "bridge",
            "MRR bridge of the last month",
            &steps,
            money
        )
    );
}

fn revenue(out: &mut String, r: &Report, money: &dyn Fn(i64) -> String) {
    section(out, "Daily revenue");
    let days: Vec<(String, Vec<Part<'_>>)> = r
        .revenue
        .iter()
        .map(|d| {
            (
                d.date.clone(),
                vec![
                    Part {
                        name: "gross",
                        value: d.gross,
                        color: svg::EXPANSION,
                    },
                    Part {
                        name: "refunds",
                        value: -d.refunds,
                        color: svg::CONTRACTION,
                    },
                    Part {
                        name: "disputes",
                        value: -d.disputes,
                        color: svg::CHURN,
                    },
                    Part {
                        name: "fees",
                        value: -d.fees,
                        color: svg::MUTED,
                    },
                ],
            )
        })
        .collect();
    let net: Vec<i64> = r.revenue.iter().map(|d| d.net).collect();
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"scroll wide\">{}</div>",
        svg::stacked(
            svg::WIDE,
            "revenue",
            "Daily gross revenue, refunds, disputes and fees, with the net",
            &days,
            Some(&net),
            money
        )
    );
    legend(
        out,
        &[
            ("gross", svg::EXPANSION),
            ("refunds", svg::CONTRACTION),
            ("disputes", svg::CHURN),
            ("fees", svg::MUTED),
            ("net", svg::LINE),
        ],
    );
    out.push_str("</div>");
}

fn visitors(out: &mut String, r: &Report, c: &Currencies) {
    if r.channels.is_empty() && r.experiments.is_empty() {
        return;
    }
    let cur = r.settlement_currency.as_str();
    let money = |v: i64| c.format(v, cur);
    let rpv = |v: Option<f64>| v.map_or("—".to_string(), |v| c.format_decimal(v, cur));
    if !r.channels.is_empty() {
        section(out, "Revenue by first-touch channel, 30 days");
        let bars: Vec<(String, i64)> = r
            .channels
            .iter()
            .map(|ch| (ch.channel.clone(), ch.gross))
            .collect();
        let _ = write!(
            out,
            "<div class=\"pair\"><div class=\"card\">{}</div><div class=\"card scroll\"><table><tr><th>Channel</th><th class=\"num\">Gross</th><th class=\"num\">Visitors</th><th class=\"num\">Per visitor</th></tr>",
            svg::hbars(
                svg::HALF,
                "channels",
                "Gross revenue by first-touch channel",
                &bars,
                &money
            )
        );
        for ch in &r.channels {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&ch.channel),
                esc(&money(ch.gross)),
                group(ch.visitors.max(0) as u64),
                esc(&rpv(ch.revenue_per_visitor))
            );
        }
        out.push_str("</table></div></div>");
    }
    if !r.experiments.is_empty() {
        section(out, "Experiments");
        out.push_str("<div class=\"card scroll\"><table><tr><th>Experiment</th><th>Variant</th><th class=\"num\">Visitors</th><th class=\"num\">Converting</th><th class=\"num\">Gross</th><th class=\"num\">Per visitor</th></tr>");
        for e in &r.experiments {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&e.experiment),
                esc(&e.variant),
                group(e.visitors.max(0) as u64),
                group(e.converting_visitors.max(0) as u64),
                esc(&money(e.gross)),
                esc(&rpv(e.revenue_per_visitor))
            );
        }
        out.push_str("</table></div>");
    }
}

fn customers(out: &mut String, r: &Report, c: &Currencies) {
    let cur = r.settlement_currency.as_str();
    section(out, "Top customers and the last transactions, 30 days");
    out.push_str("<div class=\"pair\"><div class=\"card scroll\"><table><tr><th>#</th><th>Customer</th><th class=\"num\">Net sales</th><th class=\"num\">Charges</th></tr>");
    for t in &r.top_customers {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            t.rank,
            esc(&t.customer_key),
            esc(&c.format(t.net_sales, cur)),
            t.charge_count
        );
    }
    out.push_str("</table></div><div class=\"card scroll\"><table><tr><th>When</th><th>What</th><th class=\"num\">Amount</th><th class=\"num\">Net</th></tr>");
    for t in &r.transactions {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&t.created),
            esc(&t.category),
            esc(&c.format(t.presentment_amount, &t.currency)),
            esc(&c.format(t.net_settlement, cur))
        );
    }
    out.push_str("</table></div></div>");
}

fn per_currency(out: &mut String, r: &Report, c: &Currencies) {
    section(out, "MRR by currency (native)");
    out.push_str("<div class=\"pair\">");
    for v in &r.currencies {
        let money = |x: i64| c.format(x, &v.currency);
        let points: Vec<(String, i64)> = v
            .series
            .iter()
            .map(|p| (p.date[..7].to_string(), p.mrr))
            .collect();
        let _ = write!(
            out,
            "<div class=\"card\"><strong>{} · {} · {} active</strong>{}</div>",
            esc(&v.currency.to_uppercase()),
            esc(&money(v.mrr)),
            v.active_subscriptions,
            svg::line(
                svg::HALF,
                &format!("mrr_{}", v.currency),
                &format!("MRR in {}", v.currency.to_uppercase()),
                &points,
                &money
            )
        );
    }
    out.push_str("</div>");
}

fn reconstructed(out: &mut String, r: &Report) {
    section(out, "How much of each month's MRR is reconstructed");
    // Tenths of a percent: the chart's values are integers.
    let months: Vec<(String, i64)> = r
        .reconstructed
        .iter()
        .map(|s| (s.month.clone(), (s.reconstructed_pct * 10.0).round() as i64))
        .collect();
    let pct = |tenths: i64| format!("{:.1} %", tenths as f64 / 10.0);
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"scroll wide\">{}</div><p class=\"legend\">The share of each month's MRR that comes from \
         subscription states rebuilt from invoices and timestamps (before the first event or \
         stored version of a subscription) rather than observed.</p></div>",
        svg::line(
            svg::WIDE,
            "reconstructed",
            "Reconstructed share of MRR by month",
            &months,
            &pct
        )
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::page::{Channel, CurrencyMrr, Experiment, TopCustomer};

    /// Names come from visitor exports, billing emails and the account: none of them can end
    /// the data island, open a comment or an element, or leave an attribute.
    #[test]
    fn data_cannot_break_out_of_the_page() {
        let hostile = "<!--<script>x</script>\"&<zz";
        let report = Report {
            as_of: "2026-03-08".into(),
            settlement_currency: "usd\"><zz".into(),
            channels: vec![Channel {
                channel: hostile.into(),
                gross: 5,
                visitors: 1,
                revenue_per_visitor: Some(5.0),
            }],
            experiments: vec![Experiment {
                experiment: hostile.into(),
                variant: hostile.into(),
                ..Default::default()
            }],
            top_customers: vec![TopCustomer {
                rank: 1,
                customer_key: hostile.into(),
                ..Default::default()
            }],
            currencies: vec![
                CurrencyMrr {
                    currency: "usd".into(),
                    ..Default::default()
                },
                CurrencyMrr {
                    currency: "x\"><zz".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let html = page(&report, &Currencies::from_seed());
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert!(!html.contains("<!--") && !html.contains("<zz"), "{html}");
        let open = "<script type=\"application/json\" id=\"report-data\">";
        let start = html.find(open).expect("island") + open.len();
        let end = start + html[start..].find("</script>").expect("closed");
        let data: serde_json::Value = serde_json::from_str(&html[start..end]).expect("JSON");
        assert_eq!(data["channels"][0]["channel"], hostile);
        assert!(html[end..].starts_with("</script></main></body></html>"));
    }
}
