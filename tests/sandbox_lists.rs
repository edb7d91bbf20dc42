use std::collections::HashSet;

use serde_json::Value;
use stripelake::sandbox::RESOURCES;
use stripelake::sandbox::store::Kind;

use crate::support::{self, get, get_with, ids, page_all, truth_ids};

#[tokio::test]
async fn paging_every_resource_yields_each_object_exactly_once() {
    let sb = support::start(7, 0.5).await;
    for (path, kind, _) in RESOURCES.iter().filter(|r| r.1 != Kind::SubscriptionItem) {
        let query = if *kind == Kind::Subscription {
            "&status=all"
        } else {
            ""
        };
        let listed = page_all(&sb, &format!("/v1/{path}"), query, 7).await;
        let listed_ids = ids(&listed);
        let unique: HashSet<&String> = listed_ids.iter().collect();
        assert_eq!(
            unique.len(),
            listed_ids.len(),
            "{path}: an object appeared twice"
        );
        assert_eq!(
            listed_ids,
            truth_ids(&sb, *kind),
            "{path}: listed ids differ from the account"
        );
        assert!(!listed_ids.is_empty(), "{path}: the account has none");
        let created: Vec<i64> = listed
            .iter()
            .map(|o| o["created"].as_i64().unwrap_or(0))
            .collect();
        assert!(
            created.windows(2).all(|w| w[0] >= w[1]),
            "{path}: not newest first"
        );
    }
}

#[tokio::test]
async fn ending_before_pages_back_to_the_same_objects() {
    let sb = support::start(7, 0.5).await;
    let all = ids(&page_all(&sb, "/v1/charges", "", 100).await);
    let oldest = all.last().expect("charges").clone();
    let mut collected = vec![oldest.clone()];
    let mut cursor = oldest;
    loop {
        let page = get(&sb, &format!("/v1/charges?limit=6&ending_before={cursor}")).await;
        let data = ids(page["data"].as_array().expect("data"));
        assert!(!data.is_empty());
        cursor = data[0].clone();
        collected.splice(0..0, data);
        if !page["has_more"].as_bool().expect("has_more") {
            break;
        }
    }
    assert_eq!(collected, all);
}

#[tokio::test]
async fn created_bounds_are_inclusive_or_exclusive_like_stripe() {
    let sb = support::start(7, 0.5).await;
    let all = page_all(&sb, "/v1/balance_transactions", "", 100).await;
    let t = all[all.len() / 2]["created"].as_i64().expect("created");
    let expect = |pred: &dyn Fn(i64) -> bool| -> Vec<String> {
        ids(&all
            .iter()
            .filter(|o| pred(o["created"].as_i64().unwrap_or(0)))
            .cloned()
            .collect::<Vec<Value>>())
    };
    let cases: [(&str, Vec<String>); 5] = [
        ("created[gte]", expect(&|c| c >= t)),
        ("created[gt]", expect(&|c| c > t)),
        ("created[lte]", expect(&|c| c <= t)),
        ("created[lt]", expect(&|c| c < t)),
        ("created", expect(&|c| c == t)),
    ];
    for (param, expected) in cases {
        let got = ids(&page_all(
            &sb,
            "/v1/balance_transactions",
            &format!("&{param}={t}"),
            100,
        )
        .await);
        assert_eq!(got, expected, "{param}={t}");
    }
    let window = ids(&page_all(
        &sb,
        "/v1/balance_transactions",
        &format!("&created[gte]={}&created[lt]={}", t - 30 * 86_400, t),
        10,
    )
    .await);
    assert_eq!(window, expect(&|c| c >= t - 30 * 86_400 && c < t));
    assert!(!window.is_empty() && !expect(&|c| c == t).is_empty());
}

