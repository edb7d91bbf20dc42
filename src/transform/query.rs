//! `stripelake query`: SQL over every committed raw table (`raw.<stream>`) and mart, printed as
//! an aligned table, CSV or JSON lines. Bad SQL and unknown tables are usage errors (exit 2).

use std::collections::BTreeSet;

use datafusion::error::DataFusionError;

use super::TransformError;
use crate::storage::Storage;

#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    /// The SQL (or use --file).
    #[arg(required_unless_present = "file")]
    pub sql: Option<String>,
    /// Read the SQL from this file.
    #[arg(long, conflicts_with = "sql")]
    pub file: Option<std::path::PathBuf>,
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    pub format: String,
}

/// Every table `query` can read, by the name SQL uses.
pub async fn tables(storage: &Storage) -> Result<BTreeSet<String>, TransformError> {
    let ctx = super::tables::session(storage).await?;
    let mut names = super::tables::register_raw(&ctx, storage).await?;
    names.extend(super::tables::register_marts(&ctx, storage).await?);
    Ok(names)
}

/// Runs the query and writes its result to `out`: CSV and JSON lines batch by batch as they
/// come (a result of any size runs in bounded memory); the table format needs every row to size
/// its columns, so it collects the result first.
pub async fn run(
    storage: &Storage,
    args: &QueryArgs,
    out: &mut dyn std::io::Write,
) -> Result<(), TransformError> {
    let sql = match (&args.sql, &args.file) {
        (_, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            TransformError::Query(format!("cannot read the SQL file {}: {e}", path.display()))
        })?,
        (Some(sql), None) => sql.clone(),
        (None, None) => {
            return Err(TransformError::Query(
                "give the SQL, or --file q.sql".into(),
            ));
        }
    };
    let ctx = super::open(storage).await?;
    let df = match ctx.sql_with_options(&sql, read_only()).await {
        Ok(df) => df,
        Err(e) => return Err(explain(e, storage).await),
    };
    let printing = |e: arrow::error::ArrowError| {
        TransformError::Query(format!("cannot print the result: {e}"))
    };
    if args.format == "table" {
        let batches = match df.collect().await {
            Ok(b) => b,
            Err(e) => return Err(explain(e, storage).await),
        };
        let table = arrow::util::pretty::pretty_format_batches(&batches).map_err(printing)?;
        return writeln!(out, "{table}").map_err(|e| printing(e.into()));
    }
    let mut stream = match df.execute_stream().await {
        Ok(s) => s,
        Err(e) => return Err(explain(e, storage).await),
    };
    let mut written = false;
    if args.format == "csv" {
        let mut w = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut *out);
        while let Some(batch) = next_batch(&mut stream, storage).await? {
            written = true;
            w.write(&batch).map_err(printing)?;
        }
    } else {
        while let Some(batch) = next_batch(&mut stream, storage).await? {
            written = true;
            let mut w = arrow::json::LineDelimitedWriter::new(&mut *out);
            w.write(&batch).map_err(printing)?;
            w.finish().map_err(printing)?;
        }
    }
    if !written {
        writeln!(out).map_err(|e| printing(e.into()))?;
    }
    Ok(())
}

async fn next_batch(
    stream: &mut datafusion::physical_plan::SendableRecordBatchStream,
    storage: &Storage,
) -> Result<Option<arrow::record_batch::RecordBatch>, TransformError> {
    match futures::StreamExt::next(stream).await {
        None => Ok(None),
        Some(Ok(batch)) => Ok(Some(batch)),
        Some(Err(e)) => Err(explain(e, storage).await),
    }
}

/// `query` reads the lake's tables and nothing else: no DDL (`CREATE EXTERNAL TABLE` would reach
/// any file or store), no DML or `COPY` (which would write anywhere, the lake included), no
/// `SET`. DataFusion checks the plan, so no spelling gets around it.
fn read_only() -> datafusion::execution::context::SQLOptions {
    datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

async fn explain(e: DataFusionError, storage: &Storage) -> TransformError {
    let message = e.strip_backtrace();
    if [
        "DDL not supported",
        "DML not supported",
        "Statement not supported",
    ]
    .iter()
    .any(|m| message.contains(m))
    {
        return TransformError::Query(format!(
            "`stripelake query` only reads: one SELECT (WITH, EXPLAIN and DESCRIBE too) over the \
             lake's tables; it does not write, copy, create tables or change settings ({message})"
        ));
    }
    if let Some(rest) = message.split("table '").nth(1)
        && message.contains("not found")
    {
        let missing = rest.split('\'').next().unwrap_or(rest);
        let missing = missing.strip_prefix("datafusion.").unwrap_or(missing);
        let missing = missing.strip_prefix("public.").unwrap_or(missing);
        let known = tables(storage)
            .await
            .map(|t| t.into_iter().collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        return TransformError::Query(format!(
            "unknown table `{missing}`. Tables in this lake: {known}. Raw streams are \
             raw.<stream>; marts appear after `stripelake transform`."
        ));
    }
    TransformError::Query(format!("the query failed: {message}"))
}
