//! One customer's life in the sandbox account: sign-up (often through Checkout), subscriptions
//! with trials, plan changes, coupons, dunning, pauses, cancellations and comebacks, one-off
//! purchases, refunds and disputes — and every object and event that life leaves in Stripe.
//!
//! Each customer is simulated on its own random stream, so accounts are identical for a seed
//! whatever the thread count.

use serde_json::{Value, json};

use super::catalog::{Catalog, Duration, Interval};
use super::model::{CheckoutIds, DAY, Sub};
use super::money;
use super::render::Renderer;
use super::rng::Rng;
use super::store::{Kind, Obj};
use super::truth::{Conversion, FailedCharge, LedgerRow, SubTruth, Truth};

const EVENT_RETENTION: i64 = 30 * DAY;
const SITES: [&str; 3] = ["site_main", "site_docs", "site_shop"];

/// Everything a customer simulation reads.
pub struct Ctx<'a> {
    pub cat: &'a Catalog,
    pub render: &'a Renderer,
    pub now: i64,
    pub start: i64,
}

pub struct Output {
    pub objects: Vec<(Kind, Obj)>,
    pub truth: Truth,
}

struct Payer {
    customer: Option<String>,
    email: Option<String>,
    name: String,
    currency: &'static str,
    visitor: Option<Visitor>,
}

#[derive(Clone)]
struct Visitor {
    id: String,
    site: &'static str,
    /// Which identifier this payer's checkout carries: drives the attribution oracle.
    method: &'static str,
}

pub struct Sim<'a> {
    pub ctx: &'a Ctx<'a>,
    pub rng: Rng,
    pub out: Output,
    payer: Payer,
    invoice_seq: u32,
    conversion_charges: Vec<String>,
    /// Whether charges made now can be traced to the visitor by the attribution rules.
    attributable: bool,
}

/// Adds `count` intervals to a timestamp (calendar months for month and year).
pub fn add_interval(t: i64, interval: Interval, count: u32) -> i64 {
    use chrono::{DateTime, Months};
    let months = match interval {
        Interval::Day => return t + DAY * count as i64,
        Interval::Week => return t + 7 * DAY * count as i64,
        Interval::Month => count,
        Interval::Year => 12 * count,
    };
    DateTime::from_timestamp(t, 0)
        .and_then(|d| d.checked_add_months(Months::new(months)))
        .map_or(t + 30 * DAY * months as i64, |d| d.timestamp())
}

pub fn simulate_customer(ctx: &Ctx<'_>, seed: u64, index: u64) -> Output {
    let mut rng = Rng::derive(seed, 1, index);
    let span = ctx.now - ctx.start;
    // A few founding customers in the first two weeks, then sign-ups that grow over time.
    let created = if rng.chance(0.05) {
        ctx.start + rng.range(0, 14 * DAY)
    } else {
        ctx.start + (span as f64 * rng.unit().sqrt()) as i64
    };
    let guest = rng.chance(0.12);
    let currency = *rng.pick(&[
        "usd", "usd", "usd", "usd", "usd", "eur", "eur", "gbp", "jpy",
    ]);
    let (name, email) = person(&mut rng, index);
    const METHODS: [&str; 4] = [
        "client_reference_id",
        "client_reference_id",
        "metadata",
        "email",
    ];
    let visitor = rng.chance(0.75).then(|| {
        let id = format!("v_{}", rng.base62(16));
        let site = *rng.pick(&SITES);
        let method = *rng.pick(&METHODS);
        Visitor { id, site, method }
    });
    let payer = Payer {
        customer: None,
        email: if guest {
            Some(email.clone())
        } else {
            rng.chance(0.88).then_some(email)
        },
        name,
        currency,
        visitor,
    };
    let mut sim = Sim {
        ctx,
        rng,
        out: Output {
            objects: Vec::new(),
            truth: Truth::default(),
        },
        payer,
        invoice_seq: 0,
        conversion_charges: Vec::new(),
        attributable: true,
    };
    if guest {
        sim.guest_purchases(created);
    } else {
        sim.customer_life(created);
    }
    sim.record_conversion(created);
    sim.out
}

