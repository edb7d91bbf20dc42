//! Listing one stream: `created` slices processed concurrently, each split at the midpoint of
//! its remaining range while it still has pages, so a large stream spreads over every request
//! slot the rate limit allows. Pages decode straight to Arrow and go to the stream's writer.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use serde_json::Value;
use tokio::sync::mpsc::Sender;
use tokio::task::JoinSet;

use crate::stripe::schema::{RowContext, StreamSchema};
use crate::stripe::streams::{self, StreamDef};
use crate::stripe::{RequestStats, StripeClient, StripeError};

/// A slice is not split below this span: a second of objects fits in a few pages.
const MIN_SPLIT_SECONDS: i64 = 2;
const PAGE: &str = "100";
const PAGE_LEN: f64 = 100.0;

/// Where one stream's rows go.
pub struct Sink {
    pub schema: StreamSchema,
    pub tx: Sender<RecordBatch>,
    pub rows: AtomicU64,
}

/// Everything a slice of one stream needs.
pub struct StreamCtx {
    pub def: &'static StreamDef,
    pub client: StripeClient,
    pub row_ctx: RowContext,
    pub sink: Sink,
    pub children: HashMap<&'static str, Sink>,
    pub stats: RequestStats,
    pub pages: AtomicU64,
    /// Pages of the stream's own list (not sub-lists or re-fetches).
    list_pages: AtomicU64,
    /// Slices in flight across the whole account: splitting beyond the request slots only adds
    /// partial pages.
    pub budget: Arc<SliceBudget>,
    /// Ids listed this run (incremental runs only): re-fetching them again would be a duplicate.
    pub listed: Option<Mutex<HashSet<String>>>,
    /// For the events stream: which objects changed, per stream, with the event's snapshot.
    pub changes: Option<Mutex<HashMap<&'static str, HashMap<String, Value>>>>,
    /// Keep only deletions in `changes` (a backfill re-lists everything else).
    pub deletions_only: bool,
    /// Events rendered in another API version than the pinned one: their `data.object` has that
    /// version's shape, which the models must not take for the pinned one silently.
    pub other_api_version: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Stripe(#[from] StripeError),
    /// A 200 whose body is not what Stripe sends: a proxy, a captive portal, a wrong
    /// `--api-base`. Taken for an empty list, it would move the cursors past the account.
    #[error(
        "{path}: the server answered 200 with something that is not a Stripe {expected} \
         (check --api-base / [stripe] api_base and any proxy in between); it began: {start}"
    )]
    Protocol {
        path: String,
        expected: &'static str,
        start: String,
    },
    #[error("{0}")]
    Internal(String),
}

