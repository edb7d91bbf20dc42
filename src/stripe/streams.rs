//! The stream registry: one declarative entry per Stripe table. Adding a stream is one entry
//! here plus `schemas/<name>.json` (the schema is compiled in, so a missing file fails the build).

/// How a stream is kept current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    /// Listed by `created` windows; changes arrive through `/v1/events` and are re-fetched.
    Incremental,
    /// Small reference data: listed whole every run, replacing the table.
    FullRefresh,
    /// One object fetched every run and appended (a time series of snapshots).
    Snapshot,
    /// Rows come from an embedded list of the parent stream, completed through a sub-list.
    Child,
}

/// An embedded list a parent carries (`invoice.lines`) and where it continues.
#[derive(Clone, Copy, Debug)]
pub struct ChildList {
    /// Field of the parent holding the list object.
    pub field: &'static str,
    /// The child stream its items go to.
    pub stream: &'static str,
    /// Sub-list path, `{id}` replaced by the parent's id.
    pub path: &'static str,
    /// Query parameter naming the parent instead of a path segment (`subscription_items`).
    pub parent_param: Option<&'static str>,
}

#[derive(Clone, Copy, Debug)]
pub struct StreamDef {
    /// Table name (Stripe Data Pipeline's plural names).
    pub name: &'static str,
    /// List path (or object path for snapshots).
    pub path: &'static str,
    /// The `object` value of its items, which is also how events name what changed.
    pub object: &'static str,
    pub sync: Sync,
    /// Fixed list parameters.
    pub params: &'static [(&'static str, &'static str)],
    /// `expand[]` on lists (without the `data.` prefix) and on re-fetches.
    pub expand: &'static [&'static str],
    /// Embedded lists to complete.
    pub children: &'static [ChildList],
    /// Re-list this many recent days every run: the stream changes without reliable events.
    pub reconcile_days: u32,
    /// Backfill the whole history, not just the lookback: current state of old objects matters
    /// (a subscription created two years ago and still active carries MRR today).
    pub whole_history: bool,
    /// The restricted-key permission reading it needs.
    pub permission: &'static str,
    /// What the stream adds, for a stream a key may lack: refused, it is skipped with this
    /// said (in `check`, `key-link` and the summary) instead of failing the run.
    pub optional: Option<&'static str>,
    /// `schemas/<name>.json`.
    pub schema: &'static str,
}

macro_rules! schema {
    ($name:literal) => {
        include_str!(concat!("../../schemas/", $name, ".json"))
    };
}

const fn stream(
    name: &'static str,
    path: &'static str,
    object: &'static str,
    permission: &'static str,
    schema: &'static str,
) -> StreamDef {
    StreamDef {
        name,
        path,
        object,
        sync: Sync::Incremental,
        params: &[],
        expand: &[],
        children: &[],
        reconcile_days: 0,
        whole_history: false,
        permission,
        optional: None,
        schema,
    }
}

