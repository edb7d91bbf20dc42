//! Channel and source of a web session from its referrer and UTM tags (METRICS.md §6.2), after
//! Plausible's channel definitions: tags win over the referrer, a paid medium splits by where the
//! click came from, and a return from a Stripe payment page is Direct — the visitor came back
//! from paying, not from a campaign.

pub const DIRECT: &str = "Direct";
/// The source of a session with no referrer and no `utm_source`.
pub const DIRECT_SOURCE: &str = "(direct)";

/// Hosts of Stripe's hosted payment pages.
const STRIPE_PAYMENT_HOSTS: &[&str] = &[
    "checkout.stripe.com",
    "buy.stripe.com",
    "billing.stripe.com",
    "invoice.stripe.com",
];

const SEARCH_HOSTS: &[&str] = &[
    "bing.com",
    "duckduckgo.com",
    "baidu.com",
    "ecosia.org",
    "search.brave.com",
    "startpage.com",
    "qwant.com",
    "naver.com",
    "ask.com",
    "kagi.com",
];
/// Hosts whose country domains vary (`google.de`, `search.yahoo.co.jp`).
const SEARCH_BRANDS: &[&str] = &["google", "yahoo", "yandex"];
const SOCIAL_HOSTS: &[&str] = &[
    "facebook.com",
    "fb.com",
    "instagram.com",
    "t.co",
    "twitter.com",
    "x.com",
    "linkedin.com",
    "lnkd.in",
    "reddit.com",
    "news.ycombinator.com",
    "youtube.com",
    "tiktok.com",
    "pinterest.com",
    "threads.net",
    "bsky.app",
    "mastodon.social",
];
const MAIL_HOSTS: &[&str] = &[
    "mail.google.com",
    "outlook.live.com",
    "outlook.office.com",
    "mail.yahoo.com",
];
const SEARCH_SOURCES: &[&str] = &[
    "google",
    "bing",
    "duckduckgo",
    "yahoo",
    "baidu",
    "yandex",
    "ecosia",
    "brave",
    "qwant",
    "kagi",
];
const SOCIAL_SOURCES: &[&str] = &[
    "facebook",
    "fb",
    "instagram",
    "ig",
    "twitter",
    "x",
    "linkedin",
    "reddit",
    "hackernews",
    "hn",
    "youtube",
    "tiktok",
    "pinterest",
    "threads",
    "bluesky",
    "mastodon",
];

/// The host of a referrer, lowercased and without `www.`; `None` when it is not a URL or host
/// (PostHog writes `$direct`).
pub fn referrer_host(referrer: &str) -> Option<String> {
    let r = referrer.trim();
    let rest = r.split_once("://").map_or(r, |(_, rest)| rest);
    let host = rest
        .split(['/', '?', '#'])
        .next()?
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    (host.contains('.') && !host.starts_with('$')).then_some(host)
}

/// `host` is one of the domains or a subdomain of one (`mail.google.com` is in `google.com`).
fn host_in(host: &str, list: &[&str]) -> bool {
    list.iter()
        .any(|d| host == *d || host.strip_suffix(d).is_some_and(|rest| rest.ends_with('.')))
}

fn is_search_host(host: &str) -> bool {
    host_in(host, SEARCH_HOSTS)
        || host.split('.').any(|label| SEARCH_BRANDS.contains(&label)) && !host_in(host, MAIL_HOSTS)
}

fn is_stripe_payment(host: Option<&str>) -> bool {
    host.is_some_and(|h| STRIPE_PAYMENT_HOSTS.contains(&h))
}

fn clean(v: Option<&str>) -> Option<String> {
    v.map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
}

/// The session's channel.
pub fn channel(
    referrer: Option<&str>,
    utm_source: Option<&str>,
    utm_medium: Option<&str>,
) -> &'static str {
    let host = referrer.and_then(referrer_host);
    if is_stripe_payment(host.as_deref()) {
        return DIRECT;
    }
    let source = clean(utm_source);
    let medium = clean(utm_medium);
    let search = source
        .as_deref()
        .is_some_and(|s| SEARCH_SOURCES.contains(&s))
        || host.as_deref().is_some_and(is_search_host);
    let social = source
        .as_deref()
        .is_some_and(|s| SOCIAL_SOURCES.contains(&s))
        || host.as_deref().is_some_and(|h| host_in(h, SOCIAL_HOSTS));
    if let Some(m) = medium.as_deref() {
        let paid = m.contains("cp") || m == "ppc" || m == "retargeting" || m.starts_with("paid");
        match m {
            _ if paid && social => return "Paid Social",
            _ if paid && search => return "Paid Search",
            _ if paid => return "Paid Other",
            "display" | "banner" | "expandable" | "interstitial" => return "Display",
            "email" | "e-mail" | "e_mail" | "e mail" | "newsletter" => return "Email",
            "affiliate" | "affiliates" => return "Affiliates",
            "social" | "social-network" | "social-media" | "sm" | "social network"
            | "social media" => return "Social",
            "organic" => return "Organic Search",
            "referral" => return "Referral",
            _ => {}
        }
    }
    if let Some(s) = source.as_deref() {
        return match s {
            _ if search => "Organic Search",
            _ if social => "Social",
            _ if s.contains("mail") || s.contains("newsletter") => "Email",
            _ => "Referral",
        };
    }
    match host.as_deref() {
        Some(h) if host_in(h, MAIL_HOSTS) => "Email",
        Some(_) if search => "Organic Search",
        Some(_) if social => "Social",
        Some(_) => "Referral",
        None => DIRECT,
    }
}

