//! Extraction (DESIGN.md §3–§4): every selected stream of every account, backfilled by
//! `created` windows on the first run and kept current through `/v1/events` afterwards; data
//! files first, then the create-only manifest, then the cursor.

mod lake;
mod list;
pub mod placeholder;
pub mod plan;
mod progress;
pub mod summary;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::config::{ApiKey, Config};
use crate::storage::manifest::FileEntry;
use crate::storage::parquet::PartWriter;
use crate::storage::state::StreamState;
use crate::storage::{Change, Part, Storage, StorageError, Table};
use crate::stripe::schema::{RowContext, StreamSchema};
use crate::stripe::streams::{self, StreamDef, Sync};
use crate::stripe::{ClientConfig, StripeClient, StripeError};
pub use list::SliceBudget;
use list::{ListError, Sink, Slice, StreamCtx};
pub use plan::{ExtractArgs, Plan, SyncMode, SyncPlan};
use progress::Progress;
pub use summary::{AccountOutcome, Failure, StreamOutcome};

const DAY: i64 = 86_400;
/// Stripe keeps events for 30 days; a cursor older than this cannot be caught up from them.
pub const EVENT_RETENTION_GUARD: i64 = 29 * DAY;
/// No Stripe object is older than this (2010-01-01): the lower bound of a whole-history backfill.
const STRIPE_EPOCH: i64 = 1_262_304_000;

/// Changed objects per stream, from the events of this run: id → the event's last snapshot.
type Changes = HashMap<&'static str, HashMap<String, Value>>;

/// What stops an extraction before any stream commits.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Stripe(#[from] StripeError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Extracts every account the configuration names (or the key's own), one after another: what
/// each stream of each committed or why it failed. A refused key, or an account whose id cannot
/// be known, stops everything (`Err`).
pub async fn extract(
    storage: &Storage,
    cfg: &Config,
    key: &ApiKey,
    plan: &Plan,
    live: bool,
) -> Result<Vec<AccountOutcome>, ExtractError> {
    let client_config = ClientConfig::from_config(cfg, live);
    let accounts: Vec<Option<String>> = if cfg.stripe.accounts.is_empty() {
        vec![None]
    } else {
        cfg.stripe.accounts.iter().cloned().map(Some).collect()
    };
    let mut results = Vec::new();
    for account in accounts {
        let client = StripeClient::new(client_config.clone(), key, account.clone())?;
        let label = account.as_deref().unwrap_or("the key's account");
        let progress = Progress::start(&client, label, cfg.runtime.progress);
        let outcome = extract_account(storage, &client, plan).await;
        progress.finish();
        let outcome = outcome?;
        for o in &outcome.streams {
            match &o.failure {
                None => {
                    tracing::info!(stream = %o.stream, mode = ?o.mode, rows = o.counts.rows, pages = o.counts.pages, retries = o.counts.retries, "Stream committed.")
                }
                Some(f) => tracing::error!(stream = %o.stream, failure = %f, "Stream failed."),
            }
        }
        results.push(outcome);
    }
    Ok(results)
}

