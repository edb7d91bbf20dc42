//! `run` through the binary when parts of it fail: the stdout summary and `_runs/<run_id>.json`
//! are one document, list every stage (run or skipped) with its own status, and carry the
//! process's exit code.

use std::path::Path;

use serde_json::Value;
use stripelake::sandbox::{KeySpec, Knobs, Sandbox};
use stripelake::stripe::STREAMS;

use crate::support::{self, KEY, NOW};

/// Runs `stripelake run` into `root`; checks that the printed and the written summary agree with
/// each other and with the process, and returns the exit code and the summary.
async fn run(sb: &Sandbox, root: &Path, key: &str, extra: &[&str]) -> (i32, Value) {
    let out = support::stage(sb, root, key, NOW, "run", extra).await;
    let code = out.status.code().expect("an exit code");
    let printed = support::summary(&out);
    let run_id = printed["run_id"].as_str().expect("run id");
    let runs: Vec<_> = std::fs::read_dir(root.join("_runs"))
        .expect("_runs/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(runs.contains(&format!("{run_id}.json")), "{runs:?}");
    let written: Value = serde_json::from_slice(
        &std::fs::read(root.join("_runs").join(format!("{run_id}.json"))).expect("run file"),
    )
    .expect("run file JSON");
    assert_eq!(printed, written, "stdout and _runs/{run_id}.json differ");
    assert_eq!(printed["exit_code"], code, "{printed}");
    assert_eq!(printed["status"] == "ok", code == 0, "{printed}");
    let stages: Vec<&str> = printed["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["stage"].as_str().expect("stage"))
        .collect();
    assert_eq!(
        stages,
        ["extract", "load_visitors", "transform"],
        "{printed}"
    );
    for (i, stage) in stages.iter().enumerate() {
        assert_eq!(
            printed[*stage]["status"], printed["stages"][i]["status"],
            "{stage}: {printed}"
        );
    }
    (code, printed)
}

fn statuses(s: &Value) -> Vec<&str> {
    ["extract", "load_visitors", "transform"]
        .iter()
        .map(|k| s[*k]["status"].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test]
async fn whatever_fails_the_summary_printed_and_written_is_the_exit_code() {
    let sb = support::start(3, 0.2).await;
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "visitor_id,timestamp\n,2026-01-01\nv2,not a time\n").expect("csv");
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "visitor_id,timestamp,email\nv1,2026-11-01T10:00:00Z,a@example.com\n",
    )
    .expect("csv");

    // (a) A visitor file of bad rows only is refused: the models still run, exit 1.
    let lake = dir.path().join("a");
    let (code, s) = run(
        &sb,
        &lake,
        KEY,
        &["--visitors", bad.to_str().expect("path")],
    )
    .await;
    assert_eq!(code, 1, "{s}");
    assert_eq!(statuses(&s), ["ok", "failed", "ok"], "{s}");
    assert!(
        s["error"]
            .as_str()
            .is_some_and(|e| e.contains("bad.csv") && e.contains("max_bad_row_ratio")),
        "{s}"
    );

    // (b) A model whose grain breaks (a manifest that lists a copy of a visitor file's part
    // beside it) fails, what reads it is skipped, the rest commit: exit 1, and the message names
    // the key and a value.
    let lake = dir.path().join("b");
    let good_arg = good.to_str().expect("path");
    let (code, s) = run(&sb, &lake, KEY, &["--visitors", good_arg]).await;
    assert_eq!((code, statuses(&s)), (0, vec!["ok", "ok", "ok"]), "{s}");
    list_visitor_files_twice(&lake);
    let (code, s) = run(&sb, &lake, KEY, &["--visitors", good_arg]).await;
    assert_eq!(code, 1, "{s}");
    assert_eq!(statuses(&s), ["ok", "nothing_to_do", "partial"], "{s}");
    let models = s["transform"]["models"].as_array().expect("models");
    let failed = models
        .iter()
        .find(|m| m["model"] == "stg_visitor_events")
        .expect("stg_visitor_events");
    let message = failed["error"].as_str().unwrap_or_default();
    assert!(
        failed["status"] == "failed"
            && message.contains("model `stg_visitor_events` (sql/staging/stg_visitor_events.sql)")
            && message.contains("`-- unique: source_file, line`")
            && message.contains("line = 2 appears 2 times"),
        "{failed}"
    );
    let skipped = models.iter().find(|m| m["model"] == "int_visitor_sessions");
    assert_eq!(skipped.map(|m| &m["status"]), Some(&"skipped".into()));
    assert!(
        models
            .iter()
            .any(|m| m["model"] == "mrr_daily" && m["status"] == "ok")
    );

    // (c) A restricted key without one stream's permission: that stream fails, the others and
    // the models commit, exit 4.
    let coupons = STREAMS
        .iter()
        .find(|d| d.name == "coupons")
        .expect("coupons");
    let without = "rk_test_without_coupons_for_the_pipeline";
    sb.add_key(KeySpec {
        permissions: Some(
            STREAMS
                .iter()
                .map(|d| d.permission.to_string())
                .filter(|p| p != coupons.permission)
                .chain(["rak_accounts_kyc_basic_read".to_string()])
                .collect(),
        ),
        ..KeySpec::full(without)
    });
    let (code, s) = run(&sb, &dir.path().join("c"), without, &[]).await;
    assert_eq!(code, 4, "{s}");
    assert_eq!(statuses(&s), ["partial", "skipped", "ok"], "{s}");
    assert!(
        s["error"]
            .as_str()
            .is_some_and(|e| e.contains("coupons") && e.contains(coupons.permission)),
        "{s}"
    );

    // (d) One endpoint answering 500 to every request: its stream gives up after the retries,
    // the rest commit and are modelled, exit 5 (Airflow retries).
    sb.set_knobs(Knobs {
        failing_paths: vec!["/v1/payouts".into()],
        ..Knobs::default()
    });
    let (code, s) = run(&sb, &dir.path().join("d"), KEY, &[]).await;
    sb.set_knobs(Knobs::default());
    assert_eq!(code, 5, "{s}");
    assert_eq!(statuses(&s), ["partial", "skipped", "ok"], "{s}");
    let payouts = s["extract"]["accounts"][0]["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|o| o["stream"] == "payouts")
        .expect("payouts");
    assert_eq!(payouts["failure"]["kind"], "transient", "{payouts}");
    // A failed stream reports what it spent: the request and its retries.
    assert!(
        payouts["requests"].as_u64() > Some(1) && payouts["retries"].as_u64() > Some(0),
        "{payouts}"
    );

    // (e) A revoked key: extraction commits nothing, the later stages are skipped, exit 3.
    let revoked = "rk_test_revoked_for_the_pipeline";
    sb.add_key(KeySpec {
        revoked: true,
        ..KeySpec::full(revoked)
    });
    let (code, s) = run(&sb, &dir.path().join("e"), revoked, &[]).await;
    assert_eq!(code, 3, "{s}");
    assert_eq!(statuses(&s), ["failed", "skipped", "skipped"], "{s}");
    assert_eq!(s["status"], "failed", "{s}");
}

/// Commits a new version of `raw/visitor_events` that lists a copy of every part beside it, as
/// a faulty writer could.
fn list_visitor_files_twice(lake: &Path) {
    let dir = lake.join("_manifests/raw/visitor_events");
    let latest = support::manifest(lake, "raw/visitor_events").expect("a visitor manifest");
    let mut next = latest.clone();
    let files = latest["files"].as_array().expect("files").clone();
    let copies: Vec<Value> = files
        .iter()
        .map(|f| {
            let path = f["path"].as_str().expect("path");
            let copy = path.replace("/part-", "/part-copy-");
            std::fs::copy(lake.join(path), lake.join(&copy)).expect("copy the part");
            let mut entry = f.clone();
            entry["path"] = copy.into();
            entry
        })
        .collect();
    next["files"] = Value::Array(files.into_iter().chain(copies).collect());
    let version = latest["version"].as_u64().expect("version") + 1;
    next["version"] = version.into();
    std::fs::write(
        dir.join(format!("{version:020}.json")),
        serde_json::to_vec(&next).expect("json"),
    )
    .expect("write the manifest");
}
