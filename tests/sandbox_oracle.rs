use std::collections::{BTreeMap, HashMap, HashSet};

use stripelake::sandbox::catalog::Catalog;
use stripelake::sandbox::generate::{self, GenConfig};
use stripelake::sandbox::oracle::{self, state_mrr};
use stripelake::sandbox::truth::SubState;

use crate::support::{self, NOW, page_all};

fn catalog() -> Catalog {
    generate::generate(&GenConfig {
        seed: 1,
        scale: 0.01,
        now: NOW,
        livemode: false,
    })
    .catalog
}

fn price(c: &Catalog, nickname: &str) -> usize {
    c.prices
        .iter()
        .position(|p| p.nickname == nickname)
        .unwrap_or_else(|| panic!("no price {nickname}"))
}

fn coupon(c: &Catalog, id: &str) -> usize {
    c.coupons
        .iter()
        .position(|p| p.id == id)
        .unwrap_or_else(|| panic!("no coupon {id}"))
}

fn mrr(c: &Catalog, status: &'static str, items: &[(&str, i64)], coupon_id: Option<&str>) -> i64 {
    let state = SubState {
        at: 0,
        status,
        items: items.iter().map(|(n, q)| (price(c, n), *q)).collect(),
        coupon: coupon_id.map(|id| coupon(c, id)),
    };
    state_mrr(c, &state)
}

/// (name, status, items as (price nickname, quantity), coupon, expected MRR)
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, i64)],
    Option<&'static str>,
    i64,
);

/// Expected values worked out by hand from METRICS.md §3.2–§3.5 (shown in the comments).
#[test]
fn subscription_mrr_matches_hand_computed_values() {
    let c = catalog();
    let cases: &[Case] = &[
        ("monthly", "active", &[("Starter monthly", 1)], None, 1900),
        (
            "yearly ÷ 12: 49000/12 = 4083.33",
            "active",
            &[("Pro yearly", 1)],
            None,
            4083,
        ),
        (
            "two-year ÷ 24: 90000/24",
            "active",
            &[("Pro two-year", 1)],
            None,
            3750,
        ),
        (
            "quarterly ÷ 3: 13500/3",
            "active",
            &[("Pro quarterly", 1)],
            None,
            4500,
        ),
        (
            "weekly × 52/12: 500·52/12 = 2166.67",
            "active",
            &[("Starter weekly", 1)],
            None,
            2167,
        ),
        (
            "fortnightly × 52/24: 900·52/24",
            "active",
            &[("Starter fortnightly", 1)],
            None,
            1950,
        ),
        (
            "daily × 365/12: 100·365/12 = 3041.67",
            "active",
            &[("Starter daily", 1)],
            None,
            3042,
        ),
        (
            "per seat: 1200·7",
            "active",
            &[("Team per seat", 7)],
            None,
            8400,
        ),
        (
            "volume tier 6–20: 1200·7",
            "active",
            &[("Team volume", 7)],
            None,
            8400,
        ),
        (
            "volume tier 21+: 900·25",
            "active",
            &[("Team volume", 25)],
            None,
            22500,
        ),
        (
            "graduated: 2000 + 1000·10 + 800·2",
            "active",
            &[("Team graduated", 12)],
            None,
            13600,
        ),
        (
            "graduated: 2000 + 1000·10 + 800·40 + 600·10",
            "active",
            &[("Team graduated", 60)],
            None,
            50000,
        ),
        (
            "metered items add 0",
            "active",
            &[("Starter monthly", 1), ("API calls", 1)],
            None,
            1900,
        ),
        (
            "items sum: 1900 + 700 + 800",
            "active",
            &[("Starter monthly", 1), ("Add-on", 1)],
            None,
            2600,
        ),
        (
            "forever 20 %: 4900·0.8",
            "active",
            &[("Pro monthly", 1)],
            Some("FOREVER20"),
            3920,
        ),
        (
            "forever 20 % weekly: 2166.67·0.8 = 1733.33",
            "active",
            &[("Starter weekly", 1)],
            Some("FOREVER20"),
            1733,
        ),
        (
            "forever $5 off monthly: 1900 − 500",
            "active",
            &[("Starter monthly", 1)],
            Some("FIVEOFF"),
            1400,
        ),
        (
            "forever $5 off yearly: (19000 − 500)/12 = 1541.67",
            "active",
            &[("Starter yearly", 1)],
            Some("FIVEOFF"),
            1542,
        ),
        (
            "100 % forever is free",
            "active",
            &[("Pro monthly", 1)],
            Some("FREEFOREVER"),
            0,
        ),
        (
            "once coupons never touch MRR",
            "active",
            &[("Pro monthly", 1)],
            Some("LAUNCH50"),
            4900,
        ),
        (
            "repeating coupons never touch MRR",
            "active",
            &[("Pro monthly", 1)],
            Some("QUARTER25"),
            4900,
        ),
        (
            "past_due counts",
            "past_due",
            &[("Pro monthly", 1)],
            None,
            4900,
        ),
        ("trialing is 0", "trialing", &[("Pro monthly", 1)], None, 0),
        ("unpaid is 0", "unpaid", &[("Pro monthly", 1)], None, 0),
        ("paused is 0", "paused", &[("Pro monthly", 1)], None, 0),
        ("canceled is 0", "canceled", &[("Pro monthly", 1)], None, 0),
        (
            "GBP yearly in native pence: 3900/12 = 325",
            "active",
            &[("Pro yearly GBP", 1)],
            None,
            325,
        ),
        (
            "JPY is zero-decimal: ¥2500",
            "active",
            &[("Starter monthly JPY", 1)],
            None,
            2500,
        ),
    ];
    for (name, status, items, coupon_id, expected) in cases {
        assert_eq!(mrr(&c, status, items, *coupon_id), *expected, "{name}");
    }
}