/// Extracts every selected stream of one account.
pub async fn extract_account(
    storage: &Storage,
    client: &StripeClient,
    plan: &Plan,
) -> Result<AccountOutcome, ExtractError> {
    let (account, account_object) = resolve_account(client, plan.account_id.as_deref()).await?;
    let moved_from_placeholder = match client.account() {
        None => placeholder::adopt(storage, &account, &plan.run_id).await?,
        Some(_) => 0,
    };
    let mut outcomes = Vec::new();
    let parents: Vec<&'static StreamDef> = plan
        .streams
        .iter()
        .copied()
        .filter(|d| d.sync != Sync::Child)
        .collect();
    let needs_events = parents.iter().any(|d| d.sync == Sync::Incremental);
    let mut changes = Changes::new();
    let mut events_fresh = false;
    let mut handles: Vec<JoinHandle<StreamOutcome>> = Vec::new();
    // In a backfill the events list alongside the streams; their deletions are applied after.
    let mut backfill_events: Option<JoinHandle<(StreamOutcome, Changes)>> = None;
    // An unreadable cursor is an error, not "no cursor": that would silently re-backfill
    // every stream, whole histories from 2010 included.
    let events_cursor = match needs_events {
        true => load_cursor(storage, &account, "events").await?,
        false => None,
    };
    if needs_events && !event_cursor_fresh(plan, events_cursor.as_ref()) {
        // Every stream is backfilled and needs no changes: the events list alongside them.
        let (storage, client, plan, account) = (
            storage.clone(),
            client.clone(),
            plan.clone(),
            account.clone(),
        );
        backfill_events = Some(tokio::spawn(async move {
            let (outcome, deletions, _) =
                run_events(&storage, &client, &plan, &account, events_cursor).await;
            (outcome, deletions)
        }));
    } else if needs_events {
        let (outcome, collected, fresh) =
            run_events(storage, client, plan, &account, events_cursor).await;
        if let Some(Failure::Auth(_)) = &outcome.failure {
            return Err(StripeError::Auth {
                status: 401,
                message: outcome.failure.map(|f| f.to_string()).unwrap_or_default(),
            }
            .into());
        }
        events_fresh = fresh && outcome.failure.is_none();
        changes = collected;
        outcomes.push(outcome);
    }
    for def in parents.into_iter().filter(|d| d.name != "events") {
        let (storage, client, plan, account) = (
            storage.clone(),
            client.clone(),
            plan.clone(),
            account.clone(),
        );
        let changed: Vec<(String, Value)> = changes
            .remove(def.name)
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
        let snapshot = account_object.clone();
        handles.push(tokio::spawn(async move {
            run_stream(
                &storage,
                &client,
                &plan,
                &account,
                def,
                events_fresh,
                changed,
                snapshot,
            )
            .await
        }));
    }
    for h in handles {
        match h.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => outcomes.push(StreamOutcome::internal("?", e.to_string())),
        }
    }
    if let Some(events) = backfill_events {
        match events.await {
            Ok((outcome, deletions)) => {
                outcomes.push(outcome);
                apply_deletions(storage, client, plan, &account, deletions, &mut outcomes).await;
            }
            Err(e) => outcomes.push(StreamOutcome::internal("events", e.to_string())),
        }
    }
    if let Some(auth) = outcomes.iter().find_map(|o| match &o.failure {
        Some(Failure::Auth(m)) => Some(m.clone()),
        _ => None,
    }) {
        return Err(StripeError::Auth {
            status: 401,
            message: auth,
        }
        .into());
    }
    Ok(AccountOutcome {
        account,
        streams: outcomes,
        moved_from_placeholder,
    })
}

/// The account id of paths, state and the `_account` column, and the `/v1/account` object when
/// the key may read it. A Connect account is the one configured. The key's own account comes
/// from `/v1/account`; when Stripe refuses it (it asks restricted keys for a KYC permission),
/// from the refusal's own text (`… on account 'acct_…'`) or `[stripe] account_id`, which must
/// agree with Stripe when both are known. Anything else fails the account (a transient error
/// after the client's retries): rows are never written under a placeholder id.
async fn resolve_account(
    client: &StripeClient,
    configured: Option<&str>,
) -> Result<(String, Option<Value>), StripeError> {
    let fetched = client.get("/v1/account", &[]).await;
    if let Some(connect) = client.account() {
        return match fetched {
            Err(e @ StripeError::Auth { .. }) => Err(e),
            Ok(object) => Ok((connect.into(), Some(object))),
            Err(_) => Ok((connect.into(), None)),
        };
    }
    let (said, object) = match fetched {
        Ok(object) if object["id"].is_string() => {
            (object["id"].as_str().map(str::to_string), Some(object))
        }
        Ok(other) => {
            return Err(StripeError::Api {
                path: "/v1/account".into(),
                status: 200,
                message: format!(
                    "the server answered with something that is not a Stripe account (check \
                     --api-base / [stripe] api_base and any proxy in between): {}",
                    other.to_string().chars().take(160).collect::<String>()
                ),
            });
        }
        Err(StripeError::Permission { message, .. }) => (account_named_in(&message), None),
        Err(e) => return Err(e),
    };
    match (said, configured) {
        (Some(said), Some(configured)) if said != configured => Err(StripeError::Setup(format!(
            "[stripe] account_id is {configured}, but Stripe says the key belongs to {said}: \
             correct account_id or remove it"
        ))),
        (Some(id), _) => Ok((id, object)),
        (None, Some(configured)) => Ok((configured.into(), object)),
        (None, None) => Err(StripeError::Permission {
            path: "/v1/account".into(),
            permission: Some(crate::stripe::streams::ACCOUNT_PERMISSION.into()),
            message: "Stripe refused GET /v1/account without naming the account, so its id is \
                      unknown and nothing was extracted: set [stripe] account_id = \"acct_…\" \
                      (Dashboard → Settings → Account details) or give the key that permission"
                .into(),
        }),
    }
}

