//! Stripe-shaped JSON for every sandbox object, following the current API version's fixtures
//! (`../shared/stripe-openapi/fixtures3.json`): field names, nesting, ids and embedded lists.

use serde_json::{Map, Value, json};

use super::catalog::Catalog;
use super::model::{
    Bt, ChargeDraft, CheckoutIds, Discount, IntentDraft, InvoiceDraft, Item, Line, Sub,
};

/// The API version the sandbox speaks (the current one in the fixtures).
pub const API_VERSION: &str = "2026-07-29.dahlia";
/// Embedded lists stop here, like Stripe's.
pub const EMBEDDED_LIMIT: usize = 10;

pub struct Renderer {
    pub livemode: bool,
    pub account: String,
    prices: Vec<Value>,
    plans: Vec<Value>,
}

/// `data.previous_attributes`: the top-level fields that changed, with their old values.
pub fn previous_attributes(old: &Value, new: &Value) -> Value {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return json!({});
    };
    let changed: Map<String, Value> = old
        .iter()
        .filter(|(k, v)| new.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(changed)
}

fn list(data: Vec<Value>, has_more: bool, url: String) -> Value {
    json!({"object": "list", "data": data, "has_more": has_more, "total_count": Value::Null, "url": url})
}

fn card(email: Option<&str>) -> Value {
    json!({
        "billing_details": {"address": {"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null}, "email": email, "name": null, "phone": null, "tax_id": null},
        "payment_method_details": {"card": {"brand": "visa", "country": "US", "exp_month": 12, "exp_year": 2030, "funding": "credit", "last4": "4242", "network": "visa"}, "type": "card"},
    })
}

impl Renderer {
    pub fn new(catalog: &Catalog, livemode: bool, account: String) -> Renderer {
        let prices = catalog
            .prices
            .iter()
            .map(|p| p.to_json(catalog, livemode))
            .collect();
        let plans = catalog
            .prices
            .iter()
            .map(|p| p.plan_json(catalog, livemode).unwrap_or(Value::Null))
            .collect();
        Renderer {
            livemode,
            account,
            prices,
            plans,
        }
    }

    pub fn price(&self, index: usize) -> &Value {
        &self.prices[index]
    }

    pub fn event(
        &self,
        id: &str,
        at: i64,
        kind: &str,
        object: &Value,
        previous: Option<Value>,
    ) -> Value {
        let mut data = json!({"object": object});
        if let Some(prev) = previous {
            data["previous_attributes"] = prev;
        }
        json!({
            "id": id, "object": "event", "account": self.account, "api_version": API_VERSION,
            "context": null, "created": at, "data": data, "livemode": self.livemode,
            "pending_webhooks": 0, "request": {"id": null, "idempotency_key": null}, "type": kind,
        })
    }

    pub fn customer(
        &self,
        id: &str,
        created: i64,
        email: Option<&str>,
        name: &str,
        currency: &str,
        metadata: &Value,
    ) -> Value {
        json!({
            "id": id, "object": "customer", "address": null, "balance": 0, "created": created,
            "currency": currency, "default_source": null, "delinquent": false, "description": null,
            "discount": null, "email": email, "invoice_prefix": id[4..12].to_uppercase(),
            "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
            "livemode": self.livemode, "metadata": metadata, "name": name, "next_invoice_sequence": 1,
            "phone": null, "preferred_locales": [], "shipping": null, "tax_exempt": "none", "test_clock": null,
        })
    }

    pub fn checkout_session(
        &self,
        s: &CheckoutIds,
        mode: &str,
        status: &str,
        amount: i64,
        currency: &str,
        intent: Option<&str>,
    ) -> Value {
        let complete = status == "complete";
        json!({
            "id": s.id, "object": "checkout.session", "amount_subtotal": amount, "amount_total": amount,
            "automatic_tax": {"enabled": false, "liability": null, "status": null},
            "cancel_url": "https://example.com/pricing", "client_reference_id": s.client_reference_id,
            "created": s.created, "currency": currency, "customer": s.customer,
            "customer_creation": if s.customer.is_some() { "always" } else { "if_required" },
            "customer_details": if complete { json!({"address": null, "email": s.email.as_deref().map(str::trim), "name": null, "phone": null, "tax_exempt": "none", "tax_ids": []}) } else { Value::Null },
            "customer_email": null, "expires_at": s.created + 86_400, "invoice": s.invoice,
            "livemode": self.livemode, "locale": null, "metadata": s.metadata, "mode": mode,
            "payment_intent": intent, "payment_link": null, "payment_method_types": ["card"],
            "payment_status": if complete { "paid" } else { "unpaid" }, "status": status,
            "subscription": s.subscription, "success_url": "https://example.com/thanks",
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted", "url": null,
        })
    }

    pub fn subscription_item(&self, item: &Item, sub: &Sub) -> Value {
        json!({
            "id": item.id, "object": "subscription_item", "billing_thresholds": null,
            "created": item.created, "current_period_end": sub.period_end,
            "current_period_start": sub.period_start, "discounts": [], "metadata": {},
            "plan": self.plans[item.price], "price": self.prices[item.price],
            "quantity": item.quantity, "subscription": sub.id, "tax_rates": [],
        })
    }

    pub fn subscription(&self, sub: &Sub) -> Value {
        let items: Vec<Value> = sub
            .items
            .iter()
            .take(EMBEDDED_LIMIT)
            .map(|i| self.subscription_item(i, sub))
            .collect();
        let items = list(
            items,
            sub.items.len() > EMBEDDED_LIMIT,
            format!("/v1/subscription_items?subscription={}", sub.id),
        );
        let reason = match (sub.ended_at, sub.status) {
            (Some(_), "canceled") => json!("cancellation_requested"),
            (Some(_), "incomplete_expired") => json!("payment_failed"),
            _ => Value::Null,
        };
        json!({
            "id": sub.id, "object": "subscription", "application": null, "application_fee_percent": null,
            "automatic_tax": {"enabled": false, "liability": null, "disabled_reason": null},
            "billing_cycle_anchor": sub.anchor, "billing_cycle_anchor_config": null,
            "billing_mode": {"type": "flexible"}, "billing_thresholds": null,
            "cancel_at": sub.cancel_at, "cancel_at_period_end": sub.cancel_at_period_end,
            "canceled_at": sub.canceled_at,
            "cancellation_details": {"comment": null, "feedback": null, "reason": reason},
            "collection_method": "charge_automatically", "created": sub.created, "currency": sub.currency,
            "customer": sub.customer, "days_until_due": null, "default_payment_method": null,
            "default_source": null, "default_tax_rates": [], "description": null,
            "discounts": sub.discount.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
            "ended_at": sub.ended_at, "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": items, "latest_invoice": sub.latest_invoice, "livemode": self.livemode,
            "metadata": sub.metadata, "next_pending_invoice_item_invoice": null, "on_behalf_of": null,
            "pause_collection": null, "payment_settings": {"payment_method_options": null, "payment_method_types": null, "save_default_payment_method": "off"},
            "pending_invoice_item_interval": null, "pending_setup_intent": null, "pending_update": null,
            "schedule": null, "start_date": sub.created, "status": sub.status, "test_clock": null,
            "transfer_data": null, "trial_end": sub.trial.map(|t| t.1),
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": sub.trial.map(|t| t.0),
        })
    }

    pub fn discount(&self, d: &Discount, sub: &Sub) -> Value {
        json!({
            "id": d.id, "object": "discount", "checkout_session": null, "customer": sub.customer,
            "end": d.end, "invoice": null, "invoice_item": null, "promotion_code": null,
            "source": {"coupon": d.coupon_id, "type": "coupon"}, "start": d.start,
            "subscription": sub.id, "subscription_item": null,
        })
    }

    pub fn invoice_line(&self, id: &str, invoice: &str, line: &Line, sub: &Sub) -> Value {
        let price = &self.prices[line.price];
        json!({
            "id": id, "object": "line_item", "amount": line.amount, "currency": sub.currency,
            "description": if line.proration { "Proration" } else { "Subscription" },
            "discount_amounts": [], "discountable": true, "discounts": [], "invoice": invoice,
            "livemode": self.livemode, "metadata": {},
            "parent": {"invoice_item_details": null, "subscription_item_details": {"invoice_item": null, "proration": line.proration, "proration_details": {"credited_items": null}, "subscription": sub.id, "subscription_item": line.item}, "type": "subscription_item_details"},
            "period": {"end": line.end, "start": line.start}, "pretax_credit_amounts": [],
            "pricing": {"price_details": {"price": price["id"], "product": price["product"]}, "type": "price_details", "unit_amount_decimal": price["unit_amount_decimal"]},
            "quantity": line.quantity, "subtotal": line.amount, "taxes": [],
        })
    }

    pub fn invoice(
        &self,
        inv: &InvoiceDraft<'_>,
        sub: &Sub,
        status: &str,
        paid_at: Option<i64>,
        email: Option<&str>,
    ) -> Value {
        let paid = paid_at.is_some();
        json!({
            "id": inv.id, "object": "invoice", "account_country": "US", "account_name": "Sandbox Co",
            "account_tax_ids": null, "amount_due": inv.total, "amount_overpaid": 0,
            "amount_paid": if paid { inv.total } else { 0 },
            "amount_remaining": if paid { 0 } else { inv.total }, "amount_shipping": 0,
            "application": null, "attempt_count": 1, "attempted": true, "auto_advance": !paid,
            "automatic_tax": {"enabled": false, "liability": null, "status": null, "disabled_reason": null, "provider": null},
            "billing_reason": inv.reason, "collection_method": "charge_automatically",
            "created": inv.created, "currency": sub.currency, "customer": sub.customer,
            "customer_email": email, "customer_name": null, "description": null,
            "discounts": inv.discount.iter().cloned().collect::<Vec<_>>(), "due_date": null,
            "effective_at": inv.created, "ending_balance": 0, "footer": null, "hosted_invoice_url": null,
            "invoice_pdf": null, "issuer": {"type": "self"}, "last_finalization_error": null,
            "latest_revision": null,
            "lines": list(inv.lines.iter().take(EMBEDDED_LIMIT).cloned().collect(), inv.lines.len() > EMBEDDED_LIMIT, format!("/v1/invoices/{}/lines", inv.id)),
            "livemode": self.livemode, "metadata": {}, "next_payment_attempt": null,
            "number": format!("{}-{:04}", &sub.customer[4..12].to_uppercase(), inv.number),
            "on_behalf_of": null,
            "parent": {"quote_details": null, "subscription_details": {"metadata": sub.metadata, "subscription": sub.id}, "type": "subscription_details"},
            "period_end": inv.period.1, "period_start": inv.period.0,
            "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
            "receipt_number": null, "starting_balance": 0, "statement_descriptor": null, "status": status,
            "status_transitions": {"finalized_at": inv.created, "marked_uncollectible_at": null, "paid_at": paid_at, "voided_at": null},
            "subtotal": inv.subtotal, "subtotal_excluding_tax": inv.subtotal, "test_clock": null,
            "total": inv.total,
            "total_discount_amounts": inv.discount.iter().map(|d| json!({"amount": inv.discount_amount, "discount": d})).collect::<Vec<_>>(),
            "total_excluding_tax": inv.total, "total_pretax_credit_amounts": [], "total_taxes": [],
            "webhooks_delivered_at": inv.created,
        })
    }

    pub fn payment_intent(&self, pi: &IntentDraft<'_>) -> Value {
        let succeeded = pi.status == "succeeded";
        json!({
            "id": pi.id, "object": "payment_intent", "amount": pi.amount, "amount_capturable": 0,
            "amount_details": {"tip": {}}, "amount_received": if succeeded { pi.amount } else { 0 },
            "application": null, "application_fee_amount": null,
            "automatic_payment_methods": {"enabled": true},
            "canceled_at": if pi.status == "canceled" { json!(pi.created + 86_400) } else { Value::Null },
            "cancellation_reason": if pi.status == "canceled" { json!("abandoned") } else { Value::Null },
            "capture_method": "automatic", "client_secret": null, "confirmation_method": "automatic",
            "created": pi.created, "currency": pi.currency, "customer": pi.customer,
            "description": pi.description, "last_payment_error": null, "latest_charge": pi.latest_charge,
            "livemode": self.livemode, "metadata": pi.metadata, "next_action": null, "on_behalf_of": null,
            "payment_method": null, "payment_method_types": ["card"], "processing": null,
            "receipt_email": null, "review": null, "setup_future_usage": null, "shipping": null,
            "source": null, "statement_descriptor": null, "statement_descriptor_suffix": null,
            "status": pi.status, "transfer_data": null, "transfer_group": null,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn invoice_payment(
        &self,
        id: &str,
        invoice: &str,
        intent: &str,
        amount: i64,
        currency: &str,
        at: i64,
        paid_at: Option<i64>,
    ) -> Value {
        json!({
            "id": id, "object": "invoice_payment", "amount_paid": paid_at.map(|_| amount),
            "amount_requested": amount, "created": at, "currency": currency, "invoice": invoice,
            "is_default": true, "livemode": self.livemode,
            "payment": {"payment_intent": intent, "type": "payment_intent"},
            "status": if paid_at.is_some() { "paid" } else { "open" },
            "status_transitions": {"canceled_at": null, "paid_at": paid_at},
        })
    }

    pub fn charge(&self, c: &ChargeDraft<'_>) -> Value {
        let mut v = json!({
            "id": c.id, "object": "charge", "amount": c.amount,
            "amount_captured": if c.succeeded { c.amount } else { 0 },
            "amount_refunded": c.amount_refunded, "application": null, "application_fee": null,
            "application_fee_amount": null, "balance_transaction": c.balance_transaction,
            "calculated_statement_descriptor": "SANDBOX CO", "captured": c.succeeded,
            "created": c.created, "currency": c.currency, "customer": c.customer,
            "description": c.description, "disputed": c.disputed, "failure_balance_transaction": null,
            "failure_code": if c.succeeded { Value::Null } else { json!("card_declined") },
            "failure_message": if c.succeeded { Value::Null } else { json!("Your card was declined.") },
            "fraud_details": {}, "livemode": self.livemode, "metadata": {}, "on_behalf_of": null,
            "outcome": {"network_status": if c.succeeded { "approved_by_network" } else { "declined_by_network" }, "reason": null, "risk_level": "normal", "seller_message": if c.succeeded { "Payment complete." } else { "The bank did not return any further details with this decline." }, "type": if c.succeeded { "authorized" } else { "issuer_declined" }},
            "paid": c.succeeded, "payment_intent": c.intent, "payment_method": null,
            "receipt_email": null, "receipt_number": null, "receipt_url": null,
            "refunded": c.amount_refunded == c.amount && c.amount > 0, "review": null, "shipping": null,
            "source_transfer": null, "statement_descriptor": null, "statement_descriptor_suffix": null,
            "status": if c.succeeded { "succeeded" } else { "failed" }, "transfer_data": null, "transfer_group": null,
        });
        if let (Some(obj), Some(extra)) = (v.as_object_mut(), card(c.email).as_object()) {
            obj.extend(extra.clone());
        }
        v
    }

    pub fn balance_transaction(&self, id: &str, bt: &Bt<'_>, now: i64) -> Value {
        let available_on = (bt.at / 86_400 + 2) * 86_400;
        json!({
            "id": id, "object": "balance_transaction", "amount": bt.amount, "available_on": available_on,
            "balance_type": "payments", "created": bt.at, "currency": super::money::SETTLEMENT,
            "description": bt.description,
            "exchange_rate": bt.rate.map(|r| r as f64 / 1_000_000.0),
            "fee": bt.fee,
            "fee_details": if bt.fee != 0 { json!([{"amount": bt.fee, "application": null, "currency": "usd", "description": "Stripe processing fees", "type": "stripe_fee"}]) } else { json!([]) },
            "net": bt.amount - bt.fee, "reporting_category": bt.category, "source": bt.source,
            "status": if available_on <= now { "available" } else { "pending" }, "type": bt.kind,
        })
    }

    pub fn refund(&self, id: &str, at: i64, amount: i64, c: &ChargeDraft<'_>, bt: &str) -> Value {
        json!({
            "id": id, "object": "refund", "amount": amount, "balance_transaction": bt, "charge": c.id,
            "created": at, "currency": c.currency, "destination_details": {"card": {"type": "refund"}, "type": "card"},
            "metadata": {}, "payment_intent": c.intent, "reason": "requested_by_customer",
            "receipt_number": null, "source_transfer_reversal": null, "status": "succeeded",
            "transfer_reversal": null,
        })
    }

    pub fn credit_note(
        &self,
        id: &str,
        at: i64,
        amount: i64,
        c: &ChargeDraft<'_>,
        refund: &str,
    ) -> Value {
        json!({
            "id": id, "object": "credit_note", "amount": amount, "amount_shipping": 0, "created": at,
            "currency": c.currency, "customer": c.customer, "customer_balance_transaction": null,
            "discount_amount": 0, "discount_amounts": [], "effective_at": at, "invoice": null,
            "lines": list(vec![], false, format!("/v1/credit_notes/{id}/lines")),
            "livemode": self.livemode, "memo": null, "metadata": {}, "number": format!("CN-{}", &id[4..10]),
            "out_of_band_amount": null, "pdf": null, "post_payment_amount": amount, "pre_payment_amount": 0,
            "reason": "product_unsatisfactory", "refunds": [{"amount_refunded": amount, "refund": refund, "type": "refund"}],
            "status": "issued", "subtotal": amount, "subtotal_excluding_tax": amount, "total": amount,
            "total_excluding_tax": amount, "total_taxes": [], "type": "post_payment", "voided_at": null,
        })
    }

    pub fn dispute(
        &self,
        id: &str,
        at: i64,
        c: &ChargeDraft<'_>,
        status: &str,
        bts: &[Value],
    ) -> Value {
        json!({
            "id": id, "object": "dispute", "amount": c.amount, "balance_transactions": bts,
            "charge": c.id, "created": at, "currency": c.currency, "evidence": {},
            "evidence_details": {"due_by": at + 14 * 86_400, "has_evidence": false, "past_due": false, "submission_count": 0},
            "is_charge_refundable": false, "livemode": self.livemode, "metadata": {},
            "payment_intent": c.intent, "reason": "fraudulent", "status": status,
        })
    }
}