pub const STREAMS: &[StreamDef] = &[
    StreamDef {
        reconcile_days: 10,
        ..stream(
            "balance_transactions",
            "/v1/balance_transactions",
            "balance_transaction",
            "rak_balance_read",
            schema!("balance_transactions"),
        )
    },
    stream(
        "charges",
        "/v1/charges",
        "charge",
        "rak_charge_read",
        schema!("charges"),
    ),
    stream(
        "refunds",
        "/v1/refunds",
        "refund",
        "rak_charge_read",
        schema!("refunds"),
    ),
    stream(
        "disputes",
        "/v1/disputes",
        "dispute",
        "rak_dispute_read",
        schema!("disputes"),
    ),
    StreamDef {
        whole_history: true,
        ..stream(
            "customers",
            "/v1/customers",
            "customer",
            "rak_customer_read",
            schema!("customers"),
        )
    },
    StreamDef {
        params: &[("status", "all")],
        expand: &["discounts"],
        whole_history: true,
        children: &[ChildList {
            field: "items",
            stream: "subscription_items",
            path: "/v1/subscription_items",
            parent_param: Some("subscription"),
        }],
        ..stream(
            "subscriptions",
            "/v1/subscriptions",
            "subscription",
            "rak_subscription_read",
            schema!("subscriptions"),
        )
    },
    StreamDef {
        sync: Sync::Child,
        ..stream(
            "subscription_items",
            "/v1/subscription_items",
            "subscription_item",
            "rak_subscription_read",
            schema!("subscription_items"),
        )
    },
    StreamDef {
        // `payments` is includable: expanded, each page of invoices carries their invoice
        // payments, so that table costs no list requests of its own (~10 % of a backfill's).
        expand: &["discounts", "payments"],
        children: &[
            ChildList {
                field: "lines",
                stream: "invoice_line_items",
                path: "/v1/invoices/{id}/lines",
                parent_param: None,
            },
            ChildList {
                field: "payments",
                stream: "invoice_payments",
                path: "/v1/invoice_payments",
                parent_param: Some("invoice"),
            },
        ],
        ..stream(
            "invoices",
            "/v1/invoices",
            "invoice",
            "rak_invoice_read",
            schema!("invoices"),
        )
    },
    StreamDef {
        sync: Sync::Child,
        ..stream(
            "invoice_line_items",
            "/v1/invoices/{id}/lines",
            "line_item",
            "rak_invoice_read",
            schema!("invoice_line_items"),
        )
    },
    StreamDef {
        sync: Sync::Child,
        ..stream(
            "invoice_payments",
            "/v1/invoice_payments",
            "invoice_payment",
            "rak_invoice_read",
            schema!("invoice_payments"),
        )
    },
    stream(
        "payment_intents",
        "/v1/payment_intents",
        "payment_intent",
        "rak_payment_intent_read",
        schema!("payment_intents"),
    ),
    stream(
        "checkout_sessions",
        "/v1/checkout/sessions",
        "checkout.session",
        "rak_checkout_session_read",
        schema!("checkout_sessions"),
    ),
    StreamDef {
        sync: Sync::FullRefresh,
        ..stream(
            "products",
            "/v1/products",
            "product",
            "rak_product_read",
            schema!("products"),
        )
    },
    StreamDef {
        sync: Sync::FullRefresh,
        expand: &["tiers"],
        ..stream(
            "prices",
            "/v1/prices",
            "price",
            "rak_plan_read",
            schema!("prices"),
        )
    },
    StreamDef {
        sync: Sync::FullRefresh,
        ..stream(
            "plans",
            "/v1/plans",
            "plan",
            "rak_plan_read",
            schema!("plans"),
        )
    },
    StreamDef {
        sync: Sync::FullRefresh,
        ..stream(
            "coupons",
            "/v1/coupons",
            "coupon",
            "rak_coupon_read",
            schema!("coupons"),
        )
    },
    StreamDef {
        reconcile_days: 30,
        ..stream(
            "payouts",
            "/v1/payouts",
            "payout",
            "rak_payout_read",
            schema!("payouts"),
        )
    },
    stream(
        "credit_notes",
        "/v1/credit_notes",
        "credit_note",
        "rak_credit_note_read",
        schema!("credit_notes"),
    ),
    stream(
        "events",
        "/v1/events",
        "event",
        "rak_event_read",
        schema!("events"),
    ),
    StreamDef {
        sync: Sync::Snapshot,
        ..stream(
            "balance",
            "/v1/balance",
            "balance",
            "rak_balance_read",
            schema!("balance"),
        )
    },
    StreamDef {
        sync: Sync::Snapshot,
        // Stripe asks a KYC permission for GET /v1/account that the Dashboard does not always
        // grant (stripe/stripe-node#2246, dj-stripe/dj-stripe#1131): least privilege wins.
        optional: Some(
            "the account snapshot: its default currency (the settlement currency unless \
             [transform] settlement_currency is set) and its id without [stripe] account_id",
        ),
        ..stream(
            "account",
            "/v1/account",
            "account",
            ACCOUNT_PERMISSION,
            schema!("account"),
        )
    },
];

/// The permission `GET /v1/account` asks of a restricted key.
pub const ACCOUNT_PERMISSION: &str = "rak_accounts_kyc_basic_read";

pub fn find(name: &str) -> Option<&'static StreamDef> {
    STREAMS.iter().find(|s| s.name == name)
}

/// The stream whose items have this `object` value (how an event names what changed).
pub fn by_object(object: &str) -> Option<&'static StreamDef> {
    STREAMS
        .iter()
        .find(|s| s.object == object && s.sync != Sync::Child)
}

/// What an event about an object of this kind changes: its own stream, or for a child's object
/// (an `invoice_payment.paid`) the parent stream and the child's field naming the parent, since
/// children are only ever read through their parent.
pub fn changed_by(object: &str) -> Option<(&'static StreamDef, Option<&'static str>)> {
    if let Some(own) = by_object(object) {
        return Some((own, None));
    }
    STREAMS.iter().find_map(|parent| {
        parent
            .children
            .iter()
            .any(|c| find(c.stream).is_some_and(|d| d.object == object))
            .then_some((parent, Some(parent.object)))
    })
}

/// The streams a run selects: all, or the named ones plus the children of named parents.
pub fn select(names: &[String]) -> Result<Vec<&'static StreamDef>, String> {
    if names.is_empty() {
        return Ok(STREAMS.iter().collect());
    }
    let mut chosen: Vec<&'static StreamDef> = Vec::new();
    for name in names {
        let def = find(name).ok_or_else(|| {
            let known: Vec<&str> = STREAMS.iter().map(|s| s.name).collect();
            format!("unknown stream `{name}`; streams are: {}", known.join(", "))
        })?;
        for d in std::iter::once(def).chain(def.children.iter().filter_map(|c| find(c.stream))) {
            if !chosen.iter().any(|c| c.name == d.name) {
                chosen.push(d);
            }
        }
    }
    Ok(chosen)
}