/// The account a 403 names: Stripe's refusals end `… on account 'acct_…'.`.
fn account_named_in(message: &str) -> Option<String> {
    let rest = message.split("on account '").nth(1)?;
    let id = rest.split('\'').next()?;
    let valid = id
        .strip_prefix("acct_")
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    valid.then(|| id.to_string())
}

fn row_ctx(plan: &Plan, account: &str) -> RowContext {
    RowContext {
        run_id: plan.run_id.clone(),
        extracted_at_ms: plan.now_ms,
        account: account.into(),
        stripe_version: plan.stripe_version.clone(),
    }
}

/// A stream's Parquet writer task: the files it wrote once its sink closes.
type Writer = JoinHandle<Result<Vec<FileEntry>, StorageError>>;

/// A stream's writer task and the sink that feeds it.
fn open_sink(
    storage: &Storage,
    plan: &Plan,
    account: &str,
    def: &StreamDef,
) -> Result<(Sink, Writer), String> {
    let schema = StreamSchema::parse(def.name, def.schema).map_err(|e| e.to_string())?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let mut writer: PartWriter = Table::raw(storage, def.name)
        .writer(
            Part::Account(account),
            &plan.run_id,
            schema.arrow.clone(),
            plan.part_target_bytes,
        )
        .with_row_group_bytes(crate::storage::parquet::row_group_bytes_for(
            plan.streams.len(),
        ));
    let task = tokio::spawn(async move {
        while let Some(batch) = rx.recv().await {
            writer.write(&batch).await?;
        }
        writer.finish().await
    });
    Ok((
        Sink {
            schema,
            tx,
            rows: Default::default(),
        },
        task,
    ))
}

async fn load_cursor(
    storage: &Storage,
    account: &str,
    stream: &str,
) -> Result<Option<StreamState>, StorageError> {
    Table::raw(storage, stream).load_state(account).await
}

/// Whether the events since the last run can bring every stream up to date (else they are all
/// re-backfilled).
fn event_cursor_fresh(plan: &Plan, previous: Option<&StreamState>) -> bool {
    !plan.full_refresh
        && previous
            .and_then(|s| s.events_cursor)
            .is_some_and(|c| c >= plan.now - EVENT_RETENTION_GUARD)
}

/// The events stream: its rows, plus which objects changed (for the other streams).
async fn run_events(
    storage: &Storage,
    client: &StripeClient,
    plan: &Plan,
    account: &str,
    previous: Option<StreamState>,
) -> (StreamOutcome, Changes, bool) {
    let def = streams::find("events").expect("events is registered");
    let started = Instant::now();
    let hi = plan.until.min(plan.now - plan.event_lag);
    let fresh = event_cursor_fresh(plan, previous.as_ref());
    let cursor = previous.as_ref().and_then(|s| s.events_cursor);
    let window = initial_slices(plan.now - 30 * DAY, hi);
    let sync = match cursor {
        _ if plan.full_refresh => SyncPlan::Backfill {
            slices: window,
            reason: Some("full refresh requested".into()),
        },
        Some(c) if fresh => SyncPlan::Incremental {
            slices: initial_slices(c - plan.overlap, hi),
            changed: Vec::new(),
        },
        Some(c) => SyncPlan::Backfill {
            slices: window,
            reason: Some(format!(
                "event cursor is {} days old and Stripe keeps events for 30: every incremental stream is re-backfilled",
                (plan.now - c) / DAY
            )),
        },
        None => SyncPlan::Backfill {
            slices: window,
            reason: None,
        },
    };
    let mut outcome = StreamOutcome::new(def.name, sync.mode(), sync.reason());
    let lo = sync.first_slice_start().unwrap_or(hi);
    let slices = match sync {
        SyncPlan::Backfill { slices, .. } | SyncPlan::Incremental { slices, .. } => slices,
        _ => Vec::new(),
    };
    // A backfill re-lists everything, so it needs only the deletions (a listing cannot show
    // what is gone); an incremental run needs every change.
    let result = collect_events(storage, client, plan, account, def, slices, fresh).await;
    outcome.finish(
        started,
        &result.as_ref().map(|r| r.1.clone()).map_err(|e| e.clone()),
    );
    match result {
        Ok((changes, _)) => {
            let cursor = Cursor {
                created: hi,
                events: hi,
                since: Some(lo),
            };
            if let Err(e) = save_cursor(storage, plan, account, def, cursor).await {
                outcome.failure = Some(e);
            }
            (outcome, changes, fresh)
        }
        Err(_) => (outcome, Changes::new(), false),
    }
}

