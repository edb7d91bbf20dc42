use std::collections::{HashMap, HashSet};

use serde_json::Value;
use stripelake::sandbox::generate::{self, Account, GenConfig};
use stripelake::sandbox::store::Kind;

use crate::support::{self, NOW};

fn account(seed: u64, scale: f64) -> Account {
    generate::generate(&GenConfig {
        seed,
        scale,
        now: NOW,
        livemode: false,
    })
}

fn objects(a: &Account, kind: Kind) -> Vec<Value> {
    a.store
        .table(kind)
        .iter()
        .map(|o| serde_json::from_str(&o.json).expect("stored JSON parses"))
        .collect()
}

fn all_json(a: &Account) -> Vec<(Kind, String)> {
    Kind::ALL
        .iter()
        .flat_map(|k| {
            a.store
                .table(*k)
                .iter()
                .map(move |o| (*k, o.json.to_string()))
        })
        .collect()
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let first = all_json(&account(11, 0.5));
    let again = all_json(&account(11, 0.5));
    assert!(
        first == again,
        "same seed and scale produced different objects"
    );
    let other = all_json(&account(12, 0.5));
    assert!(first != other);
}

#[tokio::test]
async fn same_seed_serves_identical_response_bytes() {
    let a = support::start(11, 0.3).await;
    let b = support::start(11, 0.3).await;
    for path in [
        "/v1/invoices?limit=100",
        "/v1/events?limit=50&types[]=invoice.paid",
        "/v1/balance_transactions?limit=30&expand[]=data.source",
        "/v1/subscriptions?status=all&limit=20",
    ] {
        let fetch = |base: String| async move {
            reqwest::Client::new()
                .get(format!("{base}{path}"))
                .bearer_auth(support::KEY)
                .send()
                .await
                .expect("reply")
                .bytes()
                .await
                .expect("body")
        };
        assert_eq!(
            fetch(a.base_url()).await,
            fetch(b.base_url()).await,
            "{path}"
        );
    }
}

