//! Keys: which keys are accepted (and why the others are not), the Dashboard link that creates a
//! restricted key with exactly the read permissions the selected streams need, and `check`,
//! which asks Stripe whether a key really has them.

use serde::Serialize;

use super::streams::{self, StreamDef, Sync};
use super::{ClientConfig, StripeClient, StripeError};
use crate::config::{ApiKey, Config, KeyKind};

const DASHBOARD: &str = "https://dashboard.stripe.com";

/// The read permissions the streams need, once each, in registry order (a permission only
/// optional streams use is not needed).
pub fn permissions(selected: &[&StreamDef]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in selected.iter().filter(|s| s.optional.is_none()) {
        if !out.contains(&s.permission) {
            out.push(s.permission);
        }
    }
    out
}

/// The permissions only optional streams use, with what each adds.
pub fn optional_permissions(selected: &[&StreamDef]) -> Vec<(&'static str, &'static str)> {
    let needed = permissions(selected);
    selected
        .iter()
        .filter_map(|s| Some((s.permission, s.optional?)))
        .filter(|(p, _)| !needed.contains(p))
        .collect()
}

/// Stripe's create-restricted-key form with the name and permissions filled in.
pub fn key_link(test: bool, name: &str, streams: &[String]) -> Result<String, String> {
    let selected = streams::select(streams)?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("name", name);
    for p in permissions(&selected) {
        query.append_pair("permissions[]", p);
    }
    let mode = if test { "/test" } else { "" };
    Ok(format!(
        "{DASHBOARD}{mode}/apikeys/create?{}",
        query.finish()
    ))
}

fn help(test: bool, streams: &[String]) -> String {
    let link = key_link(test, "stripelake", streams).unwrap_or_else(|e| e);
    format!(
        "stripelake reads with a restricted key (rk_live_… or rk_test_…): a key limited to the \
         permissions ticked when it is created, here read-only. Create one with the needed \
         permissions pre-filled at {link} (or run `stripelake key-link`)"
    )
}

/// Why a key cannot be a whole Stripe key, whatever its prefix says.
fn malformed(key: &str) -> Option<String> {
    if key.trim() != key || key.contains(char::is_whitespace) {
        return Some(
            "the API key contains spaces or a line break (often from copying or from a key file \
             with a trailing newline): set it again without them"
                .into(),
        );
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Some(format!(
            "the API key contains `{c}`, which Stripe keys never do (only letters, digits and _): \
             check for quotes or a copy-paste artefact"
        ));
    }
    let body = key.splitn(3, '_').nth(2).unwrap_or("");
    if body.len() < 8 {
        return Some(format!(
            "the API key ends after {} characters of its prefix and looks truncated: copy the \
             whole key",
            body.len()
        ));
    }
    None
}

/// The key rules of DESIGN.md §7. Returns whether the key is live; refusals explain restricted
/// keys and give the link that creates one.
pub fn check(key: &ApiKey, allow_secret: bool, streams: &[String]) -> Result<bool, String> {
    let kind = key.kind();
    let test = !matches!(kind, KeyKind::RestrictedLive | KeyKind::SecretLive)
        && key.prefix().contains("_test_");
    let refuse = |why: String| Err(format!("{why}. {}", help(test, streams)));
    // A key of an accepted kind must also be whole; a refused kind is refused for its kind.
    let accepted = matches!(kind, KeyKind::RestrictedLive | KeyKind::RestrictedTest)
        || (allow_secret && matches!(kind, KeyKind::SecretLive | KeyKind::SecretTest));
    if accepted && let Some(why) = malformed(key.expose()) {
        return refuse(why);
    }
    match kind {
        KeyKind::RestrictedLive => Ok(true),
        KeyKind::RestrictedTest => Ok(false),
        KeyKind::Publishable => refuse(
            "the API key is a publishable key (pk_…), which only identifies an account in \
             browsers and cannot read data"
                .into(),
        ),
        KeyKind::SecretLive | KeyKind::SecretTest if !allow_secret => refuse(
            "the API key is a secret key (sk_…), which can also write and move money; it is \
             refused unless [stripe] allow_secret_key = true"
                .into(),
        ),
        KeyKind::SecretLive | KeyKind::SecretTest => {
            tracing::warn!(
                "Using a secret key because allow_secret_key = true: prefer a read-only restricted key."
            );
            Ok(kind == KeyKind::SecretLive)
        }
        KeyKind::Unknown => refuse(
            "the API key does not start like a Stripe key (rk_live_, rk_test_); check for \
             truncation or stray characters"
                .into(),
        ),
    }
}