/// A backfill's listings show what exists; the deletions its events name (in the last 30
/// days) are applied after them, as an incremental run would: each object is fetched again and
/// becomes a tombstone when Stripe says it is gone.
async fn apply_deletions(
    storage: &Storage,
    client: &StripeClient,
    plan: &Plan,
    account: &str,
    deletions: Changes,
    outcomes: &mut [StreamOutcome],
) {
    for (stream, objects) in deletions {
        let Some(outcome) = outcomes
            .iter_mut()
            .find(|o| o.stream == stream && o.failure.is_none())
        else {
            continue;
        };
        // Whole-history streams were checked by id in their backfill already.
        let Some(def) =
            streams::find(stream).filter(|d| d.sync == Sync::Incremental && !d.whole_history)
        else {
            continue;
        };
        let sync = SyncPlan::Deletions {
            changed: objects.into_iter().collect(),
        };
        match run_stream_inner(storage, client, plan, account, def, sync, None).await {
            Ok(c) => outcome.tombstones += c.rows,
            Err((f, _)) => {
                // Its cursor is past these events now: forget it, so the next run backfills
                // the stream and meets the deletions again.
                if let Err(e) = Table::raw(storage, def.name).delete_state(account).await {
                    tracing::error!(stream = def.name, error = %e, "Could not reset the cursor.");
                }
                outcome.failure = Some(f);
            }
        }
    }
}

async fn collect_events(
    storage: &Storage,
    client: &StripeClient,
    plan: &Plan,
    account: &str,
    def: &'static StreamDef,
    slices: Vec<Slice>,
    want_changes: bool,
) -> Result<(Changes, summary::Counts), (Failure, summary::Counts)> {
    let (sink, writer) = open_sink(storage, plan, account, def)
        .map_err(|m| (Failure::Internal(m), summary::Counts::default()))?;
    let mut ctx = StreamCtx::new(
        def,
        client.clone(),
        row_ctx(plan, account),
        sink,
        HashMap::new(),
        plan.budget.clone(),
        false,
    );
    ctx.changes = Some(Default::default());
    ctx.deletions_only = !want_changes;
    let ctx = Arc::new(ctx);
    let listed = list::list(ctx.clone(), slices).await;
    let counts = summary::Counts::of(&ctx);
    if let Some(n) = counts.events_other_api_version.filter(|n| *n > 0) {
        tracing::warn!(
            events = n,
            pinned = %plan.stripe_version,
            "Events rendered in another API version than the pinned one: their payloads have that version's shape (set [stripe] stripe_version to the account's version, or expect the models to treat older shapes as best they can)."
        );
    }
    let committed = async {
        let ctx = Arc::try_unwrap(ctx)
            .map_err(|_| Failure::Internal("events context still shared".into()))?;
        let changes = ctx
            .changes
            .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
            .unwrap_or_default();
        drop(ctx.sink.tx);
        let files = writer
            .await
            .map_err(|e| Failure::Internal(e.to_string()))?
            .map_err(|e| Failure::storage(&e));
        listed.map_err(Failure::from)?;
        let files = files?;
        Table::raw(storage, def.name)
            .commit(&plan.run_id, &files, Change::Append)
            .await
            .map_err(|e| Failure::storage(&e))?;
        Ok((changes, files))
    }
    .await;
    match committed {
        Ok((changes, files)) => Ok((changes, counts.with_files(&files))),
        Err(f) => Err((f, counts)),
    }
}

/// One slice per window: it splits as its pages reveal how dense the window is, within the
/// account's slice budget.
fn initial_slices(lo: i64, hi: i64) -> Vec<Slice> {
    if hi <= lo {
        return Vec::new();
    }
    vec![Slice {
        range: Some((lo, hi)),
    }]
}

