//! One subscription state → its monthly recurring value (METRICS.md §3.2–§3.5), exactly.
//!
//! The SQL model hands over the state as Stripe's JSON plus the price and coupon objects it
//! references (prices carry `tiers`, which a subscription item never embeds); everything here is
//! integer arithmetic on rationals, rounded once per subscription.

use std::collections::HashMap;

use serde_json::Value;

use super::money::Ratio;

/// The options of `[transform]` that change MRR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// `forever_only` (Stripe) when false; `all_active` when true.
    pub all_discounts: bool,
    /// `at_request`: a scheduled cancellation churns as soon as it is visible.
    pub churn_at_request: bool,
}

/// Objects the state refers to, by id.
pub struct Lookup<'a> {
    pub prices: HashMap<&'a str, &'a Value>,
    pub coupons: HashMap<&'a str, &'a Value>,
    /// Discount objects for states that name discounts by id (event payloads).
    pub discounts: HashMap<&'a str, &'a Value>,
}

fn int(v: &Value) -> Option<i128> {
    v.as_i64().map(i128::from)
}

/// `unit_amount_decimal` when present (it can carry sub-cent precision), else `unit_amount`.
fn amount(obj: &Value, decimal: &str, integer: &str) -> Ratio {
    obj.get(decimal)
        .and_then(Value::as_str)
        .and_then(Ratio::parse_decimal)
        .or_else(|| obj.get(integer).and_then(int).map(Ratio::int))
        .unwrap_or(Ratio::ZERO)
}

/// Monthly factor of a recurring interval: 1/n, 1/(12n), 52/(12n), 365/(12n).
pub fn monthly_factor(recurring: &Value) -> Ratio {
    let n = recurring
        .get("interval_count")
        .and_then(int)
        .unwrap_or(1)
        .max(1);
    match recurring.get("interval").and_then(Value::as_str) {
        Some("year") => Ratio::new(1, 12 * n),
        Some("week") => Ratio::new(52, 12 * n),
        Some("day") => Ratio::new(365, 12 * n),
        _ => Ratio::new(1, n),
    }
}

fn billable_quantity(price: &Value, quantity: i128) -> i128 {
    let Some(t) = price.get("transform_quantity").filter(|t| t.is_object()) else {
        return quantity;
    };
    let by = t.get("divide_by").and_then(int).unwrap_or(1).max(1);
    let up = t.get("round").and_then(Value::as_str) == Some("up");
    if up {
        (quantity + by - 1).div_euclid(by)
    } else {
        quantity.div_euclid(by)
    }
}

/// The price × quantity of one billing period, before discounts.
fn base_amount(price: &Value, quantity: i128) -> Ratio {
    let recurring = price.get("recurring").unwrap_or(&Value::Null);
    if recurring.get("usage_type").and_then(Value::as_str) == Some("metered") {
        return Ratio::ZERO;
    }
    let q = billable_quantity(price, quantity);
    if price.get("billing_scheme").and_then(Value::as_str) != Some("tiered") {
        return amount(price, "unit_amount_decimal", "unit_amount").times(Ratio::int(q));
    }
    let tiers = price
        .get("tiers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let up_to = |t: &Value| t.get("up_to").and_then(int).unwrap_or(i128::MAX);
    let flat = |t: &Value| amount(t, "flat_amount_decimal", "flat_amount");
    let unit = |t: &Value| amount(t, "unit_amount_decimal", "unit_amount");
    if price.get("tiers_mode").and_then(Value::as_str) == Some("graduated") {
        let mut total = Ratio::ZERO;
        let mut below = 0i128;
        for t in tiers {
            if q <= below {
                break;
            }
            let units = q.min(up_to(t)) - below;
            total = total.plus(flat(t)).plus(unit(t).times(Ratio::int(units)));
            below = up_to(t);
        }
        total
    } else {
        tiers
            .iter()
            .find(|t| q <= up_to(t))
            .map_or(Ratio::ZERO, |t| flat(t).plus(unit(t).times(Ratio::int(q))))
    }
}

/// The coupon of a Discount object: `source.coupon` (2025+) or `coupon` (older versions), as an
/// id to look up or an expanded object.
fn coupon_of<'a>(discount: &'a Value, lookup: &Lookup<'a>) -> Option<&'a Value> {
    let reference = discount
        .pointer("/source/coupon")
        .filter(|v| !v.is_null())
        .or_else(|| discount.get("coupon"))?;
    match reference {
        Value::String(id) => lookup.coupons.get(id.as_str()).copied(),
        Value::Object(_) => Some(reference),
        _ => None,
    }
}

/// Coupon terms that apply at `at`, in array order.
fn active_coupons<'a>(
    discounts: &'a Value,
    lookup: &Lookup<'a>,
    rules: Rules,
    at: i64,
) -> Vec<&'a Value> {
    let list = discounts
        .as_array()
        .map(|a| a.iter().collect::<Vec<_>>())
        .unwrap_or_else(|| {
            if discounts.is_object() {
                vec![discounts]
            } else {
                Vec::new()
            }
        });
    list.into_iter()
        .filter_map(|d| match d {
            Value::String(id) => lookup.discounts.get(id.as_str()).copied(),
            _ => Some(d),
        })
        .filter(|d| {
            d.get("start")
                .and_then(Value::as_i64)
                .is_none_or(|s| s <= at)
        })
        .filter(|d| d.get("end").and_then(Value::as_i64).is_none_or(|e| e > at))
        .filter_map(|d| coupon_of(d, lookup))
        .filter(|c| {
            rules.all_discounts || c.get("duration").and_then(Value::as_str) == Some("forever")
        })
        .collect()
}