/// One line of `check`'s table.
#[derive(Debug, Serialize)]
pub struct Probe {
    pub account: String,
    pub stream: &'static str,
    pub permission: &'static str,
    pub ok: bool,
    /// The stream is optional: without the permission it is skipped, not failed.
    pub optional: bool,
    /// Stripe's own words when it refused.
    pub message: Option<String>,
}

/// The request that proves a stream readable: one object of its list, or the object itself.
fn probe_path(def: &StreamDef) -> (String, Vec<(String, String)>) {
    match def.sync {
        Sync::Snapshot => (def.path.to_string(), Vec::new()),
        _ => (def.path.to_string(), vec![("limit".into(), "1".into())]),
    }
}

/// What `stripelake check` learnt: one probe per selected stream and account.
pub struct CheckReport {
    pub probes: Vec<Probe>,
}

impl CheckReport {
    /// The permissions some probe found missing, once each.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut m: Vec<&'static str> = Vec::new();
        for p in self.probes.iter().filter(|p| !p.ok && !p.optional) {
            if !m.contains(&p.permission) {
                m.push(p.permission);
            }
        }
        m
    }
}

/// `stripelake check` after the key rules: `/v1/balance` first (a revoked or wrong-mode key
/// fails there with Stripe's own words), then one call per selected stream and account.
/// A 403 is a probe's answer; a refused key or a failure after retries ends the check.
pub async fn probe(cfg: &Config, key: &ApiKey, live: bool) -> Result<CheckReport, StripeError> {
    let selected = streams::select(&cfg.extract.streams).map_err(StripeError::Setup)?;
    let mut client_config = ClientConfig::from_config(cfg, live);
    client_config.max_retries = client_config.max_retries.min(3);
    let accounts: Vec<Option<String>> = if cfg.stripe.accounts.is_empty() {
        vec![None]
    } else {
        cfg.stripe.accounts.iter().cloned().map(Some).collect()
    };
    let mut probes = Vec::new();
    for account in accounts {
        let label = account.clone().unwrap_or_else(|| "(the key's own)".into());
        let client = StripeClient::new(client_config.clone(), key, account)?;
        // The balance first: a revoked or wrong-mode key fails here with Stripe's own words.
        if let Err(e @ (StripeError::Auth { .. } | StripeError::Exhausted { .. })) =
            client.get("/v1/balance", &[]).await
        {
            return Err(e);
        }
        for def in selected.iter().filter(|d| d.sync != Sync::Child) {
            let (path, query) = probe_path(def);
            let (ok, message) = match client.get(&path, &query).await {
                Ok(_) => (true, None),
                Err(StripeError::Permission { message, .. }) => (false, Some(message)),
                Err(e) => return Err(e),
            };
            probes.push(Probe {
                account: label.clone(),
                stream: def.name,
                permission: def.permission,
                ok,
                optional: def.optional.is_some(),
                message: match (ok, def.optional) {
                    (false, Some(adds)) => Some(format!(
                        "optional, adds {adds}; Stripe said: {}",
                        message.unwrap_or_default()
                    )),
                    _ => message,
                },
            });
        }
    }
    Ok(CheckReport { probes })
}

