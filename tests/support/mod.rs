//! A sandbox per test and a thin HTTP client for it.

#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::Value;
use stripelake::sandbox::{self, GenConfig, KeySpec, Sandbox};

/// A fixed sandbox clock (2026-11-18T19:33:20Z) so accounts are the same on every run.
pub const NOW: i64 = 1_795_000_000;
pub const KEY: &str = sandbox::DEFAULT_TEST_KEY;

pub async fn start(seed: u64, scale: f64) -> Sandbox {
    let cfg = GenConfig {
        seed,
        scale,
        now: NOW,
        livemode: false,
    };
    let keys = vec![KeySpec::full(KEY), KeySpec::full(sandbox::DEFAULT_LIVE_KEY)];
    Sandbox::start(cfg, 0, keys).await.expect("sandbox starts")
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

pub async fn get_with(sb: &Sandbox, path: &str, key: Option<&str>) -> Reply {
    let mut req = reqwest::Client::new().get(format!("{}{path}", sb.base_url()));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let res = req.send().await.expect("request completes");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
    Reply {
        status,
        body,
        headers,
    }
}

pub async fn get(sb: &Sandbox, path: &str) -> Value {
    let reply = get_with(sb, path, Some(KEY)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

/// Pages a list with `starting_after` until `has_more` is false; returns every object.
pub async fn page_all(sb: &Sandbox, path: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut cursor = String::new();
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page = get(sb, &format!("{path}{sep}limit={limit}{query}{cursor}")).await;
        let data = page["data"].as_array().expect("data array").clone();
        assert!(data.len() <= limit, "{path}: page larger than limit");
        let more = page["has_more"].as_bool().expect("has_more");
        if let Some(last) = data.last() {
            cursor = format!("&starting_after={}", last["id"].as_str().expect("id"));
        }
        out.extend(data);
        if !more {
            return out;
        }
    }
}

pub fn ids(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect()
}

/// The ids the sandbox holds for a kind, newest first, leaving deleted objects out.
pub fn truth_ids(sb: &Sandbox, kind: sandbox::store::Kind) -> Vec<String> {
    sb.with_account(|a| {
        a.store
            .table(kind)
            .iter()
            .rev()
            .filter(|o| !o.deleted)
            .map(|o| o.id.to_string())
            .collect()
    })
}

/// One raw row as the tests look at it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawRow {
    pub id: String,
    pub raw: String,
    pub deleted: bool,
    pub run_id: String,
}

/// The latest manifest of a table under a local root.
pub fn manifest(root: &std::path::Path, table: &str) -> Option<serde_json::Value> {
    let dir = root.join("_manifests").join(table);
    let mut versions: Vec<_> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    versions.sort();
    let text = std::fs::read_to_string(versions.last()?).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every committed row of a raw table, read through its manifest with the parquet crate.
pub fn read_raw(root: &std::path::Path, stream: &str) -> Vec<RawRow> {
    use arrow::array::{Array, BooleanArray, StringArray};
    let Some(m) = manifest(root, &format!("raw/{stream}")) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for f in m["files"].as_array().expect("files") {
        let path = root.join(f["path"].as_str().expect("path"));
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let col = |n: &str| {
                batch
                    .column_by_name(n)
                    .unwrap_or_else(|| panic!("{stream}: no column {n}"))
                    .clone()
            };
            let raw = col("_raw");
            let raw = raw.as_any().downcast_ref::<StringArray>().expect("utf8");
            let run = col("_run_id");
            let run = run.as_any().downcast_ref::<StringArray>().expect("utf8");
            let deleted = col("_deleted");
            let deleted = deleted
                .as_any()
                .downcast_ref::<BooleanArray>()
                .expect("bool");
            for i in 0..batch.num_rows() {
                let v: Value = serde_json::from_str(raw.value(i)).expect("raw json");
                let id = v["id"].as_str().map(str::to_string).unwrap_or_default();
                rows.push(RawRow {
                    id,
                    raw: raw.value(i).to_string(),
                    deleted: deleted.value(i),
                    run_id: run.value(i).to_string(),
                });
            }
            let _ = raw.len();
        }
    }
    rows
}

/// The logical table: the newest version of each id (later runs win; run ids sort by time).
pub fn logical(rows: &[RawRow]) -> std::collections::BTreeMap<String, RawRow> {
    let mut out: std::collections::BTreeMap<String, RawRow> = std::collections::BTreeMap::new();
    for r in rows {
        match out.get(&r.id) {
            Some(old) if old.run_id > r.run_id => {}
            _ => {
                out.insert(r.id.clone(), r.clone());
            }
        }
    }
    out
}

/// Runs `stripelake extract` against a sandbox into a local directory.
pub async fn extract(
    sb: &Sandbox,
    root: &std::path::Path,
    key: &str,
    now: i64,
    extra: &[&str],
) -> std::process::Output {
    stage(sb, root, key, now, "extract", extra).await
}

/// `extract` or `run` (extract, then the models) against the sandbox, into `root`.
pub async fn stage(
    sb: &Sandbox,
    root: &std::path::Path,
    key: &str,
    now: i64,
    command: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        command,
        "--api-base",
        "",
        "--storage",
        "",
        "--since",
        "2000-01-01",
        "--max-requests-per-second",
        "2000",
    ];
    let base = sb.base_url();
    let storage = format!("file://{}", root.display());
    args[2] = &base;
    args[4] = &storage;
    args.extend_from_slice(extra);
    let dir = tempfile::tempdir().expect("cwd");
    // tokio's process API: the sandbox serves on this same runtime while the binary runs.
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args(&args)
        .current_dir(dir.path())
        .env("STRIPE_API_KEY", key)
        .env("STRIPELAKE_NOW", now.to_string())
        .env("STRIPELAKE_RETRY_BASE_MS", "5")
        .env_remove("STRIPELAKE_CONFIG")
        .output()
        .await
        .expect("binary runs")
}

/// The JSON run summary: the last stdout line.
pub fn summary(out: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "no summary; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(line).expect("summary JSON")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `stripelake <args>` in `dir`, with no API key and no config file from the environment.
pub fn offline(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args(args)
        .current_dir(dir)
        .env_remove("STRIPE_API_KEY")
        .env_remove("STRIPELAKE_CONFIG")
        .output()
        .expect("binary runs")
}

/// The demo's lake at `scale` in `dir/<name>`: its directory.
pub fn demo_lake(dir: &std::path::Path, name: &str, scale: &str) -> std::path::PathBuf {
    let out = offline(dir, &["demo", "--out", name, "--scale", scale]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir.join(name)
}

/// Every file under a directory (none when it does not exist).
pub fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