/// `x × (1 − p/100)` or `x − a × F_sub`, floored at 0 after each step.
fn apply(x: Ratio, coupon: &Value, currency: &str, f_sub: Ratio) -> Ratio {
    if let Some(p) = coupon
        .get("percent_off")
        .filter(|v| !v.is_null())
        .and_then(|v| Ratio::parse_decimal(&v.to_string()))
    {
        return x
            .times(Ratio::int(1).minus(p.times(Ratio::new(1, 100))))
            .max_zero();
    }
    let same_currency = coupon.get("currency").and_then(Value::as_str) == Some(currency);
    let off = if same_currency {
        coupon.get("amount_off").and_then(int)
    } else {
        coupon
            .pointer(&format!("/currency_options/{currency}/amount_off"))
            .and_then(int)
    };
    match off {
        Some(a) => x.minus(Ratio::int(a).times(f_sub)).max_zero(),
        // A coupon in another currency with no amount for this one does not apply on Stripe either.
        None => x,
    }
}

/// Statuses whose subscriptions carry MRR (METRICS.md §3.2).
pub fn status_counts(status: &str) -> bool {
    matches!(status, "active" | "past_due")
}

/// Rounded monthly value in the subscription's currency minor units; 0 when the status does not
/// count, or when a scheduled cancellation is visible and `churn_recognition = at_request`.
pub fn subscription_mrr(
    sub: &Value,
    customer_discount: &Value,
    status: &str,
    lookup: &Lookup,
    rules: Rules,
    at: i64,
) -> i64 {
    if !status_counts(status) {
        return 0;
    }
    let scheduled = sub.get("cancel_at_period_end").and_then(Value::as_bool) == Some(true)
        || sub.get("cancel_at").is_some_and(|v| !v.is_null());
    if rules.churn_at_request && scheduled {
        return 0;
    }
    let currency = sub.get("currency").and_then(Value::as_str).unwrap_or("");
    let items = sub
        .pointer("/items/data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut f_sub = None;
    let mut total = Ratio::ZERO;
    for item in items {
        let embedded = item.get("price").unwrap_or(&Value::Null);
        let price = embedded
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| lookup.prices.get(id).copied())
            .unwrap_or(embedded);
        let recurring = price.get("recurring").unwrap_or(&Value::Null);
        let factor = monthly_factor(recurring);
        f_sub.get_or_insert(factor);
        let quantity = item.get("quantity").and_then(int).unwrap_or(1);
        let mut value = base_amount(price, quantity).times(factor);
        let item_discounts = item.get("discounts").unwrap_or(&Value::Null);
        for coupon in active_coupons(item_discounts, lookup, rules, at) {
            value = apply(value, coupon, currency, factor);
        }
        total = total.plus(value);
    }
    let f_sub = f_sub.unwrap_or(Ratio::int(1));
    let own = sub
        .get("discounts")
        .filter(|d| d.as_array().is_some_and(|a| !a.is_empty()))
        .or_else(|| sub.get("discount").filter(|d| d.is_object()));
    let coupons = match own {
        Some(d) => active_coupons(d, lookup, rules, at),
        None => active_coupons(customer_discount, lookup, rules, at),
    };
    for coupon in coupons {
        total = apply(total, coupon, currency, f_sub);
    }
    total.max_zero().round_half_away() as i64
}

