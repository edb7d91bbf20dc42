//! The Stripe API key: read from the environment or a key file, never from pipeline.toml, and
//! never printed beyond its prefix.

use std::fmt;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::{Config, ConfigProblem};

/// What a key's prefix says it is; policy (refusing `sk_`/`pk_`) lives with the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    RestrictedLive,
    RestrictedTest,
    SecretLive,
    SecretTest,
    Publishable,
    Unknown,
}

pub(super) const KEY_PREFIXES: &[(&str, KeyKind)] = &[
    ("rk_live_", KeyKind::RestrictedLive),
    ("rk_test_", KeyKind::RestrictedTest),
    ("sk_live_", KeyKind::SecretLive),
    ("sk_test_", KeyKind::SecretTest),
    ("pk_live_", KeyKind::Publishable),
    ("pk_test_", KeyKind::Publishable),
];

/// `text` with anything shaped like a Stripe key (a key prefix, then at least four letters or
/// digits) cut to its prefix: for messages that echo what a user typed, in case a key was
/// pasted into the wrong flag. Stripe's own redacted form (`rk_test_***abcd`) stays as it is.
pub fn redact_secrets(text: &str) -> std::borrow::Cow<'_, str> {
    let body = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    while let Some((at, prefix)) = KEY_PREFIXES
        .iter()
        .filter_map(|(p, _)| rest.find(p).map(|i| (i, *p)))
        .min()
    {
        let starts_word = !rest[..at].ends_with(body);
        let tail = &rest[at + prefix.len()..];
        let len = tail.find(|c: char| !body(c)).unwrap_or(tail.len());
        out.push_str(&rest[..at]);
        if starts_word && len >= 4 {
            out.push_str(prefix);
            out.push_str("…redacted");
            changed = true;
        } else {
            out.push_str(&rest[at..at + prefix.len() + len]);
        }
        rest = &tail[len..];
    }
    if !changed {
        return std::borrow::Cow::Borrowed(text);
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// A Stripe API key. Printing it shows only the prefix: `ApiKey(rk_test_…redacted)`.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(key: &str) -> Self {
        Self(SecretString::from(key))
    }

    /// The key's known prefix up to the second underscore (`rk_test_`), or `""`.
    pub fn prefix(&self) -> &'static str {
        let key = self.0.expose_secret();
        KEY_PREFIXES
            .iter()
            .find(|(p, _)| key.starts_with(p))
            .map_or("", |(p, _)| p)
    }

    pub fn kind(&self) -> KeyKind {
        let key = self.0.expose_secret();
        KEY_PREFIXES
            .iter()
            .find(|(p, _)| key.starts_with(p))
            .map_or(KeyKind::Unknown, |(_, k)| *k)
    }

    /// The key itself: only for building the Authorization header.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}…redacted)", self.prefix())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Reads the key from `[stripe] api_key_file` if set, else from the variable named by
/// `api_key_env` (looked up through `env`, so tests need not touch the process environment).
pub fn resolve_api_key(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ApiKey, ConfigProblem> {
    if let Some(path) = &config.stripe.api_key_file {
        return read_key_file(path);
    }
    let name = &config.stripe.api_key_env;
    let value = secrecy::zeroize::Zeroizing::new(env(name).unwrap_or_default());
    if value.trim().is_empty() {
        let message = format!(
            "{name} is not set: export a restricted key (rk_live_… or rk_test_…) or run \
             `stripelake key-link` to create one"
        );
        return Err(ConfigProblem::unplaced("stripe.api_key_env", message));
    }
    Ok(ApiKey::new(value.trim()))
}

fn read_key_file(path: &Path) -> Result<ApiKey, ConfigProblem> {
    let fail = |m: String| ConfigProblem::unplaced("stripe.api_key_file", m);
    let shown = path.display();
    check_key_file_mode(path).map_err(fail)?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(format!(
            "cannot read {shown}: {e}: check the path in api_key_file"
        ))
    })?;
    let text = secrecy::zeroize::Zeroizing::new(text);
    if text.trim().is_empty() {
        return Err(fail(format!(
            "{shown} is empty: write the restricted key (rk_live_… or rk_test_…) into it"
        )));
    }
    Ok(ApiKey::new(text.trim()))
}

#[cfg(unix)]
fn check_key_file_mode(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    // A missing file is reported by the read that follows.
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let shown = path.display().to_string();
    let safe = shown
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b));
    let arg = if safe {
        shown.clone()
    } else {
        format!("'{}'", shown.replace('\'', r"'\''"))
    };
    Err(format!(
        "{shown} is accessible to other users (mode {mode:03o}): run `chmod 600 {arg}`"
    ))
}

#[cfg(not(unix))]
fn check_key_file_mode(_path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redact_secrets;

    #[test]
    fn key_shaped_words_are_cut_to_their_prefix() {
        assert_eq!(
            redact_secrets("--since `rk_live_51AbC`: expected a date"),
            "--since `rk_live_…redacted`: expected a date"
        );
        // A key of real length, assembled here so no key-shaped string sits in the source.
        let long = format!("a sk_{}_{} and pk_live_abcd.", "test", "x".repeat(24));
        assert_eq!(
            redact_secrets(&long),
            "a sk_test_…redacted and pk_live_…redacted."
        );
        let stripe = "Invalid API Key provided: rk_test_***********abcd";
        assert_eq!(redact_secrets(stripe), stripe);
        assert_eq!(redact_secrets("mark_test_value"), "mark_test_value");
    }
}
