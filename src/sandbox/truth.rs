//! What the generator knows to be true, kept compact for the oracle: subscription state
//! timelines, the money ledger, failed payments and visitor ↔ payment links.

/// One state a subscription entered at `at` (held until the next change).
#[derive(Clone, Debug, PartialEq)]
pub struct SubState {
    pub at: i64,
    pub status: &'static str,
    /// (price index in the catalogue, quantity)
    pub items: Vec<(usize, i64)>,
    /// Coupon index of the attached subscription-level discount, if any.
    pub coupon: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct SubTruth {
    pub id: String,
    pub customer: String,
    pub currency: &'static str,
    pub created: i64,
    pub states: Vec<SubState>,
}

/// One included balance transaction, as `revenue_daily` sees it.
#[derive(Clone, Debug)]
pub struct LedgerRow {
    pub created: i64,
    pub category: &'static str,
    /// Presentment currency (settlement currency for standalone fees).
    pub currency: &'static str,
    /// Source-object amount in presentment minor units, unsigned (charge, refund or dispute amount).
    pub presentment: i64,
    /// `BT.amount`, settlement minor units, signed.
    pub settlement: i64,
    pub fee: i64,
    pub net: i64,
    pub customer_key: String,
}

#[derive(Clone, Debug)]
pub struct FailedCharge {
    pub created: i64,
    pub currency: &'static str,
    pub amount: i64,
}

/// A visitor who paid, and how the attribution rules should find them.
#[derive(Clone, Debug)]
pub struct Conversion {
    pub visitor_id: String,
    pub email: Option<String>,
    pub site_id: &'static str,
    pub converted_at: i64,
    /// `client_reference_id`, `metadata` or `email`.
    pub match_method: &'static str,
    pub charges: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Truth {
    pub subscriptions: Vec<SubTruth>,
    pub ledger: Vec<LedgerRow>,
    pub failed: Vec<FailedCharge>,
    pub conversions: Vec<Conversion>,
}

impl Truth {
    pub fn absorb(&mut self, other: Truth) {
        self.subscriptions.extend(other.subscriptions);
        self.ledger.extend(other.ledger);
        self.failed.extend(other.failed);
        self.conversions.extend(other.conversions);
    }
}
