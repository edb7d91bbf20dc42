//! A run's work area: the staging and intermediate models it materialises, as Parquet, and the
//! files its sorts, aggregations and joins spill. Nothing of it outlives the run: the runner
//! removes it when the run ends, whatever the outcome, and `vacuum` removes what a killed run
//! left (`sweep`).
//!
//! Where: `[transform] work_dir` (a local directory) when set, else the lake's `_work/`. Spill
//! files are local whatever the lake: `<work_dir>/<run_id>/spill`, else `<lake>/_work/<run_id>/
//! spill` on a local lake, else `<system temp>/stripelake-work/<run_id>/spill`.

use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;

use super::TransformError;
use crate::storage::manifest::FileEntry;
use crate::storage::parquet::PartWriter;
use crate::storage::{Storage, StorageError};

/// The lake's folder of work areas, one per run.
pub const LAKE_DIR: &str = "_work";
/// Where a work area is registered with DataFusion when it is not the lake.
const LOCAL_URL: &str = "stripelake-work://local";
/// An intermediate's part size: parts are read back by as many partitions as the session has.
const PART_BYTES: usize = 64 * 1024 * 1024;

pub struct WorkArea {
    /// The store that holds the intermediates (the lake, or the local `work_dir`).
    storage: Storage,
    /// The URL `storage` is registered under with DataFusion.
    url: &'static str,
    /// This run's folder, relative to `storage`'s root.
    dir: String,
    /// This run's local spill directory, under a memory budget (without one nothing spills).
    spill: Option<PathBuf>,
}

impl WorkArea {
    pub fn new(
        lake: &Storage,
        work_dir: Option<&Path>,
        run_id: &str,
        spills: bool,
    ) -> Result<WorkArea, TransformError> {
        let (storage, url, dir) = match work_dir {
            Some(local) => {
                let url = format!("file://{}", local.display());
                let storage = Storage::open(&url, &Default::default())
                    .map_err(|e| setup(local, e.to_string()))?;
                (storage, LOCAL_URL, run_id.to_string())
            }
            None => (
                lake.clone(),
                super::tables::LAKE,
                format!("{LAKE_DIR}/{run_id}"),
            ),
        };
        let spill = spills.then(|| spill_root(lake, work_dir).join(run_id).join("spill"));
        if let Some(dir) = &spill {
            std::fs::create_dir_all(dir).map_err(|e| setup(dir, e.to_string()))?;
        }
        Ok(WorkArea {
            storage,
            url,
            dir,
            spill,
        })
    }

    /// The directory DataFusion's disk manager spills under.
    pub fn spill_dir(&self) -> Option<&Path> {
        self.spill.as_deref()
    }

    /// Makes the work store readable by the session (the lake already is).
    pub fn register_store(&self, ctx: &SessionContext) -> Result<(), TransformError> {
        if self.url != super::tables::LAKE {
            let url =
                url::Url::parse(self.url).map_err(|e| TransformError::Setup(e.to_string()))?;
            ctx.register_object_store(&url, self.storage.object_store());
        }
        Ok(())
    }

    /// Parts for one model's rows, written fast (Snappy, no dictionaries): only this run reads
    /// them.
    pub fn writer(&self, model: &str, run_id: &str, schema: SchemaRef) -> PartWriter {
        PartWriter::new(
            self.storage.clone(),
            format!("{}/{model}", self.dir),
            run_id.into(),
            schema,
            PART_BYTES,
        )
        .for_work()
    }

    /// Registers a model's written parts as its table.
    pub async fn register(
        &self,
        ctx: &SessionContext,
        model: &str,
        files: &[FileEntry],
        schema: SchemaRef,
    ) -> Result<(), TransformError> {
        super::tables::register_files_at(ctx, &self.storage, self.url, model, files, Some(schema))
            .await
    }

    /// Deletes a model's parts once nothing reads it any more.
    pub async fn forget(&self, model: &str) -> Result<(), StorageError> {
        for path in self.storage.list(&format!("{}/{model}/", self.dir)).await? {
            self.storage.delete(&path).await?;
        }
        Ok(())
    }

    /// Deletes the whole work area: every part and the spill directory.
    pub async fn remove(&self) -> Result<(), StorageError> {
        for path in self.storage.list(&format!("{}/", self.dir)).await? {
            self.storage.delete(&path).await?;
        }
        if let Some(run_dir) = self.spill.as_deref().and_then(Path::parent) {
            remove_dir(run_dir);
        }
        if let Some(local) = self.storage.local_root() {
            remove_dir(&local.join(&self.dir));
        }
        Ok(())
    }
}

fn setup(path: &Path, message: String) -> TransformError {
    TransformError::Setup(format!(
        "cannot use the work directory {} ({message}): set `[transform] work_dir` to a \
         writable local directory",
        path.display()
    ))
}

/// A directory and everything in it; one that is already gone is fine.
fn remove_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), error = %e, "Work directory not removed.");
    }
}

/// The local directory that holds each run's spill folder.
pub fn spill_root(lake: &Storage, work_dir: Option<&Path>) -> PathBuf {
    match (work_dir, lake.local_root()) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(root)) => root.join(LAKE_DIR),
        (None, None) => std::env::temp_dir().join("stripelake-work"),
    }
}

/// What `sweep` removed.
#[derive(Debug, Default, serde::Serialize)]
pub struct Swept {
    pub work_files: usize,
    pub work_dirs: usize,
    pub kept_too_young: usize,
}

/// Removes the work areas of runs that ended without removing theirs (killed): lake files under
/// `_work/` and local run folders whose newest file is at least `min_age` old — a younger one may
/// belong to a run in progress.
pub async fn sweep(
    lake: &Storage,
    work_dir: Option<&Path>,
    min_age: chrono::Duration,
    dry_run: bool,
) -> Result<Swept, StorageError> {
    let now = chrono::Utc::now();
    let mut swept = Swept::default();
    // Local run folders first: on a local lake they hold the lake's `_work/` files too, and
    // deleting those one by one would make the folders look young.
    let root = spill_root(lake, work_dir);
    let runs = std::fs::read_dir(&root).into_iter().flatten().flatten();
    for run in runs.map(|e| e.path()).filter(|p| p.is_dir()) {
        let newest = newest_modification(&run).map(chrono::DateTime::<chrono::Utc>::from);
        if newest.is_some_and(|t| now - t < min_age) {
            swept.kept_too_young += 1;
            continue;
        }
        if !dry_run {
            remove_dir(&run);
        }
        swept.work_dirs += 1;
    }
    for (path, modified, _) in lake.list_meta(&format!("{LAKE_DIR}/")).await? {
        if now - modified < min_age {
            swept.kept_too_young += 1;
            continue;
        }
        if !dry_run {
            lake.delete(&path).await?;
        }
        swept.work_files += 1;
    }
    Ok(swept)
}

/// The newest modification time of a directory or anything under it.
fn newest_modification(dir: &Path) -> Option<std::time::SystemTime> {
    let own = std::fs::metadata(dir).and_then(|m| m.modified()).ok();
    let children = std::fs::read_dir(dir).into_iter().flatten().flatten();
    children
        .map(|e| e.path())
        .filter_map(|p| match p.is_dir() {
            true => newest_modification(&p),
            false => std::fs::metadata(&p).and_then(|m| m.modified()).ok(),
        })
        .chain(own)
        .max()
}
