//! `stripelake vacuum`: removes data files the current version of their table does not name —
//! the parts a crashed run wrote before it could commit, and the files a replacing commit
//! superseded (a full refresh, a mart, a reloaded visitor file). A file is kept until it is
//! `min_age` old (an orphan: since it was written, as a run in progress has uncommitted parts)
//! or until `min_age` has passed since the version that superseded it was committed (a reader
//! that resolved an earlier version still reads it whole).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::manifest::Manifest;
use super::table::{DATA_DIRS, MANIFEST_DIR};
use super::{Storage, StorageError};

#[derive(Debug, Serialize, Default)]
pub struct VacuumReport {
    pub files_checked: usize,
    /// Files no manifest version names.
    pub orphans: usize,
    /// Files only earlier versions name.
    pub superseded: usize,
    pub orphan_bytes: u64,
    pub deleted: usize,
    pub kept_too_young: usize,
    pub dry_run: bool,
}

/// What the manifests say of a file.
enum Standing {
    /// The latest version of its table names it.
    Current,
    /// Only earlier versions do; superseded at this time.
    Superseded(chrono::DateTime<chrono::Utc>),
}

pub async fn vacuum(
    storage: &Storage,
    min_age: chrono::Duration,
    dry_run: bool,
) -> Result<VacuumReport, StorageError> {
    let (standing, tables) = standings(storage).await?;
    // A mart's LATEST may lag its manifests (a crash between the two): point it right before
    // the files it named can go.
    for model in tables.iter().filter_map(|t| t.strip_prefix("marts/")) {
        super::Table::mart(storage, model).point_latest().await?;
    }
    let now = chrono::Utc::now();
    let mut report = VacuumReport {
        dry_run,
        ..VacuumReport::default()
    };
    for prefix in DATA_DIRS {
        for (path, modified, size) in storage.list_meta(prefix).await? {
            if !path.ends_with(".parquet") {
                continue;
            }
            report.files_checked += 1;
            let since = match standing.get(&path) {
                Some(Standing::Current) => continue,
                Some(Standing::Superseded(at)) => {
                    report.superseded += 1;
                    *at
                }
                None => {
                    report.orphans += 1;
                    report.orphan_bytes += size;
                    modified
                }
            };
            if now - since < min_age {
                report.kept_too_young += 1;
                continue;
            }
            if !dry_run {
                storage.delete(&path).await?;
                report.deleted += 1;
                tracing::info!(path, "Unreferenced file deleted.");
            }
        }
    }
    Ok(report)
}

/// Every file any manifest names: current, or superseded since the commit of the first
/// version that no longer named it; and the tables.
async fn standings(
    storage: &Storage,
) -> Result<(HashMap<String, Standing>, Vec<String>), StorageError> {
    let mut tables: BTreeMap<String, Vec<Manifest>> = BTreeMap::new();
    for path in storage.list(MANIFEST_DIR).await? {
        if !path.ends_with(".json") {
            continue;
        }
        let Some(bytes) = storage.get(&path).await? else {
            continue;
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?;
        tables
            .entry(manifest.table.clone())
            .or_default()
            .push(manifest);
    }
    let mut standing = HashMap::new();
    for versions in tables.values_mut() {
        versions.sort_by_key(|m| m.version);
        // Walking from the newest: a file's standing is set by the newest version naming it.
        let mut newer_commit: Option<chrono::DateTime<chrono::Utc>> = None;
        for m in versions.iter().rev() {
            for f in &m.files {
                standing
                    .entry(f.path.clone())
                    .or_insert(match newer_commit {
                        None => Standing::Current,
                        Some(at) => Standing::Superseded(at),
                    });
            }
            newer_commit = chrono::DateTime::parse_from_rfc3339(&m.committed_at)
                .map(|t| t.with_timezone(&chrono::Utc))
                .ok()
                .or(newer_commit);
        }
    }
    Ok((standing, tables.into_keys().collect()))
}
