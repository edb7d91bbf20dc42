//! One load: every file of the source not loaded before is read, its rows written as Parquet
//! parts under a directory of its own (`raw/visitor_events/file=<hash of its name>/`), and —
//! when its bad-row ratio is within the limit — committed with the others in one manifest
//! version that also drops whatever that directory held before; then the loaded-files state
//! records it. So the committed table holds each file's newest load exactly once, even when a
//! crash between the manifest and the state makes the next run load the file again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::read;
use super::source::{self, SourceFile};
use super::{Mapping, VisitorError, schema};
use crate::config::VisitorsConfig;
use crate::storage::manifest::FileEntry;
use crate::storage::{Change, Part, Storage, Table};

/// What the state remembers of a loaded file: a file whose size or modification time changed
/// is loaded again (and its new rows replace the old ones in staging).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoadedFile {
    pub size: u64,
    pub modified: String,
    pub load_id: String,
    pub rows: u64,
    pub bad_rows: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LoadedFiles {
    files: BTreeMap<String, LoadedFile>,
}

/// A file refused, for too many bad rows or because it cannot be read (a missing column, not
/// CSV): nothing of it was committed, and the other files were.
#[derive(Clone, Debug, Serialize)]
pub struct Refused {
    pub file: String,
    pub reason: String,
    pub rows: u64,
    pub bad_rows: u64,
    pub examples: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    pub source: String,
    pub files_found: usize,
    pub files_loaded: usize,
    pub files_unchanged: usize,
    /// Files of zero bytes: an export with nothing in it is nothing to load (its earlier rows,
    /// if any, are replaced by none).
    pub files_empty: usize,
    pub rows: u64,
    pub bad_rows: u64,
    /// `quarantine/visitor_events/<load_id>.ndjson` when any row was bad.
    pub quarantine: Option<String>,
    pub refused: Vec<Refused>,
    pub max_bad_row_ratio: f64,
}

/// The visitor files' state is one document for the whole table.
const ALL_FILES: &str = "";

/// Loads the files of `source` not loaded before (all of them with `reload`).
pub async fn load(
    storage: &Storage,
    cfg: &VisitorsConfig,
    source: &str,
    options: &BTreeMap<String, String>,
    load_id: &str,
    reload: bool,
) -> Result<LoadReport, VisitorError> {
    let files = source::list(source, cfg.format, options).await?;
    let is_glob = source.contains(['*', '?', '[']);
    if files.is_empty() && !is_glob {
        return Err(VisitorError::Source {
            location: source.into(),
            message: "no CSV, NDJSON or Parquet file found there".into(),
        });
    }
    if files.is_empty() {
        // A daily export's glob may match nothing yet: nothing to load, not a broken setup.
        tracing::warn!(source, "no visitor file matches the glob yet");
    }
    let table = Table::visitor_events(storage);
    let mut state: LoadedFiles = table.load_state(ALL_FILES).await?.unwrap_or_default();
    let mapping = Mapping::new(cfg);
    let mut report = LoadReport {
        source: source.into(),
        files_found: files.len(),
        max_bad_row_ratio: cfg.max_bad_row_ratio,
        ..LoadReport::default()
    };
    let stamp = read::Stamp {
        load_id,
        loaded_at_ms: chrono::Utc::now().timestamp_millis(),
        max_bad_row_ratio: cfg.max_bad_row_ratio,
    };
    // Files that could not be read at all, and the first reason.
    let (mut unreadable, mut first_error) = (0, None);
    let mut committed: Vec<FileEntry> = Vec::new();
    let mut newly: Vec<(String, LoadedFile)> = Vec::new();
    let mut quarantine: Vec<u8> = Vec::new();
    for file in &files {
        let unchanged = state
            .files
            .get(&file.key)
            .is_some_and(|s| s.size == file.size && s.modified == file.modified);
        if unchanged && !reload {
            report.files_unchanged += 1;
            continue;
        }
        if file.size == 0 {
            report.files_empty += 1;
            newly.push((
                file.key.clone(),
                LoadedFile {
                    size: 0,
                    modified: file.modified.clone(),
                    load_id: load_id.into(),
                    rows: 0,
                    bad_rows: 0,
                },
            ));
            continue;
        }
        let (parts, outcome) = match load_file(&table, file, &mapping, stamp).await {
            Ok(loaded) => loaded,
            Err(e @ (VisitorError::Storage(_) | VisitorError::Unavailable { .. })) => {
                return Err(e);
            }
            Err(e) => {
                // One unreadable file does not stop the others.
                tracing::error!(file = %file.name, error = %e, "visitor file refused");
                report.refused.push(Refused {
                    file: file.name.clone(),
                    reason: e.to_string(),
                    rows: 0,
                    bad_rows: 0,
                    examples: Vec::new(),
                });
                unreadable += 1;
                first_error.get_or_insert(e);
                continue;
            }
        };
        quarantine.extend_from_slice(&outcome.quarantine);
        report.bad_rows += outcome.bad_rows;
        let seen = outcome.rows + outcome.bad_rows;
        if seen > 0 && outcome.bad_rows as f64 / seen as f64 > cfg.max_bad_row_ratio {
            tracing::error!(
                file = %file.name,
                rows = seen,
                bad_rows = outcome.bad_rows,
                first = ?outcome.examples,
                "visitor file refused: too many bad rows"
            );
            for p in &parts {
                storage.delete(&p.path).await?;
            }
            let stopped = if outcome.stopped_early {
                ", reading stopped there"
            } else {
                ""
            };
            report.refused.push(Refused {
                file: file.name.clone(),
                reason: format!(
                    "{} of {seen} rows bad{stopped}, more than max_bad_row_ratio = {}",
                    outcome.bad_rows, cfg.max_bad_row_ratio
                ),
                rows: seen,
                bad_rows: outcome.bad_rows,
                examples: outcome.examples,
            });
            continue;
        }
        if outcome.bad_rows > 0 {
            tracing::warn!(file = %file.name, bad_rows = outcome.bad_rows, first = ?outcome.examples, "bad visitor rows quarantined");
        }
        report.rows += outcome.rows;
        report.files_loaded += 1;
        committed.extend(parts);
        newly.push((
            file.key.clone(),
            LoadedFile {
                size: file.size,
                modified: file.modified.clone(),
                load_id: load_id.into(),
                rows: outcome.rows,
                bad_rows: outcome.bad_rows,
            },
        ));
    }
    // Only unreadable files, and nothing else to do: the setup is wrong (a usage error).
    if let Some(e) = first_error
        && unreadable == files.len() - report.files_unchanged
    {
        return Err(e);
    }
    if !quarantine.is_empty() {
        let path = table.quarantine_path(load_id);
        storage.put(&path, quarantine).await?;
        report.quarantine = Some(path);
    }
    // Data files → manifest → state: the commit protocol of every table. The new version drops
    // what a reloaded file held before, and its earlier parts are deleted, so the table's
    // directory holds the table.
    if !newly.is_empty() {
        let replaced: Vec<Part<'_>> = newly
            .iter()
            .map(|(name, _)| Part::SourceFile(name))
            .collect();
        table
            .commit(load_id, &committed, Change::Replace(&replaced))
            .await?;
        state.files.extend(newly);
        table.save_state(ALL_FILES, &state).await?;
    }
    Ok(report)
}