fn person(rng: &mut Rng, index: u64) -> (String, String) {
    let first = *rng.pick(&[
        "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Frances", "Donald",
    ]);
    let last = *rng.pick(&[
        "Lovelace", "Hopper", "Turing", "Liskov", "Thompson", "Allen", "Knuth",
    ]);
    // Some addresses arrive with stray case and spaces, as real sign-up forms deliver them.
    let email = match rng.range(0, 9) {
        0 => format!(" {first}.{last}{index}@Example.com "),
        1 => format!("{}.{}{index}@EXAMPLE.COM", first.to_uppercase(), last),
        _ => format!(
            "{}.{}{index}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        ),
    };
    (format!("{first} {last}"), email)
}

impl<'a> Sim<'a> {
    pub fn id(&mut self, prefix: &str, len: usize) -> String {
        format!("{prefix}{}", self.rng.base62(len))
    }

    pub fn livemode(&self) -> bool {
        self.ctx.render.livemode
    }

    pub fn push(&mut self, kind: Kind, obj: Obj) {
        self.out.objects.push((kind, obj));
    }

    /// Records an event if it falls inside Stripe's 30-day retention.
    pub fn event(&mut self, at: i64, kind: &str, object: &Value, previous: Option<Value>) {
        if at > self.ctx.now || at < self.ctx.now - EVENT_RETENTION {
            return;
        }
        let id = self.id("evt_1", 23);
        let json = self.ctx.render.event(&id, at, kind, object, previous);
        self.push(Kind::Event, Obj::new(id, at, &json).tag(kind));
    }

    fn customer_life(&mut self, created: i64) {
        let customer = self.id("cus_", 14);
        self.payer.customer = Some(customer.clone());
        let metadata = match &self.payer.visitor {
            Some(v) if v.method == "metadata" && self.rng.chance(0.3) => {
                json!({"visitor_id": v.id})
            }
            _ => json!({}),
        };
        let cus = self.ctx.render.customer(
            &customer,
            created,
            self.payer.email.as_deref(),
            &self.payer.name,
            self.payer.currency,
            &metadata,
        );
        self.event(created, "customer.created", &cus, None);
        let mut t = created;
        let mut last_end = created;
        let subscriber = self.rng.chance(0.8);
        if subscriber {
            let mut first = true;
            loop {
                let ended = self.subscription(t, first);
                first = false;
                let Some(end) = ended else {
                    last_end = self.ctx.now;
                    break;
                };
                last_end = end;
                // Comebacks: the same customer subscribes again later.
                if !self.rng.chance(0.25) {
                    break;
                }
                t = end + self.rng.range(10, 120) * DAY;
                if t >= self.ctx.now {
                    break;
                }
            }
            // A second, concurrent subscription is expansion for the same customer.
            if self.rng.chance(0.06) {
                let second = created + self.rng.range(20, 200) * DAY;
                if second < self.ctx.now {
                    self.subscription(second, false);
                }
            }
        }
        let purchases = if subscriber {
            self.rng.range(0, 1)
        } else {
            self.rng.range(1, 3)
        };
        for _ in 0..purchases {
            let at = created + self.rng.range(0, 300) * DAY + self.rng.range(0, DAY - 1);
            if at < self.ctx.now {
                self.one_off_purchase(at);
            }
        }
        let deleted_at = last_end + self.rng.range(1, 20) * DAY;
        let mut obj = Obj::new(customer.clone(), created, &cus);
        if last_end < self.ctx.now && self.rng.chance(0.15) && deleted_at < self.ctx.now {
            self.event(deleted_at, "customer.deleted", &cus, None);
            obj.json = json!({"id": customer, "object": "customer", "deleted": true})
                .to_string()
                .into();
            obj.deleted = true;
        }
        self.push(Kind::Customer, obj);
    }

    fn guest_purchases(&mut self, created: i64) {
        for i in 0..self.rng.range(1, 2) {
            let at = created + i * self.rng.range(5, 60) * DAY;
            if at < self.ctx.now {
                self.one_off_purchase(at);
            }
        }
    }

    /// A Checkout Session in payment mode buying a one-time price, sometimes abandoned.
    fn one_off_purchase(&mut self, at: i64) {
        let family = format!("{}-once", self.payer.currency);
        let prices = self.ctx.cat.family(&family);
        let price = prices
            .first()
            .copied()
            .unwrap_or(self.ctx.cat.family("usd-once")[0]);
        let currency = self.ctx.cat.prices[price].currency;
        let quantity = self.rng.range(1, 3);
        let amount = self.ctx.cat.prices[price].amount_for(quantity);
        let session = self.checkout_ids(at);
        if self.rng.chance(0.1) {
            // Abandoned: the session expires after 24 h, no payment happens.
            let json = self
                .ctx
                .render
                .checkout_session(&session, "payment", "expired", amount, currency, None);
            self.push_checkout(session, json);
            return;
        }
        self.attributable = true;
        let metadata = self.visitor_metadata();
        let attempts = self.attempt_plan(at + 60);
        let paid = self.payment(
            at + 60,
            amount,
            currency,
            "Report pack",
            None,
            &metadata,
            &attempts,
        );
        let status = if paid.succeeded {
            "complete"
        } else {
            "expired"
        };
        let json = self.ctx.render.checkout_session(
            &session,
            "payment",
            status,
            amount,
            currency,
            Some(&paid.intent),
        );
        if paid.succeeded {
            self.event(at + 61, "checkout.session.completed", &json, None);
        }
        self.push_checkout(session, json);
    }

    fn push_checkout(&mut self, s: CheckoutIds, json: Value) {
        let obj = Obj::new(s.id, s.created, &json).customer(s.customer.as_deref());
        self.push(Kind::CheckoutSession, obj);
    }

    fn checkout_ids(&mut self, at: i64) -> CheckoutIds {
        let prefix = if self.livemode() {
            "cs_live_a1"
        } else {
            "cs_test_a1"
        };
        let id = self.id(prefix, 54);
        let visitor = self.payer.visitor.clone();
        CheckoutIds {
            id,
            created: at,
            customer: self.payer.customer.clone(),
            email: self.payer.email.clone(),
            client_reference_id: visitor
                .as_ref()
                .filter(|v| v.method == "client_reference_id")
                .map(|v| v.id.clone()),
            metadata: match &visitor {
                Some(v) if v.method == "metadata" => json!({"visitor_id": v.id, "site_id": v.site}),
                Some(v) => json!({"site_id": v.site}),
                None => json!({}),
            },
            subscription: None,
            invoice: None,
        }
    }

    fn visitor_metadata(&self) -> Value {
        match &self.payer.visitor {
            Some(v) if v.method == "metadata" => json!({"visitor_id": v.id}),
            _ => json!({}),
        }
    }

    /// When each payment attempt happens and whether it succeeds: mostly first time, sometimes
    /// after dunning retries (3, 5 and 7 days later), sometimes never.
    pub fn attempt_plan(&mut self, at: i64) -> Vec<(i64, bool)> {
        if self.rng.chance(0.9) {
            return vec![(at, true)];
        }
        let mut plan = vec![(at, false)];
        for delay in [3, 5, 7] {
            let t = at + delay * DAY + self.rng.range(0, 3600);
            let ok = self.rng.chance(0.45);
            plan.push((t, ok));
            if ok {
                break;
            }
        }
        plan
    }

    fn record_conversion(&mut self, created: i64) {
        let Some(v) = self.payer.visitor.clone() else {
            return;
        };
        if self.conversion_charges.is_empty() {
            return;
        }
        // Email-only visitors can be found only when the payment carries an email.
        if v.method == "email" && self.payer.email.is_none() {
            return;
        }
        self.out.truth.conversions.push(Conversion {
            visitor_id: v.id,
            email: self.payer.email.clone(),
            site_id: v.site,
            converted_at: created,
            match_method: v.method,
            charges: std::mem::take(&mut self.conversion_charges),
        });
    }

    pub fn customer_key(&self) -> String {
        match (&self.payer.customer, &self.payer.email) {
            (Some(c), _) => c.clone(),
            (None, Some(e)) => format!("email:{}", e.trim().to_lowercase()),
            (None, None) => "unknown".into(),
        }
    }

    pub fn payer_customer(&self) -> Option<String> {
        self.payer.customer.clone()
    }

    pub fn payer_email(&self) -> Option<String> {
        self.payer.email.clone()
    }

    pub fn payer_currency(&self) -> &'static str {
        self.payer.currency
    }

    /// A later subscription made without Checkout carries no `client_reference_id`: its charges
    /// are traceable only through metadata or email.
    pub fn set_attributable(&mut self, via_first_checkout: bool) {
        self.attributable = via_first_checkout
            || self
                .payer
                .visitor
                .as_ref()
                .is_some_and(|v| v.method != "client_reference_id");
    }

    pub fn note_conversion_charge(&mut self, charge: &str) {
        if self.payer.visitor.is_some() && self.attributable {
            self.conversion_charges.push(charge.to_string());
        }
    }

    pub fn next_invoice_number(&mut self) -> u32 {
        self.invoice_seq += 1;
        self.invoice_seq
    }

    pub fn subscription_checkout(
        &mut self,
        at: i64,
        sub: &str,
        invoice: Option<&str>,
        amount: i64,
        currency: &'static str,
    ) {
        let lead = self.rng.range(60, 900);
        let mut ids = self.checkout_ids(at - lead);
        ids.subscription = Some(sub.to_string());
        ids.invoice = invoice.map(str::to_string);
        let json = self.ctx.render.checkout_session(
            &ids,
            "subscription",
            "complete",
            amount,
            currency,
            None,
        );
        self.event(at, "checkout.session.completed", &json, None);
        self.push_checkout(ids, json);
    }

    pub fn wants_checkout(&mut self) -> bool {
        self.payer.visitor.is_some() || self.rng.chance(0.3)
    }

    pub fn subscription_metadata(&mut self) -> Value {
        self.visitor_metadata()
    }

    pub fn record_failed(&mut self, at: i64, currency: &'static str, amount: i64) {
        self.out.truth.failed.push(FailedCharge {
            created: at,
            currency,
            amount,
        });
    }

    pub fn record_ledger(&mut self, row: LedgerRow) {
        self.out.truth.ledger.push(row);
    }

    pub fn record_sub(&mut self, sub: &Sub) {
        self.out.truth.subscriptions.push(SubTruth {
            id: sub.id.clone(),
            customer: sub.customer.clone(),
            currency: sub.currency,
            created: sub.created,
            states: sub.states.clone(),
        });
    }

    pub fn coupon_duration(&self, coupon: usize) -> &Duration {
        &self.ctx.cat.coupons[coupon].duration
    }

    pub fn settle(&self, amount: i64, currency: &'static str, at: i64) -> (i64, Option<i64>) {
        if currency == money::SETTLEMENT {
            return (amount, None);
        }
        let rate = money::rate_micros(currency, at.div_euclid(DAY));
        (money::to_settlement(amount, currency, rate), Some(rate))
    }
}
