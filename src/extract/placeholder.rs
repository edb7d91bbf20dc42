//! Rows that earlier versions wrote under the placeholder account `self` (when `/v1/account`
//! was refused or failed once). The next normal run wrote the same objects again under the real
//! id, and every mart counted them twice. Once the real id is known they are moved under it:
//! per table one commit that drops the `self` files and adds their rows relabelled (so a crash
//! leaves each table either moved or not), then the cursors. A version the real id already
//! holds (same object, same run) is not copied: it would be the same version twice.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::storage::manifest::FileEntry;

use crate::storage::state::StreamState;
use crate::storage::{Change, Part, Storage, StorageError, Table};
use crate::stripe::schema::StreamSchema;
use crate::stripe::streams::STREAMS;

/// The id earlier versions used when the account was unknown.
pub const PLACEHOLDER: &str = "self";

/// Moves every `self` row and cursor under `account`; the number of rows moved.
pub async fn adopt(storage: &Storage, account: &str, run_id: &str) -> Result<u64, StorageError> {
    let mut moved = 0;
    for def in STREAMS {
        let table = Table::raw(storage, def.name);
        let files = table.files_of(Part::Account(PLACEHOLDER)).await?;
        if !files.is_empty() {
            let schema =
                StreamSchema::parse(def.name, def.schema).map_err(|e| StorageError::Corrupt {
                    path: format!("schemas/{}.json", def.name),
                    message: e.to_string(),
                })?;
            // A version is its object and its run; the balance has no id, its whole JSON is.
            let key = match schema.arrow.field_with_name("id") {
                Ok(_) => "id",
                Err(_) => "_raw",
            };
            let held =
                versions(storage, &table.files_of(Part::Account(account)).await?, key).await?;
            // Its own part names: the run's streams write `part-<n>-<run_id>` in the same folder.
            let parts_id = format!("{run_id}-from-{PLACEHOLDER}");
            let mut writer = table.writer(
                Part::Account(account),
                &parts_id,
                schema.arrow.clone(),
                128 << 20,
            );
            let (mut copied, mut already) = (0, 0);
            for file in &files {
                for batch in read(storage, &file.path).await? {
                    let batch = conform(batch, &schema.arrow, &file.path)?;
                    let fresh = without(batch, &held, key, &file.path)?;
                    already += fresh.1;
                    copied += fresh.0.num_rows() as u64;
                    writer
                        .write(&relabel(fresh.0, account, &file.path)?)
                        .await?;
                }
            }
            let copies = writer.finish().await?;
            table
                .commit(
                    run_id,
                    &copies,
                    Change::Replace(&[Part::Account(PLACEHOLDER)]),
                )
                .await?;
            moved += copied;
            tracing::warn!(
                stream = def.name,
                account,
                moved = copied,
                already_held = already,
                "Rows an earlier version wrote under the placeholder account `self` now belong to the account."
            );
        }
        if let Some(mut state) = table.load_state::<StreamState>(PLACEHOLDER).await? {
            if table.load_state::<StreamState>(account).await?.is_none() {
                state.account = account.into();
                table.save_state(account, &state).await?;
            }
            table.delete_state(PLACEHOLDER).await?;
        }
    }
    Ok(moved)
}

/// The record batches of one committed Parquet file.
async fn read(storage: &Storage, path: &str) -> Result<Vec<RecordBatch>, StorageError> {
    let corrupt = |message: String| StorageError::Corrupt {
        path: path.into(),
        message,
    };
    let bytes = storage
        .get(path)
        .await?
        .ok_or_else(|| corrupt("listed in the manifest but missing".into()))?;
    ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.build())
        .map_err(|e| corrupt(e.to_string()))?
        .map(|b| b.map_err(|e| corrupt(e.to_string())))
        .collect()
}

/// The `(key, _run_id)` of every row in these files: the versions an account holds.
async fn versions(
    storage: &Storage,
    files: &[FileEntry],
    key: &str,
) -> Result<HashSet<(String, String)>, StorageError> {
    let mut held = HashSet::new();
    for file in files {
        for batch in read(storage, &file.path).await? {
            let ids = column(&batch, key, &file.path)?;
            let runs = column(&batch, "_run_id", &file.path)?;
            for i in 0..batch.num_rows() {
                held.insert((ids.value(i).to_string(), runs.value(i).to_string()));
            }
        }
    }
    Ok(held)
}

/// The rows of `batch` whose version is not in `held`, and how many were.
fn without(
    batch: RecordBatch,
    held: &HashSet<(String, String)>,
    key: &str,
    path: &str,
) -> Result<(RecordBatch, u64), StorageError> {
    let (ids, runs) = (column(&batch, key, path)?, column(&batch, "_run_id", path)?);
    let keep: BooleanArray = (0..batch.num_rows())
        .map(|i| Some(!held.contains(&(ids.value(i).to_string(), runs.value(i).to_string()))))
        .collect();
    let dropped = keep.false_count() as u64;
    let kept =
        arrow::compute::filter_record_batch(&batch, &keep).map_err(|e| StorageError::Corrupt {
            path: path.into(),
            message: e.to_string(),
        })?;
    Ok((kept, dropped))
}

fn column<'b>(
    batch: &'b RecordBatch,
    name: &str,
    path: &str,
) -> Result<&'b StringArray, StorageError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| StorageError::Corrupt {
            path: path.into(),
            message: format!("no text column `{name}`"),
        })
}

/// The batch in today's schema of its stream: files written by an earlier version may lack a
/// column added since (NULL), or hold one with another type (cast).
fn conform(
    batch: RecordBatch,
    schema: &arrow::datatypes::SchemaRef,
    path: &str,
) -> Result<RecordBatch, StorageError> {
    let corrupt = |message: String| StorageError::Corrupt {
        path: path.into(),
        message,
    };
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(c) if c.data_type() == field.data_type() => Ok(c.clone()),
            Some(c) => {
                arrow::compute::cast(c, field.data_type()).map_err(|e| corrupt(e.to_string()))
            }
            None => Ok(arrow::array::new_null_array(
                field.data_type(),
                batch.num_rows(),
            )),
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| corrupt(e.to_string()))
}

/// The batch with `_account` set to `account`.
fn relabel(batch: RecordBatch, account: &str, path: &str) -> Result<RecordBatch, StorageError> {
    let corrupt = |message: String| StorageError::Corrupt {
        path: path.into(),
        message,
    };
    let index = batch
        .schema()
        .index_of("_account")
        .map_err(|e| corrupt(e.to_string()))?;
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns[index] = Arc::new(StringArray::from(vec![account; batch.num_rows()]));
    RecordBatch::try_new(batch.schema(), columns).map_err(|e| corrupt(e.to_string()))
}