/// The status a state had at `at`. Exact states (events, stored versions) say it themselves; a
/// state reconstructed from a later one only knows the immutable timestamps.
pub fn status_at(sub: &Value, at: i64, reconstructed: bool) -> String {
    let status = sub.get("status").and_then(Value::as_str).unwrap_or("");
    if !reconstructed {
        return status.into();
    }
    let ts = |k: &str| sub.get(k).and_then(Value::as_i64);
    if let (Some(start), Some(end)) = (ts("trial_start"), ts("trial_end"))
        && start <= at
        && at < end
    {
        return "trialing".into();
    }
    // An expired first payment never made the subscription active: incomplete until it ended.
    let ended = ts("ended_at").is_some_and(|e| at >= e);
    match status {
        "incomplete_expired" if ended => "incomplete_expired".into(),
        "incomplete_expired" => "incomplete".into(),
        _ if ended => "canceled".into(),
        "canceled" | "trialing" => "active".into(),
        _ => status.into(),
    }
}

/// The items a subscription was billed for at `at`, replayed from its invoice lines: each
/// invoice's regular lines set the item list from the latest period start among them (metered
/// lines are billed in arrears, so they start a period earlier); proration lines change it at
/// the change time (a credit removes that price × quantity, a charge adds it). `None` when no
/// line is that old.
pub fn billed_items(lines: &[Value], at: i64) -> Option<Vec<Value>> {
    use std::collections::BTreeMap;
    /// (price, quantity) per line.
    type Billed<'a> = Vec<(&'a str, i64)>;
    // (effective time, 0 = regular set | 1 = credit | 2 = charge, invoice) → lines
    let mut changes: BTreeMap<(i64, u8, &str), Billed> = BTreeMap::new();
    let mut regular: BTreeMap<&str, (i64, Billed)> = BTreeMap::new();
    for l in lines {
        let (Some(start), Some(price)) = (
            l.pointer("/period/start").and_then(Value::as_i64),
            l.pointer("/pricing/price_details/price")
                .and_then(Value::as_str),
        ) else {
            continue;
        };
        let invoice = l.get("invoice").and_then(Value::as_str).unwrap_or("");
        let quantity = l.get("quantity").and_then(Value::as_i64).unwrap_or(1);
        let proration = l
            .pointer("/parent/subscription_item_details/proration")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if proration {
            let credit = l.get("amount").and_then(Value::as_i64).unwrap_or(0) < 0;
            let kind = if credit { 1 } else { 2 };
            changes
                .entry((start, kind, invoice))
                .or_default()
                .push((price, quantity));
        } else {
            let set = regular.entry(invoice).or_insert((start, Vec::new()));
            set.0 = set.0.max(start);
            set.1.push((price, quantity));
        }
    }
    for (invoice, (start, items)) in regular {
        changes.insert((start, 0, invoice), items);
    }
    let mut items: Option<Vec<(&str, i64)>> = None;
    for ((_, kind, _), lines) in changes.range(..=(at, u8::MAX, "\u{10ffff}")) {
        let current = items.get_or_insert_with(Vec::new);
        match kind {
            0 => *current = lines.clone(),
            1 => {
                for line in lines {
                    if let Some(k) = current.iter().position(|x| x == line) {
                        current.remove(k);
                    }
                }
            }
            _ => current.extend(lines.iter().copied()),
        }
    }
    items.map(|items| {
        items
            .into_iter()
            .map(|(p, q)| serde_json::json!({"price": {"id": p}, "quantity": q, "discounts": []}))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mrr(sub: Value, prices: &[Value], coupons: &[Value], rules: Rules) -> i64 {
        let lookup = Lookup {
            prices: prices
                .iter()
                .map(|p| (p["id"].as_str().unwrap_or(""), p))
                .collect(),
            coupons: coupons
                .iter()
                .map(|c| (c["id"].as_str().unwrap_or(""), c))
                .collect(),
            discounts: HashMap::new(),
        };
        let status = sub["status"].as_str().unwrap_or("").to_string();
        subscription_mrr(&sub, &Value::Null, &status, &lookup, rules, 100)
    }

    const STRIPE: Rules = Rules {
        all_discounts: false,
        churn_at_request: false,
    };

    fn item(price: Value, quantity: i64) -> Value {
        json!({"price": price, "quantity": quantity, "discounts": []})
    }

    fn price(id: &str, unit: i64, interval: &str, count: i64) -> Value {
        json!({"id": id, "billing_scheme": "per_unit", "unit_amount": unit,
               "recurring": {"interval": interval, "interval_count": count, "usage_type": "licensed"}})
    }

    #[test]
    fn intervals_normalise_and_round_once() {
        // 49000/12 = 4083.33 → 4083; 1000 × 52/12 = 4333.33; 2×1500/3 = 1000. Sum 9416.66 → 9417.
        let sub = json!({"status": "active", "currency": "usd", "items": {"data": [
            item(price("p1", 49000, "year", 1), 1),
            item(price("p2", 1000, "week", 1), 1),
            item(price("p3", 1500, "month", 3), 2),
        ]}});
        assert_eq!(mrr(sub, &[], &[], STRIPE), 9417);
    }

    #[test]
    fn tiers_come_from_the_price_table() {
        // Graduated, 8 units: tier 1 = flat 2000 + 5 × 1000; tier 2 = flat 500 + 3 × 800.
        // 7000 + 2900 = 9900; the second flat fee counts because units fall in that tier.
        let tiered = json!({"id": "pt", "billing_scheme": "tiered", "tiers_mode": "graduated",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
            "tiers": [{"up_to": 5, "unit_amount": 1000, "flat_amount": 2000},
                      {"up_to": null, "unit_amount": 800, "flat_amount": 500}]});
        let embedded = json!({"id": "pt", "billing_scheme": "tiered", "tiers_mode": "graduated",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}});
        let sub =
            json!({"status": "active", "currency": "usd", "items": {"data": [item(embedded, 8)]}});
        assert_eq!(mrr(sub, &[tiered], &[], STRIPE), 9900);
    }

    #[test]
    fn only_forever_coupons_count_by_default() {
        let coupons = [
            json!({"id": "F20", "duration": "forever", "percent_off": 20}),
            json!({"id": "ONCE", "duration": "once", "percent_off": 50}),
        ];
        let disc = |c: &str| json!({"source": {"coupon": c}, "start": 0, "end": null});
        let sub = |c: &str| {
            json!({"status": "active", "currency": "usd", "discounts": [disc(c)],
                   "items": {"data": [item(price("p", 2500, "month", 1), 1)]}})
        };
        assert_eq!(mrr(sub("F20"), &[], &coupons, STRIPE), 2000);
        assert_eq!(mrr(sub("ONCE"), &[], &coupons, STRIPE), 2500);
        let all = Rules {
            all_discounts: true,
            ..STRIPE
        };
        assert_eq!(mrr(sub("ONCE"), &[], &coupons, all), 1250);
    }

    #[test]
    fn statuses_and_scheduled_cancellations() {
        let base = |status: &str| {
            json!({"status": status, "currency": "usd", "cancel_at_period_end": true,
                   "items": {"data": [item(price("p", 2500, "month", 1), 1)]}})
        };
        assert_eq!(mrr(base("trialing"), &[], &[], STRIPE), 0);
        assert_eq!(mrr(base("past_due"), &[], &[], STRIPE), 2500);
        let at_request = Rules {
            churn_at_request: true,
            ..STRIPE
        };
        assert_eq!(mrr(base("active"), &[], &[], at_request), 0);
    }

    #[test]
    fn billed_items_replay_regular_and_proration_lines() {
        let line = |start: i64, inv: &str, price: &str, q: i64, proration: bool, amount: i64| {
            json!({"period": {"start": start}, "invoice": inv, "quantity": q, "amount": amount,
                   "pricing": {"price_details": {"price": price}},
                   "parent": {"subscription_item_details": {"proration": proration}}})
        };
        let lines = [
            line(100, "in_1", "seat", 5, false, 5000),
            line(100, "in_1", "addon", 1, false, 700),
            // Mid-cycle at 150: 5 seats become 8.
            line(150, "in_2", "seat", 5, true, -2500),
            line(150, "in_2", "seat", 8, true, 4000),
            // Next cycle at 200 bills only 8 seats (the add-on was removed) and, in arrears,
            // the metered usage of the period that started at 100.
            line(200, "in_3", "seat", 8, false, 8000),
            line(100, "in_3", "usage", 4321, false, 864),
        ];
        let at = |t| {
            billed_items(&lines, t).map(|items| {
                items
                    .iter()
                    .map(|i| {
                        format!(
                            "{}x{}",
                            i["price"]["id"].as_str().unwrap_or(""),
                            i["quantity"]
                        )
                    })
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(at(99), None);
        assert_eq!(at(100), Some(vec!["seatx5".into(), "addonx1".into()]));
        assert_eq!(at(150), Some(vec!["addonx1".into(), "seatx8".into()]));
        assert_eq!(at(250), Some(vec!["seatx8".into(), "usagex4321".into()]));
    }

    #[test]
    fn reconstructed_states_follow_the_timestamps() {
        let sub = json!({"status": "canceled", "trial_start": 10, "trial_end": 20, "ended_at": 50});
        let at = |t| status_at(&sub, t, true);
        assert_eq!(
            (at(10), at(20), at(49), at(50)),
            (
                "trialing".into(),
                "active".into(),
                "active".into(),
                "canceled".into()
            )
        );
        assert_eq!(status_at(&sub, 15, false), "canceled");
        let expired = json!({"status": "incomplete_expired", "ended_at": 50});
        assert_eq!(status_at(&expired, 10, true), "incomplete");
        assert_eq!(status_at(&expired, 50, true), "incomplete_expired");
    }
}
