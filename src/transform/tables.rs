//! Registering tables with DataFusion: raw streams and marts from their manifests (only
//! committed files), the `sql/seeds/*.csv` tables, and the one-row `params` table.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::config::SessionConfig;
use datafusion::prelude::SessionContext;

use super::{Params, TransformError, models, udf};
use crate::storage::manifest::FileEntry;
use crate::storage::{Storage, Table};
use crate::stripe::schema::StreamSchema;
use crate::stripe::streams::STREAMS;

/// The URL our store is registered under inside DataFusion.
pub(crate) const LAKE: &str = "stripelake://lake";

pub async fn session(storage: &Storage) -> Result<SessionContext, TransformError> {
    session_within(storage, None, None).await
}

/// A session whose sorts, aggregations and joins hold at most `memory_limit` bytes and spill to
/// `spill_dir` (or the system's temporary directory) past it; unbounded without a limit.
pub async fn session_within(
    storage: &Storage,
    memory_limit: Option<u64>,
    spill_dir: Option<&std::path::Path>,
) -> Result<SessionContext, TransformError> {
    use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
    let mut runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new();
    if let Some(limit) = memory_limit {
        use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
        // Fair, not greedy: operators that can spill (sorts, aggregations) share what those
        // that cannot (a hash join's build side) leave, instead of the first taking it all.
        let pool = FairSpillPool::new(limit as usize);
        let tracked = TrackConsumersPool::new(pool, std::num::NonZeroUsize::MIN.saturating_add(4));
        runtime = runtime.with_memory_pool(Arc::new(tracked));
    }
    if let Some(dir) = spill_dir {
        let mode = DiskManagerMode::Directories(vec![dir.to_path_buf()]);
        runtime = runtime.with_disk_manager_builder(DiskManagerBuilder::default().with_mode(mode));
    }
    let runtime = runtime.build_arc()?;
    let config = SessionConfig::new()
        .with_information_schema(true)
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false)
        .set_bool("datafusion.sql_parser.enable_ident_normalization", true);
    // Each sorting partition sets aside this much to merge what it spilled (10 MiB by
    // default): under a small budget, a share of it, so the reservations alone do not fill it.
    // And batches of fewer rows: a batch of JSON-heavy rows (subscription states, KBs each)
    // is megabytes, and a sort must hold one whole: 1,024 rows per GiB, at most the default
    // 8,192.
    let config = match memory_limit {
        Some(limit) => config
            .set_usize(
                "datafusion.execution.sort_spill_reservation_bytes",
                (limit as usize / 32).clamp(64 * 1024, 10 * 1024 * 1024),
            )
            .set_usize(
                "datafusion.execution.batch_size",
                (limit as usize / (1024 * 1024)).clamp(64, 8192),
            )
            // A hash join holds its whole build side and cannot spill; a sort-merge join can.
            .set_bool("datafusion.optimizer.prefer_hash_join", false),
        None => config,
    };
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    let url = url::Url::parse(LAKE).map_err(|e| TransformError::Setup(e.to_string()))?;
    ctx.register_object_store(&url, storage.object_store());
    udf::register(&ctx);
    Ok(ctx)
}

/// A table over exactly these files; an empty table of `schema` when there are none.
pub async fn register_files(
    ctx: &SessionContext,
    storage: &Storage,
    name: &str,
    files: &[FileEntry],
    schema: Option<SchemaRef>,
) -> Result<(), TransformError> {
    register_files_at(ctx, storage, LAKE, name, files, schema).await
}

