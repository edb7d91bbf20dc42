//! The Stripe HTTP client: Bearer auth with a redacted header, a pinned `Stripe-Version`,
//! `Stripe-Account` for Connect, gzip, timeouts, the shared rate limiter, and the only retry
//! policy in the project.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::limiter::RateLimiter;
use crate::config::ApiKey;

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe refused the key ({status}): {message}")]
    Auth { status: u16, message: String },
    #[error("the restricted key lacks permission for {path}: {message}")]
    Permission {
        path: String,
        permission: Option<String>,
        message: String,
    },
    #[error("{path}: no such object: {message}")]
    NotFound { path: String, message: String },
    #[error("{path}: Stripe answered {status}: {message}")]
    Api {
        path: String,
        status: u16,
        message: String,
    },
    #[error("{path}: gave up after {attempts} attempts, last: {last}")]
    Exhausted {
        path: String,
        attempts: u32,
        last: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Setup(String),
    /// The first requests found nothing listening: no point in minutes of retries.
    #[error("nothing answers at {base} ({reason}): check --api-base / [stripe] api_base")]
    Unreachable { base: String, reason: String },
}

/// Counters every request updates; the run summary reads them.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl RequestStats {
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
            self.rate_limited.load(Ordering::Relaxed),
        )
    }
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub api_base: String,
    pub stripe_version: String,
    pub requests_per_second: f64,
    pub max_in_flight: usize,
    pub timeout: Duration,
    pub max_retries: u32,
    /// First backoff step; doubles per attempt with full jitter, capped at 20 s.
    pub retry_base: Duration,
}

impl ClientConfig {
    /// The client settings of `[stripe]`; the default pace is 90 % of the key mode's limit.
    pub fn from_config(cfg: &crate::config::Config, live: bool) -> ClientConfig {
        let mode_limit = if live { 100.0 } else { 25.0 };
        ClientConfig {
            api_base: cfg.stripe.api_base.clone(),
            stripe_version: cfg.stripe.stripe_version.clone(),
            requests_per_second: cfg
                .stripe
                .max_requests_per_second
                .unwrap_or(mode_limit * 0.9),
            max_in_flight: cfg.stripe.max_in_flight as usize,
            timeout: Duration::from_secs(cfg.stripe.timeout_seconds as u64),
            max_retries: cfg.stripe.max_retries,
            retry_base: Duration::from_millis(cfg.runtime.retry_base_ms),
        }
    }
}

/// One client per Stripe account (the rate limit is per account).
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    config: ClientConfig,
    account: Option<String>,
    limiter: Arc<RateLimiter>,
    in_flight: Arc<Semaphore>,
    pub stats: Arc<RequestStats>,
    /// Whether any response came back: until one has, a refused connection is a wrong URL or a
    /// server that is down, and is given up on after a couple of tries.
    answered: Arc<std::sync::atomic::AtomicBool>,
}

/// Tries of a request that cannot connect before the API has ever answered.
const FIRST_CONNECT_TRIES: u32 = 3;

enum Attempt {
    Done(Value),
    Retry(String),
    /// No connection could be made.
    Unconnected(String),
    RateLimited(Option<Duration>),
    Fail(StripeError),
}

