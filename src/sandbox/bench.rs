//! `stripelake sandbox bench`: how fast the sandbox generates an account and serves pages, so
//! that it is never the bottleneck of an extraction benchmark (the real ceiling is 100 req/s).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{DEFAULT_TEST_KEY, GenConfig, KeySpec, Sandbox, generate, rng::Rng};

/// The measuring client reads only what paging needs, so the figure is the server's.
#[derive(serde::Deserialize)]
struct IdPage {
    data: Vec<IdOnly>,
    has_more: bool,
}

#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
}

/// Stripe's live-mode read limit, the pace an extractor can reach at best.
pub const STRIPE_LIVE_REQUESTS_PER_SECOND: f64 = 100.0;

pub async fn run(config: GenConfig, concurrency: usize, seconds: u64) -> std::io::Result<Value> {
    let started = Instant::now();
    let account = tokio::task::spawn_blocking(move || generate::generate(&config))
        .await
        .map_err(std::io::Error::other)?;
    let generation = started.elapsed().as_secs_f64();
    let objects = account.store.total_objects();
    let (oldest, newest) = (
        account.config.now - generate::HISTORY_DAYS * 86_400,
        account.config.now,
    );
    let sandbox = Sandbox::serve(account, 0, vec![KeySpec::full(DEFAULT_TEST_KEY)]).await?;
    let pages = Arc::new(AtomicU64::new(0));
    let served = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (client, base, pages, served) = (
                client.clone(),
                sandbox.base_url(),
                pages.clone(),
                served.clone(),
            );
            tokio::spawn(async move {
                let mut rng = Rng::derive(7, 8, worker as u64);
                while Instant::now() < deadline {
                    // A random window, then a few pages into it: bisection plus cursor paging.
                    let mut url = format!(
                        "{base}/v1/balance_transactions?limit=100&created[lt]={}",
                        rng.range(oldest, newest)
                    );
                    for _ in 0..5 {
                        let Ok(res) = client.get(&url).bearer_auth(DEFAULT_TEST_KEY).send().await
                        else {
                            break;
                        };
                        let Ok(page) = res.json::<IdPage>().await else {
                            break;
                        };
                        pages.fetch_add(1, Ordering::Relaxed);
                        served.fetch_add(page.data.len() as u64, Ordering::Relaxed);
                        let (Some(last), true) = (page.data.last(), page.has_more) else {
                            break;
                        };
                        url = format!(
                            "{base}/v1/balance_transactions?limit=100&starting_after={}",
                            last.id
                        );
                    }
                }
            })
        })
        .collect();
    let serve_start = Instant::now();
    futures::future::join_all(tasks).await;
    let elapsed = serve_start.elapsed().as_secs_f64();
    let pages = pages.load(Ordering::Relaxed) as f64;
    let stats = sandbox.stats();
    Ok(json!({
        "objects": objects,
        "generation_seconds": generation,
        "objects_generated_per_second": objects as f64 / generation,
        "concurrency": concurrency,
        "pages_served": pages,
        "pages_per_second": pages / elapsed,
        "objects_served_per_second": served.load(Ordering::Relaxed) as f64 / elapsed,
        "megabytes_per_second": stats.bytes as f64 / elapsed / 1e6,
        "ratio_to_stripe_live_limit": pages / elapsed / STRIPE_LIVE_REQUESTS_PER_SECOND,
        "peak_rss_mb": crate::telemetry::peak_rss_mb(),
    }))
}
