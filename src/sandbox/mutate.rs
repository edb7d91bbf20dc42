//! Changes to a running sandbox account, as a Stripe user would make them: each updates the
//! stored objects and records the events Stripe would send, so incremental extraction can be
//! tested against a truth that moves.

use serde_json::{Value, json};

use super::generate::Account;
use super::render::API_VERSION;
use super::rng::Rng;
use super::store::{Kind, Obj};

#[derive(Debug, thiserror::Error)]
pub enum MutateError {
    #[error("no such {0}: {1}")]
    Missing(&'static str, String),
    #[error("{0}")]
    Invalid(String),
}

impl Account {
    /// Moves the sandbox clock forward; later mutations happen "now".
    pub fn advance_clock(&mut self, seconds: i64) {
        self.config.now += seconds;
    }

    fn load(&self, kind: Kind, id: &str) -> Result<(Obj, Value), MutateError> {
        let obj = self
            .store
            .table(kind)
            .get(id)
            .cloned()
            .ok_or_else(|| MutateError::Missing(kind.noun(), id.into()))?;
        let value =
            serde_json::from_str(&obj.json).map_err(|e| MutateError::Invalid(e.to_string()))?;
        Ok((obj, value))
    }

    fn save(&mut self, kind: Kind, mut obj: Obj, value: &Value) {
        obj.json = value.to_string().into();
        self.store.table_mut(kind).upsert(obj);
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.mutations += 1;
        let mut rng = Rng::derive(self.config.seed, 77, self.mutations);
        format!("{prefix}{}", rng.base62(23))
    }

    fn record_event(&mut self, kind: &str, object: &Value, previous: Option<Value>) {
        let id = self.new_id("evt_1");
        let now = self.config.now;
        let mut data = json!({"object": object});
        if let Some(p) = previous {
            data["previous_attributes"] = p;
        }
        let event = json!({
            "id": id, "object": "event", "account": self.account["id"], "api_version": API_VERSION,
            "context": null, "created": now, "data": data, "livemode": self.config.livemode,
            "pending_webhooks": 0, "request": {"id": null, "idempotency_key": null}, "type": kind,
        });
        self.store
            .table_mut(Kind::Event)
            .upsert(Obj::new(id, now, &event).tag(kind));
    }