/// The session's source: `utm_source` (lowercased), else the referrer's host, else `(direct)`.
pub fn source(referrer: Option<&str>, utm_source: Option<&str>) -> String {
    let host = referrer.and_then(referrer_host);
    if is_stripe_payment(host.as_deref()) {
        return DIRECT_SOURCE.into();
    }
    clean(utm_source)
        .or(host)
        .unwrap_or_else(|| DIRECT_SOURCE.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_follow_tags_then_referrer() {
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            &'a str,
            &'a str,
        );
        let cases: &[Case] = &[
            (None, None, None, "Direct", "(direct)"),
            (Some(""), Some(" "), None, "Direct", "(direct)"),
            (Some("$direct"), None, None, "Direct", "(direct)"),
            (
                Some("https://www.google.com/"),
                None,
                None,
                "Organic Search",
                "google.com",
            ),
            (
                Some("https://www.google.co.uk/search?q=x"),
                None,
                None,
                "Organic Search",
                "google.co.uk",
            ),
            (
                Some("duckduckgo.com"),
                None,
                None,
                "Organic Search",
                "duckduckgo.com",
            ),
            (
                Some("https://www.google.com/"),
                Some("Google"),
                Some("cpc"),
                "Paid Search",
                "google",
            ),
            (
                None,
                Some("facebook"),
                Some("paid_social"),
                "Paid Social",
                "facebook",
            ),
            (None, Some("partner"), Some("cpm"), "Paid Other", "partner"),
            (
                Some("https://t.co/abc"),
                Some("twitter"),
                Some("social"),
                "Social",
                "twitter",
            ),
            (
                Some("https://news.ycombinator.com/"),
                None,
                None,
                "Social",
                "news.ycombinator.com",
            ),
            (
                None,
                Some("newsletter"),
                Some("email"),
                "Email",
                "newsletter",
            ),
            (
                None,
                Some("weekly_newsletter"),
                None,
                "Email",
                "weekly_newsletter",
            ),
            (
                Some("https://mail.google.com/mail/u/0"),
                None,
                None,
                "Email",
                "mail.google.com",
            ),
            (None, Some("bing"), None, "Organic Search", "bing"),
            (None, Some("acme"), Some("affiliate"), "Affiliates", "acme"),
            (None, Some("acme"), Some("display"), "Display", "acme"),
            (
                Some("https://blog.example.org/post"),
                None,
                None,
                "Referral",
                "blog.example.org",
            ),
            (None, Some("podcast"), None, "Referral", "podcast"),
            // Back from paying: Direct, whatever the tags say.
            (
                Some("https://checkout.stripe.com/c/pay/cs_1"),
                None,
                None,
                "Direct",
                "(direct)",
            ),
            (
                Some("https://buy.stripe.com/x"),
                Some("google"),
                Some("cpc"),
                "Direct",
                "(direct)",
            ),
            (
                Some("https://billing.stripe.com/p/session"),
                None,
                None,
                "Direct",
                "(direct)",
            ),
            (
                Some("https://invoice.stripe.com/i/acct"),
                None,
                None,
                "Direct",
                "(direct)",
            ),
            // stripe.com itself is a referral (docs, blog), not a payment page.
            (
                Some("https://stripe.com/blog"),
                None,
                None,
                "Referral",
                "stripe.com",
            ),
        ];
        for (referrer, src, medium, want_channel, want_source) in cases {
            assert_eq!(
                channel(*referrer, *src, *medium),
                *want_channel,
                "channel of {referrer:?} {src:?} {medium:?}"
            );
            assert_eq!(
                source(*referrer, *src),
                *want_source,
                "source of {referrer:?} {src:?}"
            );
        }
    }
}