/// The first bytes of a body, for a message.
fn body_start(body: &Value) -> String {
    let text = body.to_string();
    match text.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

impl StreamCtx {
    pub fn new(
        def: &'static StreamDef,
        client: StripeClient,
        row_ctx: RowContext,
        sink: Sink,
        children: HashMap<&'static str, Sink>,
        budget: Arc<SliceBudget>,
        track_listed: bool,
    ) -> StreamCtx {
        StreamCtx {
            def,
            client,
            row_ctx,
            sink,
            children,
            stats: RequestStats::default(),
            pages: AtomicU64::new(0),
            list_pages: AtomicU64::new(0),
            budget,
            listed: track_listed.then(|| Mutex::new(HashSet::new())),
            changes: None,
            deletions_only: false,
            other_api_version: AtomicU64::new(0),
        }
    }

    /// Requests a slice still expects: its pages left, each with the sub-list requests this
    /// stream's pages have needed so far (long invoices cost more than their one page).
    fn requests_left(&self, lo: i64, t_first: i64, t_last: i64, page_len: usize) -> f64 {
        const MAX_PAGES: f64 = 1e6;
        let pages = (objects_left(lo, t_first, t_last, page_len) / PAGE_LEN).min(MAX_PAGES);
        let list_pages = self.list_pages.load(Ordering::Relaxed).max(1) as f64;
        let requests = self.stats.snapshot().0 as f64;
        pages * (requests / list_pages).max(1.0)
    }

    fn base_query(&self) -> Vec<(String, String)> {
        let mut q: Vec<(String, String)> = self
            .def
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        q.extend(
            self.def
                .expand
                .iter()
                .map(|e| ("expand[]".to_string(), format!("data.{e}"))),
        );
        q
    }

    /// Decodes objects (and their embedded children) into the sinks. The objects are dropped
    /// before any sub-list is fetched: a page of expanded invoices is megabytes of JSON values,
    /// and a slice may wait on its sub-lists while the next page arrives.
    pub async fn emit(&self, objects: Vec<Value>, deleted: bool) -> Result<(), ListError> {
        if objects.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = objects
            .iter()
            .map(|o| self.sink.schema.row(o, &self.row_ctx, deleted))
            .collect();
        send(&self.sink, &rows).await?;
        drop(rows);
        if self.def.name == "events" {
            let pinned = self.row_ctx.stripe_version.as_str();
            let other = objects
                .iter()
                .filter(|e| e["api_version"].as_str().is_some_and(|v| v != pinned))
                .count();
            self.other_api_version
                .fetch_add(other as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(changes) = &self.changes {
            let mut map = changes.lock().unwrap_or_else(|e| e.into_inner());
            for event in &objects {
                let object = &event["data"]["object"];
                let (Some(kind), Some(id)) = (object["object"].as_str(), object["id"].as_str())
                else {
                    continue;
                };
                let Some((def, parent_field)) = streams::changed_by(kind) else {
                    continue;
                };
                // A child changed: its parent is re-fetched, and brings the child with it.
                let (id, kind) = match parent_field {
                    None => (id, kind),
                    Some(field) => match object[field].as_str() {
                        Some(parent) => (parent, def.object),
                        None => continue,
                    },
                };
                // Only a deletion needs the last snapshot (for its tombstone); keeping every
                // changed object of 30 days would make memory grow with the account.
                let deletion = parent_field.is_none()
                    && event["type"]
                        .as_str()
                        .is_some_and(|t| t.ends_with(".deleted"));
                // `<object>.deleted` removes the object; `customer.subscription.deleted` and the
                // like end something (a subscription is canceled, and stays retrievable).
                let removed =
                    deletion && event["type"].as_str() == Some(format!("{kind}.deleted").as_str());
                if self.deletions_only && !removed {
                    continue;
                }
                let entry = map
                    .entry(def.name)
                    .or_default()
                    .entry(id.to_string())
                    .or_insert(Value::Null);
                if deletion {
                    *entry = object.clone();
                } else if entry.is_null() {
                    *entry = serde_json::json!({"id": id, "object": kind});
                }
            }
        }
        if let Some(listed) = &self.listed {
            let mut set = listed.lock().unwrap_or_else(|e| e.into_inner());
            set.extend(
                objects
                    .iter()
                    .filter_map(|o| o["id"].as_str().map(str::to_string)),
            );
        }
        // Embedded children become rows now; where a list goes on, only its parent's id and its
        // last item's id are kept for the sub-list.
        let mut unfinished: Vec<(&streams::ChildList, String, String)> = Vec::new();
        for child in self.def.children {
            let Some(sink) = self.children.get(child.stream) else {
                continue;
            };
            let rows: Vec<_> = objects
                .iter()
                .flat_map(|parent| embedded(parent, child))
                .map(|item| sink.schema.row(item, &self.row_ctx, deleted))
                .collect();
            send(sink, &rows).await?;
            unfinished.extend(objects.iter().filter_map(|parent| {
                if parent[child.field]["has_more"].as_bool() != Some(true) {
                    return None;
                }
                let last = embedded(parent, child).last()?["id"].as_str()?;
                Some((child, parent["id"].as_str()?.to_string(), last.to_string()))
            }));
        }
        drop(objects);
        // Sub-lists of one page are fetched together (the client bounds what is in flight):
        // one after another, a page of long invoices would hold its slot at one request.
        let rests = futures::future::try_join_all(
            unfinished
                .iter()
                .map(|(child, parent, last)| self.rest_of_child_list(child, parent, last)),
        )
        .await?;
        for child in self.def.children {
            let Some(sink) = self.children.get(child.stream) else {
                continue;
            };
            let rows: Vec<_> = unfinished
                .iter()
                .zip(&rests)
                .filter(|((c, _, _), _)| c.stream == child.stream)
                .flat_map(|(_, rest)| rest)
                .map(|item| sink.schema.row(item, &self.row_ctx, deleted))
                .collect();
            send(sink, &rows).await?;
        }
        Ok(())
    }

    /// One page of a list — the stream's own or a parent's sub-list — after the object `after`:
    /// every list request of an extraction is made, counted and read here.
    async fn page(
        &self,
        path: &str,
        mut query: Vec<(String, String)>,
        after: Option<&str>,
    ) -> Result<Page, ListError> {
        query.push(("limit".into(), PAGE.into()));
        if let Some(id) = after {
            query.push(("starting_after".into(), id.into()));
        }
        let mut body = self
            .client
            .get_counted(path, &query, Some(&self.stats))
            .await?;
        self.pages.fetch_add(1, Ordering::Relaxed);
        let (Some("list"), Some(has_more), true) = (
            body["object"].as_str(),
            body["has_more"].as_bool(),
            body["data"].is_array(),
        ) else {
            return Err(ListError::Protocol {
                path: path.into(),
                expected: "list (object: \"list\", data, has_more)",
                start: body_start(&body),
            });
        };
        let data = match body["data"].take() {
            Value::Array(objects) => objects,
            _ => Vec::new(),
        };
        Ok(Page { data, has_more })
    }

    /// One object by its path (a re-fetch or a snapshot), counted like a page. Stripe answers
    /// a deleted object with `{id, object, deleted: true}`; anything without `object`, or
    /// without `id` (only the balance has none), is not Stripe's.
    pub async fn retrieve(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Value, ListError> {
        let object = self
            .client
            .get_counted(path, query, Some(&self.stats))
            .await;
        self.pages.fetch_add(1, Ordering::Relaxed);
        let object = object?;
        let kind = object["object"].as_str();
        if kind.is_none() || (kind != Some("balance") && !object["id"].is_string()) {
            return Err(ListError::Protocol {
                path: path.into(),
                expected: "object (id, object)",
                start: body_start(&object),
            });
        }
        Ok(object)
    }

    /// The items of `parent`'s list after `last` (the last one it embedded), through the sub-list.
    async fn rest_of_child_list(
        &self,
        child: &streams::ChildList,
        parent_id: &str,
        last: &str,
    ) -> Result<Vec<Value>, ListError> {
        let mut items: Vec<Value> = Vec::new();
        let mut has_more = true;
        while has_more {
            let Some(last) = items
                .last()
                .map_or(Some(last), |i| i["id"].as_str())
                .map(str::to_string)
            else {
                break;
            };
            let (path, query) = match child.parent_param {
                Some(param) => (
                    child.path.to_string(),
                    vec![(param.to_string(), parent_id.to_string())],
                ),
                None => (child.path.replace("{id}", parent_id), Vec::new()),
            };
            let page = self.page(&path, query, Some(&last)).await?;
            has_more = page.has_more;
            if page.data.is_empty() {
                // An empty page that claims more would otherwise be asked for again and again.
                break;
            }
            items.extend(page.data);
        }
        Ok(items)
    }
}

/// A page of a list: its objects, and whether more follow.
struct Page {
    data: Vec<Value>,
    has_more: bool,
}

/// The items a parent embeds for `child` (`invoice.lines.data`).
fn embedded<'a>(parent: &'a Value, child: &streams::ChildList) -> &'a [Value] {
    parent[child.field]["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

async fn send(sink: &Sink, rows: &[serde_json::Map<String, Value>]) -> Result<(), ListError> {
    if rows.is_empty() {
        return Ok(());
    }
    let batch = sink
        .schema
        .batch(rows)
        .map_err(|e| ListError::Internal(e.to_string()))?;
    sink.rows
        .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
    sink.tx
        .send(batch)
        .await
        .map_err(|_| ListError::Internal(format!("{}: the writer stopped", sink.schema.stream)))
}

/// How many slices may be in flight at once, shared by every stream of an account, and how a
/// spare slot is given out: to a stream whose share of the slices is below its share of the
/// requests still expected. First come, first served, the streams with most slices would take
/// every freed slot, and the largest stream would finish last, alone, on a slice or two.
#[derive(Debug)]
pub struct SliceBudget {
    active: AtomicUsize,
    max: usize,
    load: Mutex<HashMap<&'static str, Load>>,
}

/// One stream's slices and the requests they still expect (revised after every page).
#[derive(Debug, Default)]
struct Load {
    slices: usize,
    requests_left: f64,
}

impl SliceBudget {
    pub fn new(max: usize) -> Arc<SliceBudget> {
        Arc::new(SliceBudget {
            active: AtomicUsize::new(0),
            max: max.max(1),
            load: Mutex::new(HashMap::new()),
        })
    }

    fn loads(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Load>> {
        self.load.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slice of `stream` starts (an initial one, or a split).
    fn start(&self, stream: &'static str) {
        self.active.fetch_add(1, Ordering::Relaxed);
        self.loads().entry(stream).or_default().slices += 1;
    }

    /// A slice ends, with the requests it last expected.
    fn end(&self, stream: &'static str, expected: f64) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        let mut loads = self.loads();
        let load = loads.entry(stream).or_default();
        load.slices = load.slices.saturating_sub(1);
        load.requests_left = (load.requests_left - expected).max(0.0);
    }

    /// A slice's estimate of its remaining requests changed from `was` to `now`.
    fn revise(&self, stream: &'static str, was: f64, now: f64) {
        let mut loads = self.loads();
        let load = loads.entry(stream).or_default();
        load.requests_left = (load.requests_left + now - was).max(0.0);
    }

    /// Whether `stream` may take a spare slot for one more slice.
    fn may_split(&self, stream: &'static str) -> bool {
        if self.active.load(Ordering::Relaxed) >= self.max {
            return false;
        }
        let loads = self.loads();
        let total: f64 = loads.values().map(|l| l.requests_left).sum();
        let Some(mine) = loads.get(stream) else {
            return true;
        };
        if total <= 0.0 {
            return true;
        }
        // Its fair number of slots, rounded up: one more slice while at or below it.
        let fair = mine.requests_left / total * self.max as f64;
        mine.slices as f64 <= fair.ceil()
    }
}

/// A `[lo, hi)` range of `created`, or the whole list when `None`.
#[derive(Clone, Copy, Debug)]
pub struct Slice {
    pub range: Option<(i64, i64)>,
}

/// Lists everything in `ranges`, splitting slices as they prove large.
pub async fn list(ctx: Arc<StreamCtx>, ranges: Vec<Slice>) -> Result<(), ListError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Slice>();
    let mut tasks: JoinSet<Result<(), ListError>> = JoinSet::new();
    for slice in ranges {
        ctx.budget.start(ctx.def.name);
        tasks.spawn(run_slice(ctx.clone(), slice, tx.clone()));
    }
    loop {
        tokio::select! {
            Some(slice) = rx.recv() => {
                tasks.spawn(run_slice(ctx.clone(), slice, tx.clone()));
            }
            joined = tasks.join_next() => match joined {
                None => match rx.try_recv() {
                    Ok(slice) => { tasks.spawn(run_slice(ctx.clone(), slice, tx.clone())); }
                    Err(_) => return Ok(()),
                },
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    stop(&mut tasks).await;
                    return Err(e);
                }
                Some(Err(join)) => {
                    stop(&mut tasks).await;
                    return Err(ListError::Internal(format!("a slice task failed: {join}")));
                }
            },
        }
    }
}

/// Cancels the remaining tasks and waits until they are gone (they hold the stream's sinks).
async fn stop<T: 'static>(tasks: &mut JoinSet<T>) {
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// Pages one slice newest-first. While it has more, the rest of its range `[lo, t_last]` is
/// halved: `[lo, mid)` becomes a new slice and this one continues in `[mid, t_last]` with the
/// same cursor, so no object is skipped or listed twice.
async fn run_slice(
    ctx: Arc<StreamCtx>,
    slice: Slice,
    spawn: tokio::sync::mpsc::UnboundedSender<Slice>,
) -> Result<(), ListError> {
    let mut expected = 0.0;
    let result = page_slice(&ctx, slice, &spawn, &mut expected).await;
    ctx.budget.end(ctx.def.name, expected);
    result
}

/// `expected` is kept at the requests this slice still expects, for the budget.
async fn page_slice(
    ctx: &StreamCtx,
    slice: Slice,
    spawn: &tokio::sync::mpsc::UnboundedSender<Slice>,
    expected: &mut f64,
) -> Result<(), ListError> {
    let mut range = slice.range;
    let mut cursor: Option<String> = None;
    // The previous page's rows (and its children's sub-lists) are written while the next page
    // is fetched: a page of long invoices would otherwise hold its slice for two round trips.
    let mut writing: Option<Emit<'_>> = None;
    loop {
        let mut query = ctx.base_query();
        if let Some((lo, hi)) = range {
            query.push(("created[gte]".into(), lo.to_string()));
            query.push(("created[lt]".into(), hi.to_string()));
        }
        let fetch = ctx.page(ctx.def.path, query, cursor.as_deref());
        let page = match writing.take() {
            Some(previous) => {
                let (page, written) = tokio::join!(fetch, previous);
                written?;
                page?
            }
            None => fetch.await?,
        };
        ctx.list_pages.fetch_add(1, Ordering::Relaxed);
        let (has_more, data) = (page.has_more, page.data);
        let (Some(first), Some(last)) = (data.first(), data.last()) else {
            return Ok(());
        };
        cursor = last["id"].as_str().map(str::to_string);
        let first_created = first["created"].as_i64();
        let last_created = last["created"].as_i64();
        let page_len = data.len();
        if !has_more {
            return ctx.emit(data, false).await;
        }
        writing = Some(Box::pin(async move { ctx.emit(data, false).await }));
        let (Some((lo, hi)), Some(t_first), Some(t)) = (range, first_created, last_created) else {
            continue;
        };
        let left = ctx.requests_left(lo, t_first, t, page_len);
        ctx.budget.revise(ctx.def.name, *expected, left);
        *expected = left;
        if worth_splitting(lo, t_first, t, page_len) && ctx.budget.may_split(ctx.def.name) {
            let mid = lo + (t - lo) / 2;
            ctx.budget.start(ctx.def.name);
            let half = Slice {
                range: Some((lo, mid)),
            };
            if spawn.send(half).is_err() {
                ctx.budget.end(ctx.def.name, 0.0);
            } else {
                // The new slice reports its own estimate after its first page.
                ctx.budget.revise(ctx.def.name, left, left / 2.0);
                *expected = left / 2.0;
                range = Some((mid, hi));
            }
        }
    }
}

/// A page being written (its children completed) while the next one is fetched.
type Emit<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ListError>> + Send + 'a>>;

/// Objects `[lo, t_last]` still holds, predicted by how dense `created` was on the page just
/// read (`page_len` objects from `t_first` down to `t_last`).
fn objects_left(lo: i64, t_first: i64, t_last: i64, page_len: usize) -> f64 {
    let page_span = (t_first - t_last).max(1) as f64;
    (t_last - lo).max(0) as f64 * page_len as f64 / page_span
}

/// Every slice ends on a partial page, so a split must leave each half a few pages.
fn worth_splitting(lo: i64, t_first: i64, t_last: i64, page_len: usize) -> bool {
    const MIN_PAGES_LEFT: f64 = 6.0;
    if t_last - lo < MIN_SPLIT_SECONDS {
        return false;
    }
    objects_left(lo, t_first, t_last, page_len) >= MIN_PAGES_LEFT * page_len.max(1) as f64
}

/// Re-fetches changed objects with the stream's expansions; gone ones become tombstones built
/// from the event's last snapshot. Objects that still exist are written only with `keep_live`
/// (not when checking a backfill's deletions: the backfill listed them already).
pub async fn refetch(
    ctx: Arc<StreamCtx>,
    changed: Vec<(String, Value)>,
    keep_live: bool,
) -> Result<(), ListError> {
    let already: HashSet<String> = ctx
        .listed
        .as_ref()
        .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .unwrap_or_default();
    let mut tasks: JoinSet<Result<(Value, bool), ListError>> = JoinSet::new();
    for (id, snapshot) in changed.into_iter().filter(|(id, _)| !already.contains(id)) {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let query: Vec<(String, String)> = ctx
                .def
                .expand
                .iter()
                .map(|e| ("expand[]".to_string(), e.to_string()))
                .collect();
            let path = format!("{}/{}", ctx.def.path, id);
            match ctx.retrieve(&path, &query).await {
                Ok(v) if v["deleted"] == true => Ok((snapshot, true)),
                Ok(v) => Ok((v, false)),
                Err(ListError::Stripe(StripeError::NotFound { .. })) => Ok((snapshot, true)),
                Err(e) => Err(e),
            }
        });
    }
    let mut live = Vec::new();
    let mut gone = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let fetched = joined
            .map_err(|e| ListError::Internal(e.to_string()))
            .and_then(|r| r);
        let (object, deleted) = match fetched {
            Ok(v) => v,
            Err(e) => {
                stop(&mut tasks).await;
                return Err(e);
            }
        };
        if deleted {
            gone.push(object)
        } else if keep_live {
            live.push(object)
        }
        if live.len() >= 100 {
            ctx.emit(std::mem::take(&mut live), false).await?;
        }
    }
    ctx.emit(live, false).await?;
    ctx.emit(gone, true).await
}

#[cfg(test)]
mod tests {
    use super::{SliceBudget, worth_splitting};

    #[test]
    fn a_spare_slice_goes_to_the_stream_furthest_behind_its_share() {
        let budget = SliceBudget::new(8);
        for stream in ["invoices", "charges", "charges", "charges"] {
            budget.start(stream);
        }
        // Invoices expect 900 of the 1,000 requests left on one slice of four: fair is 7.2.
        budget.revise("invoices", 0.0, 900.0);
        budget.revise("charges", 0.0, 100.0);
        assert!(budget.may_split("invoices"));
        // Charges hold three slices for a tenth of the work (fair 0.8, rounded up to 1).
        assert!(!budget.may_split("charges"));
        // A full budget gives nothing, even to the stream furthest behind.
        for _ in 0..4 {
            budget.start("invoices");
        }
        assert!(!budget.may_split("invoices"));
        // Slices that end return their slots and their expected requests.
        budget.end("charges", 50.0);
        budget.end("charges", 50.0);
        assert!(budget.may_split("invoices"));
        assert!(!budget.may_split("charges"), "charges expect nothing more");
    }

    #[test]
    fn splits_only_when_each_half_keeps_several_pages() {
        // 100 objects over 100 s: 1 000 s left ≈ 10 pages → split; 200 s left ≈ 2 pages → don't.
        assert!(worth_splitting(0, 1_100, 1_000, 100));
        assert!(!worth_splitting(0, 300, 200, 100));
        // A page within one second: the density is unknown but high, split while 2 s remain.
        assert!(worth_splitting(0, 10, 10, 100));
        assert!(!worth_splitting(0, 1, 1, 100));
    }
}
