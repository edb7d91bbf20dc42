//! What a run reports: per stream rows, pages, requests, retries, 429s, duration, mode, the
//! reason for any re-backfill, and failures — typed, so the exit code follows from them.

use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Serialize;

use super::list::{ListError, StreamCtx};
use super::plan::SyncMode;
use crate::storage::manifest::FileEntry;
use crate::stripe::StripeError;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum Failure {
    Auth(String),
    /// A restricted-key permission is missing; the message names it.
    Permission(String),
    /// Retries ran out (5xx, timeouts, resets): Airflow should retry later.
    Transient(String),
    Api(String),
    Storage(String),
    Internal(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Auth(m)
            | Failure::Permission(m)
            | Failure::Transient(m)
            | Failure::Api(m)
            | Failure::Storage(m)
            | Failure::Internal(m) => f.write_str(m),
        }
    }
}

impl Failure {
    /// A stream's storage failure: transient when a retry can help (Airflow retries, exit 5).
    pub fn storage(e: &crate::storage::StorageError) -> Failure {
        match e.is_transient() {
            true => Failure::Transient(e.to_string()),
            false => Failure::Storage(e.to_string()),
        }
    }
}

impl From<ListError> for Failure {
    fn from(e: ListError) -> Failure {
        match e {
            ListError::Stripe(s) => s.into(),
            e @ ListError::Protocol { .. } => Failure::Api(e.to_string()),
            ListError::Internal(m) => Failure::Internal(m),
        }
    }
}

impl From<StripeError> for Failure {
    fn from(e: StripeError) -> Failure {
        match &e {
            StripeError::Auth { .. } => Failure::Auth(e.to_string()),
            StripeError::Permission {
                permission,
                message,
                ..
            } => Failure::Permission(match permission {
                Some(p) => format!(
                    "add the `{p}` read permission to the restricted key (Stripe said: {message})"
                ),
                None => e.to_string(),
            }),
            StripeError::Exhausted { .. } | StripeError::Unreachable { .. } => {
                Failure::Transient(e.to_string())
            }
            _ => Failure::Api(e.to_string()),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub rows: u64,
    pub pages: u64,
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub files: usize,
    pub bytes: u64,
    pub child_rows: Vec<(String, u64)>,
    /// Events whose `api_version` is not the pinned `Stripe-Version` (events stream only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_other_api_version: Option<u64>,
}

impl Counts {
    pub(super) fn of(ctx: &StreamCtx) -> Counts {
        let (requests, retries, rate_limited) = ctx.stats.snapshot();
        Counts {
            rows: ctx.sink.rows.load(Ordering::Relaxed),
            pages: ctx.pages.load(Ordering::Relaxed),
            requests,
            retries,
            rate_limited,
            events_other_api_version: (ctx.def.name == "events")
                .then(|| ctx.other_api_version.load(Ordering::Relaxed)),
            ..Counts::default()
        }
    }

    pub fn with_files(mut self, files: &[FileEntry]) -> Counts {
        self.files = files.len();
        self.bytes = files.iter().map(|f| f.bytes).sum();
        self
    }

    pub fn with_children(mut self, rows: Vec<(&str, u64)>) -> Counts {
        self.child_rows = rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        self
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct StreamOutcome {
    pub stream: String,
    pub mode: SyncMode,
    /// Why the stream was re-backfilled, when it was.
    pub resync_reason: Option<String>,
    /// Why an optional stream was skipped (the key may not read it), when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Rows written after a backfill for the deletions its events named.
    #[serde(skip_serializing_if = "is_zero")]
    pub tombstones: u64,
    #[serde(flatten)]
    pub counts: Counts,
    pub duration_seconds: f64,
    pub failure: Option<Failure>,
}

impl StreamOutcome {
    pub fn new(stream: &str, mode: SyncMode, reason: Option<String>) -> StreamOutcome {
        StreamOutcome {
            stream: stream.into(),
            mode,
            resync_reason: reason,
            skipped: None,
            tombstones: 0,
            counts: Counts::default(),
            duration_seconds: 0.0,
            failure: None,
        }
    }

    pub fn failed(stream: &str, failure: Failure) -> StreamOutcome {
        StreamOutcome {
            failure: Some(failure),
            ..StreamOutcome::new(stream, SyncMode::None, None)
        }
    }

    pub fn internal(stream: &str, message: String) -> StreamOutcome {
        StreamOutcome::failed(stream, Failure::Internal(message))
    }

    /// The stream's figures, and its failure if it failed (a failed stream still reports the
    /// requests, retries and rows it spent).
    pub fn finish(&mut self, started: Instant, result: &Result<Counts, (Failure, Counts)>) {
        self.duration_seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(c) => self.counts = c.clone(),
            Err((f, c)) => {
                self.counts = c.clone();
                self.failure = Some(f.clone());
            }
        }
    }
}

/// One account's streams.
#[derive(Clone, Debug, Serialize)]
pub struct AccountOutcome {
    pub account: String,
    pub streams: Vec<StreamOutcome>,
    /// Rows earlier versions wrote under the placeholder id `self`, moved under this account.
    #[serde(skip_serializing_if = "is_zero")]
    pub moved_from_placeholder: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Rows (children included), requests, retries, 429s and failed streams over every account.
pub fn totals(accounts: &[AccountOutcome]) -> serde_json::Value {
    let (mut rows, mut requests, mut retries, mut limited, mut failed) = (0, 0, 0, 0, 0);
    for o in accounts.iter().flat_map(|a| &a.streams) {
        rows += o.counts.rows + o.counts.child_rows.iter().map(|(_, n)| n).sum::<u64>();
        requests += o.counts.requests;
        retries += o.counts.retries;
        limited += o.counts.rate_limited;
        failed += o.failure.is_some() as u64;
    }
    serde_json::json!({"rows": rows, "requests": requests, "retries": retries, "rate_limited": limited, "failed_streams": failed})
}
