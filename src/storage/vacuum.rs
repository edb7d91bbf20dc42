//! `stripelake vacuum`: removes data files no manifest version names — the parts a crashed run
//! wrote before it could commit. Files younger than `min_age` are kept, so a run in progress
//! (whose parts are not committed yet) is never touched.

use std::collections::HashSet;

use serde::Serialize;

use super::manifest::Manifest;
use super::table::{DATA_DIRS, MANIFEST_DIR};
use super::{Storage, StorageError};

#[derive(Debug, Serialize, Default)]
pub struct VacuumReport {
    pub files_checked: usize,
    pub orphans: usize,
    pub orphan_bytes: u64,
    pub deleted: usize,
    pub kept_too_young: usize,
    pub dry_run: bool,
}

pub async fn vacuum(
    storage: &Storage,
    min_age: chrono::Duration,
    dry_run: bool,
) -> Result<VacuumReport, StorageError> {
    let mut referenced: HashSet<String> = HashSet::new();
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
        referenced.extend(manifest.files.into_iter().map(|f| f.path));
    }
    let now = chrono::Utc::now();
    let mut report = VacuumReport {
        dry_run,
        ..VacuumReport::default()
    };
    for prefix in DATA_DIRS {
        for (path, modified, size) in storage.list_meta(prefix).await? {
            report.files_checked += 1;
            if referenced.contains(&path) {
                continue;
            }
            report.orphans += 1;
            report.orphan_bytes += size;
            if now - modified < min_age {
                report.kept_too_young += 1;
                continue;
            }
            if !dry_run {
                storage.delete(&path).await?;
                report.deleted += 1;
                tracing::info!(path, "Orphan file deleted.");
            }
        }
    }
    Ok(report)
}
