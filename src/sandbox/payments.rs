//! Money movements: invoices and their payments, payment intents, charges (failed and
//! succeeded), balance transactions with fees and FX, refunds, credit notes and disputes.

use serde_json::{Value, json};

use super::model::{Bt, ChargeDraft, DAY, IntentDraft, InvoiceDraft, Line, Sub};
use super::money::{self, div_round_half_away};
use super::simulate::Sim;
use super::store::{Kind, Obj};
use super::truth::LedgerRow;

/// The outcome of a payment intent.
pub struct Paid {
    pub intent: String,
    pub succeeded: bool,
    pub paid_at: Option<i64>,
}

/// Stripe's card pricing: 2.9 % + 30¢, plus 1.5 % for cards charged in another currency.
fn card_fee(settlement: i64, currency: &str) -> i64 {
    let mut fee = div_round_half_away(settlement as i128 * 29, 1000) + 30;
    if currency != money::SETTLEMENT {
        fee += div_round_half_away(settlement as i128 * 15, 1000);
    }
    fee
}

impl Sim<'_> {
    pub fn balance_transaction(&mut self, bt: Bt<'_>) -> (String, Value) {
        let id = self.id("txn_3", 23);
        let json = self.ctx.render.balance_transaction(&id, &bt, self.ctx.now);
        self.push(
            Kind::BalanceTransaction,
            Obj::new(id.clone(), bt.at, &json)
                .tag(bt.kind)
                .parent(bt.source),
        );
        (id, json)
    }

    /// Creates the invoice for `lines`, collects it with `attempts`, and returns its id and the
    /// time it was paid.
    pub fn invoice(
        &mut self,
        sub: &mut Sub,
        at: i64,
        reason: &'static str,
        lines: Vec<Line>,
        attempts: &[(i64, bool)],
    ) -> (Option<String>, Option<i64>) {
        let id = self.id("in_1", 23);
        let number = self.next_invoice_number();
        let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
        let discount = sub
            .discount
            .as_ref()
            .filter(|d| d.start <= at && d.end.is_none_or(|e| e > at));
        let discount_amount = match discount.map(|d| &self.ctx.cat.coupons[d.coupon]) {
            Some(c) if subtotal > 0 => match (c.percent_off, c.amount_off) {
                (Some(p), _) => div_round_half_away(subtotal as i128 * p as i128, 100),
                (_, Some((a, _))) => a.min(subtotal),
                _ => 0,
            },
            _ => 0,
        };
        let total = subtotal - discount_amount;
        let mut line_json = Vec::new();
        for line in &lines {
            let line_id = self.id("il_1", 23);
            let json = self.ctx.render.invoice_line(&line_id, &id, line, sub);
            self.push(
                Kind::InvoiceLine,
                Obj::new(line_id, at, &json).parent(Some(&id)),
            );
            line_json.push(json);
        }
        sub.invoices += 1;
        sub.latest_invoice = Some(id.clone());
        let inv = InvoiceDraft {
            id: &id,
            number,
            created: at,
            reason,
            subtotal,
            discount_amount,
            discount: discount.map(|d| d.id.clone()),
            total,
            lines: &line_json,
            period: (
                lines.iter().map(|l| l.start).min().unwrap_or(at),
                lines.iter().map(|l| l.end).max().unwrap_or(at),
            ),
        };
        let open = self
            .ctx
            .render
            .invoice(&inv, sub, "open", None, self.payer_email().as_deref());
        self.event(at, "invoice.created", &open, None);
        self.event(at, "invoice.finalized", &open, None);
        let paid = if total == 0 {
            Some(at)
        } else {
            let metadata = json!({});
            let p = self.payment(
                at,
                total,
                sub.currency,
                "Subscription update",
                Some(&id),
                &metadata,
                attempts,
            );
            p.paid_at
        };
        let status = match paid {
            Some(_) => "paid",
            None if sub.status == "unpaid" => "uncollectible",
            None => "open",
        };
        let json = self
            .ctx
            .render
            .invoice(&inv, sub, status, paid, self.payer_email().as_deref());
        if let Some(t) = paid {
            self.event(t, "invoice.paid", &json, None);
        }
        self.push(
            Kind::Invoice,
            Obj::new(id.clone(), at, &json)
                .customer(Some(&sub.customer))
                .parent(Some(&sub.id))
                .tag(status),
        );
        (Some(id), paid)
    }

    /// A PaymentIntent and one charge per attempt (attempts after `now` have not happened yet).
    #[allow(clippy::too_many_arguments)]
    pub fn payment(
        &mut self,
        at: i64,
        amount: i64,
        currency: &'static str,
        description: &str,
        invoice: Option<&str>,
        metadata: &Value,
        attempts: &[(i64, bool)],
    ) -> Paid {
        let intent = self.id("pi_3", 23);
        let mut latest_charge = None;
        let mut paid_at = None;
        let mut failures = 0;
        for (t, ok) in attempts.iter().copied().filter(|(t, _)| *t <= self.ctx.now) {
            let charge = self.charge(t, ok, amount, currency, &intent, description);
            latest_charge = Some(charge);
            if ok {
                paid_at = Some(t);
                break;
            }
            failures += 1;
        }
        let status = match (paid_at, failures) {
            (Some(_), _) => "succeeded",
            (None, 0) => "requires_payment_method",
            // Some abandoned intents are canceled by the merchant's cleanup job.
            (None, _) if invoice.is_none() && self.rng.chance(0.5) => "canceled",
            _ => "requires_payment_method",
        };
        let pi = IntentDraft {
            id: &intent,
            created: at,
            amount,
            currency,
            status,
            latest_charge: latest_charge.as_deref(),
            customer: self.payer_customer(),
            description,
            metadata,
        };
        let json = self.ctx.render.payment_intent(&pi);
        if paid_at.is_some() {
            self.event(
                paid_at.unwrap_or(at),
                "payment_intent.succeeded",
                &json,
                None,
            );
        }
        self.push(
            Kind::PaymentIntent,
            Obj::new(intent.clone(), at, &json).customer(self.payer_customer().as_deref()),
        );
        if let Some(inv) = invoice {
            let id = self.id("inpay_1", 23);
            let json = self
                .ctx
                .render
                .invoice_payment(&id, inv, &intent, amount, currency, at, paid_at);
            self.push(
                Kind::InvoicePayment,
                Obj::new(id, at, &json).parent(Some(inv)),
            );
        }
        Paid {
            intent,
            succeeded: paid_at.is_some(),
            paid_at,
        }
    }

    fn charge(
        &mut self,
        at: i64,
        ok: bool,
        amount: i64,
        currency: &'static str,
        intent: &str,
        description: &str,
    ) -> String {
        let id = self.id("ch_3", 23);
        let customer = self.payer_customer();
        let email = self.payer_email();
        let mut draft = ChargeDraft {
            id: &id,
            created: at,
            amount,
            currency,
            succeeded: ok,
            intent,
            customer: customer.as_deref(),
            email: email.as_deref(),
            balance_transaction: None,
            amount_refunded: 0,
            disputed: false,
            description,
        };
        if !ok {
            self.record_failed(at, currency, amount);
            let json = self.ctx.render.charge(&draft);
            self.event(at, "charge.failed", &json, None);
            self.push(
                Kind::Charge,
                Obj::new(id.clone(), at, &json)
                    .customer(customer.as_deref())
                    .parent(Some(intent)),
            );
            return id;
        }
        let (settlement, rate) = self.settle(amount, currency, at);
        let fee = card_fee(settlement, currency);
        let (bt, _) = self.balance_transaction(Bt {
            at,
            amount: settlement,
            fee,
            rate,
            kind: "charge",
            category: "charge",
            source: Some(&id),
            description,
        });
        let key = self.customer_key();
        self.record_ledger(LedgerRow {
            created: at,
            category: "charge",
            currency,
            presentment: amount,
            settlement,
            fee,
            net: settlement - fee,
            customer_key: key,
        });
        self.note_conversion_charge(&id);
        draft.balance_transaction = Some(&bt);
        self.event(
            at,
            "charge.succeeded",
            &self.ctx.render.charge(&draft),
            None,
        );
        if self.rng.chance(0.07) {
            draft.amount_refunded = self.refund(&draft);
        } else if self.rng.chance(0.015) {
            draft.disputed = self.dispute(&draft, settlement);
        }
        let json = self.ctx.render.charge(&draft);
        self.push(
            Kind::Charge,
            Obj::new(id.clone(), at, &json)
                .customer(customer.as_deref())
                .parent(Some(intent)),
        );
        id
    }

    /// A full or partial refund some days later; returns the amount refunded so far.
    fn refund(&mut self, charge: &ChargeDraft<'_>) -> i64 {
        let at = charge.created + self.rng.range(1, 20) * DAY + self.rng.range(0, 3600);
        if at > self.ctx.now {
            return 0;
        }
        let amount = if self.rng.chance(0.6) {
            charge.amount
        } else {
            (charge.amount * self.rng.range(20, 80) / 100).max(1)
        };
        let id = self.id("re_3", 23);
        let (settlement, rate) = self.settle(amount, charge.currency, at);
        let (bt, _) = self.balance_transaction(Bt {
            at,
            amount: -settlement,
            fee: 0,
            rate,
            kind: "refund",
            category: "refund",
            source: Some(&id),
            description: "REFUND FOR CHARGE",
        });
        let key = self.customer_key();
        self.record_ledger(LedgerRow {
            created: at,
            category: "refund",
            currency: charge.currency,
            presentment: amount,
            settlement: -settlement,
            fee: 0,
            net: -settlement,
            customer_key: key,
        });
        let json = self.ctx.render.refund(&id, at, amount, charge, &bt);
        self.event(at, "refund.created", &json, None);
        self.push(
            Kind::Refund,
            Obj::new(id.clone(), at, &json).parent(Some(charge.id)),
        );
        let refunded = ChargeDraft {
            amount_refunded: amount,
            ..*charge
        };
        self.event(
            at,
            "charge.refunded",
            &self.ctx.render.charge(&refunded),
            None,
        );
        if self.rng.chance(0.5) && charge.customer.is_some() {
            let cn = self.id("cn_1", 23);
            let json = self.ctx.render.credit_note(&cn, at, amount, charge, &id);
            self.event(at, "credit_note.created", &json, None);
            self.push(
                Kind::CreditNote,
                Obj::new(cn, at, &json).customer(charge.customer),
            );
        }
        amount
    }

    /// A dispute: funds withdrawn with a $15 fee; won disputes are reinstated, lost ones are not.
    fn dispute(&mut self, charge: &ChargeDraft<'_>, settlement: i64) -> bool {
        let at = charge.created + self.rng.range(5, 40) * DAY;
        if at > self.ctx.now {
            return false;
        }
        let id = self.id("dp_1", 23);
        let rate = self
            .settle(charge.amount, charge.currency, charge.created)
            .1;
        let key = self.customer_key();
        let (_, withdrawn) = self.balance_transaction(Bt {
            at,
            amount: -settlement,
            fee: 1500,
            rate,
            kind: "adjustment",
            category: "dispute",
            source: Some(&id),
            description: "Chargeback withdrawal",
        });
        self.record_ledger(LedgerRow {
            created: at,
            category: "dispute",
            currency: charge.currency,
            presentment: charge.amount,
            settlement: -settlement,
            fee: 1500,
            net: -settlement - 1500,
            customer_key: key.clone(),
        });
        let mut bts = vec![withdrawn];
        let closed = at + self.rng.range(10, 60) * DAY;
        let status = if closed > self.ctx.now {
            "needs_response"
        } else if self.rng.chance(0.5) {
            let (_, reinstated) = self.balance_transaction(Bt {
                at: closed,
                amount: settlement,
                fee: -1500,
                rate,
                kind: "adjustment",
                category: "dispute_reversal",
                source: Some(&id),
                description: "Chargeback reversal",
            });
            self.record_ledger(LedgerRow {
                created: closed,
                category: "dispute_reversal",
                currency: charge.currency,
                presentment: charge.amount,
                settlement,
                fee: -1500,
                net: settlement + 1500,
                customer_key: key,
            });
            bts.push(reinstated);
            "won"
        } else {
            "lost"
        };
        let json = self.ctx.render.dispute(&id, at, charge, status, &bts);
        self.event(at, "charge.dispute.created", &json, None);
        if status != "needs_response" {
            self.event(closed, "charge.dispute.closed", &json, None);
        }
        self.push(
            Kind::Dispute,
            Obj::new(id, at, &json).parent(Some(charge.id)),
        );
        true
    }
}
