//! The rules values must follow, shared by the file reader and the overrides, and the
//! helpers that word problems (`shown`, `suggest`).

use std::net::IpAddr;

use super::RelativeDuration;
use super::api_key::KEY_PREFIXES;

pub(super) const DURATION_WANT: &str =
    "a number followed by d, w, mo or y, like 30d, 2w, 12mo or 1y";

/// Parses `30d`, `2w`, `12mo`, `1y` (count ≥ 1); the error says what is expected.
pub fn parse_relative_duration(s: &str) -> Result<RelativeDuration, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let count = digits.parse::<u32>().ok().filter(|n| *n >= 1);
    let (duration, per_century) = match (count, unit) {
        (Some(n), "d") => (RelativeDuration::Days(n), 36_525),
        (Some(n), "w") => (RelativeDuration::Weeks(n), 5_218),
        (Some(n), "mo") => (RelativeDuration::Months(n), 1_200),
        (Some(n), "y") => (RelativeDuration::Years(n), 100),
        _ => return Err(format!("must be {DURATION_WANT}, got {}", shown(s))),
    };
    // Stripe began in 2010: a longer reach is a typo, and past the calendar's range it would
    // wrap around to a recent date and silently shorten the backfill.
    if count.is_some_and(|n| n > per_century) {
        return Err(format!(
            "{} reaches back more than 100 years; Stripe objects are from 2010 on: use at most \
             {per_century}{unit}, or a date (--since 2010-01-01)",
            shown(s)
        ));
    }
    Ok(duration)
}

/// Quotes a user value for a message, redacting anything that looks like a Stripe key.
pub(super) fn shown(s: &str) -> String {
    match KEY_PREFIXES.iter().find(|(p, _)| s.starts_with(p)) {
        Some((prefix, _)) => format!("\"{prefix}…redacted\""),
        None => format!("{s:?}"),
    }
}

pub(super) fn suggest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let mut best = known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .collect::<Vec<_>>();
    best.sort_by_key(|(d, _)| *d);
    best.first().filter(|(d, _)| *d <= 2).map(|(_, k)| *k)
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = std::mem::replace(&mut row[j + 1], next);
        }
    }
    row[b.len()]
}

/// A string rule: what is wanted, and the test.
pub(super) struct Rule {
    pub(super) want: &'static str,
    pub(super) ok: fn(&str) -> bool,
}

impl Rule {
    pub(super) fn check(&self, s: &str) -> Result<String, String> {
        if (self.ok)(s) {
            Ok(s.to_string())
        } else {
            Err(format!("must be {}, got {}", self.want, shown(s)))
        }
    }
}

pub(super) const ENV_NAME: Rule = Rule {
    want: "an environment variable name like STRIPE_API_KEY",
    ok: is_env_name,
};
pub(super) const KEY_FILE: Rule = Rule {
    want: "the path of the file holding the key",
    ok: not_blank,
};
pub(super) const API_BASE: Rule = Rule {
    want: "an https URL like https://api.stripe.com (plain http only for loopback hosts: \
           127.0.0.1, localhost, [::1])",
    ok: is_loopback_http_allowed,
};
pub(super) const VERSION: Rule = Rule {
    want: "a Stripe API version like 2026-07-29.dahlia",
    ok: is_version,
};
pub(super) const ACCOUNT: Rule = Rule {
    want: "a Connect account id like acct_123 (acct_ then letters and digits)",
    ok: is_account,
};
pub(super) const STREAM: Rule = Rule {
    want: "a stream name like charges (lowercase letters and _)",
    ok: is_stream,
};
pub(super) const STORAGE_URL: Rule = Rule {
    want: "a storage URL with scheme file, memory, s3, gs, az, abfs or abfss, like \
           s3://bucket/prefix",
    ok: is_storage_url,
};
pub(super) const TIMEZONE: Rule = Rule {
    want: "an IANA time zone like Europe/Paris, or UTC",
    ok: is_timezone,
};
pub(super) const CURRENCY: Rule = Rule {
    want: "a lowercase ISO 4217 currency code like usd or eur",
    ok: is_currency,
};
pub(super) const MODEL: Rule = Rule {
    want: "a model name like revenue_daily (lowercase letters, digits and _)",
    ok: is_model,
};
pub(super) const SOURCE: Rule = Rule {
    want: "a path, glob or store URL of the visitor events",
    ok: not_blank,
};
pub(super) const METADATA_KEY: Rule = Rule {
    want: "a Stripe metadata key (1 to 40 characters)",
    ok: is_metadata_key,
};
pub(super) const NON_EMPTY: Rule = Rule {
    want: "a non-empty string",
    ok: not_blank,
};
pub(super) const RPS_WANT: &str = "a positive number of requests per second";

