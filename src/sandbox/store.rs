//! The sandbox's object store: every object as compact JSON plus the few attributes list filters
//! need, kept in Stripe's list order so paging is a binary search and a scan.

use std::collections::HashMap;

/// Every resource the sandbox serves. The order is the generation and rendering order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Customer,
    Product,
    Price,
    Plan,
    Coupon,
    Subscription,
    SubscriptionItem,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    PaymentIntent,
    Charge,
    Refund,
    Dispute,
    BalanceTransaction,
    Payout,
    CheckoutSession,
    CreditNote,
    Event,
    /// Not listable: only reachable by expanding `discounts`.
    Discount,
}

impl Kind {
    pub const ALL: [Kind; 20] = [
        Kind::Customer,
        Kind::Product,
        Kind::Price,
        Kind::Plan,
        Kind::Coupon,
        Kind::Subscription,
        Kind::SubscriptionItem,
        Kind::Invoice,
        Kind::InvoiceLine,
        Kind::InvoicePayment,
        Kind::PaymentIntent,
        Kind::Charge,
        Kind::Refund,
        Kind::Dispute,
        Kind::BalanceTransaction,
        Kind::Payout,
        Kind::CheckoutSession,
        Kind::CreditNote,
        Kind::Event,
        Kind::Discount,
    ];

    /// The word Stripe uses in "No such customer: 'cus_x'".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Product => "product",
            Kind::Price => "price",
            Kind::Plan => "plan",
            Kind::Coupon => "coupon",
            Kind::Subscription => "subscription",
            Kind::SubscriptionItem => "subscription_item",
            Kind::Invoice => "invoice",
            Kind::InvoiceLine => "line_item",
            Kind::InvoicePayment => "invoice_payment",
            Kind::PaymentIntent => "payment_intent",
            Kind::Charge => "charge",
            Kind::Refund => "refund",
            Kind::Dispute => "dispute",
            Kind::BalanceTransaction => "balance_transaction",
            Kind::Payout => "payout",
            Kind::CheckoutSession => "checkout.session",
            Kind::CreditNote => "credit_note",
            Kind::Event => "event",
            Kind::Discount => "discount",
        }
    }
}

/// One stored object.
#[derive(Clone, Debug)]
pub struct Obj {
    pub id: Box<str>,
    pub created: i64,
    /// The object exactly as a retrieve returns it (compact JSON).
    pub json: Box<str>,
    /// `customer` of the object, for `?customer=` filters.
    pub customer: Option<Box<str>>,
    /// The owning object: subscription (items, invoices), invoice (lines, payments), charge
    /// (refunds, disputes), payment intent (charges).
    pub parent: Option<Box<str>>,
    /// Subscription status, event type or balance transaction type, for `status=` / `types[]=`.
    pub tag: Option<Box<str>>,
    /// Deleted objects answer retrieves with a stub and are left out of lists.
    pub deleted: bool,
    /// Generation order: children (invoice lines, subscription items) keep their parent's order.
    seq: u64,
}

impl Obj {
    pub fn new(id: impl Into<Box<str>>, created: i64, json: &serde_json::Value) -> Self {
        Obj {
            id: id.into(),
            created,
            json: json.to_string().into_boxed_str(),
            customer: None,
            parent: None,
            tag: None,
            deleted: false,
            seq: 0,
        }
    }

    pub fn customer(mut self, customer: Option<&str>) -> Self {
        self.customer = customer.map(Into::into);
        self
    }

    pub fn parent(mut self, parent: Option<&str>) -> Self {
        self.parent = parent.map(Into::into);
        self
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.into());
        self
    }
}

/// All objects of one kind, oldest first (lists walk it backwards).
#[derive(Default, Debug)]
pub struct Table {
    objs: Vec<Obj>,
    by_id: HashMap<Box<str>, usize>,
    /// Children in their parent's order (invoice lines, subscription items).
    children: HashMap<Box<str>, Vec<usize>>,
}

/// `created[gt|gte|lt|lte]` as Stripe takes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreatedRange {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl CreatedRange {
    fn at_or_after_start(&self, t: i64) -> bool {
        self.gt.is_none_or(|v| t > v) && self.gte.is_none_or(|v| t >= v)
    }

    fn before_end(&self, t: i64) -> bool {
        self.lt.is_none_or(|v| t < v) && self.lte.is_none_or(|v| t <= v)
    }
}

pub enum Cursor<'a> {
    None,
    StartingAfter(&'a str),
    EndingBefore(&'a str),
}

pub struct Page<'a> {
    pub objs: Vec<&'a Obj>,
    pub has_more: bool,
}

impl Table {
    /// Objects arrive in generation order; lists want them by `(created, id)`.
    pub fn from_objs(mut objs: Vec<Obj>) -> Table {
        for (i, obj) in objs.iter_mut().enumerate() {
            obj.seq = i as u64;
        }
        objs.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let mut table = Table::default();
        for (pos, obj) in objs.iter().enumerate() {
            table.by_id.insert(obj.id.clone(), pos);
            if let Some(parent) = &obj.parent {
                table.children.entry(parent.clone()).or_default().push(pos);
            }
        }
        for kids in table.children.values_mut() {
            kids.sort_by_key(|i| objs[*i].seq);
        }
        table.objs = objs;
        table
    }

