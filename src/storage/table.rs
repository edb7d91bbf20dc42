//! One table of the lake, and the only place its paths are spelled: where its parts go, how a
//! version is committed (data files → create-only manifest), what follows a commit (deleting the
//! files a replacing commit superseded; cursor state after the manifest), and the other files the
//! lake holds (run summaries, quarantine, state).
//!
//! ```text
//! raw/<stream>/account=<acct>/part-<n>-<run_id>.parquet     a raw stream, one directory per account
//! raw/visitor_events/file=<hash>/part-<n>-<load_id>.parquet  visitor events, one per source file
//! marts/<model>/run=<run_id>/part-<n>-<run_id>.parquet       a mart version, in a folder of its own
//! marts/<model>/LATEST                                        `run=<run_id>`: the committed one
//! _manifests/<table>/<version>.json                          committed versions
//! _state/<acct>/<stream>.json, _state/visitor_events/files.json
//! _runs/<run_id>.json, quarantine/visitor_events/<load_id>.ndjson
//! ```

use arrow::datatypes::SchemaRef;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::manifest::{self, FileEntry, Manifest};
use super::parquet::PartWriter;
use super::{Storage, StorageError};

/// Top-level directories that hold table data (what `vacuum` walks).
pub const DATA_DIRS: [&str; 2] = ["raw/", "marts/"];
/// Where manifests live.
pub const MANIFEST_DIR: &str = "_manifests/";

const VISITOR_EVENTS: &str = "visitor_events";
/// The file in a mart's folder that names its committed version's folder.
pub const LATEST: &str = "LATEST";
/// How long a replaced version's files stay for readers that resolved it (at least until the
/// next commit, and this long after that); `vacuum`'s default minimum age is the same.
pub const GRACE_MINUTES: i64 = 60;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Raw,
    Mart,
    VisitorEvents,
}

/// A table of the lake.
#[derive(Clone, Debug)]
pub struct Table {
    storage: Storage,
    kind: Kind,
    /// The stream or model name.
    name: String,
    /// `raw/<stream>` or `marts/<model>`: the manifest's table id.
    id: String,
}

/// The part of a table a writer fills and a replacing commit replaces.
#[derive(Clone, Copy, Debug)]
pub enum Part<'a> {
    /// One Stripe account of a raw stream.
    Account(&'a str),
    /// One source file of the visitor events (its name or URL).
    SourceFile(&'a str),
    /// A mart.
    Whole,
}

/// How a commit changes the table's file list.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// New files beside the committed ones.
    Append,
    /// The new files replace what these parts held.
    Replace(&'a [Part<'a>]),
}

impl Table {
    pub fn raw(storage: &Storage, stream: &str) -> Table {
        Table::new(storage, Kind::Raw, stream, format!("raw/{stream}"))
    }

    pub fn mart(storage: &Storage, model: &str) -> Table {
        Table::new(storage, Kind::Mart, model, format!("marts/{model}"))
    }

    pub fn visitor_events(storage: &Storage) -> Table {
        Table::new(
            storage,
            Kind::VisitorEvents,
            VISITOR_EVENTS,
            format!("raw/{VISITOR_EVENTS}"),
        )
    }

    fn new(storage: &Storage, kind: Kind, name: &str, id: String) -> Table {
        Table {
            storage: storage.clone(),
            kind,
            name: name.into(),
            id,
        }
    }

    /// `raw/<stream>` or `marts/<model>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The directory of a part's files (root-relative).
    fn dir(&self, part: Part<'_>) -> String {
        match part {
            Part::Account(account) => format!("{}/account={account}", self.id),
            Part::SourceFile(name) => format!("{}/file={:016x}", self.id, fnv1a(name)),
            Part::Whole => self.id.clone(),
        }
    }

    /// A writer of Parquet parts for one part of the table; commit what it returns. A mart's
    /// version gets a folder of its own: a glob of the folder `LATEST` names is exactly the
    /// committed table, whatever a crashed run left beside it.
    pub fn writer(
        &self,
        part: Part<'_>,
        run_id: &str,
        schema: SchemaRef,
        target_bytes: usize,
    ) -> PartWriter {
        let dir = match self.kind {
            Kind::Mart => format!("{}/run={run_id}", self.dir(part)),
            _ => self.dir(part),
        };
        PartWriter::new(
            self.storage.clone(),
            dir,
            run_id.into(),
            schema,
            target_bytes,
        )
    }

