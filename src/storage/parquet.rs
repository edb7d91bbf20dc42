//! Rolling Parquet parts: zstd, dictionary strings, row groups flushed by size, a new part past
//! the target size. Each part is streamed to the store (multipart), never held whole in memory.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use object_store::buffered::BufWriter;
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::manifest::FileEntry;
use super::{Storage, StorageError};

/// Row groups close at this size or row count, whichever comes first: memory stays bounded.
const ROW_GROUP_BYTES: usize = 8 * 1024 * 1024;
/// What the open row groups of writers working at once may hold together (an extraction writes
/// every stream at once: the row groups were most of its memory).
const CONCURRENT_ROW_GROUPS_BYTES: usize = 40 * 1024 * 1024;

/// The row-group size for one of `writers` writers open at once: within the shared budget,
/// but never so small that readers pay for thousands of row groups.
pub fn row_group_bytes_for(writers: usize) -> usize {
    (CONCURRENT_ROW_GROUPS_BYTES / writers.max(1)).clamp(2 * 1024 * 1024, 16 * 1024 * 1024)
}
/// Upload buffer per open part: S3's minimum multipart part size, so memory stays small while
/// every stream of an account writes at once.
const UPLOAD_BUFFER_BYTES: usize = 5 * 1024 * 1024;
const ROW_GROUP_ROWS: usize = 128 * 1024;

pub struct PartWriter {
    storage: Storage,
    /// Root-relative directory of the parts.
    dir: String,
    run_id: String,
    schema: SchemaRef,
    target_bytes: usize,
    row_group_bytes: usize,
    current: Option<(String, AsyncArrowWriter<BufWriter>, u64)>,
    /// A transform's work file, read back once by the same run: written fast.
    scratch: bool,
    next_part: u32,
    files: Vec<FileEntry>,
}

fn props(row_group_bytes: usize) -> WriterProperties {
    // Min/max of `_raw` would be whole JSON objects, kept per page until the part closes: no
    // statistics there, and short ones elsewhere, so memory does not grow with the file.
    // Nor a dictionary: every `_raw` is unique, so trying one per row group only hashes
    // megabytes of JSON before falling back to plain encoding.
    WriterProperties::builder()
        .set_column_statistics_enabled(ColumnPath::from("_raw"), EnabledStatistics::None)
        .set_column_dictionary_enabled(ColumnPath::from("_raw"), false)
        .set_statistics_truncate_length(Some(64))
        .set_column_index_truncate_length(Some(64))
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(row_group_bytes))
        .build()
}

fn scratch_props(row_group_bytes: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_statistics_truncate_length(Some(64))
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(row_group_bytes))
        .build()
}

impl PartWriter {
    pub fn new(
        storage: Storage,
        dir: String,
        run_id: String,
        schema: SchemaRef,
        target_bytes: usize,
    ) -> PartWriter {
        PartWriter {
            storage,
            dir,
            run_id,
            schema,
            target_bytes,
            row_group_bytes: ROW_GROUP_BYTES,
            current: None,
            scratch: false,
            next_part: 0,
            files: Vec::new(),
        }
    }

    /// Row groups of this size instead of the default (see `row_group_bytes_for`).
    /// Where its parts go (root-relative).
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Snappy and no dictionaries: a work file is read only by the run that wrote it, and then
    /// deleted, so the bytes zstd and dictionaries would save are not worth their time.
    pub fn for_work(mut self) -> PartWriter {
        self.scratch = true;
        self
    }

    pub fn with_row_group_bytes(mut self, bytes: usize) -> PartWriter {
        self.row_group_bytes = bytes;
        self
    }

    fn err(path: &str, e: impl std::fmt::Display) -> StorageError {
        StorageError::Parquet {
            path: path.into(),
            message: e.to_string(),
        }
    }

    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), StorageError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.current.is_none() {
            self.open_part().await?;
        }
        let Some((rel, writer, rows)) = self.current.as_mut() else {
            return Ok(());
        };
        writer.write(batch).await.map_err(|e| Self::err(rel, e))?;
        *rows += batch.num_rows() as u64;
        if writer.bytes_written() + writer.in_progress_size() > self.target_bytes {
            self.close_part().await?;
        }
        Ok(())
    }

    async fn open_part(&mut self) -> Result<(), StorageError> {
        {
            let rel = format!(
                "{}/part-{:05}-{}.parquet",
                self.dir, self.next_part, self.run_id
            );
            self.next_part += 1;
            let object = BufWriter::with_capacity(
                self.storage.object_store(),
                self.storage.path(&rel),
                UPLOAD_BUFFER_BYTES,
            );
            let writer = AsyncArrowWriter::try_new(
                object,
                self.schema.clone(),
                Some(match self.scratch {
                    true => scratch_props(self.row_group_bytes),
                    false => props(self.row_group_bytes),
                }),
            )
            .map_err(|e| Self::err(&rel, e))?;
            self.current = Some((rel, writer, 0));
        }
        Ok(())
    }

    async fn close_part(&mut self) -> Result<(), StorageError> {
        if let Some((rel, writer, rows)) = self.current.take() {
            let meta = writer.close().await.map_err(|e| Self::err(&rel, e))?;
            let bytes = meta
                .row_groups()
                .iter()
                .map(|g| g.compressed_size() as u64)
                .sum();
            self.files.push(FileEntry {
                path: rel,
                rows,
                bytes,
            });
        }
        Ok(())
    }

    /// Like `finish`, but an empty table still gets one (empty) part, so its schema is on record.
    pub async fn finish_at_least_one(mut self) -> Result<Vec<FileEntry>, StorageError> {
        if self.files.is_empty() && self.current.is_none() {
            let empty = RecordBatch::new_empty(self.schema.clone());
            self.open_part().await?;
            if let Some((rel, writer, _)) = self.current.as_mut() {
                writer.write(&empty).await.map_err(|e| Self::err(rel, e))?;
            }
        }
        self.finish().await
    }

    /// Closes the open part; returns every part written.
    pub async fn finish(mut self) -> Result<Vec<FileEntry>, StorageError> {
        self.close_part().await?;
        Ok(self.files)
    }
}