    fn push_sorted_tail(&mut self, mut obj: Obj) {
        let pos = self.objs.len();
        obj.seq = self.objs.iter().map(|o| o.seq + 1).max().unwrap_or(0);
        self.by_id.insert(obj.id.clone(), pos);
        if let Some(parent) = &obj.parent {
            self.children.entry(parent.clone()).or_default().push(pos);
        }
        self.objs.push(obj);
    }

    pub fn len(&self) -> usize {
        self.objs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objs.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Obj> {
        self.by_id.get(id).map(|i| &self.objs[*i])
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Obj> {
        self.objs.iter()
    }

    /// Replaces an object in place, or adds a new one (objects created now go to the tail).
    pub fn upsert(&mut self, obj: Obj) {
        if let Some(i) = self.by_id.get(&obj.id) {
            self.objs[*i] = obj;
            return;
        }
        let in_order = self
            .objs
            .last()
            .is_none_or(|l| (l.created, &l.id) <= (obj.created, &obj.id));
        if in_order {
            self.push_sorted_tail(obj);
        } else {
            let mut all = std::mem::take(&mut self.objs);
            all.sort_by_key(|o| o.seq);
            all.push(obj);
            *self = Table::from_objs(all);
        }
    }

    /// A page in Stripe's order (newest first), honouring cursors, `created` and a filter.
    /// `Err(param)` names the cursor parameter whose id is unknown.
    pub fn list<'a>(
        &'a self,
        limit: usize,
        cursor: Cursor<'_>,
        created: CreatedRange,
        filter: &dyn Fn(&Obj) -> bool,
    ) -> Result<Page<'a>, &'static str> {
        let keep = |o: &Obj| !o.deleted && filter(o);
        // The `created` window is a contiguous slice of the sorted table: find it by bisection so
        // old windows of a large account cost as little as new ones.
        let lo = self
            .objs
            .partition_point(|o| !created.at_or_after_start(o.created));
        let hi = self.objs.partition_point(|o| created.before_end(o.created));
        let (lo, hi) = (lo, hi.max(lo));
        let (positions, newest_first): (Box<dyn Iterator<Item = usize>>, bool) = match cursor {
            Cursor::None => (Box::new((lo..hi).rev()), true),
            Cursor::StartingAfter(id) => {
                let at = *self.by_id.get(id).ok_or("starting_after")?;
                (Box::new((lo..at.min(hi)).rev()), true)
            }
            Cursor::EndingBefore(id) => {
                let at = *self.by_id.get(id).ok_or("ending_before")?;
                (Box::new((at + 1).max(lo)..hi), false)
            }
        };
        let mut objs: Vec<&Obj> = positions
            .map(|i| &self.objs[i])
            .filter(|o| keep(o))
            .take(limit + 1)
            .collect();
        let has_more = objs.len() > limit;
        objs.truncate(limit);
        if !newest_first {
            objs.reverse();
        }
        Ok(Page { objs, has_more })
    }

    /// A page of a parent's children in the parent's order (invoice lines, subscription items).
    pub fn list_children<'a>(
        &'a self,
        parent: &str,
        limit: usize,
        cursor: Cursor<'_>,
    ) -> Result<Page<'a>, &'static str> {
        let empty = Vec::new();
        let kids = self.children.get(parent).unwrap_or(&empty);
        let pos_of = |id: &str, param| {
            let at = self.by_id.get(id).ok_or(param)?;
            kids.iter().position(|k| k == at).ok_or(param)
        };
        let (start, end) = match cursor {
            Cursor::None => (0, kids.len()),
            Cursor::StartingAfter(id) => (pos_of(id, "starting_after")? + 1, kids.len()),
            Cursor::EndingBefore(id) => {
                let end = pos_of(id, "ending_before")?;
                (end.saturating_sub(limit), end)
            }
        };
        let window = &kids[start..end];
        let shown = window.len().min(limit);
        let has_more = match cursor {
            Cursor::EndingBefore(_) => start > 0,
            _ => window.len() > limit,
        };
        let objs = window[..shown].iter().map(|i| &self.objs[*i]).collect();
        Ok(Page { objs, has_more })
    }

    pub fn children_of(&self, parent: &str) -> impl Iterator<Item = &Obj> {
        self.children
            .get(parent)
            .into_iter()
            .flatten()
            .map(|i| &self.objs[*i])
    }
}

/// Every table of one account and mode.
#[derive(Default, Debug)]
pub struct Store {
    tables: HashMap<Kind, Table>,
}

impl Store {
    pub fn from_objects(objects: impl IntoIterator<Item = (Kind, Obj)>) -> Store {
        let mut grouped: HashMap<Kind, Vec<Obj>> = HashMap::new();
        for (kind, obj) in objects {
            grouped.entry(kind).or_default().push(obj);
        }
        let tables = Kind::ALL
            .iter()
            .map(|k| (*k, Table::from_objs(grouped.remove(k).unwrap_or_default())))
            .collect();
        Store { tables }
    }

    pub fn table(&self, kind: Kind) -> &Table {
        &self.tables[&kind]
    }

    pub fn table_mut(&mut self, kind: Kind) -> &mut Table {
        self.tables.entry(kind).or_default()
    }

    pub fn total_objects(&self) -> usize {
        self.tables.values().map(Table::len).sum()
    }
}