impl StripeClient {
    pub fn new(
        config: ClientConfig,
        key: &ApiKey,
        account: Option<String>,
    ) -> Result<StripeClient, StripeError> {
        let mut headers = HeaderMap::new();
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                StripeError::Setup(
                    "the API key contains characters an HTTP header cannot carry".into(),
                )
            })?;
        // Marked sensitive so no Debug output of a request can show it.
        auth.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, auth);
        let version = HeaderValue::from_str(&config.stripe_version)
            .map_err(|_| StripeError::Setup("bad Stripe-Version".into()))?;
        headers.insert("Stripe-Version", version);
        if let Some(acct) = &account {
            let value = HeaderValue::from_str(acct)
                .map_err(|_| StripeError::Setup("bad account id".into()))?;
            headers.insert("Stripe-Account", value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("stripelake/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(config.max_in_flight)
            .build()
            .map_err(|e| StripeError::Setup(e.to_string()))?;
        Ok(StripeClient {
            http,
            limiter: Arc::new(RateLimiter::new(config.requests_per_second)),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            stats: Arc::new(RequestStats::default()),
            answered: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            account,
            config,
        })
    }

    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    pub fn current_rate(&self) -> f64 {
        self.limiter.rate()
    }

    /// GET with retries: 429s (honouring `Retry-After`), 5xx, timeouts, resets and cut-off or
    /// garbled bodies are retried with jittered backoff; other 4xx are returned at once.
    pub async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Value, StripeError> {
        self.get_counted(path, query, None).await
    }

    /// `get`, also counting into a stream's own stats.
    pub async fn get_counted(
        &self,
        path: &str,
        query: &[(String, String)],
        mine: Option<&RequestStats>,
    ) -> Result<Value, StripeError> {
        let count = |f: fn(&RequestStats) -> &AtomicU64| {
            f(&self.stats).fetch_add(1, Ordering::Relaxed);
            if let Some(m) = mine {
                f(m).fetch_add(1, Ordering::Relaxed);
            }
        };
        let url = format!("{}{}", self.config.api_base.trim_end_matches('/'), path);
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        loop {
            self.limiter.acquire().await;
            let attempt = {
                let _permit = self
                    .in_flight
                    .acquire()
                    .await
                    .map_err(|e| StripeError::Setup(e.to_string()))?;
                count(|s| &s.requests);
                self.attempt(&url, path, query).await
            };
            let last = match attempt {
                Attempt::Done(v) => {
                    self.limiter.on_success();
                    return Ok(v);
                }
                Attempt::Fail(e) => return Err(e),
                Attempt::RateLimited(retry_after) => {
                    count(|s| &s.rate_limited);
                    self.limiter.on_rate_limited(retry_after);
                    rate_limited += 1;
                    // 429s are the limiter's job; give up only if they never stop.
                    if rate_limited > 10 * self.config.max_retries.max(1) {
                        return Err(StripeError::Exhausted {
                            path: path.into(),
                            attempts: rate_limited,
                            last: "429 rate limited".into(),
                        });
                    }
                    continue;
                }
                Attempt::Retry(why) => why,
                Attempt::Unconnected(why) => {
                    if !self.answered.load(Ordering::Relaxed) && failures + 1 >= FIRST_CONNECT_TRIES
                    {
                        return Err(StripeError::Unreachable {
                            base: self.config.api_base.clone(),
                            reason: why,
                        });
                    }
                    why
                }
            };
            failures += 1;
            if failures > self.config.max_retries {
                return Err(StripeError::Exhausted {
                    path: path.into(),
                    attempts: failures,
                    last,
                });
            }
            count(|s| &s.retries);
            tracing::debug!(path, attempt = failures, reason = %last, "Request retried.");
            tokio::time::sleep(backoff(self.config.retry_base, failures)).await;
        }
    }

    async fn attempt(&self, url: &str, path: &str, query: &[(String, String)]) -> Attempt {
        let response = match self.http.get(url).query(query).send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Attempt::Unconnected(transport_reason(&e)),
            Err(e) => return Attempt::Retry(transport_reason(&e)),
        };
        self.answered.store(true, Ordering::Relaxed);
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok())
            .map(Duration::from_secs_f64);
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v == "true");
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Attempt::Retry(format!("body cut off: {}", transport_reason(&e))),
        };
        let parsed: Result<Value, _> = serde_json::from_slice(&body);
        match status {
            200 => match parsed {
                Ok(v) => Attempt::Done(v),
                Err(e) => Attempt::Retry(format!(
                    "unreadable JSON body ({e}); it began: {}",
                    body_start(&body)
                )),
            },
            429 => Attempt::RateLimited(retry_after),
            500..=599 if should_retry != Some(false) => Attempt::Retry(format!("HTTP {status}")),
            _ => match parsed {
                Ok(v) if v["error"].is_object() => Attempt::Fail(classify(status, path, Some(v))),
                // Not Stripe's error shape: a proxy, a wrong URL, another server.
                _ => Attempt::Fail(StripeError::Api {
                    path: path.into(),
                    status,
                    message: format!(
                        "the server did not answer like Stripe (check --api-base / [stripe] \
                         api_base and any proxy in between); it began: {}",
                        body_start(&body)
                    ),
                }),
            },
        }
    }
}

/// Turns a non-retryable Stripe error body into a typed error, keeping Stripe's own words.
fn classify(status: u16, path: &str, body: Option<Value>) -> StripeError {
    let message = body
        .as_ref()
        .and_then(|b| b["error"]["message"].as_str())
        .unwrap_or("(no message)")
        .to_string();
    match status {
        401 => StripeError::Auth { status, message },
        403 => {
            let permission = message
                .split('\'')
                .find(|s| s.starts_with("rak_"))
                .map(str::to_string);
            StripeError::Permission {
                path: path.into(),
                permission,
                message,
            }
        }
        404 => StripeError::NotFound {
            path: path.into(),
            message,
        },
        _ => StripeError::Api {
            path: path.into(),
            status,
            message,
        },
    }
}

/// The first bytes of a body, for a message (never a header: keys travel only in those).
fn body_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(160)]);
    let text = text.trim();
    match body.len() > 160 {
        true => format!("{text}…"),
        false if text.is_empty() => "(an empty body)".into(),
        false => text.to_string(),
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "transport"
    };
    // The error's Display names the URL (never headers); the chain says reset / closed.
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    format!("{kind}: {detail}")
}

/// Exponential backoff with full jitter, capped at 20 s.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let cap = Duration::from_secs(20);
    let exp = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let jitter = (nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
    exp.mul_f64(0.5 + jitter / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_is_read_from_stripes_message() {
        let body = serde_json::json!({"error": {"message": "The provided key 'rk_test_***abcd' does not have the required permissions for this endpoint on account 'acct_1'. Having the 'rak_charge_read' permission would allow this request to continue."}});
        match classify(403, "/v1/charges", Some(body)) {
            StripeError::Permission { permission, .. } => {
                assert_eq!(permission.as_deref(), Some("rak_charge_read"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        assert!(
            backoff(base, 1) <= Duration::from_millis(200)
                && backoff(base, 1) >= Duration::from_millis(100)
        );
        assert!(backoff(base, 30) <= Duration::from_secs(20));
    }
}
