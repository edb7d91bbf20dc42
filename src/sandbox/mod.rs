//! The sandbox: a Stripe-compatible HTTP server over a deterministic, internally consistent
//! account. Tests, benchmarks and `stripelake demo` run against it; because it generated the
//! account, it also knows the true metrics (the oracle).

pub mod bench;
pub mod catalog;
pub mod command;
mod expand;
pub mod generate;
pub mod model;
pub mod money;
pub mod mutate;
pub mod oracle;
mod payments;
pub mod render;
pub mod rng;
mod server;
mod simulate;
pub mod store;
mod subscription;
pub mod truth;
pub mod visitors;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use generate::{Account, GenConfig};
pub use server::{ACCOUNT_PERMISSION, BALANCE_PERMISSION, RESOURCES};

/// The full-access restricted test key the sandbox accepts unless told otherwise. Short on
/// purpose: it must never look like a real key.
pub const DEFAULT_TEST_KEY: &str = "rk_test_sandbox_full_access";
pub const DEFAULT_LIVE_KEY: &str = "rk_live_sandbox_full_access";

/// A key the sandbox accepts: its mode, and its permissions (`None` = everything).
#[derive(Clone, Debug)]
pub struct KeySpec {
    pub key: String,
    pub live: bool,
    pub permissions: Option<Vec<String>>,
    pub revoked: bool,
}

impl KeySpec {
    pub fn full(key: &str) -> KeySpec {
        KeySpec {
            key: key.into(),
            live: key.contains("_live_"),
            permissions: None,
            revoked: false,
        }
    }
}

/// Runtime knobs; tests change them while the server runs.
#[derive(Clone, Debug, Default)]
pub struct Knobs {
    pub latency_ms: u64,
    /// Requests per second per mode before 429s; `None` = unlimited.
    pub rate_limit: Option<f64>,
    pub burst: Option<f64>,
    pub server_error_rate: f64,
    pub reset_rate: f64,
    pub truncate_rate: f64,
    /// `Retry-After` seconds on 429 responses (Stripe sends it sometimes); `None` = no header.
    pub retry_after_seconds: Option<u64>,
    /// Record when each request arrived and how it was answered (`Sandbox::request_log`).
    pub log_requests: bool,
    /// Requests whose path starts with one of these are answered 500 every time: a storm on
    /// one endpoint while the others answer.
    pub failing_paths: Vec<String>,
    /// Requests whose path starts with one of these are answered `200 {}`: a proxy, captive
    /// portal or wrong endpoint that answers, but not like Stripe.
    pub hollow_paths: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub server_errors: AtomicU64,
    pub resets: AtomicU64,
    pub truncated: AtomicU64,
    pub bytes: AtomicU64,
    /// (arrival, status) of each request while `Knobs::log_requests` is on.
    pub log: std::sync::Mutex<Vec<(std::time::Instant, u16)>>,
}

/// A snapshot of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub requests: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    pub resets: u64,
    pub truncated: u64,
    pub bytes: u64,
}

pub struct State {
    config: GenConfig,
    test: RwLock<Account>,
    live: OnceLock<RwLock<Account>>,
    keys: RwLock<HashMap<String, KeySpec>>,
    knobs: RwLock<Knobs>,
    counters: Counters,
    buckets: Mutex<[(f64, Option<std::time::Instant>); 2]>,
    fault_rng: Mutex<rng::Rng>,
}

impl State {
    fn account(&self, live: bool) -> &RwLock<Account> {
        if !live {
            return &self.test;
        }
        self.live.get_or_init(|| {
            RwLock::new(generate::generate(&GenConfig {
                livemode: true,
                ..self.config.clone()
            }))
        })
    }

    fn knobs(&self) -> Knobs {
        self.knobs.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Stripe's way of naming a key in errors: the prefix, stars, and the last four characters.
pub fn redact(key: &str) -> String {
    let prefix_len = key.match_indices('_').nth(1).map_or(0, |(i, _)| i + 1);
    let tail = key.len().saturating_sub(4).max(prefix_len);
    format!(
        "{}{}{}",
        &key[..prefix_len],
        "*".repeat(tail - prefix_len),
        &key[tail..]
    )
}

/// A running sandbox on a loopback port.
pub struct Sandbox {
    pub addr: SocketAddr,
    state: Arc<State>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Sandbox {
    /// Generates the account and serves it on `127.0.0.1:port` (0 = any free port).
    pub async fn start(
        config: GenConfig,
        port: u16,
        keys: Vec<KeySpec>,
    ) -> std::io::Result<Sandbox> {
        let account = tokio::task::spawn_blocking({
            let config = config.clone();
            move || generate::generate(&config)
        })
        .await
        .map_err(std::io::Error::other)?;
        Sandbox::serve(account, port, keys).await
    }

    /// Serves an account that is already generated.
    pub async fn serve(
        account: Account,
        port: u16,
        keys: Vec<KeySpec>,
    ) -> std::io::Result<Sandbox> {
        let config = account.config.clone();
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            fault_rng: Mutex::new(rng::Rng::derive(config.seed, 9, 0)),
            config,
            test: RwLock::new(account),
            live: OnceLock::new(),
            keys: RwLock::new(keys.into_iter().map(|k| (k.key.clone(), k)).collect()),
            knobs: RwLock::new(Knobs::default()),
            counters: Counters::default(),
            buckets: Mutex::new([(0.0, None); 2]),
        });
        let (shutdown, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(accept_loop(listener, state.clone(), watch));
        Ok(Sandbox {
            addr,
            state,
            shutdown,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        *self.state.knobs.write().unwrap_or_else(|e| e.into_inner()) = knobs;
    }

    pub fn add_key(&self, key: KeySpec) {
        self.state
            .keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.key.clone(), key);
    }

    /// (arrival, status) of every request answered while `Knobs::log_requests` was on.
    pub fn request_log(&self) -> Vec<(std::time::Instant, u16)> {
        self.state
            .counters
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn stats(&self) -> Stats {
        let c = &self.state.counters;
        Stats {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            server_errors: c.server_errors.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            truncated: c.truncated.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
        }
    }

    /// Read access to the test-mode account (the truth tests compare against).
    pub fn with_account<R>(&self, f: impl FnOnce(&Account) -> R) -> R {
        f(&self.state.test.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Changes the test-mode account while it is served (see `mutate`).
    pub fn mutate<R>(&self, f: impl FnOnce(&mut Account) -> R) -> R {
        f(&mut self.state.test.write().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(serve_connection(stream, state));
    }
}

/// One connection; a reset fault drops it with SO_LINGER 0 so the client sees a real RST.
async fn serve_connection(stream: tokio::net::TcpStream, state: Arc<State>) {
    let kill = Arc::new(tokio::sync::Notify::new());
    let socket = socket2::SockRef::from(&stream).try_clone().ok();
    let service = {
        let kill = kill.clone();
        service_fn(move |req| state.clone().handle(req, kill.clone()))
    };
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {
            if let Some(socket) = socket {
                let _ = socket.set_linger(Some(std::time::Duration::ZERO));
            }
        }
    }
}
