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

use crate::schema::{RowContext, StreamSchema};
use crate::stripe::streams::{self, StreamDef};
use crate::stripe::{RequestStats, StripeClient, StripeError};

/// A slice is not split below this span: a second of objects fits in a few pages.
const MIN_SPLIT_SECONDS: i64 = 2;
const PAGE: &str = "100";

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
    /// Slices in flight across the whole account: splitting beyond the request slots only adds
    /// partial pages.
    pub budget: Arc<SliceBudget>,
    /// Ids listed this run (incremental runs only): re-fetching them again would be a duplicate.
    pub listed: Option<Mutex<HashSet<String>>>,
    /// For the events stream: which objects changed, per stream, with the event's snapshot.
    pub changes: Option<Mutex<HashMap<&'static str, HashMap<String, Value>>>>,
    /// Events rendered in another API version than the pinned one: their `data.object` has that
    /// version's shape, which the models must not take for the pinned one silently.
    pub other_api_version: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Stripe(#[from] StripeError),
    #[error("{0}")]
    Internal(String),
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
            budget,
            listed: track_listed.then(|| Mutex::new(HashSet::new())),
            changes: None,
            other_api_version: AtomicU64::new(0),
        }
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

    /// Decodes objects (and their embedded children) into the sinks.
    pub async fn emit(&self, objects: &[Value], deleted: bool) -> Result<(), ListError> {
        if objects.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = objects
            .iter()
            .map(|o| self.sink.schema.row(o, &self.row_ctx, deleted))
            .collect();
        send(&self.sink, &rows).await?;
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
            for event in objects {
                let object = &event["data"]["object"];
                let (Some(kind), Some(id)) = (object["object"].as_str(), object["id"].as_str())
                else {
                    continue;
                };
                let Some(def) = streams::by_object(kind) else {
                    continue;
                };
                // Only a deletion needs the last snapshot (for its tombstone); keeping every
                // changed object of 30 days would make memory grow with the account.
                let deletion = event["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(".deleted"));
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
        for child in self.def.children {
            let Some(sink) = self.children.get(child.stream) else {
                continue;
            };
            // Sub-lists of one page are fetched together (the client bounds what is in flight):
            // one after another, a page of long invoices would hold its slot at one request.
            let lists = futures::future::try_join_all(
                objects.iter().map(|p| self.complete_child_list(p, child)),
            )
            .await?;
            let rows: Vec<_> = lists
                .iter()
                .flatten()
                .map(|item| sink.schema.row(item, &self.row_ctx, deleted))
                .collect();
            send(sink, &rows).await?;
        }
        Ok(())
    }

    /// The embedded list's items, paged on through the sub-list only when it says `has_more`.
    async fn complete_child_list(
        &self,
        parent: &Value,
        child: &streams::ChildList,
    ) -> Result<Vec<Value>, ListError> {
        let list = &parent[child.field];
        let mut items: Vec<Value> = list["data"].as_array().cloned().unwrap_or_default();
        let mut has_more = list["has_more"].as_bool().unwrap_or(false);
        let parent_id = parent["id"].as_str().unwrap_or_default();
        while has_more {
            let Some(last) = items
                .last()
                .and_then(|i| i["id"].as_str())
                .map(str::to_string)
            else {
                break;
            };
            let mut query = vec![
                ("limit".to_string(), PAGE.to_string()),
                ("starting_after".to_string(), last),
            ];
            let path = match child.parent_param {
                Some(param) => {
                    query.push((param.to_string(), parent_id.to_string()));
                    child.path.to_string()
                }
                None => child.path.replace("{id}", parent_id),
            };
            let page = self
                .client
                .get_counted(&path, &query, Some(&self.stats))
                .await?;
            self.pages.fetch_add(1, Ordering::Relaxed);
            items.extend(page["data"].as_array().cloned().unwrap_or_default());
            has_more = page["has_more"].as_bool().unwrap_or(false);
        }
        Ok(items)
    }
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

/// How many slices may be in flight at once, shared by every stream of an account.
#[derive(Debug)]
pub struct SliceBudget {
    pub active: AtomicUsize,
    pub max: usize,
}

impl SliceBudget {
    pub fn new(max: usize) -> Arc<SliceBudget> {
        Arc::new(SliceBudget {
            active: AtomicUsize::new(0),
            max: max.max(1),
        })
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
        ctx.budget.active.fetch_add(1, Ordering::Relaxed);
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
    let result = page_slice(&ctx, slice, &spawn).await;
    ctx.budget.active.fetch_sub(1, Ordering::Relaxed);
    result
}

async fn page_slice(
    ctx: &StreamCtx,
    slice: Slice,
    spawn: &tokio::sync::mpsc::UnboundedSender<Slice>,
) -> Result<(), ListError> {
    let mut range = slice.range;
    let mut cursor: Option<String> = None;
    loop {
        let mut query = ctx.base_query();
        query.push(("limit".into(), PAGE.into()));
        if let Some((lo, hi)) = range {
            query.push(("created[gte]".into(), lo.to_string()));
            query.push(("created[lt]".into(), hi.to_string()));
        }
        if let Some(c) = &cursor {
            query.push(("starting_after".into(), c.clone()));
        }
        let page = ctx
            .client
            .get_counted(ctx.def.path, &query, Some(&ctx.stats))
            .await?;
        ctx.pages.fetch_add(1, Ordering::Relaxed);
        let data = page["data"].as_array().cloned().unwrap_or_default();
        ctx.emit(&data, false).await?;
        let has_more = page["has_more"].as_bool().unwrap_or(false);
        let Some(last) = data.last() else {
            return Ok(());
        };
        if !has_more {
            return Ok(());
        }
        cursor = last["id"].as_str().map(str::to_string);
        let first_created = data.first().and_then(|o| o["created"].as_i64());
        let last_created = last["created"].as_i64();
        if let (Some((lo, hi)), Some(t_first), Some(t)) = (range, first_created, last_created)
            && worth_splitting(lo, t_first, t, data.len())
            && ctx.budget.active.load(Ordering::Relaxed) < ctx.budget.max
        {
            let mid = lo + (t - lo) / 2;
            ctx.budget.active.fetch_add(1, Ordering::Relaxed);
            if spawn
                .send(Slice {
                    range: Some((lo, mid)),
                })
                .is_err()
            {
                ctx.budget.active.fetch_sub(1, Ordering::Relaxed);
            } else {
                range = Some((mid, hi));
            }
        }
    }
}

/// Every slice ends on a partial page, so a split must leave each half a few pages: the page
/// just read says how dense `created` is, which predicts what `[lo, t_last]` still holds.
fn worth_splitting(lo: i64, t_first: i64, t_last: i64, page_len: usize) -> bool {
    const MIN_PAGES_LEFT: f64 = 6.0;
    let remaining_span = t_last - lo;
    if remaining_span < MIN_SPLIT_SECONDS {
        return false;
    }
    let page_span = (t_first - t_last).max(1) as f64;
    let expected_left = remaining_span as f64 * page_len as f64 / page_span;
    expected_left >= MIN_PAGES_LEFT * page_len.max(1) as f64
}

/// Re-fetches changed objects with the stream's expansions; gone ones become tombstones built
/// from the event's last snapshot.
pub async fn refetch(ctx: Arc<StreamCtx>, changed: Vec<(String, Value)>) -> Result<(), ListError> {
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
            match ctx
                .client
                .get_counted(&path, &query, Some(&ctx.stats))
                .await
            {
                Ok(v) if v["deleted"] == true => Ok((snapshot, true)),
                Ok(v) => Ok((v, false)),
                Err(StripeError::NotFound { .. }) => Ok((snapshot, true)),
                Err(e) => Err(e.into()),
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
        ctx.pages.fetch_add(1, Ordering::Relaxed);
        if deleted {
            gone.push(object)
        } else {
            live.push(object)
        }
        if live.len() >= 100 {
            ctx.emit(&std::mem::take(&mut live), false).await?;
        }
    }
    ctx.emit(&live, false).await?;
    ctx.emit(&gone, true).await
}

#[cfg(test)]
mod tests {
    use super::worth_splitting;

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