#[allow(clippy::too_many_arguments)]
async fn run_stream(
    storage: &Storage,
    client: &StripeClient,
    plan: &Plan,
    account: &str,
    def: &'static StreamDef,
    events_fresh: bool,
    changed: Vec<(String, Value)>,
    account_object: Option<Value>,
) -> StreamOutcome {
    let started = Instant::now();
    let previous = match load_cursor(storage, account, def.name).await {
        Ok(s) => s,
        Err(e) => return StreamOutcome::failed(def.name, Failure::storage(&e)),
    };
    let sync = sync_plan(def, plan, previous.as_ref(), events_fresh, changed);
    let mut outcome = StreamOutcome::new(def.name, sync.mode(), sync.reason());
    let since = match &sync {
        SyncPlan::Incremental { .. } => previous.as_ref().and_then(|s| s.since),
        other => other.first_slice_start(),
    };
    let result = run_stream_inner(storage, client, plan, account, def, sync, account_object).await;
    outcome.finish(started, &result);
    if let (Some(adds), Some(Failure::Permission(why))) = (def.optional, &outcome.failure) {
        tracing::warn!(
            stream = def.name,
            "Skipped: the key may not read {adds} ({why})."
        );
        outcome.skipped = Some(format!("the key may not read {adds}: {why}"));
        outcome.failure = None;
    }
    if result.is_ok() && def.sync == Sync::Incremental {
        let cursor = Cursor {
            created: plan.until,
            events: plan.now - plan.event_lag,
            since,
        };
        if let Err(e) = save_cursor(storage, plan, account, def, cursor).await {
            outcome.failure = Some(e);
        }
    }
    outcome
}

/// Where a stream's next run starts.
struct Cursor {
    created: i64,
    events: i64,
    since: Option<i64>,
}

/// The cursor, saved only after the manifest it describes is committed.
async fn save_cursor(
    storage: &Storage,
    plan: &Plan,
    account: &str,
    def: &StreamDef,
    cursor: Cursor,
) -> Result<(), Failure> {
    let state = StreamState {
        stream: def.name.into(),
        account: account.into(),
        created_cursor: Some(cursor.created),
        events_cursor: Some(cursor.events),
        since: cursor.since,
        last_run_id: plan.run_id.clone(),
        updated_at: chrono::Utc::now().to_rfc3339(),
    };
    Table::raw(storage, def.name)
        .save_state(account, &state)
        .await
        .map_err(|e| Failure::storage(&e))
}

/// How a stream is brought up to date: its registry entry, its cursor and the events decide.
fn sync_plan(
    def: &StreamDef,
    plan: &Plan,
    previous: Option<&StreamState>,
    events_fresh: bool,
    changed: Vec<(String, Value)>,
) -> SyncPlan {
    match def.sync {
        Sync::FullRefresh => return SyncPlan::FullRefresh,
        Sync::Snapshot => return SyncPlan::Snapshot,
        Sync::Child | Sync::Incremental => {}
    }
    let backfill_lo = if def.whole_history {
        STRIPE_EPOCH.min(plan.since)
    } else {
        previous.and_then(|s| s.since).unwrap_or(plan.since)
    };
    let backfill = |reason: Option<&str>| SyncPlan::Backfill {
        slices: initial_slices(backfill_lo, plan.until),
        reason: reason.map(str::to_string),
    };
    let Some(prev) = previous else {
        return backfill(None);
    };
    if plan.full_refresh {
        return backfill(Some("full refresh requested"));
    }
    if !events_fresh {
        return backfill(Some(
            "no usable event cursor (older than 29 days, or events failed): re-backfilled",
        ));
    }
    let mut lo = prev.created_cursor.unwrap_or(plan.since) - plan.overlap;
    if def.reconcile_days > 0 {
        lo = lo.min(plan.now - def.reconcile_days as i64 * DAY);
    }
    SyncPlan::Incremental {
        slices: initial_slices(lo, plan.until),
        changed,
    }
}