#[tokio::test]
async fn limit_defaults_to_ten_and_out_of_range_is_400() {
    let sb = support::start(7, 0.5).await;
    let first = get(&sb, "/v1/charges").await;
    assert_eq!(first["data"].as_array().map(Vec::len), Some(10));
    assert_eq!(first["object"], "list");
    assert_eq!(first["url"], "/v1/charges");
    assert_eq!(first["has_more"], true);
    let sessions = get(&sb, "/v1/checkout/sessions?limit=1").await;
    assert_eq!(sessions["url"], "/v1/checkout/sessions");
    assert_eq!(
        get(&sb, "/v1/charges?limit=100").await["data"]
            .as_array()
            .map(Vec::len),
        Some(100)
    );
    assert_eq!(
        get(&sb, "/v1/charges?limit=1").await["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    for bad in ["0", "101", "abc"] {
        let reply = get_with(&sb, &format!("/v1/charges?limit={bad}"), Some(support::KEY)).await;
        assert_eq!(reply.status, 400, "limit={bad}");
        assert_eq!(reply.body["error"]["param"], "limit");
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn unknown_cursor_is_resource_missing_and_both_cursors_are_refused() {
    let sb = support::start(7, 0.5).await;
    for param in ["starting_after", "ending_before"] {
        let reply = get_with(
            &sb,
            &format!("/v1/charges?{param}=ch_missing"),
            Some(support::KEY),
        )
        .await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.body["error"]["code"], "resource_missing");
        assert_eq!(reply.body["error"]["param"], param);
        assert_eq!(
            reply.body["error"]["message"],
            "No such charge: 'ch_missing'"
        );
    }
    let first = get(&sb, "/v1/charges?limit=1").await["data"][0]["id"]
        .as_str()
        .map(str::to_string)
        .expect("a charge");
    let both = get_with(
        &sb,
        &format!("/v1/charges?starting_after={first}&ending_before={first}"),
        Some(support::KEY),
    )
    .await;
    assert_eq!(both.status, 400);
    let missing = get_with(&sb, "/v1/charges/ch_missing", Some(support::KEY)).await;
    assert_eq!(
        (
            missing.status.as_u16(),
            missing.body["error"]["param"].as_str()
        ),
        (404, Some("id"))
    );
    let found = get(&sb, &format!("/v1/charges/{first}")).await;
    assert_eq!(found["id"], first.as_str());
}

#[tokio::test]
async fn subscriptions_leave_out_canceled_unless_status_all() {
    let sb = support::start(7, 0.5).await;
    let ended = |s: &Value| {
        matches!(
            s["status"].as_str(),
            Some("canceled" | "incomplete_expired")
        )
    };
    let default = page_all(&sb, "/v1/subscriptions", "", 100).await;
    let all = page_all(&sb, "/v1/subscriptions", "&status=all", 100).await;
    let canceled = page_all(&sb, "/v1/subscriptions", "&status=canceled", 100).await;
    assert!(
        !default.iter().any(ended),
        "default list shows ended subscriptions"
    );
    assert_eq!(
        all.len(),
        default.len() + all.iter().filter(|s| ended(s)).count()
    );
    assert!(!canceled.is_empty() && canceled.iter().all(|s| s["status"] == "canceled"));
}

#[tokio::test]
async fn events_filter_by_types_and_stay_within_thirty_days() {
    let sb = support::start(7, 0.5).await;
    let all = page_all(&sb, "/v1/events", "", 100).await;
    let wanted = ["invoice.paid", "charge.failed"];
    let filtered = page_all(
        &sb,
        "/v1/events",
        "&types[]=invoice.paid&types[]=charge.failed",
        100,
    )
    .await;
    let expected: Vec<Value> = all
        .iter()
        .filter(|e| wanted.contains(&e["type"].as_str().unwrap_or("")))
        .cloned()
        .collect();
    assert_eq!(ids(&filtered), ids(&expected));
    assert!(!filtered.is_empty());
    assert!(
        all.iter()
            .all(|e| e["created"].as_i64().unwrap_or(0) >= support::NOW - 30 * 86_400)
    );
    let one_type = page_all(
        &sb,
        "/v1/events",
        "&type=customer.subscription.updated",
        100,
    )
    .await;
    assert!(
        !one_type.is_empty()
            && one_type
                .iter()
                .all(|e| e["type"] == "customer.subscription.updated")
    );
}

/// Embedded lists stop at ten; the sub-list continues exactly where they stop.
#[tokio::test]
async fn embedded_lists_continue_in_their_sub_lists() {
    let sb = support::start(42, 1.0).await;
    let invoices = page_all(&sb, "/v1/invoices", "", 100).await;
    let long: Vec<&Value> = invoices
        .iter()
        .filter(|i| i["lines"]["has_more"] == true)
        .collect();
    assert!(!long.is_empty(), "no invoice with more than ten lines");
    for invoice in long {
        let id = invoice["id"].as_str().expect("id");
        let embedded = ids(invoice["lines"]["data"].as_array().expect("lines"));
        assert_eq!(embedded.len(), 10);
        let all = ids(&page_all(&sb, &format!("/v1/invoices/{id}/lines"), "", 4).await);
        assert!(all.len() > 10);
        assert_eq!(
            all[..10],
            embedded[..],
            "sub-list order differs from the embedded order"
        );
        let rest = ids(&page_all(
            &sb,
            &format!("/v1/invoices/{id}/lines"),
            &format!("&starting_after={}", embedded[9]),
            100,
        )
        .await);
        assert_eq!(rest, all[10..]);
        let subtotal: i64 = page_all(&sb, &format!("/v1/invoices/{id}/lines"), "", 100)
            .await
            .iter()
            .map(|l| l["amount"].as_i64().unwrap_or(0))
            .sum();
        assert_eq!(Some(subtotal), invoice["subtotal"].as_i64());
    }
    let subs = page_all(&sb, "/v1/subscriptions", "&status=all", 100).await;
    let big: Vec<&Value> = subs
        .iter()
        .filter(|s| s["items"]["has_more"] == true)
        .collect();
    assert!(!big.is_empty(), "no subscription with more than ten items");
    for sub in big {
        let id = sub["id"].as_str().expect("id");
        let embedded = ids(sub["items"]["data"].as_array().expect("items"));
        let all = ids(&page_all(
            &sb,
            "/v1/subscription_items",
            &format!("&subscription={id}"),
            3,
        )
        .await);
        assert_eq!(all[..10], embedded[..]);
        assert!(all.len() > 10);
    }
    let open = invoices
        .iter()
        .find(|i| i["status"] == "open")
        .and_then(|i| i["id"].as_str())
        .expect("an open invoice")
        .to_string();
    sb.mutate(|a| {
        for _ in 0..12 {
            a.attach_invoice_payment(&open, 100).expect("attach");
        }
    });
    let invoice = get(&sb, &format!("/v1/invoices/{open}?expand[]=payments")).await;
    let embedded = ids(invoice["payments"]["data"].as_array().expect("payments"));
    assert_eq!(
        (embedded.len(), &invoice["payments"]["has_more"]),
        (10, &Value::Bool(true))
    );
    let all = ids(&page_all(&sb, "/v1/invoice_payments", &format!("&invoice={open}"), 4).await);
    assert_eq!(all[..10], embedded[..], "invoice payments: sub-list order");
    assert!(all.len() > 12);
    let missing = get_with(&sb, "/v1/subscription_items", Some(support::KEY)).await;
    assert_eq!(
        (
            missing.status.as_u16(),
            missing.body["error"]["param"].as_str()
        ),
        (400, Some("subscription"))
    );
}

#[tokio::test]
async fn expand_replaces_ids_with_objects() {
    let sb = support::start(42, 1.0).await;
    let bts = page_all(
        &sb,
        "/v1/balance_transactions",
        "&expand[]=data.source",
        100,
    )
    .await;
    let mut kinds = HashSet::new();
    for bt in &bts {
        if let Some(source) = bt["source"].as_object() {
            let expected = match bt["reporting_category"].as_str() {
                Some("charge") => "charge",
                Some("refund") => "refund",
                Some("dispute" | "dispute_reversal") => "dispute",
                Some("payout") => "payout",
                other => panic!("unexpected category with a source: {other:?}"),
            };
            assert_eq!(source["object"], expected);
            kinds.insert(expected);
        }
    }
    assert!(kinds.len() >= 4, "expanded sources: {kinds:?}");
    let refunded = page_all(&sb, "/v1/charges", "&expand[]=data.refunds", 100).await;
    let with_refunds = refunded
        .iter()
        .find(|c| c["amount_refunded"].as_i64().unwrap_or(0) > 0)
        .expect("a refunded charge");
    let refund_total: i64 = with_refunds["refunds"]["data"]
        .as_array()
        .expect("refund list")
        .iter()
        .map(|r| r["amount"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(Some(refund_total), with_refunds["amount_refunded"].as_i64());
    let plain = get(&sb, "/v1/charges?limit=1").await;
    assert!(
        plain["data"][0].get("refunds").is_none(),
        "refunds are only present when expanded"
    );
    let prices = page_all(&sb, "/v1/prices", "&expand[]=data.tiers", 100).await;
    let tiered = prices
        .iter()
        .find(|p| p["billing_scheme"] == "tiered")
        .expect("a tiered price");
    assert!(tiered["tiers"].as_array().is_some_and(|t| t.len() == 3));
    let subs = page_all(
        &sb,
        "/v1/subscriptions",
        "&status=all&expand[]=data.discounts",
        100,
    )
    .await;
    let discounted = subs
        .iter()
        .find(|s| s["discounts"].as_array().is_some_and(|d| !d.is_empty()))
        .expect("a discounted subscription");
    assert_eq!(discounted["discounts"][0]["object"], "discount");
    assert!(discounted["discounts"][0]["source"]["coupon"].is_string());
}
