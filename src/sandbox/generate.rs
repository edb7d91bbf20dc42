//! Builds a whole sandbox account from a seed and a scale: the catalogue, every customer's
//! simulated life (in parallel, each on its own random stream), standalone fees and payouts.

use serde_json::{Value, json};

use super::catalog::Catalog;
use super::model::Bt;
use super::model::DAY;
use super::money::{self, div_round_half_away};
use super::render::Renderer;
use super::rng::Rng;
use super::simulate::{self, Ctx, Output};
use super::store::{Kind, Obj, Store};
use super::truth::{LedgerRow, Truth};

/// Customers per unit of scale (scale 1 ≈ 10k objects; scale 150 ≈ 1.5M objects).
pub const CUSTOMERS_PER_SCALE: f64 = 200.0;
/// How far back the account's history goes: 13 months and a bit.
pub const HISTORY_DAYS: i64 = 400;

#[derive(Clone, Debug)]
pub struct GenConfig {
    pub seed: u64,
    pub scale: f64,
    /// The sandbox clock: nothing is created after it.
    pub now: i64,
    pub livemode: bool,
}

pub struct Account {
    pub store: Store,
    pub truth: Truth,
    pub account: Value,
    pub catalog: Catalog,
    pub config: GenConfig,
    /// How many mutations were applied (seeds their ids).
    pub mutations: u64,
}

pub fn generate(cfg: &GenConfig) -> Account {
    let mode_salt = if cfg.livemode { 0x4C49_5645 } else { 0 };
    let seed = cfg.seed ^ mode_salt;
    let mut rng = Rng::derive(seed, 0, 0);
    let start = cfg.now - HISTORY_DAYS * DAY;
    let account_id = format!("acct_1{}", rng.base62(15));
    let catalog = Catalog::build(&mut rng, start - 30 * DAY);
    let render = Renderer::new(&catalog, cfg.livemode, account_id.clone());
    let ctx = Ctx {
        cat: &catalog,
        render: &render,
        now: cfg.now,
        start,
    };
    let customers = (cfg.scale * CUSTOMERS_PER_SCALE).round().max(1.0) as u64;
    let outputs = simulate_all(&ctx, seed, customers);
    let mut objects = catalog_objects(&catalog, &render);
    let mut truth = Truth::default();
    for out in outputs {
        objects.extend(out.objects);
        truth.absorb(out.truth);
    }
    let mut treasury = Rng::derive(seed, 2, 0);
    objects.extend(standalone_fees(
        &mut treasury,
        &render,
        &mut truth,
        start,
        cfg.now,
    ));
    objects.extend(payouts(&mut treasury, &render, &objects, start, cfg.now));
    let account = account_json(&account_id, start, cfg.livemode);
    Account {
        store: Store::from_objects(objects),
        truth,
        account,
        catalog,
        config: cfg.clone(),
        mutations: 0,
    }
}

