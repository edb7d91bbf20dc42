//! The simulation's own records, shared by the simulator (`simulate`, `payments`) and the
//! renderer (`render`): a subscription while it lives, its items, discounts and invoice lines,
//! and the drafts the renderer turns into Stripe-shaped JSON. They live apart so those modules
//! import this one, not each other.

use serde_json::Value;

use super::truth::SubState;

pub const DAY: i64 = 86_400;

/// A subscription item while it lives.
#[derive(Clone)]
pub struct Item {
    pub id: String,
    pub price: usize,
    pub quantity: i64,
    pub created: i64,
}

/// A subscription while it is simulated.
pub struct Sub {
    pub id: String,
    pub customer: String,
    pub currency: &'static str,
    pub items: Vec<Item>,
    pub status: &'static str,
    pub created: i64,
    pub anchor: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub trial: Option<(i64, i64)>,
    pub discount: Option<Discount>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub latest_invoice: Option<String>,
    pub metadata: Value,
    pub last_json: Value,
    pub states: Vec<SubState>,
    pub pending_prorations: Vec<Line>,
    pub invoices: u32,
}

#[derive(Clone)]
pub struct Discount {
    pub id: String,
    pub coupon: usize,
    pub coupon_id: &'static str,
    pub start: i64,
    pub end: Option<i64>,
}

/// An invoice line before it is rendered.
#[derive(Clone)]
pub struct Line {
    pub item: String,
    pub price: usize,
    pub quantity: i64,
    pub amount: i64,
    pub proration: bool,
    pub start: i64,
    pub end: i64,
}

/// A balance transaction before rendering.
pub struct Bt<'s> {
    pub at: i64,
    pub amount: i64,
    pub fee: i64,
    pub rate: Option<i64>,
    pub kind: &'s str,
    pub category: &'static str,
    pub source: Option<&'s str>,
    pub description: &'s str,
}

pub struct CheckoutIds {
    pub id: String,
    pub created: i64,
    pub customer: Option<String>,
    pub email: Option<String>,
    pub client_reference_id: Option<String>,
    pub metadata: Value,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
}

pub struct InvoiceDraft<'a> {
    pub id: &'a str,
    pub number: u32,
    pub created: i64,
    pub reason: &'static str,
    pub subtotal: i64,
    pub discount_amount: i64,
    pub discount: Option<String>,
    pub total: i64,
    pub lines: &'a [Value],
    pub period: (i64, i64),
}

pub struct IntentDraft<'a> {
    pub id: &'a str,
    pub created: i64,
    pub amount: i64,
    pub currency: &'static str,
    pub status: &'static str,
    pub latest_charge: Option<&'a str>,
    pub customer: Option<String>,
    pub description: &'a str,
    pub metadata: &'a Value,
}

#[derive(Clone, Copy)]
pub struct ChargeDraft<'a> {
    pub id: &'a str,
    pub created: i64,
    pub amount: i64,
    pub currency: &'static str,
    pub succeeded: bool,
    pub intent: &'a str,
    pub customer: Option<&'a str>,
    pub email: Option<&'a str>,
    pub balance_transaction: Option<&'a str>,
    pub amount_refunded: i64,
    pub disputed: bool,
    pub description: &'a str,
}
