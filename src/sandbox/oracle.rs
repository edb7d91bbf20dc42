//! The oracle: the headline figures of `../shared/METRICS.md`, computed in plain Rust from what
//! the generator knows to be true — never from the API responses or the SQL models it checks.
//! Defaults only: UTC days, `discount_mode = forever_only`, `churn_recognition = at_end`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::catalog::{Catalog, Duration, Interval};
use super::generate::Account;
use super::model::DAY;
use super::money::div_round_half_away;
use super::truth::{SubState, SubTruth};

#[derive(Debug, Serialize, PartialEq, Eq, Clone)]
pub struct MrrRow {
    pub day: i64,
    pub subscription_id: String,
    pub customer_id: String,
    pub currency: &'static str,
    pub status: &'static str,
    pub mrr: i64,
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone)]
pub struct Movement {
    pub day: i64,
    pub customer_id: String,
    pub currency: &'static str,
    pub movement_type: &'static str,
    pub amount: i64,
    pub mrr_before: i64,
    pub mrr_after: i64,
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Default)]
pub struct RevenueRow {
    pub day: i64,
    pub currency: &'static str,
    pub gross_charges: i64,
    pub gross_charges_settlement: i64,
    pub charge_count: i64,
    pub refunds: i64,
    pub refunds_settlement: i64,
    pub refund_count: i64,
    pub disputes: i64,
    pub disputes_settlement: i64,
    pub dispute_count: i64,
    pub fees_settlement: i64,
    pub net_revenue_settlement: i64,
    pub failed_payment_count: i64,
    pub failed_payment_amount: i64,
}

/// A charge the attribution rules must trace to a visitor (METRICS.md §6.1), and by which family
/// of rule: `client_reference_id`, `metadata` (any object) or `email`.
#[derive(Debug, Serialize, PartialEq, Eq, Clone)]
pub struct AttributedCharge {
    pub charge_id: String,
    pub visitor_id: String,
    pub match_method: &'static str,
}

/// Everything the oracle knows. Days are Unix day numbers (`timestamp / 86400`, UTC).
#[derive(Debug, Serialize)]
pub struct Expected {
    pub as_of_day: i64,
    pub mrr_subscription_daily: Vec<MrrRow>,
    pub mrr_movements: Vec<Movement>,
    pub revenue_daily: Vec<RevenueRow>,
    /// (day, count of customer keys whose first charge was that day)
    pub new_customers_daily: Vec<(i64, i64)>,
    /// Every attributable charge; a succeeded charge not listed has no visitor.
    pub attribution: Vec<AttributedCharge>,
}

pub fn expected(account: &Account) -> Expected {
    // The last fully elapsed day of the sandbox clock.
    let as_of_day = account.config.now.div_euclid(DAY) - 1;
    let mrr = mrr_subscription_daily(&account.catalog, &account.truth.subscriptions, as_of_day);
    let movements = mrr_movements(&mrr);
    Expected {
        as_of_day,
        mrr_subscription_daily: mrr,
        mrr_movements: movements,
        revenue_daily: revenue_daily(account),
        new_customers_daily: new_customers(account),
        attribution: attribution(account),
    }
}

fn attribution(account: &Account) -> Vec<AttributedCharge> {
    let mut out: Vec<AttributedCharge> = account
        .truth
        .conversions
        .iter()
        .flat_map(|c| {
            c.charges.iter().map(|charge| AttributedCharge {
                charge_id: charge.clone(),
                visitor_id: c.visitor_id.clone(),
                match_method: c.match_method,
            })
        })
        .collect();
    out.sort_by(|a, b| a.charge_id.cmp(&b.charge_id));
    out
}

/// Monthly factor k / (12 n) as (k, 12 n): METRICS.md §3.4.
fn factor(interval: Interval, count: u32) -> (i128, i128) {
    let k = match interval {
        Interval::Month => 12,
        Interval::Year => 1,
        Interval::Week => 52,
        Interval::Day => 365,
    };
    (k, 12 * count as i128)
}

/// A subscription's MRR in one end-of-day state (METRICS.md §3.2–§3.5).
pub fn state_mrr(catalog: &Catalog, state: &SubState) -> i64 {
    if !matches!(state.status, "active" | "past_due") {
        return 0;
    }
    // Exact sum over a common denominator: every item factor's denominator divides it.
    let mut den: i128 = 12 * 2 * 3 * 5 * 7;
    let mut num: i128 = 0;
    let mut sub_factor = (12, 12);
    for (i, (price, qty)) in state.items.iter().enumerate() {
        let p = &catalog.prices[*price];
        let Some(r) = &p.recurring else { continue };
        let (k, d) = factor(r.interval, r.count);
        if i == 0 {
            sub_factor = (k, d);
        }
        if !r.metered {
            num += p.amount_for(*qty) as i128 * k * (den / d);
        }
    }
    let forever = state
        .coupon
        .map(|c| &catalog.coupons[c])
        .filter(|c| matches!(c.duration, Duration::Forever));
    if let Some(coupon) = forever {
        if let Some(pct) = coupon.percent_off {
            num *= 100 - pct as i128;
            den *= 100;
        }
        if let Some((amount, _)) = coupon.amount_off {
            num = (num - amount as i128 * sub_factor.0 * (den / sub_factor.1)).max(0);
        }
    }
    div_round_half_away(num.max(0), den)
}

fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY)
}

fn mrr_subscription_daily(catalog: &Catalog, subs: &[SubTruth], as_of: i64) -> Vec<MrrRow> {
    let mut rows = Vec::new();
    for sub in subs {
        let first = day_of(sub.created);
        let ended = sub
            .states
            .iter()
            .find(|s| matches!(s.status, "canceled" | "incomplete_expired"))
            .map(|s| day_of(s.at));
        let last = ended.unwrap_or(as_of).min(as_of);
        let mut idx = 0;
        for day in first..=last {
            let eod = (day + 1) * DAY;
            while idx + 1 < sub.states.len() && sub.states[idx + 1].at < eod {
                idx += 1;
            }
            let state = &sub.states[idx];
            rows.push(MrrRow {
                day,
                subscription_id: sub.id.clone(),
                customer_id: sub.customer.clone(),
                currency: sub.currency,
                status: state.status,
                mrr: state_mrr(catalog, state),
            });
        }
    }
    rows
}

/// METRICS.md §4.1: customer × currency, daily, evaluated in the table's order.
fn mrr_movements(rows: &[MrrRow]) -> Vec<Movement> {
    let mut per_key: BTreeMap<(String, &'static str), BTreeMap<i64, i64>> = BTreeMap::new();
    for r in rows {
        *per_key
            .entry((r.customer_id.clone(), r.currency))
            .or_default()
            .entry(r.day)
            .or_default() += r.mrr;
    }
    let mut out = Vec::new();
    for ((customer, currency), days) in per_key {
        let (Some(first), Some(last)) = (days.keys().next().copied(), days.keys().last().copied())
        else {
            continue;
        };
        let mut before = 0;
        let mut ever = false;
        for day in first..=last {
            let after = days.get(&day).copied().unwrap_or(0);
            let kind = match (before, after) {
                (0, a) if a > 0 && !ever => Some("new"),
                (0, a) if a > 0 => Some("reactivation"),
                (b, 0) if b > 0 => Some("churn"),
                (b, a) if b > 0 && a > b => Some("expansion"),
                (b, a) if b > 0 && a < b => Some("contraction"),
                _ => None,
            };
            if let Some(movement_type) = kind {
                out.push(Movement {
                    day,
                    customer_id: customer.clone(),
                    currency,
                    movement_type,
                    amount: after - before,
                    mrr_before: before,
                    mrr_after: after,
                });
            }
            ever |= before > 0;
            before = after;
        }
    }
    out
}

fn revenue_daily(account: &Account) -> Vec<RevenueRow> {
    let mut rows: BTreeMap<(i64, &'static str), RevenueRow> = BTreeMap::new();
    for l in &account.truth.ledger {
        let day = day_of(l.created);
        let r = rows.entry((day, l.currency)).or_insert_with(|| RevenueRow {
            day,
            currency: l.currency,
            ..Default::default()
        });
        match l.category {
            "charge" => {
                r.gross_charges += l.presentment;
                r.gross_charges_settlement += l.settlement;
                r.charge_count += 1;
            }
            "refund" => {
                r.refunds += l.presentment;
                r.refunds_settlement -= l.settlement;
                r.refund_count += 1;
            }
            "dispute" => {
                r.disputes += l.presentment;
                r.disputes_settlement -= l.settlement;
                r.dispute_count += 1;
            }
            "dispute_reversal" => {
                r.disputes -= l.presentment;
                r.disputes_settlement -= l.settlement;
            }
            _ => {}
        }
        r.fees_settlement += if l.category == "fee" {
            -l.settlement
        } else {
            l.fee
        };
    }
    for f in &account.truth.failed {
        let day = day_of(f.created);
        let r = rows.entry((day, f.currency)).or_insert_with(|| RevenueRow {
            day,
            currency: f.currency,
            ..Default::default()
        });
        r.failed_payment_count += 1;
        r.failed_payment_amount += f.amount;
    }
    rows.into_values()
        .map(|mut r| {
            r.net_revenue_settlement = r.gross_charges_settlement
                - r.refunds_settlement
                - r.disputes_settlement
                - r.fees_settlement;
            r
        })
        .collect()
}

fn new_customers(account: &Account) -> Vec<(i64, i64)> {
    let mut first: HashMap<&str, i64> = HashMap::new();
    for l in account
        .truth
        .ledger
        .iter()
        .filter(|l| l.category == "charge")
    {
        let e = first.entry(&l.customer_key).or_insert(l.created);
        *e = (*e).min(l.created);
    }
    let mut per_day: BTreeMap<i64, i64> = BTreeMap::new();
    for t in first.values() {
        *per_day.entry(day_of(*t)).or_default() += 1;
    }
    per_day.into_iter().collect()
}