/// The probes as an aligned table.
pub fn table(probes: &[Probe]) -> String {
    let rows: Vec<[String; 5]> = probes
        .iter()
        .map(|p| {
            [
                p.account.clone(),
                p.stream.to_string(),
                p.permission.to_string(),
                match (p.ok, p.optional) {
                    (true, _) => "OK".into(),
                    (false, true) => "OPTIONAL".into(),
                    (false, false) => "MISSING".into(),
                },
                p.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["account", "stream", "permission", "status", "Stripe says"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |r: &[String; 5]| {
        r.iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    std::iter::once(line(&header))
        .chain(rows.iter().map(line))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK_TEST: &str = "https://dashboard.stripe.com/test/apikeys/create?name=stripelake";
    const LINK_LIVE: &str = "https://dashboard.stripe.com/apikeys/create?name=stripelake";

    /// (key, allow_secret, Ok(live) or the start of the refusal, link expected in the refusal)
    type Case = (&'static str, bool, Result<bool, &'static str>, &'static str);

    #[test]
    fn every_key_shape_gets_its_own_answer() {
        let cases: &[Case] = &[
            ("rk_live_abcdefgh1234", false, Ok(true), ""),
            ("rk_test_sandbox_full_access", false, Ok(false), ""),
            ("sk_live_abcdefgh1234", true, Ok(true), ""),
            ("sk_test_abcdefgh1234", true, Ok(false), ""),
            (
                "pk_live_abcdefgh1234",
                false,
                Err(
                    "the API key is a publishable key (pk_…), which only identifies an account in browsers and cannot read data. stripelake reads with a restricted key",
                ),
                LINK_LIVE,
            ),
            (
                "pk_test_abcdefgh1234",
                false,
                Err("the API key is a publishable key (pk_…)"),
                LINK_TEST,
            ),
            (
                "sk_live_abcdefgh1234",
                false,
                Err(
                    "the API key is a secret key (sk_…), which can also write and move money; it is refused unless [stripe] allow_secret_key = true. stripelake reads with a restricted key",
                ),
                LINK_LIVE,
            ),
            (
                "sk_test_abcdefgh1234",
                false,
                Err("the API key is a secret key (sk_…)"),
                LINK_TEST,
            ),
            (
                "rk_live_abc",
                false,
                Err(
                    "the API key ends after 3 characters of its prefix and looks truncated: copy the whole key.",
                ),
                LINK_LIVE,
            ),
            (
                "rk_test_abcdefgh1234\n",
                false,
                Err("the API key contains spaces or a line break"),
                LINK_TEST,
            ),
            (
                "rk_live_abcd efgh1234",
                false,
                Err("the API key contains spaces or a line break"),
                LINK_LIVE,
            ),
            (
                "rk_live_\"abcdefgh1234\"",
                false,
                Err("the API key contains `\"`, which Stripe keys never do"),
                LINK_LIVE,
            ),
            (
                "whsec_abcdefgh1234",
                false,
                Err(
                    "the API key does not start like a Stripe key (rk_live_, rk_test_); check for truncation or stray characters. stripelake reads",
                ),
                LINK_LIVE,
            ),
        ];
        for (key, allow, want, link) in cases {
            let got = check(&ApiKey::new(key), *allow, &[]);
            match (want, &got) {
                (Ok(live), Ok(l)) => assert_eq!(live, l, "{key:?}"),
                (Err(start), Err(message)) => {
                    assert!(message.starts_with(start), "{key:?}: {message}");
                    assert!(
                        message.contains(link),
                        "{key:?} must link {link}: {message}"
                    );
                    assert!(!message.contains(key.trim()), "{key:?} printed: {message}");
                }
                _ => panic!("{key:?}: expected {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn the_link_holds_each_needed_permission_once() {
        let link = key_link(true, "stripelake", &[]).expect("link");
        let query = link.split_once('?').expect("query").1;
        let asked: Vec<String> = form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "permissions[]")
            .map(|(_, v)| v.into_owned())
            .collect();
        let mut needed: Vec<&str> = streams::STREAMS
            .iter()
            .filter(|s| s.optional.is_none())
            .map(|s| s.permission)
            .collect();
        needed.sort();
        needed.dedup();
        let mut sorted = asked.clone();
        sorted.sort();
        assert_eq!(sorted, needed, "every needed permission, no other");
        assert!(
            !asked.iter().any(|p| p == streams::ACCOUNT_PERMISSION),
            "the account permission is optional: {asked:?}"
        );
        let all: Vec<&streams::StreamDef> = streams::STREAMS.iter().collect();
        assert_eq!(
            optional_permissions(&all)
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>(),
            [streams::ACCOUNT_PERMISSION]
        );
        let mut unique = sorted.clone();
        unique.dedup();
        assert_eq!(unique.len(), asked.len(), "each permission once: {asked:?}");
        // Selecting streams narrows the link to theirs (charges brings refunds' permission too).
        let narrow = key_link(false, "x", &["charges".into()]).expect("link");
        assert_eq!(
            narrow,
            "https://dashboard.stripe.com/apikeys/create?name=x&permissions%5B%5D=rak_charge_read"
        );
    }

    #[test]
    fn every_stream_names_a_read_permission() {
        for s in streams::STREAMS {
            let p = s.permission;
            let ok = p.starts_with("rak_")
                && p.ends_with("_read")
                && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            assert!(ok, "stream {} has no read permission: {p:?}", s.name);
        }
    }
}