/// Customers are independent, so they are simulated on every core and merged in index order.
fn simulate_all(ctx: &Ctx<'_>, seed: u64, customers: u64) -> Vec<Output> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let chunk = customers.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..customers)
            .step_by(chunk as usize)
            .map(|from| {
                let to = (from + chunk).min(customers);
                scope.spawn(move || {
                    (from..to)
                        .map(|i| simulate::simulate_customer(ctx, seed, i))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn catalog_objects(catalog: &Catalog, render: &Renderer) -> Vec<(Kind, Obj)> {
    let mut objects = Vec::new();
    for (i, product) in catalog.products.iter().enumerate() {
        let default_price = catalog
            .prices
            .iter()
            .find(|p| p.product == i)
            .map(|p| p.id.as_str());
        let json = product.to_json(catalog, default_price, render.livemode);
        objects.push((
            Kind::Product,
            Obj::new(product.id.clone(), catalog.created, &json),
        ));
    }
    for (i, price) in catalog.prices.iter().enumerate() {
        let created = catalog.created + i as i64;
        let mut json = render.price(i).clone();
        json["created"] = json!(created);
        objects.push((Kind::Price, Obj::new(price.id.clone(), created, &json)));
        if let Some(mut plan) = price.plan_json(catalog, render.livemode) {
            plan["created"] = json!(created);
            objects.push((Kind::Plan, Obj::new(price.id.clone(), created, &plan)));
        }
    }
    for (i, coupon) in catalog.coupons.iter().enumerate() {
        let created = catalog.created + i as i64;
        objects.push((
            Kind::Coupon,
            Obj::new(
                coupon.id,
                created,
                &coupon.to_json(created, render.livemode),
            ),
        ));
    }
    objects
}

/// Stripe bills its own fees (Billing, Radar) as standalone `stripe_fee` transactions monthly.
fn standalone_fees(
    rng: &mut Rng,
    render: &Renderer,
    truth: &mut Truth,
    start: i64,
    now: i64,
) -> Vec<(Kind, Obj)> {
    let mut objects = Vec::new();
    let mut t = start + 30 * DAY;
    while t <= now {
        let volume: i64 = truth
            .ledger
            .iter()
            .filter(|r| r.category == "charge" && r.created < t && r.created >= t - 30 * DAY)
            .map(|r| r.settlement)
            .sum();
        let amount = div_round_half_away(volume as i128 * 5, 1000) + 100;
        let id = format!("txn_1{}", rng.base62(23));
        let bt = Bt {
            at: t,
            amount: -amount,
            fee: 0,
            rate: None,
            kind: "stripe_fee",
            category: "fee",
            source: None,
            description: "Billing - Usage Fee",
        };
        let json = render.balance_transaction(&id, &bt, now);
        objects.push((
            Kind::BalanceTransaction,
            Obj::new(id, t, &json).tag("stripe_fee"),
        ));
        truth.ledger.push(LedgerRow {
            created: t,
            category: "fee",
            currency: money::SETTLEMENT,
            presentment: amount,
            settlement: -amount,
            fee: 0,
            net: -amount,
            customer_key: String::new(),
        });
        t += 30 * DAY;
    }
    objects
}

/// Weekly automatic payouts of the net balance that became available.
fn payouts(
    rng: &mut Rng,
    render: &Renderer,
    objects: &[(Kind, Obj)],
    start: i64,
    now: i64,
) -> Vec<(Kind, Obj)> {
    let mut nets: Vec<(i64, i64)> = objects
        .iter()
        .filter(|(k, _)| *k == Kind::BalanceTransaction)
        .filter_map(|(_, o)| {
            let v: Value = serde_json::from_str(&o.json).ok()?;
            Some((v["available_on"].as_i64()?, v["net"].as_i64()?))
        })
        .collect();
    nets.sort_unstable();
    let mut out = Vec::new();
    let mut carried = 0;
    let mut idx = 0;
    let mut t = start + 7 * DAY;
    while t <= now {
        while idx < nets.len() && nets[idx].0 <= t {
            carried += nets[idx].1;
            idx += 1;
        }
        if carried > 0 {
            let po = format!("po_1{}", rng.base62(23));
            let txn = format!("txn_1{}", rng.base62(23));
            let bt = Bt {
                at: t,
                amount: -carried,
                fee: 0,
                rate: None,
                kind: "payout",
                category: "payout",
                source: Some(&po),
                description: "STRIPE PAYOUT",
            };
            let bt_json = render.balance_transaction(&txn, &bt, now);
            out.push((
                Kind::BalanceTransaction,
                Obj::new(txn.clone(), t, &bt_json).tag("payout"),
            ));
            let arrival = t + 2 * DAY;
            let json = json!({
                "id": po, "object": "payout", "amount": carried, "application_fee": null,
                "application_fee_amount": null, "arrival_date": arrival, "automatic": true,
                "balance_transaction": txn, "created": t, "currency": money::SETTLEMENT,
                "description": "STRIPE PAYOUT", "destination": "ba_1SandboxBankAccount",
                "failure_balance_transaction": null, "failure_code": null, "failure_message": null,
                "livemode": render.livemode, "metadata": {}, "method": "standard", "original_payout": null,
                "reconciliation_status": "completed", "reversed_by": null, "source_type": "card",
                "statement_descriptor": null, "status": if arrival <= now { "paid" } else { "in_transit" },
                "trace_id": {"status": "supported", "value": null}, "type": "bank_account",
            });
            out.push((Kind::Payout, Obj::new(po, t, &json)));
            carried = 0;
        }
        t += 7 * DAY;
    }
    out
}

fn account_json(id: &str, created: i64, livemode: bool) -> Value {
    json!({
        "id": id, "object": "account",
        "business_profile": {"name": "Sandbox Co", "url": "https://example.com", "support_email": null},
        "business_type": "company", "charges_enabled": true, "controller": {"type": "account"},
        "country": "US", "created": created, "default_currency": money::SETTLEMENT,
        "details_submitted": true, "email": null, "metadata": {}, "payouts_enabled": true,
        "settings": {"dashboard": {"display_name": "Sandbox Co", "timezone": "Etc/UTC"}},
        "type": "standard", "livemode": livemode,
    })
}
