//! The transform within a memory budget (issue #16), through the binary: a budget small enough
//! that a sort spills builds the same marts, row for row; one too small to run fails naming the
//! model and the setting, and the previous marts stay; no work-area or spill file outlives a
//! run, nor a killed run once `vacuum` has run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use stripelake::storage::Storage;

use crate::support::{demo_lake, files, offline as stripelake, text};

fn url(lake: &Path) -> String {
    format!("file://{}", lake.display())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// `transform` over the lake with a memory limit: exit code and summary.
fn transform(dir: &Path, lake: &Path, limit: &str) -> (Option<i32>, Value) {
    let out = stripelake(
        dir,
        &[
            "--storage",
            &url(lake),
            "--no-progress",
            "transform",
            "--memory-limit",
            limit,
        ],
    );
    let summary = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("summary: {e}\n{}", text(&out.stderr)));
    (out.status.code(), summary)
}

fn models(summary: &Value) -> Vec<Value> {
    summary["transform"]["models"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Every committed mart's rows, each rendered column by column and sorted.
fn marts(lake: &Path) -> BTreeMap<String, Vec<String>> {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let storage = Storage::open(&url(lake), &Default::default()).expect("lake");
        let ctx = stripelake::transform::open(&storage).await.expect("open");
        let mut out = BTreeMap::new();
        for name in mart_names(lake) {
            let df = ctx
                .sql(&format!("SELECT * FROM {name}"))
                .await
                .expect("plan");
            let mut rows = Vec::new();
            for b in df.collect().await.unwrap_or_else(|e| panic!("{name}: {e}")) {
                for r in 0..b.num_rows() {
                    let cells: Vec<String> = b
                        .columns()
                        .iter()
                        .map(|c| arrow::util::display::array_value_to_string(c, r).expect("cell"))
                        .collect();
                    rows.push(cells.join(" | "));
                }
            }
            rows.sort();
            out.insert(name, rows);
        }
        out
    })
}

fn mart_names(lake: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(lake.join("marts"))
        .expect("marts/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Each mart's committed version (the folder its LATEST names).
fn latest(lake: &Path) -> BTreeMap<String, String> {
    mart_names(lake)
        .into_iter()
        .map(|m| {
            let v = std::fs::read_to_string(lake.join("marts").join(&m).join("LATEST"))
                .expect("LATEST");
            (m, v)
        })
        .collect()
}

/// Every file under the lake's work area, and any spill file anywhere in the lake.
fn work_files(lake: &Path) -> Vec<PathBuf> {
    files(lake)
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            s.contains("/_work/") || s.contains("datafusion-") || s.ends_with(".arrow")
        })
        .collect()
}

#[test]
fn a_budget_that_spills_builds_the_same_marts_and_one_too_small_fails_naming_the_setting() {
    let dir = tempfile::tempdir().expect("dir");
    // The demo's own transform ran within the default budget (half the machine): nothing spills.
    let unbounded = demo_lake(dir.path(), "unbounded", "1");
    let small = dir.path().join("small");
    copy_dir(&unbounded, &small);

    // 48 MiB: the MRR of subscription states (a sort over their JSON) cannot stay in memory;
    // a third of that is about the least the demo's lake runs in, and 64 MiB still spills.
    let (code, summary) = transform(dir.path(), &small, "48MiB");
    assert_eq!(code, Some(0), "{summary:#}");
    let spilled: Vec<(String, u64)> = models(&summary)
        .iter()
        .filter_map(|m| {
            Some((
                m["model"].as_str()?.to_string(),
                m["spilled_bytes"].as_u64()?,
            ))
        })
        .filter(|(_, bytes)| *bytes > 0)
        .collect();
    assert!(
        !spilled.is_empty(),
        "nothing spilled within 48 MiB: the test would not test spilling\n{summary:#}"
    );
    let want = marts(&unbounded);
    let got = marts(&small);
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (name, rows) in &want {
        assert!(
            rows == &got[name],
            "{name} differs after spilling ({spilled:?}): {} rows unbounded, {} within 48 MiB",
            rows.len(),
            got[name].len()
        );
    }
    assert_eq!(
        work_files(&small),
        Vec::<PathBuf>::new(),
        "left after a run"
    );

    // 2 MiB: too small for a batch of events; the models that need them fail and say so.
    let before = latest(&small);
    let (code, summary) = transform(dir.path(), &small, "2MiB");
    assert_eq!(code, Some(1), "{summary:#}");
    let failed: Vec<Value> = models(&summary)
        .into_iter()
        .filter(|m| m["status"] == "failed" || m["status"] == "skipped")
        .collect();
    let out_of_memory: Vec<&Value> = failed
        .iter()
        .filter(|m| m["error"].as_str().is_some_and(|e| e.contains("memory")))
        .collect();
    assert!(!out_of_memory.is_empty(), "{summary:#}");
    for m in &out_of_memory {
        let name = m["model"].as_str().expect("name");
        let error = m["error"].as_str().expect("error");
        assert!(
            error.contains(&format!("model `{name}`"))
                && error.contains("budget of 2 MiB")
                && error.contains("`[transform] memory_limit`")
                && error.contains("--memory-limit"),
            "{error}"
        );
    }
    let after = latest(&small);
    for m in &failed {
        let name = m["model"].as_str().expect("name");
        if let Some(version) = before.get(name) {
            assert_eq!(
                Some(version),
                after.get(name),
                "{name} was replaced though it failed"
            );
        }
    }
    assert_eq!(
        marts(&small),
        want,
        "a failed run changed what the marts hold"
    );
    assert_eq!(
        work_files(&small),
        Vec::<PathBuf>::new(),
        "left after a failed run"
    );
}