    /// Refunds what is left of a succeeded charge; returns the refund id.
    pub fn refund_charge(&mut self, charge_id: &str) -> Result<String, MutateError> {
        let (obj, mut charge) = self.load(Kind::Charge, charge_id)?;
        let amount = charge["amount"].as_i64().unwrap_or(0)
            - charge["amount_refunded"].as_i64().unwrap_or(0);
        if charge["status"] != "succeeded" || amount <= 0 {
            return Err(MutateError::Invalid(format!(
                "{charge_id} has nothing left to refund"
            )));
        }
        let now = self.config.now;
        let (refund_id, txn) = (self.new_id("re_3"), self.new_id("txn_3"));
        let currency = charge["currency"].as_str().unwrap_or("usd").to_string();
        let settlement = if currency == "usd" {
            amount
        } else {
            super::money::to_settlement(
                amount,
                &currency,
                super::money::rate_micros(&currency, now / 86_400),
            )
        };
        let bt = json!({
            "id": txn, "object": "balance_transaction", "amount": -settlement, "available_on": now, "balance_type": "payments",
            "created": now, "currency": "usd", "description": "REFUND FOR CHARGE", "exchange_rate": null, "fee": 0,
            "fee_details": [], "net": -settlement, "reporting_category": "refund", "source": refund_id, "status": "available", "type": "refund",
        });
        self.store.table_mut(Kind::BalanceTransaction).upsert(
            Obj::new(txn.clone(), now, &bt)
                .tag("refund")
                .parent(Some(&refund_id)),
        );
        let refund = json!({
            "id": refund_id, "object": "refund", "amount": amount, "balance_transaction": txn, "charge": charge_id,
            "created": now, "currency": currency, "metadata": {}, "payment_intent": charge["payment_intent"],
            "reason": "requested_by_customer", "status": "succeeded",
        });
        self.store
            .table_mut(Kind::Refund)
            .upsert(Obj::new(refund_id.clone(), now, &refund).parent(Some(charge_id)));
        let previous =
            json!({"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]});
        charge["amount_refunded"] = json!(charge["amount"]);
        charge["refunded"] = json!(true);
        self.save(Kind::Charge, obj, &charge);
        self.record_event("refund.created", &refund, None);
        self.record_event("charge.refunded", &charge, Some(previous));
        Ok(refund_id)
    }

    /// Cancels a subscription now.
    pub fn cancel_subscription(&mut self, sub_id: &str) -> Result<(), MutateError> {
        let (obj, mut sub) = self.load(Kind::Subscription, sub_id)?;
        let now = self.config.now;
        let previous = json!({"status": sub["status"], "ended_at": sub["ended_at"], "canceled_at": sub["canceled_at"]});
        sub["status"] = json!("canceled");
        sub["ended_at"] = json!(now);
        sub["canceled_at"] = json!(now);
        let obj = obj.tag("canceled");
        self.save(Kind::Subscription, obj, &sub);
        self.record_event("customer.subscription.deleted", &sub, Some(previous));
        Ok(())
    }

    /// Moves the subscription's first item to another price (an upgrade or a downgrade).
    pub fn change_price(&mut self, sub_id: &str, price_id: &str) -> Result<(), MutateError> {
        let (obj, mut sub) = self.load(Kind::Subscription, sub_id)?;
        let (_, price) = self.load(Kind::Price, price_id)?;
        let previous = json!({"items": sub["items"]});
        sub["items"]["data"][0]["price"] = price.clone();
        let item_id = sub["items"]["data"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Ok((item_obj, mut item)) = self.load(Kind::SubscriptionItem, &item_id) {
            item["price"] = price;
            self.save(Kind::SubscriptionItem, item_obj, &item);
        }
        self.save(Kind::Subscription, obj, &sub);
        self.record_event("customer.subscription.updated", &sub, Some(previous));
        Ok(())
    }

    /// Attaches a paid partial payment to an invoice, as paying part of an open invoice does:
    /// Stripe announces it with `invoice_payment.paid` alone; returns the invoice payment id.
    pub fn attach_invoice_payment(
        &mut self,
        invoice_id: &str,
        amount: i64,
    ) -> Result<String, MutateError> {
        let (_, invoice) = self.load(Kind::Invoice, invoice_id)?;
        let now = self.config.now;
        let id = self.new_id("inpay_1");
        let payment = json!({
            "id": id, "object": "invoice_payment", "amount_paid": amount, "amount_requested": amount,
            "created": now, "currency": invoice["currency"], "invoice": invoice_id, "is_default": false,
            "livemode": self.config.livemode,
            "payment": {"payment_intent": self.new_id("pi_3"), "type": "payment_intent"},
            "status": "paid", "status_transitions": {"canceled_at": null, "paid_at": now},
        });
        self.store
            .table_mut(Kind::InvoicePayment)
            .upsert(Obj::new(id.clone(), now, &payment).parent(Some(invoice_id)));
        self.record_event("invoice_payment.paid", &payment, None);
        Ok(id)
    }

    /// Changes a customer's email (a `customer.updated` event).
    pub fn update_customer_email(
        &mut self,
        customer_id: &str,
        email: &str,
    ) -> Result<(), MutateError> {
        let (obj, mut customer) = self.load(Kind::Customer, customer_id)?;
        let previous = json!({"email": customer["email"]});
        customer["email"] = json!(email);
        self.save(Kind::Customer, obj, &customer);
        self.record_event("customer.updated", &customer, Some(previous));
        Ok(())
    }

    /// Deletes an invoice (Stripe deletes drafts): retrieves then answer with the deleted stub.
    pub fn delete_invoice(&mut self, invoice_id: &str) -> Result<(), MutateError> {
        let (mut obj, invoice) = self.load(Kind::Invoice, invoice_id)?;
        obj.deleted = true;
        self.save(
            Kind::Invoice,
            obj,
            &json!({"id": invoice_id, "object": "invoice", "deleted": true}),
        );
        self.record_event("invoice.deleted", &invoice, None);
        Ok(())
    }

    /// Deletes a customer: retrieves then answer with Stripe's deleted stub.
    pub fn delete_customer(&mut self, customer_id: &str) -> Result<(), MutateError> {
        let (mut obj, customer) = self.load(Kind::Customer, customer_id)?;
        if obj.deleted {
            return Err(MutateError::Invalid(format!(
                "{customer_id} is already deleted"
            )));
        }
        obj.deleted = true;
        self.save(
            Kind::Customer,
            obj,
            &json!({"id": customer_id, "object": "customer", "deleted": true}),
        );
        self.record_event("customer.deleted", &customer, None);
        Ok(())
    }
}
