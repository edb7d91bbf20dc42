//! The sandbox account's fixed catalogue: products, prices (every interval, tiers, metered,
//! several currencies) and coupons (every duration, 100 % off, amount off).

use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Tier {
    pub up_to: Option<i64>,
    pub unit_amount: i64,
    pub flat_amount: i64,
}

#[derive(Clone, Debug)]
pub enum Scheme {
    PerUnit(i64),
    Volume(Vec<Tier>),
    Graduated(Vec<Tier>),
}

#[derive(Clone, Debug)]
pub struct Recurring {
    pub interval: Interval,
    pub count: u32,
    pub metered: bool,
}

#[derive(Clone, Debug)]
pub struct Price {
    pub id: String,
    pub product: usize,
    pub currency: &'static str,
    pub scheme: Scheme,
    pub recurring: Option<Recurring>,
    pub nickname: &'static str,
    /// Higher is pricier within a family: upgrades and downgrades move along it.
    pub rank: u32,
    pub family: &'static str,
}

#[derive(Clone, Debug)]
pub struct Product {
    pub id: String,
    pub name: &'static str,
}

#[derive(Clone, Debug)]
pub enum Duration {
    Once,
    Repeating(u32),
    Forever,
}

#[derive(Clone, Debug)]
pub struct Coupon {
    pub id: &'static str,
    pub percent_off: Option<u32>,
    pub amount_off: Option<(i64, &'static str)>,
    pub duration: Duration,
}

pub struct Catalog {
    pub products: Vec<Product>,
    pub prices: Vec<Price>,
    pub coupons: Vec<Coupon>,
    pub created: i64,
}

impl Price {
    /// What `quantity` units cost per billing period, before discounts.
    pub fn amount_for(&self, quantity: i64) -> i64 {
        match &self.scheme {
            Scheme::PerUnit(unit) => unit * quantity,
            Scheme::Volume(tiers) => {
                let tier = tiers
                    .iter()
                    .find(|t| t.up_to.is_none_or(|up| quantity <= up))
                    .unwrap_or(&tiers[tiers.len() - 1]);
                tier.flat_amount + tier.unit_amount * quantity
            }
            Scheme::Graduated(tiers) => {
                let mut total = 0;
                let mut lower = 0;
                for t in tiers {
                    if quantity <= lower {
                        break;
                    }
                    let upper = t.up_to.unwrap_or(i64::MAX).min(quantity);
                    total += t.flat_amount + t.unit_amount * (upper - lower);
                    lower = upper;
                }
                total
            }
        }
    }

    pub fn is_metered(&self) -> bool {
        self.recurring.as_ref().is_some_and(|r| r.metered)
    }

    fn unit_amount(&self) -> Option<i64> {
        match self.scheme {
            Scheme::PerUnit(u) => Some(u),
            _ => None,
        }
    }

    fn billing_scheme(&self) -> &'static str {
        match self.scheme {
            Scheme::PerUnit(_) => "per_unit",
            _ => "tiered",
        }
    }

    fn tiers_mode(&self) -> Value {
        match self.scheme {
            Scheme::PerUnit(_) => Value::Null,
            Scheme::Volume(_) => json!("volume"),
            Scheme::Graduated(_) => json!("graduated"),
        }
    }

    /// Stripe leaves `tiers` out unless expanded.
    pub fn tiers_json(&self) -> Value {
        let tiers = match &self.scheme {
            Scheme::PerUnit(_) => return Value::Null,
            Scheme::Volume(t) | Scheme::Graduated(t) => t,
        };
        tiers
            .iter()
            .map(|t| {
                json!({
                    "flat_amount": t.flat_amount,
                    "flat_amount_decimal": t.flat_amount.to_string(),
                    "unit_amount": t.unit_amount,
                    "unit_amount_decimal": t.unit_amount.to_string(),
                    "up_to": t.up_to,
                })
            })
            .collect()
    }

    pub fn to_json(&self, catalog: &Catalog, livemode: bool) -> Value {
        let recurring = self.recurring.as_ref().map(|r| {
            json!({
                "interval": r.interval.as_str(),
                "interval_count": r.count,
                "meter": Value::Null,
                "trial_period_days": Value::Null,
                "usage_type": if r.metered { "metered" } else { "licensed" },
            })
        });
        json!({
            "id": self.id,
            "object": "price",
            "active": true,
            "billing_scheme": self.billing_scheme(),
            "created": catalog.created,
            "currency": self.currency,
            "custom_unit_amount": Value::Null,
            "livemode": livemode,
            "lookup_key": Value::Null,
            "metadata": {},
            "nickname": self.nickname,
            "product": catalog.products[self.product].id,
            "recurring": recurring,
            "tax_behavior": "exclusive",
            "tiers_mode": self.tiers_mode(),
            "transform_quantity": Value::Null,
            "type": if self.recurring.is_some() { "recurring" } else { "one_time" },
            "unit_amount": self.unit_amount(),
            "unit_amount_decimal": self.unit_amount().map(|u| u.to_string()),
        })
    }

