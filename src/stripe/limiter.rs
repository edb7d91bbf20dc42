//! One token bucket per Stripe account, shared by every stream, whose rate adapts: a 429 cuts it
//! multiplicatively, each success wins a little back (AIMD), never above the configured rate.
//!
//! Hand-written rather than `governor`: AIMD needs the rate to change while requests wait, and
//! governor's quotas are fixed at construction.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    ceiling: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
    /// No request may start before this (a 429's `Retry-After`).
    paused_until: Option<Instant>,
}

/// A multiplicative cut per 429, then +2 % of the ceiling per success.
const DECREASE: f64 = 0.7;
const INCREASE_SHARE: f64 = 0.02;
const FLOOR: f64 = 0.5;

impl RateLimiter {
    /// `rate` requests per second; bursts up to one second's worth.
    pub fn new(rate: f64) -> RateLimiter {
        let rate = rate.max(FLOOR);
        RateLimiter {
            ceiling: rate,
            state: Mutex::new(Bucket {
                rate,
                tokens: 1.0,
                last: Instant::now(),
                paused_until: None,
            }),
        }
    }

    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        loop {
            let wait = self.try_take();
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Takes a token now, or says how long to wait for one.
    fn try_take(&self) -> Option<Duration> {
        let mut b = self.lock();
        let now = Instant::now();
        if let Some(until) = b.paused_until {
            if now < until {
                return Some(until - now);
            }
            b.paused_until = None;
        }
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.last = now;
        b.tokens = (b.tokens + elapsed * b.rate).min(b.rate.max(1.0));
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - b.tokens) / b.rate))
        }
    }

    pub fn on_success(&self) {
        let mut b = self.lock();
        b.rate = (b.rate + self.ceiling * INCREASE_SHARE).min(self.ceiling);
    }

    /// A 429: slow down, and hold every request for `retry_after` if Stripe gave one.
    pub fn on_rate_limited(&self, retry_after: Option<Duration>) {
        let mut b = self.lock();
        b.rate = (b.rate * DECREASE).max(FLOOR);
        b.tokens = b.tokens.min(0.0);
        if let Some(d) = retry_after {
            let until = Instant::now() + d;
            b.paused_until = Some(b.paused_until.map_or(until, |p| p.max(until)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_cuts_and_successes_recover_up_to_the_ceiling() {
        let l = RateLimiter::new(20.0);
        l.on_rate_limited(None);
        assert!((l.rate() - 14.0).abs() < 1e-9);
        for _ in 0..100 {
            l.on_success();
        }
        assert!((l.rate() - 20.0).abs() < 1e-9);
    }

    #[tokio::test]
    async fn acquire_paces_requests_at_the_rate() {
        let l = RateLimiter::new(50.0);
        let start = Instant::now();
        for _ in 0..11 {
            l.acquire().await;
        }
        // One token up front, then 10 more at 50/s: at least 0.2 s.
        assert!(
            start.elapsed() >= Duration::from_millis(190),
            "{:?}",
            start.elapsed()
        );
    }
}