/// Reads one file on a blocking thread while this task writes its batches as Parquet parts.
async fn load_file(
    table: &Table,
    file: &SourceFile,
    mapping: &Mapping,
    stamp: read::Stamp<'_>,
) -> Result<(Vec<FileEntry>, read::FileOutcome), VisitorError> {
    let (local, _spool) = match &file.local {
        Some(p) => (p.clone(), None),
        None => {
            let spool = spool(file).await?;
            (spool.path().to_path_buf(), Some(spool))
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let reader = {
        let (name, format, mapping, load_id) = (
            file.name.clone(),
            file.format,
            mapping.clone(),
            stamp.load_id.to_string(),
        );
        let (loaded_at_ms, max_bad_row_ratio) = (stamp.loaded_at_ms, stamp.max_bad_row_ratio);
        tokio::task::spawn_blocking(move || {
            let stamp = read::Stamp {
                load_id: &load_id,
                loaded_at_ms,
                max_bad_row_ratio,
            };
            read::read_file(&local, &name, format, &mapping, stamp, &tx)
        })
    };
    let mut writer = table.writer(
        Part::SourceFile(&file.key),
        stamp.load_id,
        schema(),
        128 << 20,
    );
    let mut write_error = None;
    while let Some(batch) = rx.recv().await {
        if let Err(e) = writer.write(&batch).await {
            write_error = Some(e);
            break;
        }
    }
    // Dropping the receiver ends the reader early when the writer failed.
    drop(rx);
    let outcome = reader.await.map_err(|e| VisitorError::Format {
        file: file.name.clone(),
        message: format!("reader stopped: {e}"),
    })??;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let parts = writer.finish().await?;
    Ok((parts, outcome))
}

/// A local copy of a file on an object store, streamed to a temporary file.
async fn spool(file: &SourceFile) -> Result<tempfile::NamedTempFile, VisitorError> {
    use futures::StreamExt;
    use object_store::ObjectStoreExt;
    use std::io::Write;
    let io = |e: std::io::Error| VisitorError::Format {
        file: file.name.clone(),
        message: format!("cannot copy to a temporary file: {e}"),
    };
    let mut tmp = tempfile::NamedTempFile::new().map_err(io)?;
    let store = file.store.object_store();
    let unavailable = |e: object_store::Error| VisitorError::Unavailable {
        location: file.name.clone(),
        message: format!("cannot download: {e}"),
    };
    let got = store
        .get(&file.store.path(&file.rel))
        .await
        .map_err(unavailable)?;
    let mut stream = got.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(unavailable)?;
        tmp.write_all(&chunk).map_err(io)?;
    }
    tmp.flush().map_err(io)?;
    Ok(tmp)
}