    /// The legacy Plan view of a recurring price (same id), as `/v1/plans` serves it.
    pub fn plan_json(&self, catalog: &Catalog, livemode: bool) -> Option<Value> {
        let r = self.recurring.as_ref()?;
        Some(json!({
            "id": self.id,
            "object": "plan",
            "active": true,
            "amount": self.unit_amount(),
            "amount_decimal": self.unit_amount().map(|u| u.to_string()),
            "billing_scheme": self.billing_scheme(),
            "created": catalog.created,
            "currency": self.currency,
            "interval": r.interval.as_str(),
            "interval_count": r.count,
            "livemode": livemode,
            "metadata": {},
            "meter": Value::Null,
            "nickname": self.nickname,
            "product": catalog.products[self.product].id,
            "tiers_mode": self.tiers_mode(),
            "transform_usage": Value::Null,
            "trial_period_days": Value::Null,
            "usage_type": if r.metered { "metered" } else { "licensed" },
        }))
    }
}

impl Product {
    pub fn to_json(&self, catalog: &Catalog, default_price: Option<&str>, livemode: bool) -> Value {
        json!({
            "id": self.id,
            "object": "product",
            "active": true,
            "created": catalog.created,
            "default_price": default_price,
            "description": Value::Null,
            "images": [],
            "livemode": livemode,
            "marketing_features": [],
            "metadata": {},
            "name": self.name,
            "package_dimensions": Value::Null,
            "shippable": Value::Null,
            "statement_descriptor": Value::Null,
            "tax_code": Value::Null,
            "type": "service",
            "unit_label": Value::Null,
            "updated": catalog.created,
            "url": Value::Null,
        })
    }
}

impl Coupon {
    pub fn to_json(&self, created: i64, livemode: bool) -> Value {
        let (duration, months) = match self.duration {
            Duration::Once => ("once", None),
            Duration::Repeating(m) => ("repeating", Some(m)),
            Duration::Forever => ("forever", None),
        };
        json!({
            "id": self.id,
            "object": "coupon",
            "amount_off": self.amount_off.map(|a| a.0),
            "created": created,
            "currency": self.amount_off.map(|a| a.1),
            "duration": duration,
            "duration_in_months": months,
            "livemode": livemode,
            "max_redemptions": Value::Null,
            "metadata": {},
            "name": self.id,
            "percent_off": self.percent_off,
            "redeem_by": Value::Null,
            "times_redeemed": 0,
            "valid": true,
        })
    }
}

fn tier(up_to: Option<i64>, unit_amount: i64, flat_amount: i64) -> Tier {
    Tier {
        up_to,
        unit_amount,
        flat_amount,
    }
}