/// `register_files` for a store registered under `url` (the lake's, or a local work area's).
pub async fn register_files_at(
    ctx: &SessionContext,
    storage: &Storage,
    url: &str,
    name: &str,
    files: &[FileEntry],
    schema: Option<SchemaRef>,
) -> Result<(), TransformError> {
    let _ = ctx.deregister_table(name)?;
    // A file the manifest names but the store lacks would otherwise read as no rows.
    storage.check_present(files).await?;
    if files.is_empty() {
        let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
        let table = MemTable::try_new(schema, vec![vec![]])?;
        ctx.register_table(name, Arc::new(table))?;
        return Ok(());
    }
    let urls = files
        .iter()
        .map(|f| ListingTableUrl::parse(format!("{url}/{}", storage.path(&f.path))))
        .collect::<Result<Vec<_>, _>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options);
    let config = match schema {
        Some(s) => config.with_schema(s),
        None => config.infer_schema(&ctx.state()).await?,
    };
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// Every stream as `raw.<stream>` (`raw.charges`, …), with the schema of `schemas/`: marts
/// such as `customers` and `disputes` share names with streams.
pub async fn register_raw(
    ctx: &SessionContext,
    storage: &Storage,
) -> Result<BTreeSet<String>, TransformError> {
    register_schema(ctx, "raw")?;
    let mut names = BTreeSet::new();
    for def in STREAMS {
        let schema = StreamSchema::parse(def.name, def.schema)
            .map_err(|e| TransformError::Setup(e.to_string()))?;
        let files = Table::raw(storage, def.name).committed_files().await?;
        let name = format!("raw.{}", def.name);
        register_files(ctx, storage, &name, &files, Some(schema.arrow.clone())).await?;
        names.insert(name);
    }
    // Not a Stripe stream: the web-analytics events `load-visitors` writes (empty without them).
    let files = Table::visitor_events(storage).committed_files().await?;
    let name = "raw.visitor_events".to_string();
    register_files(ctx, storage, &name, &files, Some(crate::visitors::schema())).await?;
    names.insert(name);
    Ok(names)
}

/// A schema (`raw`, `latest`) in the default catalog, for tables named `<schema>.<table>`.
pub fn register_schema(ctx: &SessionContext, name: &str) -> Result<(), TransformError> {
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| TransformError::Setup("no default catalog".into()))?;
    if catalog.schema(name).is_none() {
        catalog.register_schema(
            name,
            Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
        )?;
    }
    Ok(())
}

/// Every committed mart, with the schema its files carry.
pub async fn register_marts(
    ctx: &SessionContext,
    storage: &Storage,
) -> Result<BTreeSet<String>, TransformError> {
    let mut names = BTreeSet::new();
    for model in models::embedded()?
        .into_iter()
        .filter(|m| m.layer == models::Layer::Mart)
    {
        if let Some(m) = Table::mart(storage, &model.name).latest().await? {
            register_files(ctx, storage, &model.name, &m.files, None).await?;
            names.insert(model.name);
        }
    }
    Ok(names)
}

/// `sql/seeds/<name>.csv`: a header row, then values; a column of integers is BIGINT.
pub fn register_seeds(ctx: &SessionContext) -> Result<BTreeSet<String>, TransformError> {
    let mut names = BTreeSet::new();
    for seed in models::seeds() {
        let batch = csv_batch(&seed.name, seed.csv)?;
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(seed.name.as_str(), Arc::new(table))?;
        names.insert(seed.name);
    }
    Ok(names)
}