fn not_blank(s: &str) -> bool {
    !s.trim().is_empty()
}

fn is_env_name(s: &str) -> bool {
    let ok = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
    s.bytes().next().is_some_and(|b| !b.is_ascii_digit()) && s.bytes().all(ok)
}

fn is_version(s: &str) -> bool {
    let (date, name) = s.split_once('.').unwrap_or((s, "x"));
    let b = date.as_bytes();
    let shape = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
    let num = |r: std::ops::Range<usize>| date.get(r).and_then(|d| d.parse::<u32>().ok());
    let digits = b
        .iter()
        .enumerate()
        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape
        && digits
        && num(5..7).is_some_and(|m| (1..=12).contains(&m))
        && num(8..10).is_some_and(|d| (1..=31).contains(&d))
        && !name.is_empty()
        && name.bytes().all(|c| c.is_ascii_lowercase())
}

fn is_account(s: &str) -> bool {
    s.strip_prefix("acct_")
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn is_stream(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

fn is_model(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_currency(s: &str) -> bool {
    CURRENCIES.split_whitespace().any(|c| c == s)
}

/// ISO 4217's current currencies (no metals, funds or test codes), plus the retired codes
/// Stripe objects may still carry: `xyz` is a typo, not a currency that drops every
/// subscription from the settlement MRR.
const CURRENCIES: &str = "aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd \
    bob brl bsd btn bwp byn bzd cad cdf chf clp cny cop crc cup cve czk djf dkk dop dzd egp ern \
    etb eur fjd fkp gbp gel ghs gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr iqd irr isk jmd \
    jod jpy kes kgs khr kmf kpw krw kwd kyd kzt lak lbp lkr lrd lsl lyd mad mdl mga mkd mmk mnt \
    mop mru mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar \
    ron rsd rub rwf sar sbd scr sdg sek sgd shp sle sll sos srd ssp stn svc syp szl thb tjs tmt \
    tnd top try ttd twd tzs uah ugx usd uyu uzs ved ves vnd vuv wst xaf xcd xcg xof xpf yer zar \
    zmw zwg zwl eek hrk ltl lvl mro std vef";

fn is_metadata_key(s: &str) -> bool {
    not_blank(s) && s.chars().count() <= 40
}

fn is_timezone(s: &str) -> bool {
    s.parse::<chrono_tz::Tz>().is_ok()
}

fn is_storage_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    match scheme {
        "memory" => true,
        "file" => !rest.is_empty(),
        "s3" | "gs" | "az" | "abfs" | "abfss" => {
            rest.split('/').next().is_some_and(|b| !b.is_empty())
        }
        _ => false,
    }
}

/// Whether `url` may be used as the Stripe API base: `https://` to any host, or plain `http://`
/// only to a loopback host (127.0.0.0/8, `localhost`, `[::1]`), as the sandbox needs.
pub fn is_loopback_http_allowed(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some(host) = split_host(authority) else {
        return false;
    };
    match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_matches(['[', ']'])
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// The host of `host[:port]` or `[v6][:port]`; `None` if empty, with user info, or a bad port.
fn split_host(authority: &str) -> Option<&str> {
    if authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => v6
            .split_once(']')
            .map(|(h, p)| (&authority[..h.len() + 2], p))?,
        None => authority
            .split_once(':')
            .map_or((authority, ""), |(h, p)| (h, p)),
    };
    let port = port.strip_prefix(':').unwrap_or(port);
    let port_ok = port.is_empty() || port.parse::<u16>().is_ok();
    (!host.is_empty() && port_ok).then_some(host)
}