impl Catalog {
    /// The fixed catalogue; only ids depend on the seed.
    pub fn build(rng: &mut super::rng::Rng, created: i64) -> Catalog {
        let names = [
            "Starter",
            "Pro",
            "Team",
            "API usage",
            "Report pack",
            "Priority support",
            "Extra storage",
            "Audit log",
            "SSO",
            "Sandbox env",
            "Data export",
            "Webhooks+",
            "Custom domain",
            "Analytics",
            "Backups",
            "Compliance pack",
        ];
        let products: Vec<Product> = names
            .iter()
            .map(|name| Product {
                id: format!("prod_{}", rng.base62(14)),
                name,
            })
            .collect();
        let mut prices = Vec::new();
        let mut add = |product, currency, scheme, recurring, nickname, family, rank| {
            prices.push(Price {
                id: format!("price_1{}", rng.base62(23)),
                product,
                currency,
                scheme,
                recurring,
                nickname,
                family,
                rank,
            })
        };
        let every = |interval, count| {
            Some(Recurring {
                interval,
                count,
                metered: false,
            })
        };
        use Interval::*;
        // Monthly USD family: upgrades/downgrades move along `rank`.
        add(
            0,
            "usd",
            Scheme::PerUnit(1900),
            every(Month, 1),
            "Starter monthly",
            "usd-month",
            1,
        );
        add(
            1,
            "usd",
            Scheme::PerUnit(4900),
            every(Month, 1),
            "Pro monthly",
            "usd-month",
            2,
        );
        add(
            2,
            "usd",
            Scheme::PerUnit(1200),
            every(Month, 1),
            "Team per seat",
            "usd-seat",
            1,
        );
        let volume = vec![
            tier(Some(5), 1500, 0),
            tier(Some(20), 1200, 0),
            tier(None, 900, 0),
        ];
        add(
            2,
            "usd",
            Scheme::Volume(volume),
            every(Month, 1),
            "Team volume",
            "usd-seat",
            2,
        );
        let graduated = vec![
            tier(Some(10), 1000, 2000),
            tier(Some(50), 800, 0),
            tier(None, 600, 0),
        ];
        add(
            2,
            "usd",
            Scheme::Graduated(graduated),
            every(Month, 1),
            "Team graduated",
            "usd-seat",
            3,
        );
        add(
            1,
            "usd",
            Scheme::PerUnit(13500),
            every(Month, 3),
            "Pro quarterly",
            "usd-quarter",
            1,
        );
        add(
            0,
            "usd",
            Scheme::PerUnit(19000),
            every(Year, 1),
            "Starter yearly",
            "usd-year",
            1,
        );
        add(
            1,
            "usd",
            Scheme::PerUnit(49000),
            every(Year, 1),
            "Pro yearly",
            "usd-year",
            2,
        );
        add(
            1,
            "usd",
            Scheme::PerUnit(90000),
            every(Year, 2),
            "Pro two-year",
            "usd-2year",
            1,
        );
        add(
            0,
            "usd",
            Scheme::PerUnit(500),
            every(Week, 1),
            "Starter weekly",
            "usd-week",
            1,
        );
        add(
            0,
            "usd",
            Scheme::PerUnit(900),
            every(Week, 2),
            "Starter fortnightly",
            "usd-2week",
            1,
        );
        add(
            0,
            "usd",
            Scheme::PerUnit(100),
            every(Day, 1),
            "Starter daily",
            "usd-day",
            1,
        );
        add(
            0,
            "eur",
            Scheme::PerUnit(1900),
            every(Month, 1),
            "Starter monthly EUR",
            "eur-month",
            1,
        );
        add(
            1,
            "eur",
            Scheme::PerUnit(4500),
            every(Month, 1),
            "Pro monthly EUR",
            "eur-month",
            2,
        );
        add(
            0,
            "gbp",
            Scheme::PerUnit(1500),
            every(Month, 1),
            "Starter monthly GBP",
            "gbp-month",
            1,
        );
        add(
            1,
            "gbp",
            Scheme::PerUnit(3900),
            every(Year, 1),
            "Pro yearly GBP",
            "gbp-year",
            1,
        );
        add(
            0,
            "jpy",
            Scheme::PerUnit(2500),
            every(Month, 1),
            "Starter monthly JPY",
            "jpy-month",
            1,
        );
        add(
            1,
            "jpy",
            Scheme::PerUnit(6000),
            every(Month, 1),
            "Pro monthly JPY",
            "jpy-month",
            2,
        );
        let metered = Some(Recurring {
            interval: Month,
            count: 1,
            metered: true,
        });
        add(
            3,
            "usd",
            Scheme::PerUnit(2),
            metered,
            "API calls",
            "usd-metered",
            1,
        );
        add(
            4,
            "usd",
            Scheme::PerUnit(9900),
            None,
            "Report pack",
            "usd-once",
            1,
        );
        add(
            4,
            "eur",
            Scheme::PerUnit(8900),
            None,
            "Report pack EUR",
            "eur-once",
            1,
        );
        add(
            4,
            "jpy",
            Scheme::PerUnit(12000),
            None,
            "Report pack JPY",
            "jpy-once",
            1,
        );
        // Add-ons: enough monthly USD items for subscriptions with more than ten items.
        for product in 5..names.len() {
            let unit = 200 + 100 * product as i64;
            add(
                product,
                "usd",
                Scheme::PerUnit(unit),
                every(Month, 1),
                "Add-on",
                "usd-addon",
                1,
            );
        }
        let coupons = vec![
            Coupon {
                id: "FOREVER20",
                percent_off: Some(20),
                amount_off: None,
                duration: Duration::Forever,
            },
            Coupon {
                id: "LAUNCH50",
                percent_off: Some(50),
                amount_off: None,
                duration: Duration::Once,
            },
            Coupon {
                id: "QUARTER25",
                percent_off: Some(25),
                amount_off: None,
                duration: Duration::Repeating(3),
            },
            Coupon {
                id: "FREEFOREVER",
                percent_off: Some(100),
                amount_off: None,
                duration: Duration::Forever,
            },
            Coupon {
                id: "FIVEOFF",
                percent_off: None,
                amount_off: Some((500, "usd")),
                duration: Duration::Forever,
            },
        ];
        Catalog {
            products,
            prices,
            coupons,
            created,
        }
    }

    pub fn family(&self, family: &str) -> Vec<usize> {
        let mut members: Vec<usize> = (0..self.prices.len())
            .filter(|i| self.prices[*i].family == family)
            .collect();
        members.sort_by_key(|i| self.prices[*i].rank);
        members
    }

    pub fn addons(&self) -> Vec<usize> {
        self.family("usd-addon")
    }
}
