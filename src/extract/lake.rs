//! What the lake already holds of a stream, for the reconciliations a listing alone cannot do.

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, BooleanArray, StringArray, TimestampMillisecondArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::storage::{Part, Storage, StorageError, Table};

/// The ids whose newest stored version (by `_extracted_at`, then `_run_id`, as staging orders
/// them) in one account is not a tombstone.
pub async fn live_ids(
    storage: &Storage,
    stream: &str,
    account: &str,
) -> Result<HashSet<String>, StorageError> {
    let files = Table::raw(storage, stream)
        .files_of(Part::Account(account))
        .await?;
    let mut newest: HashMap<String, (i64, String, bool)> = HashMap::new();
    for file in files {
        let corrupt = |message: String| StorageError::Corrupt {
            path: file.path.clone(),
            message,
        };
        let bytes = storage
            .get(&file.path)
            .await?
            .ok_or_else(|| corrupt("listed in the manifest but missing".into()))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| corrupt(e.to_string()))?;
        let wanted = ["id", "_extracted_at", "_run_id", "_deleted"];
        let mask = ProjectionMask::columns(builder.parquet_schema(), wanted);
        let reader = builder
            .with_projection(mask)
            .build()
            .map_err(|e| corrupt(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| corrupt(e.to_string()))?;
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| corrupt(format!("no column `{name}`")))
            };
            let (ids, at, runs, deleted) = (
                column("id")?.as_any().downcast_ref::<StringArray>(),
                column("_extracted_at")?
                    .as_any()
                    .downcast_ref::<TimestampMillisecondArray>(),
                column("_run_id")?.as_any().downcast_ref::<StringArray>(),
                column("_deleted")?.as_any().downcast_ref::<BooleanArray>(),
            );
            let (Some(ids), Some(at), Some(runs), Some(deleted)) = (ids, at, runs, deleted) else {
                return Err(corrupt("unexpected column types".into()));
            };
            for i in 0..batch.num_rows() {
                if ids.is_null(i) {
                    continue;
                }
                let version = (at.value(i), runs.value(i).to_string(), deleted.value(i));
                let entry = newest.entry(ids.value(i).to_string());
                let slot = entry.or_insert_with(|| version.clone());
                if (version.0, &version.1) > (slot.0, &slot.1) {
                    *slot = version;
                }
            }
        }
    }
    Ok(newest
        .into_iter()
        .filter(|(_, (_, _, deleted))| !deleted)
        .map(|(id, _)| id)
        .collect())
}