/// The oracle's revenue figures equal what the served balance transactions and charges say.
#[tokio::test]
async fn revenue_figures_reconcile_with_the_served_ledger() {
    let sb = support::start(21, 0.5).await;
    let expected = sb.with_account(oracle::expected);
    let bts = page_all(&sb, "/v1/balance_transactions", "", 100).await;
    let included = ["charge", "refund", "dispute", "dispute_reversal", "fee"];
    let net: i64 = bts
        .iter()
        .filter(|b| included.contains(&b["reporting_category"].as_str().unwrap_or("")))
        .map(|b| b["net"].as_i64().unwrap_or(0))
        .sum();
    let charge_bts: Vec<_> = bts
        .iter()
        .filter(|b| b["reporting_category"] == "charge")
        .collect();
    let sum = |f: fn(&oracle::RevenueRow) -> i64| expected.revenue_daily.iter().map(f).sum::<i64>();
    assert_eq!(sum(|r| r.net_revenue_settlement), net);
    assert_eq!(
        sum(|r| r.gross_charges_settlement),
        charge_bts
            .iter()
            .map(|b| b["amount"].as_i64().unwrap_or(0))
            .sum::<i64>()
    );
    assert_eq!(sum(|r| r.charge_count), charge_bts.len() as i64);
    let charges = page_all(&sb, "/v1/charges", "", 100).await;
    let failed: Vec<_> = charges.iter().filter(|c| c["status"] == "failed").collect();
    assert!(!failed.is_empty());
    assert_eq!(sum(|r| r.failed_payment_count), failed.len() as i64);
    assert_eq!(
        sum(|r| r.failed_payment_amount),
        failed
            .iter()
            .map(|c| c["amount"].as_i64().unwrap_or(0))
            .sum::<i64>()
    );
    let keys: HashSet<String> = charges
        .iter()
        .filter(|c| c["status"] == "succeeded")
        .map(|c| match c["customer"].as_str() {
            Some(id) => id.to_string(),
            None => format!(
                "email:{}",
                c["billing_details"]["email"]
                    .as_str()
                    .unwrap_or("")
                    .trim()
                    .to_lowercase()
            ),
        })
        .collect();
    assert_eq!(
        expected
            .new_customers_daily
            .iter()
            .map(|(_, n)| n)
            .sum::<i64>(),
        keys.len() as i64
    );
}

/// Movements add up to MRR, and the oracle's final states are the served subscriptions' states.
#[tokio::test]
async fn mrr_movements_add_up_and_states_match_the_served_subscriptions() {
    let sb = support::start(21, 0.5).await;
    let expected = sb.with_account(oracle::expected);
    let mut last: BTreeMap<(String, &str), (i64, i64)> = BTreeMap::new();
    for r in &expected.mrr_subscription_daily {
        let e = last
            .entry((r.customer_id.clone(), r.currency))
            .or_insert((r.day, 0));
        if r.day > e.0 {
            *e = (r.day, 0);
        }
        if r.day == e.0 {
            e.1 += r.mrr;
        }
    }
    let mut moved: HashMap<(String, &str), i64> = HashMap::new();
    for m in &expected.mrr_movements {
        *moved
            .entry((m.customer_id.clone(), m.currency))
            .or_default() += m.amount;
        assert_eq!(m.amount, m.mrr_after - m.mrr_before);
    }
    for (key, (_, final_mrr)) in &last {
        assert_eq!(moved.get(key).copied().unwrap_or(0), *final_mrr, "{key:?}");
    }
    let types: HashSet<&str> = expected
        .mrr_movements
        .iter()
        .map(|m| m.movement_type)
        .collect();
    for t in ["new", "expansion", "contraction", "churn"] {
        assert!(types.contains(t), "no {t} movement");
    }
    let served = page_all(&sb, "/v1/subscriptions", "&status=all", 100).await;
    // Subscriptions that changed after the oracle's last day are compared on another day.
    let as_of_end = (expected.as_of_day + 1) * 86_400;
    let later = page_all(
        &sb,
        "/v1/events",
        &format!("&created[gte]={as_of_end}"),
        100,
    )
    .await;
    let changed_later: HashSet<&str> = later
        .iter()
        .filter(|e| e["data"]["object"]["object"] == "subscription")
        .filter_map(|e| e["data"]["object"]["id"].as_str())
        .collect();
    let final_status: HashMap<&str, &str> = expected
        .mrr_subscription_daily
        .iter()
        .filter(|r| r.day == expected.as_of_day)
        .map(|r| (r.subscription_id.as_str(), r.status))
        .collect();
    let mut compared = 0;
    for s in &served {
        let id = s["id"].as_str().expect("id");
        if let (Some(status), false) = (final_status.get(id), changed_later.contains(id)) {
            compared += 1;
            assert_eq!(Some(*status), s["status"].as_str(), "{id}");
        }
    }
    assert!(compared > served.len() / 2);
}