fn csv_batch(name: &str, text: &str) -> Result<RecordBatch, TransformError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let rows: Vec<Vec<&str>> = lines
        .map(|l| l.split(',').map(str::trim).collect())
        .collect();
    if let Some((i, _)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != header.len())
    {
        return Err(TransformError::Setup(format!(
            "sql/seeds/{name}.csv: line {}: expected {} fields",
            i + 2,
            header.len()
        )));
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (c, h) in header.iter().enumerate() {
        let values: Vec<&str> = rows.iter().map(|r| r[c]).collect();
        let ints: Option<Vec<i64>> = values.iter().map(|v| v.parse().ok()).collect();
        match ints {
            Some(ints) if !values.is_empty() => {
                fields.push(Field::new(h.trim(), DataType::Int64, false));
                columns.push(Arc::new(Int64Array::from(ints)));
            }
            _ => {
                fields.push(Field::new(h.trim(), DataType::Utf8, false));
                columns.push(Arc::new(StringArray::from(values)));
            }
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| TransformError::Setup(format!("sql/seeds/{name}.csv: {e}")))
}

fn days(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days() as i32
}

/// A KPI range relative to `as_of`: the `days` days ending `offset` days before it.
struct Window {
    name: String,
    days: i64,
    offset: i64,
}

/// The configured windows (`last_N_days`), and with `report_ranges` the 30 days and the day the
/// report and the digest show and what they compare them with: `previous_N_days` (the N days
/// before) for each, `previous_1_days` and `week_before_1_days` (as_of − 7).
fn kpi_windows(p: &Params) -> Vec<Window> {
    let mut lengths: Vec<i64> = p.kpi_windows_days.iter().map(|d| *d as i64).collect();
    // The report's tiles compare 30 days, the digest single days, whatever else is configured.
    for needed in [1, 30] {
        if p.report_ranges && !lengths.contains(&needed) {
            lengths.push(needed);
        }
    }
    let mut out = Vec::new();
    for d in lengths {
        out.push(Window {
            name: format!("last_{d}_days"),
            days: d,
            offset: 0,
        });
        if p.report_ranges {
            out.push(Window {
                name: format!("previous_{d}_days"),
                days: d,
                offset: d,
            });
        }
    }
    if p.report_ranges {
        out.push(Window {
            name: "week_before_1_days".into(),
            days: 1,
            offset: 7,
        });
    }
    out
}

/// `params` (one row) and `kpi_windows` (one row per KPI range).
pub fn register_params(ctx: &SessionContext, p: &Params) -> Result<(), TransformError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("as_of", DataType::Date32, true),
        Field::new("report_timezone", DataType::Utf8, false),
        Field::new("settlement_currency", DataType::Utf8, true),
        Field::new("discount_mode", DataType::Utf8, false),
        Field::new("churn_recognition", DataType::Utf8, false),
        Field::new("livemode", DataType::Boolean, true),
        Field::new("session_timeout_minutes", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Date32Array::from(vec![p.as_of.map(days)])),
            Arc::new(StringArray::from(vec![p.report_timezone.as_str()])),
            Arc::new(StringArray::from(vec![p.settlement_currency.as_deref()])),
            Arc::new(StringArray::from(vec![p.discount_mode.as_str()])),
            Arc::new(StringArray::from(vec![p.churn_recognition.as_str()])),
            Arc::new(BooleanArray::from(vec![p.livemode])),
            Arc::new(Int64Array::from(vec![
                p.session_timeout_minutes.unwrap_or(30) as i64,
            ])),
        ],
    )
    .map_err(|e| TransformError::Setup(e.to_string()))?;
    ctx.register_table(
        "params",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;

    let (mut names, mut starts, mut ends, mut lengths, mut offsets) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (name, start, end) in &p.kpi_ranges {
        names.push(name.clone());
        starts.push(Some(days(*start)));
        ends.push(Some(days(*end)));
        lengths.push(None);
        offsets.push(None);
    }
    for w in kpi_windows(p) {
        names.push(w.name);
        starts.push(None);
        ends.push(None);
        lengths.push(Some(w.days));
        offsets.push(Some(w.offset));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("range_name", DataType::Utf8, false),
        Field::new("start_date", DataType::Date32, true),
        Field::new("end_date", DataType::Date32, true),
        Field::new("days", DataType::Int64, true),
        Field::new("offset_days", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(names)),
            Arc::new(Date32Array::from(starts)),
            Arc::new(Date32Array::from(ends)),
            Arc::new(Int64Array::from(lengths)),
            Arc::new(Int64Array::from(offsets)),
        ],
    )
    .map_err(|e| TransformError::Setup(e.to_string()))?;
    ctx.register_table(
        "kpi_windows",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    register_metadata_keys(ctx, &p.visitor_metadata_keys)
}

/// `visitor_metadata_keys`: one row per configured key, `position` 1 first (METRICS.md §6.1).
fn register_metadata_keys(ctx: &SessionContext, keys: &[String]) -> Result<(), TransformError> {
    let keys: Vec<&str> = if keys.is_empty() {
        vec!["visitor_id"]
    } else {
        keys.iter().map(String::as_str).collect()
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("position", DataType::Int64, false),
    ]));
    let positions: Vec<i64> = (1..=keys.len() as i64).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(keys)),
            Arc::new(Int64Array::from(positions)),
        ],
    )
    .map_err(|e| TransformError::Setup(e.to_string()))?;
    ctx.register_table(
        "visitor_metadata_keys",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    Ok(())
}
