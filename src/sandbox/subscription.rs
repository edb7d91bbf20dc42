//! Subscription lifecycles: trials, renewals, plan and quantity changes with prorations,
//! coupons, dunning (past_due → recovered, canceled or unpaid), pauses and cancellations.

use serde_json::Value;

use super::catalog::{Duration, Interval};
use super::model::{DAY, Discount, Item, Line, Sub};
use super::rng::Rng;
use super::simulate::{Sim, add_interval};
use super::store::{Kind, Obj};
use super::truth::SubState;

/// Price families a new subscription starts on, by currency, with weights.
fn families(currency: &str) -> (&'static [&'static str], &'static [u32]) {
    match currency {
        "eur" => (&["eur-month"], &[1]),
        "gbp" => (&["gbp-month", "gbp-year"], &[7, 3]),
        "jpy" => (&["jpy-month"], &[1]),
        _ => (
            &[
                "usd-month",
                "usd-seat",
                "usd-quarter",
                "usd-year",
                "usd-2year",
                "usd-week",
                "usd-2week",
                "usd-day",
            ],
            &[30, 15, 6, 12, 2, 4, 2, 2],
        ),
    }
}

impl Sim<'_> {
    fn billing(&self, sub: &Sub) -> (Interval, u32) {
        let r = self.ctx.cat.prices[sub.items[0].price].recurring.as_ref();
        r.map_or((Interval::Month, 1), |r| (r.interval, r.count))
    }

    fn new_item(&mut self, price: usize, quantity: i64, at: i64) -> Item {
        Item {
            id: self.id("si_", 14),
            price,
            quantity,
            created: at,
        }
    }

    fn initial_items(&mut self, currency: &str, at: i64) -> Vec<Item> {
        let (fams, weights) = families(currency);
        let family = fams[self.rng.weighted(weights)];
        let members = self.ctx.cat.family(family);
        let price = *self.rng.pick(&members);
        let seats = family == "usd-seat";
        let quantity = if seats { self.rng.range(2, 30) } else { 1 };
        let mut items = vec![self.new_item(price, quantity, at)];
        let monthly = family == "usd-month" || seats;
        if monthly && self.rng.chance(0.15) {
            let metered = self.ctx.cat.family("usd-metered")[0];
            items.push(self.new_item(metered, 1, at));
        }
        if monthly {
            let addons = self.ctx.cat.addons();
            // A few large accounts with more than ten items (and so invoices with more than ten lines).
            let n = if self.rng.chance(0.05) {
                11
            } else if self.rng.chance(0.2) {
                2
            } else {
                0
            };
            for addon in addons.into_iter().take(n) {
                items.push(self.new_item(addon, 1, at));
            }
        }
        items
    }

    fn pick_coupon(&mut self, currency: &str, at: i64) -> Option<Discount> {
        if !self.rng.chance(0.18) {
            return None;
        }
        let coupons = &self.ctx.cat.coupons;
        let mut coupon = self.rng.range(0, coupons.len() as i64 - 1) as usize;
        if coupons[coupon]
            .amount_off
            .is_some_and(|(_, c)| c != currency)
        {
            coupon = 0;
        }
        let end = match coupons[coupon].duration {
            Duration::Repeating(m) => Some(add_interval(at, Interval::Month, m)),
            _ => None,
        };
        let coupon_id = coupons[coupon].id;
        Some(Discount {
            id: self.id("di_", 24),
            coupon,
            coupon_id,
            start: at,
            end,
        })
    }

    /// Simulates one subscription from `t0`; returns when it ended, or `None` if it is alive now.
    pub fn subscription(&mut self, t0: i64, first: bool) -> Option<i64> {
        let customer = self.payer_customer()?;
        let currency = self.payer_currency();
        let currency = if self.ctx.cat.family(&format!("{currency}-month")).is_empty() {
            "usd"
        } else {
            currency
        };
        let items = self.initial_items(currency, t0);
        let trial = self.rng.chance(0.2).then_some((t0, t0 + 14 * DAY));
        let discount = self.pick_coupon(currency, t0);
        let mut sub = Sub {
            id: self.id("sub_1", 23),
            customer,
            currency,
            items,
            status: if trial.is_some() {
                "trialing"
            } else {
                "incomplete"
            },
            created: t0,
            anchor: trial.map_or(t0, |t| t.1),
            period_start: t0,
            period_end: trial.map_or(t0, |t| t.1),
            trial,
            discount,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            latest_invoice: None,
            metadata: self.subscription_metadata(),
            last_json: Value::Null,
            states: Vec::new(),
            pending_prorations: Vec::new(),
            invoices: 0,
        };
        if let Some(d) = &sub.discount {
            let json = self.ctx.render.discount(d, &sub);
            self.push(Kind::Discount, Obj::new(d.id.clone(), d.start, &json));
        }
        let via_checkout = first && self.wants_checkout();
        self.set_attributable(first);
        let ended = self.run_subscription(&mut sub, via_checkout);
        self.finish_subscription(&sub);
        ended
    }

    fn run_subscription(&mut self, sub: &mut Sub, via_checkout: bool) -> Option<i64> {
        let t0 = sub.created;
        self.snapshot(sub, t0, "customer.subscription.created");
        if let Some((_, trial_end)) = sub.trial {
            let invoice = self.bill(sub, t0, "subscription_create", true);
            if via_checkout {
                self.subscription_checkout(
                    t0,
                    &sub.id.clone(),
                    invoice.0.as_deref(),
                    0,
                    sub.currency,
                );
            }
            if trial_end > self.ctx.now {
                return None;
            }
            match self.rng.weighted(&[75, 13, 12]) {
                0 => self.start_period(sub, trial_end),
                1 => return self.end(sub, trial_end, "canceled"),
                _ => {
                    // Trial ended without a payment method: paused until the customer adds one
                    // (some never do), or cancels.
                    self.set_status(sub, trial_end, "paused");
                    let resume = trial_end + self.rng.range(5, 120) * DAY;
                    match self.rng.weighted(&[4, 3, 3]) {
                        0 => return None,
                        _ if resume > self.ctx.now => return None,
                        1 => return self.end(sub, resume, "canceled"),
                        _ => self.start_period(sub, resume),
                    }
                }
            }
            if sub.status != "active" && sub.status != "past_due" {
                return self.dunning_outcome(sub);
            }
        } else {
            sub.period_end = self.next_boundary(sub, t0);
            // One attempt: a declined first payment leaves the subscription `incomplete`, and
            // Stripe expires it after 23 hours.
            let attempt = [(t0, self.rng.chance(0.95))];
            let (invoice, paid) = self.bill_with(sub, t0, "subscription_create", &attempt);
            if via_checkout {
                let total = self.invoice_total_hint(sub);
                self.subscription_checkout(
                    t0,
                    &sub.id.clone(),
                    invoice.as_deref(),
                    total,
                    sub.currency,
                );
            }
            match paid {
                Some(at) => self.set_status(sub, at, "active"),
                None => return self.end(sub, t0 + 23 * 3600, "incomplete_expired"),
            }
        }
        self.renewals(sub)
    }

    fn invoice_total_hint(&self, sub: &Sub) -> i64 {
        sub.items
            .iter()
            .map(|i| self.ctx.cat.prices[i.price].amount_for(i.quantity))
            .sum()
    }

    fn next_boundary(&self, sub: &Sub, from: i64) -> i64 {
        let (interval, count) = self.billing(sub);
        add_interval(from, interval, count)
    }

    /// A billing period starting at `at` (trial conversion, resume): invoice and pay it.
    fn start_period(&mut self, sub: &mut Sub, at: i64) {
        sub.anchor = at;
        sub.period_start = at;
        sub.period_end = self.next_boundary(sub, at);
        let (_, paid) = self.bill(sub, at, "subscription_cycle", false);
        match paid {
            Some(t) => self.set_status(sub, t, "active"),
            None => self.set_status(sub, at, "past_due"),
        }
    }

    fn renewals(&mut self, sub: &mut Sub) -> Option<i64> {
        loop {
            if sub.status == "past_due" {
                return self.dunning_outcome(sub);
            }
            self.mid_period(sub);
            if let Some(end) = sub.ended_at {
                return Some(end);
            }
            let boundary = sub.period_end;
            if boundary > self.ctx.now {
                return None;
            }
            if sub.cancel_at_period_end {
                return self.end(sub, boundary, "canceled");
            }
            self.expire_discount(sub, boundary);
            sub.period_start = boundary;
            sub.period_end = self.next_boundary(sub, boundary);
            let attempts = self.attempt_plan(boundary);
            let (_, paid) = self.bill_with(sub, boundary, "subscription_cycle", &attempts);
            if paid.is_none() {
                let first_fail = attempts[0].0.min(self.ctx.now);
                self.set_status(sub, first_fail, "past_due");
                return self.dunning_outcome(sub);
            }
            if attempts.len() > 1 {
                self.set_status(sub, attempts[0].0, "past_due");
                let recovered = attempts[attempts.len() - 1].0;
                self.set_status(sub, recovered, "active");
            }
        }
    }

    /// After all retries failed: canceled or unpaid (and maybe canceled later).
    fn dunning_outcome(&mut self, sub: &mut Sub) -> Option<i64> {
        let at = sub.period_start + 16 * DAY;
        if at > self.ctx.now {
            return None;
        }
        if self.rng.chance(0.7) {
            return self.end(sub, at, "canceled");
        }
        self.set_status(sub, at, "unpaid");
        let later = at + 30 * DAY;
        if later <= self.ctx.now && self.rng.chance(0.5) {
            return self.end(sub, later, "canceled");
        }
        None
    }

    /// Changes inside a period: plan moves, quantity, add-ons, cancellation.
    fn mid_period(&mut self, sub: &mut Sub) {
        let (start, end) = (sub.period_start, sub.period_end);
        if end - start < 2 * DAY {
            return;
        }
        let at = start + DAY + self.rng.range(0, end - start - 2 * DAY);
        if at > self.ctx.now {
            return;
        }
        if self.rng.chance(0.12) {
            self.change_items(sub, at);
        }
        if self.rng.chance(0.04) {
            let at = at.max(start + DAY) + 3600;
            if at > self.ctx.now || at >= end {
                return;
            }
            if self.rng.chance(0.5) {
                self.end(sub, at, "canceled");
            } else {
                sub.cancel_at_period_end = true;
                sub.cancel_at = Some(end);
                sub.canceled_at = Some(at);
                self.snapshot(sub, at, "customer.subscription.updated");
            }
        }
    }

    fn change_items(&mut self, sub: &mut Sub, at: i64) {
        let before: Vec<Item> = sub.items.clone();
        let main = sub.items[0].price;
        let family = self.ctx.cat.family(self.ctx.cat.prices[main].family);
        let pos = family.iter().position(|p| *p == main).unwrap_or(0);
        match self.rng.range(0, 3) {
            0 if family.len() > 1 => {
                // Upgrade or downgrade along the family; the item is swapped for a new one.
                let next = if pos + 1 < family.len() {
                    pos + 1
                } else {
                    pos - 1
                };
                let qty = sub.items[0].quantity;
                sub.items[0] = self.new_item(family[next], qty, at);
            }
            1 if self.ctx.cat.prices[main].family == "usd-seat" => {
                let q = &mut sub.items[0].quantity;
                *q = (*q + self.rng.range(-3, 6)).max(1);
            }
            2 if self.ctx.cat.prices[main].family == "usd-month" && sub.items.len() < 14 => {
                let addons = self.ctx.cat.addons();
                let have: Vec<usize> = sub.items.iter().map(|i| i.price).collect();
                if let Some(a) = addons.into_iter().find(|a| !have.contains(a)) {
                    let item = self.new_item(a, 1, at);
                    sub.items.push(item);
                }
            }
            _ if sub.items.len() > 1 => {
                sub.items.pop();
            }
            _ => {
                sub.items[0].quantity += 1;
            }
        }
        self.prorate(sub, &before, at);
        self.snapshot(sub, at, "customer.subscription.updated");
    }

    /// Stripe's default `create_prorations`: credit unused time on the old items, charge the
    /// remaining time on the new ones, both on the next invoice.
    fn prorate(&mut self, sub: &mut Sub, before: &[Item], at: i64) {
        let (start, end) = (sub.period_start, sub.period_end);
        let fraction = |amount: i64| {
            super::money::div_round_half_away(
                amount as i128 * (end - at) as i128,
                (end - start) as i128,
            )
        };
        let cat = self.ctx.cat;
        let licensed = |i: &&Item| !cat.prices[i.price].is_metered();
        for old in before.iter().filter(licensed) {
            if !sub
                .items
                .iter()
                .any(|n| n.id == old.id && n.quantity == old.quantity)
            {
                let amount = -fraction(cat.prices[old.price].amount_for(old.quantity));
                sub.pending_prorations.push(Line {
                    item: old.id.clone(),
                    price: old.price,
                    quantity: old.quantity,
                    amount,
                    proration: true,
                    start: at,
                    end,
                });
            }
        }
        for new in sub.items.iter().filter(licensed) {
            if !before
                .iter()
                .any(|o| o.id == new.id && o.quantity == new.quantity)
            {
                let amount = fraction(cat.prices[new.price].amount_for(new.quantity));
                sub.pending_prorations.push(Line {
                    item: new.id.clone(),
                    price: new.price,
                    quantity: new.quantity,
                    amount,
                    proration: true,
                    start: at,
                    end,
                });
            }
        }
    }

    fn expire_discount(&mut self, sub: &mut Sub, at: i64) {
        let Some(d) = &sub.discount else { return };
        let expired = match self.coupon_duration(d.coupon) {
            Duration::Once => sub.invoices > 0,
            Duration::Repeating(_) => d.end.is_some_and(|e| e <= at),
            Duration::Forever => false,
        };
        if expired {
            let when = d.end.unwrap_or(at).min(at);
            sub.discount = None;
            self.snapshot(sub, when, "customer.subscription.updated");
        }
    }

    fn set_status(&mut self, sub: &mut Sub, at: i64, status: &'static str) {
        if sub.status == status {
            return;
        }
        sub.status = status;
        self.snapshot(sub, at, "customer.subscription.updated");
    }

    fn end(&mut self, sub: &mut Sub, at: i64, status: &'static str) -> Option<i64> {
        sub.status = status;
        sub.ended_at = Some(at);
        sub.canceled_at = sub.canceled_at.or(Some(at));
        sub.cancel_at_period_end = false;
        let kind = if status == "canceled" {
            "customer.subscription.deleted"
        } else {
            "customer.subscription.updated"
        };
        self.snapshot(sub, at, kind);
        Some(at)
    }

    /// Renders the subscription, records its state for the oracle and emits the event with
    /// `previous_attributes`.
    fn snapshot(&mut self, sub: &mut Sub, at: i64, kind: &str) {
        let json = self.ctx.render.subscription(sub);
        let previous = (!sub.last_json.is_null())
            .then(|| super::render::previous_attributes(&sub.last_json, &json));
        self.event(at, kind, &json, previous);
        sub.last_json = json;
        let state = SubState {
            at,
            status: sub.status,
            items: sub.items.iter().map(|i| (i.price, i.quantity)).collect(),
            coupon: sub.discount.as_ref().map(|d| d.coupon),
        };
        match sub.states.last_mut() {
            Some(last) if last.at == at => *last = state,
            _ => sub.states.push(state),
        }
    }

    fn finish_subscription(&mut self, sub: &Sub) {
        self.record_sub(sub);
        let json = self.ctx.render.subscription(sub);
        let obj = Obj::new(sub.id.clone(), sub.created, &json)
            .customer(Some(&sub.customer))
            .tag(sub.status);
        self.push(Kind::Subscription, obj);
        // A canceled subscription keeps its last items, as Stripe's does.
        for item in &sub.items {
            let json = self.ctx.render.subscription_item(item, sub);
            let obj = Obj::new(item.id.clone(), item.created, &json).parent(Some(&sub.id));
            self.push(Kind::SubscriptionItem, obj);
        }
    }

    /// Invoices the coming period (and pending prorations, and metered usage in arrears).
    fn bill(
        &mut self,
        sub: &mut Sub,
        at: i64,
        reason: &'static str,
        zero: bool,
    ) -> (Option<String>, Option<i64>) {
        let attempts = if zero {
            vec![(at, true)]
        } else {
            self.attempt_plan(at)
        };
        if zero {
            let saved = std::mem::take(&mut sub.items);
            let free: Vec<Item> = saved
                .iter()
                .map(|i| Item {
                    quantity: i.quantity,
                    ..i.clone()
                })
                .collect();
            sub.items = free;
            let r = self.bill_lines(sub, at, reason, &attempts, true);
            sub.items = saved;
            return r;
        }
        self.bill_with(sub, at, reason, &attempts)
    }

    fn bill_with(
        &mut self,
        sub: &mut Sub,
        at: i64,
        reason: &'static str,
        attempts: &[(i64, bool)],
    ) -> (Option<String>, Option<i64>) {
        self.bill_lines(sub, at, reason, attempts, false)
    }

    fn bill_lines(
        &mut self,
        sub: &mut Sub,
        at: i64,
        reason: &'static str,
        attempts: &[(i64, bool)],
        trial: bool,
    ) -> (Option<String>, Option<i64>) {
        let mut lines: Vec<Line> = std::mem::take(&mut sub.pending_prorations);
        let prev_start = sub.period_start - (sub.period_end - sub.period_start);
        for item in &sub.items {
            let price = &self.ctx.cat.prices[item.price];
            let (quantity, amount, start, end) = if price.is_metered() {
                let usage = if trial || reason == "subscription_create" {
                    0
                } else {
                    Rng::range(&mut self.rng, 0, 40_000)
                };
                (
                    usage,
                    price.amount_for(usage),
                    prev_start.max(sub.created),
                    sub.period_start,
                )
            } else if trial {
                (item.quantity, 0, at, sub.period_end)
            } else {
                (
                    item.quantity,
                    price.amount_for(item.quantity),
                    sub.period_start,
                    sub.period_end,
                )
            };
            lines.push(Line {
                item: item.id.clone(),
                price: item.price,
                quantity,
                amount,
                proration: false,
                start,
                end,
            });
        }
        self.invoice(sub, at, reason, lines, attempts)
    }
}
