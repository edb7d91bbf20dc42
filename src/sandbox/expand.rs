//! `expand[]`: replaces ids with the objects they name, following dotted paths (depth ≤ 4),
//! through nested objects and arrays, as Stripe does.

use serde_json::{Value, json};

use super::generate::Account;
use super::render::EMBEDDED_LIMIT;
use super::store::Kind;

const MAX_DEPTH: usize = 4;

/// The kind an id names, from Stripe's id prefixes.
fn kind_of(field: &str, id: &str) -> Option<Kind> {
    match field {
        "plan" => return Some(Kind::Plan),
        "coupon" => return Some(Kind::Coupon),
        _ => {}
    }
    let prefixes: &[(&str, Kind)] = &[
        ("cus_", Kind::Customer),
        ("prod_", Kind::Product),
        ("price_", Kind::Price),
        ("sub_", Kind::Subscription),
        ("si_", Kind::SubscriptionItem),
        ("inpay_", Kind::InvoicePayment),
        ("in_", Kind::Invoice),
        ("il_", Kind::InvoiceLine),
        ("pi_", Kind::PaymentIntent),
        ("ch_", Kind::Charge),
        ("py_", Kind::Charge),
        ("re_", Kind::Refund),
        ("dp_", Kind::Dispute),
        ("txn_", Kind::BalanceTransaction),
        ("po_", Kind::Payout),
        ("cs_", Kind::CheckoutSession),
        ("cn_", Kind::CreditNote),
        ("evt_", Kind::Event),
        ("di_", Kind::Discount),
    ];
    prefixes
        .iter()
        .find(|(p, _)| id.starts_with(p))
        .map(|(_, k)| *k)
}

pub fn expand(value: &mut Value, path: &str, account: &Account) {
    let segments: Vec<&str> = path.split('.').take(MAX_DEPTH).collect();
    expand_segments(value, &segments, account);
}

fn expand_segments(value: &mut Value, segments: &[&str], account: &Account) {
    let Some((field, rest)) = segments.split_first() else {
        return;
    };
    if let Value::Array(items) = value {
        for item in items {
            expand_segments(item, segments, account);
        }
        return;
    }
    if let Some(special) = special(value, field, account) {
        value[*field] = special;
    }
    let Some(target) = value.get_mut(*field) else {
        return;
    };
    resolve(target, field, account);
    expand_segments(target, rest, account);
}

/// Fields Stripe leaves out by default and fills only when expanded.
fn special(value: &Value, field: &str, account: &Account) -> Option<Value> {
    match (value["object"].as_str()?, field) {
        ("price", "tiers") => {
            let id = value["id"].as_str()?;
            let price = account.catalog.prices.iter().find(|p| p.id == id)?;
            Some(price.tiers_json())
        }
        ("charge", "refunds") => {
            let id = value["id"].as_str()?;
            Some(embedded_list(
                account,
                Kind::Refund,
                id,
                format!("/v1/charges/{id}/refunds"),
            ))
        }
        ("invoice", "payments") => {
            let id = value["id"].as_str()?;
            Some(embedded_list(
                account,
                Kind::InvoicePayment,
                id,
                format!("/v1/invoice_payments?invoice={id}"),
            ))
        }
        _ => None,
    }
}

/// A parent's children as Stripe embeds them: the first few, `has_more`, and where the rest are.
fn embedded_list(account: &Account, kind: Kind, parent: &str, url: String) -> Value {
    let all: Vec<Value> = account
        .store
        .table(kind)
        .children_of(parent)
        .filter_map(|o| serde_json::from_str(&o.json).ok())
        .collect();
    let has_more = all.len() > EMBEDDED_LIMIT;
    let data: Vec<Value> = all.into_iter().take(EMBEDDED_LIMIT).collect();
    json!({"object": "list", "data": data, "has_more": has_more, "url": url})
}

fn resolve(target: &mut Value, field: &str, account: &Account) {
    match target {
        Value::String(id) => {
            let Some(kind) = kind_of(field, id) else {
                return;
            };
            if let Some(obj) = account.store.table(kind).get(id)
                && let Ok(v) = serde_json::from_str(&obj.json)
            {
                *target = v;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| resolve(i, field, account)),
        _ => {}
    }
}
