//! The sandbox account's web-analytics export: visitors, sessions and page views as CSV, in
//! which the paying visitors of the account appear — by id, or only by email — before they pay.

use std::fmt::Write;

use super::generate::Account;
use super::model::DAY;
use super::rng::Rng;

pub const HEADER: &str = "visitor_id,session_id,timestamp,event,email,referrer,utm_source,utm_medium,utm_campaign,landing_page,country,device,browser,site_id,experiment,variant";

/// Browsing visitors per paying one.
const BROWSERS_PER_CONVERSION: u64 = 8;

struct Touch {
    referrer: &'static str,
    source: &'static str,
    medium: &'static str,
    campaign: &'static str,
}

const TOUCHES: &[Touch] = &[
    Touch {
        referrer: "",
        source: "",
        medium: "",
        campaign: "",
    },
    Touch {
        referrer: "https://www.google.com/",
        source: "",
        medium: "",
        campaign: "",
    },
    Touch {
        referrer: "https://www.google.com/",
        source: "google",
        medium: "cpc",
        campaign: "brand",
    },
    Touch {
        referrer: "https://t.co/abc",
        source: "twitter",
        medium: "social",
        campaign: "launch",
    },
    Touch {
        referrer: "",
        source: "newsletter",
        medium: "email",
        campaign: "weekly",
    },
    Touch {
        referrer: "https://news.ycombinator.com/",
        source: "",
        medium: "",
        campaign: "",
    },
    Touch {
        referrer: "https://checkout.stripe.com/",
        source: "",
        medium: "",
        campaign: "",
    },
];

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map_or_else(String::new, |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn sessions(
    out: &mut String,
    rng: &mut Rng,
    visitor: &str,
    email: Option<&str>,
    site: &str,
    last: i64,
) {
    let experiment = rng.chance(0.5);
    let variant = if rng.chance(0.5) {
        "control"
    } else {
        "new_pricing"
    };
    let country = *rng.pick(&["US", "DE", "GB", "JP", "FR"]);
    let device = *rng.pick(&["desktop", "mobile", "tablet"]);
    let browser = *rng.pick(&["Chrome", "Safari", "Firefox", "Edge"]);
    let n = rng.range(1, 3);
    for s in 0..n {
        let start = last - (n - s) * rng.range(1, 5) * DAY + rng.range(0, 3600);
        let touch = rng.pick(TOUCHES);
        let session = format!("s_{}", rng.base62(12));
        for p in 0..rng.range(1, 4) {
            let page = ["/", "/pricing", "/docs", "/blog/launch", "/signup"]
                [(p as usize + s as usize) % 5];
            let _ = writeln!(
                out,
                "{visitor},{session},{},pageview,{},{},{},{},{},{page},{country},{device},{browser},{site},{},{}",
                iso(start + p * 45),
                if p == 0 { email.unwrap_or("") } else { "" },
                touch.referrer,
                touch.source,
                touch.medium,
                touch.campaign,
                if experiment { "pricing_test" } else { "" },
                if experiment { variant } else { "" },
            );
        }
    }
}

/// The CSV export. Email-matched visitors carry their (raw, un-normalised) email.
pub fn csv(account: &Account) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    let seed = account.config.seed;
    for (i, c) in account.truth.conversions.iter().enumerate() {
        let mut rng = Rng::derive(seed, 3, i as u64);
        let email = (c.match_method == "email")
            .then_some(c.email.as_deref())
            .flatten();
        sessions(
            &mut out,
            &mut rng,
            &c.visitor_id,
            email.map(str::trim),
            c.site_id,
            c.converted_at,
        );
    }
    let browsers = account.truth.conversions.len() as u64 * BROWSERS_PER_CONVERSION;
    for i in 0..browsers {
        browser(&mut out, account, i);
    }
    out
}

/// Browsing visitor number `i`: a random id, one to three sessions in the last year, no payment.
fn browser(out: &mut String, account: &Account, i: u64) {
    let mut rng = Rng::derive(account.config.seed, 4, i);
    let visitor = format!("v_{}", rng.base62(16));
    let (start, now) = (account.config.now - 365 * DAY, account.config.now);
    let last = rng.range(start, now - DAY);
    let site = *rng.pick(&["site_main", "site_docs", "site_shop"]);
    sessions(out, &mut rng, &visitor, None, site, last);
}

/// The export of [`csv`], then more browsing visitors until it holds at least `min_events`
/// events (benchmarks); streamed, so its size is not held in memory. Returns the event count.
pub fn write_padded(
    account: &Account,
    out: &mut impl std::io::Write,
    min_events: u64,
) -> std::io::Result<u64> {
    let base = csv(account);
    let mut events = base.lines().count() as u64 - 1;
    out.write_all(base.as_bytes())?;
    let mut i = account.truth.conversions.len() as u64 * BROWSERS_PER_CONVERSION;
    let mut chunk = String::new();
    while events < min_events {
        chunk.clear();
        browser(&mut chunk, account, i);
        events += chunk.lines().count() as u64;
        out.write_all(chunk.as_bytes())?;
        i += 1;
    }
    Ok(events)
}