async fn run_stream_inner(
    storage: &Storage,
    client: &StripeClient,
    plan: &Plan,
    account: &str,
    def: &'static StreamDef,
    sync: SyncPlan,
    account_object: Option<Value>,
) -> Attempt {
    let unstarted = |f: Failure| (f, summary::Counts::default());
    let (sink, writer) = open_sink(storage, plan, account, def)
        .map_err(Failure::Internal)
        .map_err(unstarted)?;
    let mut children = HashMap::new();
    let mut child_writers = Vec::new();
    for child in def.children {
        let child_def = streams::find(child.stream)
            .ok_or_else(|| Failure::Internal(format!("unknown child stream {}", child.stream)))
            .map_err(unstarted)?;
        if plan.streams.iter().any(|s| s.name == child_def.name) {
            let (child_sink, child_writer) = open_sink(storage, plan, account, child_def)
                .map_err(Failure::Internal)
                .map_err(unstarted)?;
            children.insert(child_def.name, child_sink);
            child_writers.push((child_def, child_writer));
        }
    }
    let incremental = matches!(&sync, SyncPlan::Incremental { changed, .. } if !changed.is_empty());
    // A backfill of the whole history lists every object that exists: what the lake holds and
    // the listing did not show was deleted since (or is checked by id).
    let complete = def.whole_history && matches!(sync, SyncPlan::Backfill { .. });
    let ctx = Arc::new(StreamCtx::new(
        def,
        client.clone(),
        row_ctx(plan, account),
        sink,
        children,
        plan.budget.clone(),
        incremental || complete,
    ));
    let replaces = matches!(sync, SyncPlan::FullRefresh);
    let listed = match sync {
        SyncPlan::Snapshot => snapshot(&ctx, account_object).await,
        SyncPlan::FullRefresh => list::list(ctx.clone(), vec![Slice { range: None }]).await,
        SyncPlan::Backfill { slices, .. } if complete => {
            match list::list(ctx.clone(), slices).await {
                Ok(()) => match lake::live_ids(storage, def.name, account).await {
                    Ok(held) => {
                        let gone = held
                            .into_iter()
                            .map(|id| {
                                let stub = serde_json::json!({"id": id, "object": def.object});
                                (id, stub)
                            })
                            .collect();
                        list::refetch(ctx.clone(), gone, true).await
                    }
                    Err(e) => Err(ListError::Internal(e.to_string())),
                },
                failed => failed,
            }
        }
        SyncPlan::Backfill { slices, .. } => list::list(ctx.clone(), slices).await,
        SyncPlan::Incremental { slices, changed } => match list::list(ctx.clone(), slices).await {
            Ok(()) => list::refetch(ctx.clone(), changed, true).await,
            failed => failed,
        },
        SyncPlan::Deletions { changed } => list::refetch(ctx.clone(), changed, false).await,
    };
    // What was spent is reported whatever happens next.
    let counts = summary::Counts::of(&ctx);
    let child_rows: Vec<(&str, u64)> = ctx
        .children
        .iter()
        .map(|(k, s)| (*k, s.rows.load(Ordering::Relaxed)))
        .collect();
    let committed = async {
        drop(
            Arc::try_unwrap(ctx)
                .map_err(|_| Failure::Internal("stream context still shared".into()))?,
        );
        let files = writer
            .await
            .map_err(|e| Failure::Internal(e.to_string()))?
            .map_err(|e| Failure::storage(&e));
        let mut child_files = Vec::new();
        for (child_def, w) in child_writers {
            child_files.push((
                child_def,
                w.await
                    .map_err(|e| Failure::Internal(e.to_string()))?
                    .map_err(|e| Failure::storage(&e))?,
            ));
        }
        listed.map_err(Failure::from)?;
        let files = files?;
        // A full refresh replaces this account's files; everything else appends.
        let parts = [Part::Account(account)];
        let change = if replaces {
            Change::Replace(&parts)
        } else {
            Change::Append
        };
        // Children first: a crash between the two commits leaves the parent to redo both.
        for (child_def, files) in &child_files {
            commit_raw(storage, plan, child_def, files, change).await?;
        }
        commit_raw(storage, plan, def, &files, change).await?;
        Ok(files)
    }
    .await;
    match committed {
        Ok(files) => Ok(counts.with_files(&files).with_children(child_rows)),
        Err(f) => Err((f, counts.with_children(child_rows))),
    }
}

/// A stream's figures, committed or not: a failed stream still reports what it spent.
type Attempt = Result<summary::Counts, (Failure, summary::Counts)>;

async fn commit_raw(
    storage: &Storage,
    plan: &Plan,
    def: &StreamDef,
    files: &[FileEntry],
    change: Change<'_>,
) -> Result<(), Failure> {
    Table::raw(storage, def.name)
        .commit(&plan.run_id, files, change)
        .await
        .map(|_| ())
        .map_err(|e| Failure::storage(&e))
}

async fn snapshot(ctx: &StreamCtx, account_object: Option<Value>) -> Result<(), ListError> {
    let object = match (ctx.def.name, account_object) {
        ("account", Some(v)) => v,
        _ => ctx.retrieve(ctx.def.path, &[]).await?,
    };
    ctx.emit(vec![object], false).await
}