    /// The latest committed version.
    pub async fn latest(&self) -> Result<Option<Manifest>, StorageError> {
        manifest::latest(&self.storage, &self.id).await
    }

    /// The committed files of one part.
    pub async fn files_of(&self, part: Part<'_>) -> Result<Vec<FileEntry>, StorageError> {
        let prefix = format!("{}/", self.dir(part));
        let files = self.committed_files().await?;
        Ok(files
            .into_iter()
            .filter(|f| f.path.starts_with(&prefix))
            .collect())
    }

    /// The files of the latest committed version (none before the first commit).
    pub async fn committed_files(&self) -> Result<Vec<FileEntry>, StorageError> {
        Ok(self.latest().await?.map(|m| m.files).unwrap_or_default())
    }

    /// Commits a new version (and points a mart's `LATEST` at it). The files it replaces stay:
    /// a reader that resolved the previous version reads it whole. A replacing commit of a mart
    /// or of visitor files then deletes the files of the version before the previous one, once
    /// the previous one is [`GRACE_MINUTES`] old; `vacuum` removes every other leftover.
    pub async fn commit(
        &self,
        run_id: &str,
        files: &[FileEntry],
        change: Change<'_>,
    ) -> Result<Manifest, StorageError> {
        let (prefixes, replacing) = match change {
            Change::Append => (Vec::new(), false),
            Change::Replace(parts) => (
                parts.iter().map(|p| format!("{}/", self.dir(*p))).collect(),
                true,
            ),
        };
        let committed = manifest::commit(
            &self.storage,
            &self.id,
            run_id,
            files,
            if replacing {
                manifest::Change::ReplacePrefixes(&prefixes)
            } else {
                manifest::Change::Append
            },
        )
        .await?;
        if self.kind == Kind::Mart {
            self.point_latest().await?;
        }
        if replacing && self.kind != Kind::Raw {
            self.clean(&committed).await?;
        }
        Ok(committed)
    }

    /// Writes `LATEST` for the newest committed version, again if a concurrent commit moved
    /// on meanwhile, so it never stays behind the manifests.
    pub async fn point_latest(&self) -> Result<(), StorageError> {
        let path = format!("{}/{LATEST}", self.id);
        let mut pointed: Option<u64> = None;
        loop {
            let Some(newest) = self.latest().await? else {
                return Ok(());
            };
            if pointed == Some(newest.version) {
                return Ok(());
            }
            let body = format!("run={}", newest.run_id).into_bytes();
            self.storage.put(&path, body).await?;
            pointed = Some(newest.version);
        }
    }

    /// After committing version `v`: deletes the files version `v − 2` named that neither
    /// `v − 1` nor `v` names, once `v − 1` has been committed for the grace period (readers that
    /// resolved `v − 2` have had that long). Earlier leftovers and orphans are `vacuum`'s.
    async fn clean(&self, committed: &Manifest) -> Result<(), StorageError> {
        let (Some(v1), Some(v2)) = (
            committed.version.checked_sub(1),
            committed.version.checked_sub(2),
        ) else {
            return Ok(());
        };
        let (Some(previous), Some(older)) = (
            manifest::read(&self.storage, &self.id, v1).await?,
            manifest::read(&self.storage, &self.id, v2).await?,
        ) else {
            return Ok(());
        };
        let replaced_at = chrono::DateTime::parse_from_rfc3339(&previous.committed_at)
            .map(|t| t.with_timezone(&chrono::Utc));
        let cutoff = chrono::Utc::now() - chrono::Duration::minutes(GRACE_MINUTES);
        if !replaced_at.is_ok_and(|t| t < cutoff) {
            return Ok(());
        }
        let keep: std::collections::HashSet<&str> = committed
            .files
            .iter()
            .chain(&previous.files)
            .map(|f| f.path.as_str())
            .collect();
        for f in older
            .files
            .iter()
            .filter(|f| !keep.contains(f.path.as_str()))
        {
            self.storage.delete(&f.path).await?;
        }
        Ok(())
    }

    /// Where the state of one account of a raw stream (or of the visitor files) lives.
    fn state_path(&self, account: &str) -> String {
        match self.kind {
            Kind::VisitorEvents => format!("_state/{VISITOR_EVENTS}/files.json"),
            _ => format!("_state/{account}/{}.json", self.name),
        }
    }

