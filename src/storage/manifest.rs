//! Table manifests: the committed file list of every table version, written create-only so two
//! writers can never both commit version N (the loser re-reads and tries N+1).

use serde::{Deserialize, Serialize};

use super::{Storage, StorageError};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// `raw/<stream>` or `marts/<model>`.
    pub table: String,
    pub version: u64,
    pub run_id: String,
    pub committed_at: String,
    /// Every file of this table version: readers use exactly these.
    pub files: Vec<FileEntry>,
    /// What this version added.
    pub added: Vec<String>,
}

/// How a commit changes the file list.
pub enum Change<'a> {
    /// Add files to the table.
    Append,
    /// Replace the files under any of these prefixes (an account's full refresh, a mart, the
    /// visitor files loaded again).
    ReplacePrefixes(&'a [String]),
}

/// Manifests are found only through [`super::Table`]; these spell their paths.
fn dir(table: &str) -> String {
    format!("_manifests/{table}/")
}

fn version_path(table: &str, version: u64) -> String {
    format!("_manifests/{table}/{version:020}.json")
}

pub async fn latest(storage: &Storage, table: &str) -> Result<Option<Manifest>, StorageError> {
    let listed = storage.list(&dir(table)).await?;
    let newest = listed
        .iter()
        .filter_map(|p| {
            p.rsplit('/')
                .next()?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()
        })
        .max();
    let Some(version) = newest else {
        return Ok(None);
    };
    read(storage, table, version)
        .await?
        .map(Some)
        .ok_or_else(|| StorageError::Corrupt {
            path: version_path(table, version),
            message: "listed but missing".into(),
        })
}

/// One version of a table, if it exists.
pub async fn read(
    storage: &Storage,
    table: &str,
    version: u64,
) -> Result<Option<Manifest>, StorageError> {
    let path = version_path(table, version);
    let Some(bytes) = storage.get(&path).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StorageError::Corrupt {
            path,
            message: format!(
                "not a manifest ({e}): restore the file from a backup, or delete it so the \
                 version before it is the table again (its files are still listed there)"
            ),
        })
}

/// Commits a new version: the previous files changed by `change`, plus `added`.
pub async fn commit(
    storage: &Storage,
    table: &str,
    run_id: &str,
    added: &[FileEntry],
    change: Change<'_>,
) -> Result<Manifest, StorageError> {
    loop {
        let previous = latest(storage, table).await?;
        let version = previous.as_ref().map_or(1, |m| m.version + 1);
        let mut files: Vec<FileEntry> = previous.map(|m| m.files).unwrap_or_default();
        match &change {
            Change::Append => {}
            Change::ReplacePrefixes(prefixes) => {
                files.retain(|f| !prefixes.iter().any(|p| f.path.starts_with(p.as_str())))
            }
        }
        files.extend(added.iter().cloned());
        let manifest = Manifest {
            table: table.into(),
            version,
            run_id: run_id.into(),
            committed_at: chrono::Utc::now().to_rfc3339(),
            files,
            added: added.iter().map(|f| f.path.clone()).collect(),
        };
        let body = serde_json::to_vec_pretty(&manifest).map_err(|e| StorageError::Corrupt {
            path: table.into(),
            message: e.to_string(),
        })?;
        match storage
            .put_create(&version_path(table, version), body)
            .await
        {
            Ok(()) => return Ok(manifest),
            Err(StorageError::AlreadyExists { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A one-row, one-byte file entry for tests.
#[cfg(test)]
pub(crate) fn file(path: &str) -> FileEntry {
    FileEntry {
        path: path.into(),
        rows: 1,
        bytes: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn versions_accumulate_and_replace_per_prefix() {
        let s = Storage::open("memory://", &Default::default()).expect("store");
        commit(
            &s,
            "raw/prices",
            "r1",
            &[
                file("raw/prices/account=a/p1"),
                file("raw/prices/account=b/p1"),
            ],
            Change::Append,
        )
        .await
        .expect("v1");
        let v2 = commit(
            &s,
            "raw/prices",
            "r2",
            &[file("raw/prices/account=a/p2")],
            Change::ReplacePrefixes(&["raw/prices/account=a/".to_string()]),
        )
        .await
        .expect("v2");
        assert_eq!(v2.version, 2);
        let paths: Vec<&str> = v2.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["raw/prices/account=b/p1", "raw/prices/account=a/p2"]
        );
        assert_eq!(latest(&s, "raw/prices").await.expect("latest"), Some(v2));
    }

    #[tokio::test]
    async fn concurrent_writers_never_lose_a_commit() {
        let s = Storage::open("memory://", &Default::default()).expect("store");
        let writers = (0..8).map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                commit(
                    &s,
                    "raw/x",
                    &format!("r{i}"),
                    &[file(&format!("raw/x/f{i}"))],
                    Change::Append,
                )
                .await
            })
        });
        for w in futures::future::join_all(writers).await {
            w.expect("join").expect("commit");
        }
        let last = latest(&s, "raw/x").await.expect("latest").expect("some");
        assert_eq!((last.version, last.files.len()), (8, 8));
    }
}