#[test]
fn a_killed_transform_leaves_its_work_area_to_vacuum() {
    let dir = tempfile::tempdir().expect("dir");
    let lake = demo_lake(dir.path(), "lake", "0.5");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args([
            "--storage",
            &url(&lake),
            "--no-progress",
            "transform",
            "--memory-limit",
            "48MiB",
        ])
        .env_remove("STRIPELAKE_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Killed once the work area holds an intermediate.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !work_files(&lake)
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "parquet"))
    {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the transform ended before it wrote a work file: nothing to kill"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no work file after 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    assert!(!child.wait().expect("reaped").success());
    let left = work_files(&lake);
    assert!(!left.is_empty());

    let vacuum = |min_age: &str| -> Value {
        let out = stripelake(
            dir.path(),
            &[
                "--storage",
                &url(&lake),
                "vacuum",
                "--min-age-minutes",
                min_age,
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("summary")
    };
    // A young work area may be a run in progress: the default minimum age keeps it.
    let kept = vacuum("60");
    assert!(
        kept["work_areas"]["kept_too_young"].as_u64() > Some(0),
        "{kept:#}"
    );
    assert_eq!(work_files(&lake), left);
    let swept = vacuum("0");
    assert_eq!(swept["work_areas"]["work_dirs"], 1, "{swept:#}");
    assert_eq!(
        work_files(&lake),
        Vec::<PathBuf>::new(),
        "left after vacuum"
    );
    // Not even the killed run's empty folders.
    let folders: Vec<_> = std::fs::read_dir(lake.join("_work"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert_eq!(folders, Vec::<PathBuf>::new());
}

#[test]
fn a_local_work_dir_holds_the_work_area_and_is_left_empty() {
    let dir = tempfile::tempdir().expect("dir");
    let lake = demo_lake(dir.path(), "lake", "0.3");
    let before = marts(&lake);
    let work = dir.path().join("scratch");
    std::fs::write(
        dir.path().join("pipeline.toml"),
        format!("[transform]\nwork_dir = \"{}\"\n", work.display()),
    )
    .expect("config");
    // A work dir that cannot be one (a file is in the way) is refused, naming it: it is used.
    std::fs::write(&work, b"in the way").expect("plant");
    let out = stripelake(
        dir.path(),
        &[
            "--storage",
            &url(&lake),
            "--no-progress",
            "transform",
            "--memory-limit",
            "48MiB",
        ],
    );
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("work_dir") && said.contains("scratch"),
        "{said}"
    );
    assert_eq!(marts(&lake), before);
    std::fs::remove_file(&work).expect("unplant");

    // 48 MiB: something spills, into the work dir rather than beside the lake.
    let (code, summary) = transform(dir.path(), &lake, "48MiB");
    assert_eq!(code, Some(0), "{summary:#}");
    assert_eq!(marts(&lake), before, "a local work dir changed the marts");
    assert!(work.is_dir(), "the work dir was never made");
    assert_eq!(files(&work), Vec::<PathBuf>::new(), "left in the work dir");
    assert_eq!(work_files(&lake), Vec::<PathBuf>::new(), "left in the lake");
}