/// Every lifecycle the issue lists is present in a default-sized account.
#[test]
fn the_account_covers_every_lifecycle() {
    let a = account(42, 2.0);
    let subs = objects(&a, Kind::Subscription);
    let statuses: HashSet<&str> = subs.iter().filter_map(|s| s["status"].as_str()).collect();
    for s in [
        "active",
        "trialing",
        "past_due",
        "canceled",
        "unpaid",
        "paused",
        "incomplete_expired",
    ] {
        assert!(
            statuses.contains(s),
            "no {s} subscription (have {statuses:?})"
        );
    }
    assert!(
        subs.iter().any(|s| s["cancel_at_period_end"] == true),
        "no scheduled cancellation"
    );
    assert!(
        subs.iter().any(|s| s["items"]["has_more"] == true),
        "no subscription with > 10 items"
    );
    let mut per_customer: HashMap<&str, Vec<&Value>> = HashMap::new();
    for s in &subs {
        per_customer
            .entry(s["customer"].as_str().unwrap_or(""))
            .or_default()
            .push(s);
    }
    let comeback = per_customer.values().any(|v| {
        v.iter().any(|s| s["status"] == "canceled")
            && v.iter().any(|s| {
                s["status"] != "canceled"
                    && s["created"].as_i64() > v.iter().filter_map(|x| x["ended_at"].as_i64()).min()
            })
    });
    assert!(comeback, "no customer came back after cancelling");

    let prices = objects(&a, Kind::Price);
    let intervals: HashSet<(String, i64)> = prices
        .iter()
        .filter(|p| p["recurring"].is_object())
        .map(|p| {
            (
                p["recurring"]["interval"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                p["recurring"]["interval_count"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    for i in ["day", "week", "month", "year"] {
        assert!(intervals.iter().any(|(n, _)| n == i), "no {i} price");
    }
    assert!(
        intervals.iter().any(|(_, c)| *c > 1),
        "no interval_count > 1"
    );
    for mode in ["volume", "graduated"] {
        assert!(
            prices.iter().any(|p| p["tiers_mode"] == mode),
            "no {mode} tiers"
        );
    }
    assert!(
        prices
            .iter()
            .any(|p| p["recurring"]["usage_type"] == "metered")
    );
    assert!(prices.iter().any(|p| p["currency"] == "jpy"));
    let coupons = objects(&a, Kind::Coupon);
    for d in ["once", "repeating", "forever"] {
        assert!(coupons.iter().any(|c| c["duration"] == d), "no {d} coupon");
    }
    assert!(coupons.iter().any(|c| c["percent_off"] == 100));

    let lines = objects(&a, Kind::InvoiceLine);
    assert!(
        lines
            .iter()
            .any(|l| l["parent"]["subscription_item_details"]["proration"] == true),
        "no proration lines"
    );
    let invoices = objects(&a, Kind::Invoice);
    assert!(
        invoices.iter().any(|i| i["lines"]["has_more"] == true),
        "no invoice with > 10 lines"
    );
    assert!(
        invoices.iter().any(|i| i["total"] == 0) && invoices.iter().any(|i| i["status"] == "open")
    );

    let intents = objects(&a, Kind::PaymentIntent);
    for s in ["succeeded", "requires_payment_method", "canceled"] {
        assert!(
            intents.iter().any(|p| p["status"] == s),
            "no {s} payment intent"
        );
    }
    let charges = objects(&a, Kind::Charge);
    assert!(charges.iter().any(|c| c["status"] == "failed"));
    assert!(
        charges.iter().any(|c| c["refunded"] == true),
        "no full refund"
    );
    assert!(
        charges
            .iter()
            .any(|c| c["amount_refunded"].as_i64().unwrap_or(0) > 0 && c["refunded"] == false),
        "no partial refund"
    );
    assert!(
        charges
            .iter()
            .any(|c| c["customer"].is_null() && c["status"] == "succeeded"),
        "no guest payment"
    );
    assert!(charges.iter().any(|c| c["currency"] == "jpy"));
    let disputes = objects(&a, Kind::Dispute);
    for s in ["won", "lost"] {
        assert!(disputes.iter().any(|d| d["status"] == s), "no {s} dispute");
    }
    let bts = objects(&a, Kind::BalanceTransaction);
    let categories: HashSet<&str> = bts
        .iter()
        .filter_map(|b| b["reporting_category"].as_str())
        .collect();
    for c in [
        "charge",
        "refund",
        "dispute",
        "dispute_reversal",
        "fee",
        "payout",
    ] {
        assert!(categories.contains(c), "no {c} balance transaction");
    }
    assert!(
        bts.iter().any(|b| b["exchange_rate"].is_number()),
        "no FX balance transaction"
    );
    assert!(!objects(&a, Kind::Payout).is_empty() && !objects(&a, Kind::CreditNote).is_empty());

    let sessions = objects(&a, Kind::CheckoutSession);
    for mode in ["payment", "subscription"] {
        assert!(
            sessions
                .iter()
                .any(|s| s["mode"] == mode && s["client_reference_id"].is_string()),
            "no {mode} checkout with client_reference_id"
        );
    }
    assert!(
        sessions.iter().any(
            |s| s["metadata"]["visitor_id"].is_string() && s["metadata"]["site_id"].is_string()
        )
    );
    assert!(sessions.iter().any(|s| s["status"] == "expired"));
    let customers = a.store.table(Kind::Customer);
    assert!(customers.iter().any(|c| c.deleted), "no deleted customer");
    assert!(
        objects(&a, Kind::Customer)
            .iter()
            .any(|c| c["email"].is_null() && c.get("deleted").is_none()),
        "no customer without email"
    );

    let events = objects(&a, Kind::Event);
    let types: HashSet<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    for t in [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "customer.deleted",
        "checkout.session.completed",
    ] {
        assert!(types.contains(t), "no {t} event");
    }
    assert!(
        events
            .iter()
            .any(|e| e["data"]["previous_attributes"]["status"].is_string()),
        "no previous_attributes"
    );
    let first_created = objects(&a, Kind::Customer)
        .iter()
        .filter_map(|c| c["created"].as_i64())
        .min()
        .unwrap_or(NOW);
    assert!(
        NOW - first_created > 395 * 86_400,
        "history shorter than 13 months"
    );
}

/// Every reference in the account resolves, and the money adds up.
#[test]
fn objects_reference_each_other_consistently() {
    let a = account(5, 1.0);
    let known = |kind: Kind, id: &Value| {
        id.as_str()
            .is_some_and(|i| a.store.table(kind).get(i).is_some())
    };
    for bt in objects(&a, Kind::BalanceTransaction) {
        assert_eq!(
            bt["net"].as_i64(),
            Some(bt["amount"].as_i64().unwrap_or(0) - bt["fee"].as_i64().unwrap_or(0))
        );
    }
    for c in objects(&a, Kind::Charge) {
        assert!(known(Kind::PaymentIntent, &c["payment_intent"]));
        if c["status"] == "succeeded" {
            let bt = a
                .store
                .table(Kind::BalanceTransaction)
                .get(c["balance_transaction"].as_str().expect("bt"))
                .expect("charge BT exists");
            assert_eq!(bt.parent.as_deref(), c["id"].as_str());
        }
        if let Some(customer) = c["customer"].as_str() {
            assert!(a.store.table(Kind::Customer).get(customer).is_some());
        }
    }
    for i in objects(&a, Kind::Invoice) {
        assert!(known(
            Kind::Subscription,
            &i["parent"]["subscription_details"]["subscription"]
        ));
        let discount: i64 = i["total_discount_amounts"].as_array().map_or(0, |d| {
            d.iter().map(|x| x["amount"].as_i64().unwrap_or(0)).sum()
        });
        assert_eq!(
            i["total"].as_i64(),
            Some(i["subtotal"].as_i64().unwrap_or(0) - discount)
        );
        let lines: i64 = a
            .store
            .table(Kind::InvoiceLine)
            .children_of(i["id"].as_str().expect("id"))
            .map(|l| {
                serde_json::from_str::<Value>(&l.json).expect("json")["amount"]
                    .as_i64()
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(i["subtotal"].as_i64(), Some(lines));
    }
    for r in objects(&a, Kind::Refund) {
        assert!(
            known(Kind::Charge, &r["charge"])
                && known(Kind::BalanceTransaction, &r["balance_transaction"])
        );
    }
    for s in objects(&a, Kind::Subscription) {
        assert!(known(Kind::Customer, &s["customer"]));
    }
    for e in objects(&a, Kind::Event) {
        let object = &e["data"]["object"];
        let kind = match object["object"].as_str() {
            Some("subscription") => Kind::Subscription,
            Some("invoice") => Kind::Invoice,
            Some("charge") => Kind::Charge,
            Some("customer") => Kind::Customer,
            Some("checkout.session") => Kind::CheckoutSession,
            _ => continue,
        };
        assert!(
            known(kind, &object["id"]),
            "event {} names an unknown object",
            e["id"]
        );
    }
}

#[test]
fn the_visitor_export_holds_every_paying_visitor_before_they_pay() {
    let a = account(42, 1.0);
    let csv = stripelake::sandbox::visitors::csv(&a);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(stripelake::sandbox::visitors::HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 16));
    assert!(!a.truth.conversions.is_empty());
    for c in &a.truth.conversions {
        let mine: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == c.visitor_id).collect();
        assert!(!mine.is_empty(), "visitor {} missing", c.visitor_id);
        if c.match_method == "email" {
            let email = c.email.as_deref().expect("email visitors have one").trim();
            assert!(
                mine.iter().any(|r| r[4] == email),
                "email visitor {} has no email row",
                c.visitor_id
            );
        }
        let first_seen = mine.iter().map(|r| r[2]).min().expect("rows");
        let converted = chrono::DateTime::from_timestamp(c.converted_at, 0)
            .expect("time")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        assert!(
            first_seen < converted.as_str(),
            "visitor {} first seen after paying",
            c.visitor_id
        );
    }
    let visitors: HashSet<&str> = rows.iter().map(|r| r[0]).collect();
    assert!(
        visitors.len() > 5 * a.truth.conversions.len(),
        "too few non-paying visitors"
    );
}