    /// The state saved after a commit (cursors, loaded files); `None` before the first.
    pub async fn load_state<T: DeserializeOwned>(
        &self,
        account: &str,
    ) -> Result<Option<T>, StorageError> {
        let path = self.state_path(account);
        match self.storage.get(&path).await? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StorageError::Corrupt {
                        path,
                        message: format!("{e}; delete it to extract or load that table again"),
                    })
            }
        }
    }

    /// Saves the state: only ever after the manifest it describes is committed.
    pub async fn save_state<T: Serialize>(
        &self,
        account: &str,
        state: &T,
    ) -> Result<(), StorageError> {
        let path = self.state_path(account);
        let body = serde_json::to_vec_pretty(state).map_err(|e| StorageError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.storage.put(&path, body).await
    }

    /// Removes one account's state (after it moved).
    pub async fn delete_state(&self, account: &str) -> Result<(), StorageError> {
        self.storage.delete(&self.state_path(account)).await
    }

    /// Where one load's bad rows go (visitor events).
    pub fn quarantine_path(&self, load_id: &str) -> String {
        format!("quarantine/{}/{load_id}.ndjson", self.name)
    }
}

/// Whether the lake holds any committed raw table (extracted or loaded).
pub async fn has_raw_tables(storage: &Storage) -> Result<bool, StorageError> {
    Ok(!storage
        .list(&format!("{MANIFEST_DIR}raw/"))
        .await?
        .is_empty())
}

/// Where a run's summary is written.
pub fn run_summary_path(run_id: &str) -> String {
    format!("_runs/{run_id}.json")
}

/// A stable hash of a source file's name (FNV-1a, 64 bits): every load of the file lands under
/// the same directory.
fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::manifest::file;
    use arrow::datatypes::Schema;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_replaced_version_stays_for_readers_and_latest_names_the_new_one() {
        let s = Storage::open("memory://", &Default::default()).expect("store");
        let mart = Table::mart(&s, "m");
        let (old, new) = ("marts/m/run=r1/a.parquet", "marts/m/run=r2/a.parquet");
        s.put(old, b"x".to_vec()).await.expect("put");
        mart.commit("r1", &[file(old)], Change::Append)
            .await
            .expect("v1");
        s.put(new, b"y".to_vec()).await.expect("put");
        let v2 = mart
            .commit("r2", &[file(new)], Change::Replace(&[Part::Whole]))
            .await
            .expect("v2");
        assert_eq!(v2.files, [file(new)]);
        // The previous version stays for readers that resolved it; LATEST names the new one.
        assert_eq!(
            s.list("marts/m/").await.expect("list"),
            ["marts/m/LATEST", old, new]
        );
        let latest = s
            .get("marts/m/LATEST")
            .await
            .expect("get")
            .expect("pointer");
        assert_eq!(&latest[..], b"run=r2");
        let writer = mart.writer(Part::Whole, "r3", Arc::new(Schema::empty()), 1);
        assert_eq!(writer.dir(), "marts/m/run=r3");

        let raw = Table::raw(&s, "prices");
        let a = "raw/prices/account=a/p1.parquet";
        s.put(a, b"x".to_vec()).await.expect("put");
        raw.commit("r1", &[file(a)], Change::Append)
            .await
            .expect("v1");
        let b = "raw/prices/account=a/p2.parquet";
        s.put(b, b"y".to_vec()).await.expect("put");
        let v2 = raw
            .commit("r2", &[file(b)], Change::Replace(&[Part::Account("a")]))
            .await
            .expect("v2");
        assert_eq!(v2.files, [file(b)]);
        assert_eq!(s.list("raw/prices/").await.expect("list").len(), 2);
    }

    #[test]
    fn every_path_comes_from_the_layout() {
        let s = Storage::open("memory://", &Default::default()).expect("store");
        let raw = Table::raw(&s, "charges");
        assert_eq!(
            raw.dir(Part::Account("acct_1")),
            "raw/charges/account=acct_1"
        );
        assert_eq!(raw.state_path("acct_1"), "_state/acct_1/charges.json");
        let visitors = Table::visitor_events(&s);
        assert_eq!(visitors.id(), "raw/visitor_events");
        assert_eq!(
            visitors.state_path("ignored"),
            "_state/visitor_events/files.json"
        );
        assert!(
            visitors
                .dir(Part::SourceFile("exports/a.csv"))
                .starts_with("raw/visitor_events/file=")
        );
        assert_eq!(
            visitors.quarantine_path("run1"),
            "quarantine/visitor_events/run1.ndjson"
        );
        assert_eq!(
            Table::mart(&s, "mrr_daily").dir(Part::Whole),
            "marts/mrr_daily"
        );
        assert_eq!(run_summary_path("r"), "_runs/r.json");
    }
}
