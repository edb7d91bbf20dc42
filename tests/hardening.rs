//! What probing the release binary found (issue #23), one test per defect, through the binary
//! where the defect is at the command line: nothing lost, nothing doubled, nothing written
//! outside the lake.

use std::path::Path;
use std::process::Output;

use stripelake::sandbox::{KeySpec, Knobs, Sandbox};
use stripelake::stripe::STREAMS;

use crate::support::{self, KEY, NOW, files, text};

/// `stripelake <args>` in `dir` with the test key, no config file unless `args` names one.
fn stripelake(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args(args)
        .current_dir(dir)
        .env("STRIPE_API_KEY", KEY)
        .env_remove("STRIPELAKE_CONFIG")
        .env_remove("STRIPELAKE_VISITORS")
        .output()
        .expect("binary runs")
}

fn account_id(sb: &Sandbox) -> String {
    sb.with_account(|a| a.account["id"].as_str().expect("account id").to_string())
}

/// `stripelake <args>` against the sandbox with `key`.
async fn stripelake_with_key(dir: &Path, sb: &Sandbox, key: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args(["--api-base", &sb.base_url()])
        .args(args)
        .current_dir(dir)
        .env("STRIPE_API_KEY", key)
        .env_remove("STRIPELAKE_CONFIG")
        .output()
        .await
        .expect("binary runs")
}

/// Defect 1: `query` reads the lake and nothing else.
#[test]
fn query_reads_the_lake_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("v.csv"),
        "visitor_id,timestamp\nv1,2026-11-01T10:00:00Z\n",
    )
    .expect("csv");
    let lake = format!("file://{}", dir.path().join("lake").display());
    let load = stripelake(
        dir.path(),
        &["--storage", &lake, "load-visitors", "--visitors", "v.csv"],
    );
    assert!(load.status.success(), "{}", text(&load.stderr));
    let outside = dir.path().join("outside.csv");
    let manifests = dir.path().join("lake/_manifests");
    let before = files(&manifests);
    let attempts = [
        format!("COPY (SELECT 'x' AS k) TO '{}' STORED AS CSV", outside.display()),
        "COPY (SELECT 'x' AS k) TO 'stripelake://lake/_manifests/raw/visitor_events/00000000000000000099.json' STORED AS JSON".to_string(),
        "COPY (SELECT 1 AS k) TO 'stripelake://lake/marts/mrr_daily/evil.parquet' STORED AS PARQUET".to_string(),
        "CREATE EXTERNAL TABLE p (line VARCHAR) STORED AS CSV LOCATION '/etc/passwd'".to_string(),
        "CREATE TABLE t AS SELECT 1 AS k".to_string(),
        "INSERT INTO raw.visitor_events SELECT * FROM raw.visitor_events".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
        "DROP TABLE raw.visitor_events".to_string(),
    ];
    for sql in &attempts {
        let out = stripelake(dir.path(), &["--storage", &lake, "query", sql]);
        assert_eq!(out.status.code(), Some(2), "{sql}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(err.contains("only reads"), "{sql}: {err}");
    }
    assert!(!outside.exists(), "COPY wrote outside the lake");
    let out = stripelake(
        dir.path(),
        &["--storage", &lake, "query", "--file", "missing.sql"],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot read the SQL file missing.sql"),
        "{err}"
    );
    assert_eq!(files(&manifests), before, "a manifest appeared");
    assert!(
        !dir.path().join("lake/marts").exists(),
        "a mart file appeared"
    );
    for sql in [
        "SELECT count(*) AS n FROM raw.visitor_events",
        "WITH v AS (SELECT visitor_id FROM raw.visitor_events) SELECT count(*) AS n FROM v",
        "EXPLAIN SELECT count(*) FROM raw.visitor_events",
        "DESCRIBE raw.visitor_events",
    ] {
        let out = stripelake(dir.path(), &["--storage", &lake, "query", sql]);
        assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    }
}

/// Defect 2: a server that answers `200 {}` is not an empty account. Every stream fails, no
/// cursor moves, and the next run against the real server backfills everything.
#[tokio::test]
async fn an_answer_that_is_not_a_stripe_list_moves_no_cursor() {
    let sb = support::start(4, 0.1).await;
    let root = tempfile::tempdir().expect("root");

    // Everything hollow, `/v1/account` too: nothing is written at all.
    sb.set_knobs(Knobs {
        hollow_paths: vec!["/v1/".into()],
        ..Knobs::default()
    });
    let out = support::extract(&sb, root.path(), KEY, NOW, &[]).await;
    let s = support::summary(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert_eq!(s["extract"]["status"], "failed", "{s}");
    assert!(
        s["error"]
            .as_str()
            .is_some_and(|e| e.contains("/v1/account") && e.contains("not a Stripe account")),
        "{s}"
    );
    assert!(files(&root.path().join("raw")).is_empty());

    // The lists hollow, the account real: every list stream fails, no cursor moves.
    let hollow: Vec<String> = STREAMS
        .iter()
        .filter(|d| d.name != "account")
        .map(|d| d.path.to_string())
        .collect();
    sb.set_knobs(Knobs {
        hollow_paths: hollow,
        ..Knobs::default()
    });
    let out = support::extract(&sb, root.path(), KEY, NOW, &[]).await;
    let s = support::summary(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    let streams = s["extract"]["accounts"][0]["streams"]
        .as_array()
        .expect("streams");
    for o in streams.iter().filter(|o| o["stream"] != "account") {
        assert!(
            o["failure"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("not a Stripe") && m.contains("it began: {}")),
            "{o}"
        );
    }
    let state = files(&root.path().join("_state"));
    assert!(state.is_empty(), "cursors moved: {state:?}");

    sb.set_knobs(Knobs::default());
    let out = support::extract(&sb, root.path(), KEY, NOW, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let held = support::logical(&support::read_raw(root.path(), "charges"));
    let truth = support::truth_ids(&sb, stripelake::sandbox::store::Kind::Charge);
    assert_eq!(
        held.len(),
        truth.len(),
        "the real run backfilled every charge"
    );
}

/// Defect 3: the account id is known before anything is written, from `/v1/account`, from
/// Stripe's refusal, or from `[stripe] account_id`; never a placeholder.
#[tokio::test]
async fn the_account_id_is_known_before_anything_is_written() {
    let sb = support::start(5, 0.05).await;
    let id = account_id(&sb);
    let without = "rk_test_without_the_account_permission";
    sb.add_key(KeySpec {
        permissions: Some(
            STREAMS
                .iter()
                .map(|d| d.permission.to_string())
                .filter(|p| p != "rak_accounts_kyc_basic_read")
                .collect(),
        ),
        ..KeySpec::full(without)
    });

    // Refused /v1/account: the id comes from the refusal, the account snapshot is skipped (the
    // permission is optional), everything else commits under the real id: exit 0.
    let root = tempfile::tempdir().expect("root");
    let out = support::extract(&sb, root.path(), without, NOW, &[]).await;
    let s = support::summary(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(s["extract"]["accounts"][0]["account"], id.as_str(), "{s}");
    let account = s["extract"]["accounts"][0]["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|o| o["stream"] == "account")
        .expect("account stream");
    assert!(
        account["failure"].is_null()
            && account["skipped"]
                .as_str()
                .is_some_and(|m| m.contains("account snapshot")),
        "{account}"
    );
    let written = files(&root.path().join("raw"));
    assert!(!written.is_empty());
    assert!(
        written
            .iter()
            .all(|p| p.to_string_lossy().contains(&format!("account={id}/"))),
        "{written:?}"
    );

    // `check` shows the account permission as optional, and says what it adds: exit 0.
    let out = stripelake_with_key(root.path(), &sb, without, &["check"]).await;
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains(" account "))
        .unwrap_or_else(|| panic!("no account row: {table}"));
    assert!(
        row.contains("OPTIONAL") && row.contains("account snapshot"),
        "{row}"
    );

    // A transient failure of /v1/account: retried, then the run fails (5) with nothing written.
    let root = tempfile::tempdir().expect("root");
    sb.set_knobs(Knobs {
        failing_paths: vec!["/v1/account".into()],
        ..Knobs::default()
    });
    let out = support::extract(&sb, root.path(), without, NOW, &[]).await;
    sb.set_knobs(Knobs::default());
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(files(&root.path().join("raw")).is_empty());
    assert!(files(&root.path().join("_manifests")).is_empty());

    // A configured id that disagrees with Stripe's is a configuration error, before writing.
    let root = tempfile::tempdir().expect("root");
    let config = root.path().join("p.toml");
    std::fs::write(&config, "[stripe]\naccount_id = \"acct_notThisOne1\"\n").expect("config");
    let config = config.display().to_string();
    let out = support::extract(&sb, root.path(), without, NOW, &["--config", &config]).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("acct_notThisOne1") && err.contains(&id),
        "{err}"
    );
    assert!(files(&root.path().join("_manifests")).is_empty());
}

/// Defect 3, the lakes it already broke: rows an earlier version wrote under `self` are moved
/// under the real id once, in one commit per table; versions the real id already holds are not
/// copied again; and the marts count every object once.
#[tokio::test]
async fn rows_under_the_placeholder_account_move_once_and_count_once() {
    let sb = support::start(6, 0.05).await;
    let id = account_id(&sb);
    // Two runs each, so both lakes hold the same versions but for the placeholder.
    let clean = tempfile::tempdir().expect("clean");
    let out = support::extract(&sb, clean.path(), KEY, NOW, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = support::stage(&sb, clean.path(), KEY, NOW, "run", &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The broken lake: half the streams only under `self`, the other half under both ids.
    let broken = tempfile::tempdir().expect("broken");
    let out = support::extract(&sb, broken.path(), KEY, NOW, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let only_under_self = under_placeholder(broken.path(), &id).await;
    assert!(only_under_self > 0);

    let out = support::stage(&sb, broken.path(), KEY, NOW, "run", &[]).await;
    let s = support::summary(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(
        s["extract"]["accounts"][0]["moved_from_placeholder"], only_under_self,
        "{s}"
    );
    let committed: Vec<String> = STREAMS
        .iter()
        .filter_map(|d| support::manifest(broken.path(), &format!("raw/{}", d.name)))
        .flat_map(|m| m["files"].as_array().cloned().unwrap_or_default())
        .map(|f| f["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !committed.is_empty() && committed.iter().all(|p| !p.contains("account=self/")),
        "{committed:?}"
    );
    assert_eq!(
        files(&broken.path().join("_state/self")),
        Vec::<std::path::PathBuf>::new()
    );

    // The marts count every object once: they equal the clean lake's.
    for sql in [
        "SELECT date, basis, currency, mrr, new_mrr, churned_mrr FROM mrr_daily ORDER BY 1, 2, 3",
        "SELECT date, currency, gross_charges, refunds, net_revenue_settlement FROM revenue_daily ORDER BY 1, 2",
        "SELECT count(*) AS n, sum(ltv_realized) AS ltv FROM customers",
    ] {
        assert_eq!(query(broken.path(), sql), query(clean.path(), sql), "{sql}");
    }

    // Once: a later run finds nothing to move.
    let out = support::stage(&sb, broken.path(), KEY, NOW, "extract", &[]).await;
    let s = support::summary(&out);
    assert!(
        s["extract"]["accounts"][0]["moved_from_placeholder"].is_null(),
        "{s}"
    );
}

/// `stripelake query --format csv` over a local lake.
fn query(root: &Path, sql: &str) -> String {
    let lake = format!("file://{}", root.display());
    let out = stripelake(root, &["--storage", &lake, "query", "--format", "csv", sql]);
    assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// What lakes written by the old fallback looked like: every raw table's rows under
/// `account=self` (with `_account = 'self'`): every other stream moved there, the rest copied
/// (also under the real id), and the cursors also under `_state/self/`. Returns the rows that
/// are only under `self`.
async fn under_placeholder(root: &Path, id: &str) -> u64 {
    use arrow::array::{ArrayRef, StringArray};
    use stripelake::storage::{Change, Part, Storage, Table};
    let storage =
        Storage::open(&format!("file://{}", root.display()), &Default::default()).expect("lake");
    let mut only_under_self = 0;
    for (n, def) in STREAMS.iter().enumerate() {
        let moved = n % 2 == 0;
        let table = Table::raw(&storage, def.name);
        let files = table.files_of(Part::Account(id)).await.expect("files");
        let Some(first) = files.first() else {
            continue;
        };
        let read = |path: &str| {
            let file = std::fs::File::open(root.join(path)).expect("part");
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .expect("parquet")
                .build()
                .expect("reader")
                .map(|b| b.expect("batch"))
                .collect::<Vec<_>>()
        };
        let schema = read(&first.path)[0].schema();
        let mut writer = table.writer(Part::Account("self"), "legacy", schema.clone(), 1 << 30);
        for f in &files {
            for batch in read(&f.path) {
                let i = schema.index_of("_account").expect("_account");
                let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
                columns[i] = std::sync::Arc::new(StringArray::from(vec!["self"; batch.num_rows()]));
                let batch = arrow::record_batch::RecordBatch::try_new(schema.clone(), columns)
                    .expect("batch");
                if moved {
                    only_under_self += batch.num_rows() as u64;
                }
                writer.write(&batch).await.expect("write");
            }
        }
        let written = writer.finish().await.expect("finish");
        let parts = [Part::Account(id)];
        let change = match moved {
            true => Change::Replace(&parts),
            false => Change::Append,
        };
        table
            .commit("legacy", &written, change)
            .await
            .expect("commit");
    }
    let state = root.join("_state");
    std::fs::create_dir_all(state.join("self")).expect("state dir");
    for f in files(&state.join(id)) {
        std::fs::copy(&f, state.join("self").join(f.file_name().expect("name"))).expect("copy");
    }
    only_under_self
}

/// Defects 9 and 11: a time zone that does not exist, or a `--since` past the calendar, is a
/// usage error before any request or write (it used to fail 51 models after a full
/// extraction, or wrap around to an 8-month backfill).
#[tokio::test]
async fn impossible_settings_stop_before_any_request() {
    let sb = support::start(7, 0.02).await;
    let root = tempfile::tempdir().expect("root");
    let config = |name: &str, body: &str| {
        let path = root.path().join(name);
        std::fs::write(&path, body).expect("config");
        path.display().to_string()
    };
    let zone = config(
        "zone.toml",
        "[transform]\nreport_timezone = \"Mars/Olympus\"\n",
    );
    let lookback = config("lookback.toml", "[extract]\nlookback = \"357913942y\"\n");
    let currency = config("xyz.toml", "[transform]\nsettlement_currency = \"xyz\"\n");
    let lake = root.path().join("lake");
    let storage = format!("file://{}", lake.display());
    let base = sb.base_url();
    let cases: [(&[&str], &str); 5] = [
        (&["--config", &zone, "run"], "Mars/Olympus"),
        (&["--config", &currency, "run"], "got \"xyz\""),
        (&["--config", &lookback, "run"], "more than 100 years"),
        (&["run", "--since", "357913942y"], "more than 100 years"),
        (
            &["run", "--since", "2000-01-01", "--until", "1999-01-01"],
            "--since must be before --until",
        ),
    ];
    for (args, says) in cases {
        let before = sb.stats().requests;
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
            .args(["--storage", &storage, "--api-base", &base])
            .args(args)
            .current_dir(root.path())
            .env("STRIPE_API_KEY", KEY)
            .env_remove("STRIPELAKE_CONFIG")
            .output()
            .await
            .expect("binary runs");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(sb.stats().requests, before, "{args:?}: a request was made");
        assert!(!lake.exists(), "{args:?}: the lake was created");
    }
}

/// Defect 12: a byte-order mark opens some exports; it is not part of the first line.
#[test]
fn a_byte_order_mark_does_not_cost_the_first_line() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("v.ndjson"),
        "\u{feff}{\"visitor_id\":\"v1\",\"timestamp\":\"2026-11-01T10:00:00Z\"}\n{\"visitor_id\":\"v2\",\"timestamp\":\"2026-11-01T11:00:00Z\"}\n",
    )
    .expect("ndjson");
    std::fs::write(
        dir.path().join("v.csv"),
        "\u{feff}visitor_id,timestamp\nv3,2026-11-01T10:00:00Z\n",
    )
    .expect("csv");
    let lake = format!("file://{}", dir.path().join("lake").display());
    for file in ["v.ndjson", "v.csv"] {
        let out = stripelake(
            dir.path(),
            &["--storage", &lake, "load-visitors", "--visitors", file],
        );
        assert_eq!(out.status.code(), Some(0), "{file}: {}", text(&out.stderr));
        let s: serde_json::Value =
            serde_json::from_str(text(&out.stdout).lines().last().expect("summary")).expect("json");
        assert_eq!(s["load_visitors"]["visitors"]["bad_rows"], 0, "{file}: {s}");
    }
    let out = stripelake(
        dir.path(),
        &[
            "--storage",
            &lake,
            "query",
            "--format",
            "csv",
            "SELECT visitor_id FROM raw.visitor_events ORDER BY 1",
        ],
    );
    assert_eq!(text(&out.stdout), "visitor_id\nv1\nv2\nv3\n");
}

/// Defect 13: a key pasted into the wrong flag is a usage error that neither echoes it nor
/// creates the lake or a run summary.
#[tokio::test]
async fn a_key_in_the_wrong_flag_is_never_echoed_or_written() {
    let root = tempfile::tempdir().expect("root");
    // Assembled, so no key-shaped string sits in the source.
    let canary = format!("rk_{}_51Canary0pastedIntoTheWrongFlag", "live");
    let canary = canary.as_str();
    let body = &canary["rk_live_".len()..];
    let lake = root.path().join("lake");
    let storage = format!("file://{}", lake.display());
    let cases: Vec<Vec<&str>> = vec![
        vec!["run", "--since", canary],
        vec!["run", "--since", "2000-01-01", "--until", canary],
        vec!["run", "--since", "2000-01-01", "--visitors", canary],
        vec!["load-visitors", "--visitors", canary],
        vec!["--config", canary, "run"],
        vec!["run", "--streams", canary],
        vec!["run", "--accounts", canary],
        vec!["--api-base", canary, "extract"],
        vec!["transform", "--models", canary],
    ];
    for args in &cases {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
            .args(["--storage", &storage])
            .args(args)
            .current_dir(root.path())
            .env("STRIPE_API_KEY", KEY)
            .env_remove("STRIPELAKE_CONFIG")
            .output()
            .await
            .expect("binary runs");
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            !stdout.contains(body) && !stderr.contains(body),
            "{args:?} echoed the key: {stdout} {stderr}"
        );
        assert!(
            stderr.contains("rk_live_"),
            "{args:?}: the flag's value is named: {stderr}"
        );
        assert!(!lake.exists(), "{args:?}: the lake was created");
    }
    // A key inside a glob that matches nothing is not a usage error: the load runs, finds
    // nothing, and its summary (stdout and `_runs/`) names the source without the key.
    let glob = format!("{canary}*.csv");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args(["--storage", &storage, "load-visitors", "--visitors", &glob])
        .current_dir(root.path())
        .env_remove("STRIPELAKE_CONFIG")
        .output()
        .await
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let runs = files(&lake.join("_runs"));
    assert_eq!(runs.len(), 1, "{runs:?}");
    let written = std::fs::read_to_string(&runs[0]).expect("run file");
    for (what, t) in [
        ("stdout", text(&out.stdout)),
        ("stderr", text(&out.stderr)),
        ("_runs", written),
    ] {
        assert!(!t.contains(body), "{what} holds the key: {t}");
        assert!(t.contains("rk_live_") || what == "stderr", "{what}: {t}");
    }
}

/// Defect 7 and a mistyped lake: `--as-of` after the last day the lake covers is refused (exit 2)
/// and the marts stay; `transform` on a path with no lake says so instead of writing 14 empty
/// marts there.
#[tokio::test]
async fn transform_refuses_a_day_or_a_lake_it_cannot_cover() {
    let sb = support::start(9, 0.05).await;
    let root = tempfile::tempdir().expect("root");
    let out = support::stage(&sb, root.path(), KEY, NOW, "run", &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lake = format!("file://{}", root.path().display());
    let before = support::manifest(root.path(), "marts/mrr_daily").expect("mrr_daily");
    // The sandbox clock is NOW (2026-11-18T19:33:20Z): the lake covers through 2026-11-17.
    let out = stripelake(
        root.path(),
        &["--storage", &lake, "transform", "--as-of", "2099-12-31"],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--as-of 2099-12-31 is after 2026-11-17"),
        "{err}"
    );
    assert_eq!(
        support::manifest(root.path(), "marts/mrr_daily"),
        Some(before),
        "the marts stay as they were"
    );
    let out = stripelake(
        root.path(),
        &["--storage", &lake, "transform", "--as-of", "2026-11-17"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Defect 8: a settlement currency the account does not settle in breaks the FX models;
    // the MRR marts are not committed (exit 1) and keep their last good version.
    let before: Vec<_> = ["mrr_daily", "kpi_summary", "mrr_movements"]
        .iter()
        .map(|m| support::manifest(root.path(), &format!("marts/{m}")))
        .collect();
    let eur = root.path().join("eur.toml");
    std::fs::write(&eur, "[transform]\nsettlement_currency = \"eur\"\n").expect("config");
    let eur = eur.display().to_string();
    let out = stripelake(
        root.path(),
        &["--config", &eur, "--storage", &lake, "transform"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let after: Vec<_> = ["mrr_daily", "kpi_summary", "mrr_movements"]
        .iter()
        .map(|m| support::manifest(root.path(), &format!("marts/{m}")))
        .collect();
    assert_eq!(after, before, "the MRR marts keep their last good version");

    let nowhere = root.path().join("mistyped");
    let out = stripelake(
        root.path(),
        &[
            "--storage",
            &format!("file://{}", nowhere.display()),
            "transform",
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no lake there"), "{err}");
    assert!(!nowhere.exists(), "the mistyped path was created");
    std::fs::create_dir(&nowhere).expect("dir");
    let out = stripelake(
        root.path(),
        &[
            "--storage",
            &format!("file://{}", nowhere.display()),
            "transform",
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds no extracted tables"), "{err}");
    assert!(files(&nowhere).is_empty(), "nothing written");
}

/// Defect 10: a lake that cannot be written is a usage error found before any request (it used
/// to extract everything and exit 1 "partial" with nothing committed); a corrupt manifest is
/// named with its fix and is not "transient" (exit 5 forever).
#[tokio::test]
async fn storage_failures_say_what_to_fix() {
    let sb = support::start(10, 0.05).await;
    let root = tempfile::tempdir().expect("root");
    // `_runs` is a file, so nothing can be written under it: an unwritable lake.
    std::fs::write(root.path().join("_runs"), "in the way").expect("file");
    let before = sb.stats().requests;
    let out = support::extract(&sb, root.path(), KEY, NOW, &[]).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write to the lake at file://"), "{err}");
    assert_eq!(sb.stats().requests, before, "nothing was requested");
    std::fs::remove_file(root.path().join("_runs")).expect("rm");

    let out = support::extract(&sb, root.path(), KEY, NOW, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dir = root.path().join("_manifests/raw/charges");
    let latest = std::fs::read_dir(&dir)
        .expect("manifests")
        .flatten()
        .map(|e| e.path())
        .max()
        .expect("a version");
    std::fs::write(&latest, "{\"table\": \"raw/charges\", \"ver").expect("corrupt");
    let lake = format!("file://{}", root.path().display());
    for args in [
        vec!["transform"],
        vec!["query", "SELECT count(*) FROM raw.charges"],
    ] {
        let out = stripelake(
            root.path(),
            &[&["--storage", lake.as_str()][..], &args].concat(),
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        let name = latest
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            err.contains(&name) && err.contains("restore the file") && err.contains("delete it"),
            "{args:?}: {err}"
        );
    }
}

/// Defect 14: runs in the same second (here with a pinned clock, so `_extracted_at` ties) are
/// still ordered: the newest version of an object is always the last run's.
#[tokio::test]
async fn a_later_run_in_the_same_second_wins() {
    let sb = support::start(11, 0.02).await;
    let root = tempfile::tempdir().expect("root");
    let customer = sb.with_account(|a| {
        a.store
            .table(stripelake::sandbox::store::Kind::Customer)
            .iter()
            .find(|o| !o.deleted)
            .map(|o| o.id.to_string())
            .expect("a customer")
    });
    let lake = format!("file://{}", root.path().display());
    let sql = format!(
        "SELECT email FROM (SELECT email, row_number() OVER (PARTITION BY _account, id ORDER BY \
         _extracted_at DESC, _run_id DESC) AS n FROM raw.customers WHERE id = '{customer}') v \
         WHERE n = 1"
    );
    for round in 0..6 {
        let email = format!("round{round}@example.com");
        sb.mutate(|a| a.update_customer_email(&customer, &email))
            .expect("update");
        let out = support::extract(
            &sb,
            root.path(),
            KEY,
            NOW,
            &["--streams", "customers", "--full-refresh"],
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let out = stripelake(
            root.path(),
            &["--storage", &lake, "query", "--format", "csv", &sql],
        );
        assert_eq!(
            text(&out.stdout),
            format!("email\n{email}\n"),
            "round {round}"
        );
    }
}

/// Defect 15: a full refresh (and so the 29-day re-backfill) tombstones what was deleted since
/// the last run: a listing only returns what exists, so the lake's ids it did not return are
/// checked by id, and the deletions the backfill's events name are applied.
#[tokio::test]
async fn a_full_refresh_tombstones_what_was_deleted() {
    let sb = support::start(12, 0.03).await;
    let root = tempfile::tempdir().expect("root");
    let out = support::extract(&sb, root.path(), KEY, NOW, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let customer = sb.with_account(|a| {
        a.store
            .table(stripelake::sandbox::store::Kind::Customer)
            .iter()
            .find(|o| !o.deleted)
            .map(|o| o.id.to_string())
            .expect("a customer")
    });
    let invoice = sb.with_account(|a| {
        a.store
            .table(stripelake::sandbox::store::Kind::Invoice)
            .iter()
            .rev()
            .find(|o| !o.deleted)
            .map(|o| o.id.to_string())
            .expect("an invoice")
    });
    // Deleted an hour ago: their events are inside the window a run lists (up to now − 60 s).
    sb.mutate(|a| {
        a.advance_clock(-3600);
        let deleted = a
            .delete_customer(&customer)
            .and_then(|()| a.delete_invoice(&invoice));
        a.advance_clock(3600);
        deleted
    })
    .expect("delete");
    let out = support::extract(&sb, root.path(), KEY, NOW, &["--full-refresh"]).await;
    let s = support::summary(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    let stream = |name: &str| {
        s["extract"]["accounts"][0]["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .find(|o| o["stream"] == name)
            .expect("stream")
            .clone()
    };
    // Customers (their whole history listed): the lake's ids the listing missed, checked by id.
    assert_eq!(stream("customers")["mode"], "backfill");
    // Invoices (listed over the lookback only): the deletion their event names.
    let invoices = stream("invoices");
    assert_eq!(invoices["tombstones"], 1, "{invoices}");
    for (table, id) in [("invoices", &invoice), ("customers", &customer)] {
        let lake = format!("file://{}", root.path().display());
        let sql = format!(
            "SELECT _deleted FROM (SELECT _deleted, row_number() OVER (PARTITION BY _account, id \
             ORDER BY _extracted_at DESC, _run_id DESC) AS n FROM raw.{table} WHERE id = \
             '{id}') v WHERE n = 1"
        );
        let out = stripelake(
            root.path(),
            &["--storage", &lake, "query", "--format", "csv", &sql],
        );
        assert_eq!(
            text(&out.stdout),
            "_deleted\ntrue\n",
            "{table}: {}",
            text(&out.stderr)
        );
    }
    // The staged table matches what Stripe holds.
    let held = support::logical(&support::read_raw(root.path(), "customers"));
    let live: Vec<&String> = held
        .iter()
        .filter(|(_, r)| !r.deleted)
        .map(|(id, _)| id)
        .collect();
    let truth = support::truth_ids(&sb, stripelake::sandbox::store::Kind::Customer);
    assert_eq!(live.len(), truth.len());
    assert!(!live.contains(&&customer));
}

/// Also fixed: nothing listening at `--api-base` fails in seconds with the URL (it retried for
/// 152 s); a server that is not Stripe is named as such, with the start of what it said.
#[tokio::test]
async fn an_api_base_that_is_not_stripe_says_so() {
    let root = tempfile::tempdir().expect("root");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let base = format!("http://127.0.0.1:{closed}");
    let out = extract_against(&base, root.path()).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains(&format!("nothing answers at {base}")), "{err}");
    assert!(files(&root.path().join("raw")).is_empty());

    let (base, server) =
        plain_http_server("404 Not Found", "<html><h1>Not Found</h1></html>").await;
    let out = extract_against(&base, root.path()).await;
    server.abort();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("did not answer like Stripe") && err.contains("<html><h1>Not Found"),
        "{err}"
    );
}

async fn extract_against(base: &str, root: &Path) -> Output {
    let storage = format!("file://{}", root.join("lake").display());
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args([
            "--storage",
            &storage,
            "--api-base",
            base,
            "extract",
            "--since",
            "30d",
        ])
        .current_dir(root)
        .env("STRIPE_API_KEY", KEY)
        .env("STRIPELAKE_RETRY_BASE_MS", "5")
        .env_remove("STRIPELAKE_CONFIG")
        .output()
        .await
        .expect("binary runs")
}

/// A loopback HTTP server answering every request with `status` and `body` (not Stripe).
async fn plain_http_server(
    status: &'static str,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (base, task)
}

/// Also fixed: empty exports are nothing to do whatever their format (a 0-byte CSV or Parquet
/// exited 2, a 0-byte NDJSON 0); UTF-16 and binary files are named as such (they showed NUL
/// garbage as column names).
#[test]
fn empty_and_non_text_visitor_files_are_told_apart() {
    let dir = tempfile::tempdir().expect("dir");
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).expect("dir");
    for name in ["a.csv", "b.parquet", "c.ndjson"] {
        std::fs::write(exports.join(name), "").expect("empty");
    }
    std::fs::write(exports.join("d.csv"), "visitor_id,timestamp\n").expect("header only");
    let lake = format!("file://{}", dir.path().join("lake").display());
    let out = stripelake(
        dir.path(),
        &[
            "--storage",
            &lake,
            "load-visitors",
            "--visitors",
            "exports/*",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().last().expect("summary")).expect("json");
    let v = &s["load_visitors"]["visitors"];
    assert_eq!(
        (&v["files_empty"], &v["rows"]),
        (&3.into(), &0.into()),
        "{s}"
    );

    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "visitor_id,timestamp\nv1,2026-11-01\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    std::fs::write(dir.path().join("u.csv"), utf16).expect("utf-16");
    std::fs::write(
        dir.path().join("b.csv"),
        [0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 1],
    )
    .expect("binary");
    for (file, says) in [("u.csv", "is UTF-16"), ("b.csv", "holds NUL bytes")] {
        let out = stripelake(
            dir.path(),
            &["--storage", &lake, "load-visitors", "--visitors", file],
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(says) && err.contains("UTF-8"), "{file}: {err}");
    }
}

/// Also fixed: `-vv` logs no personal data (the query engine's debug lines printed Parquet
/// statistics: customer emails).
#[tokio::test]
async fn the_most_verbose_logs_hold_no_email() {
    let sb = support::start(13, 0.05).await;
    let root = tempfile::tempdir().expect("root");
    let out = support::stage(&sb, root.path(), KEY, NOW, "run", &["-vv"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lake = format!("file://{}", root.path().display());
    let q = stripelake(
        root.path(),
        &[
            "-vv",
            "--storage",
            &lake,
            "query",
            // An equality prunes row groups by their statistics: the engine's debug lines
            // printed the email bounds of every row group.
            "SELECT count(*) FROM raw.customers WHERE email = 'nobody@nowhere.test'",
        ],
    );
    assert!(q.status.success(), "{}", text(&q.stderr));
    for log in [text(&out.stderr), text(&q.stderr)] {
        let email = log
            .split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .find(|w| w.contains('@') && w.to_lowercase().contains("example.com"));
        assert_eq!(email, None, "an email reached the log");
    }
}

/// Defect 4: a file the manifest names but the store lacks is an error naming it, never an
/// empty table (a missing raw file used to read as 0 rows, exit 0).
#[tokio::test]
async fn a_missing_file_is_an_error_not_an_empty_table() {
    let sb = support::start(14, 0.05).await;
    let root = tempfile::tempdir().expect("root");
    let out = support::extract(&sb, root.path(), KEY, NOW, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let manifest = support::manifest(root.path(), "raw/charges").expect("charges");
    let gone = manifest["files"][0]["path"]
        .as_str()
        .expect("path")
        .to_string();
    std::fs::remove_file(root.path().join(&gone)).expect("rm");
    let lake = format!("file://{}", root.path().display());
    for args in [
        vec!["query", "SELECT count(*) FROM raw.charges"],
        vec!["transform"],
    ] {
        let out = stripelake(
            root.path(),
            &[&["--storage", lake.as_str()][..], &args].concat(),
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&gone) && err.contains("missing"),
            "{args:?}: {err}"
        );
        assert!(
            text(&out.stdout).lines().all(|l| !l.contains("| 0 ")),
            "{args:?}"
        );
    }
}

/// Defects 4 and 5: readers in a loop while transforms replace every mart, a visitor export is
/// reloaded, and a transform is killed and run again: no reader ever gets an empty or partial
/// table, and the folder a mart's `LATEST` names always holds exactly its committed files.
#[tokio::test]
async fn readers_never_see_a_partial_table() {
    let sb = support::start(15, 0.1).await;
    let root = tempfile::tempdir().expect("root");
    let export = root.path().join("visitors.csv");
    std::fs::write(&export, sb.with_account(stripelake::sandbox::visitors::csv)).expect("csv");
    let visitors = export.display().to_string();
    let out = support::stage(
        &sb,
        root.path(),
        KEY,
        NOW,
        "run",
        &["--visitors", &visitors],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lake = format!("file://{}", root.path().display());
    let probes = [
        "SELECT count(*) AS n FROM mrr_daily",
        "SELECT count(*) AS n FROM revenue_attribution WHERE match_method <> 'none'",
        "SELECT count(*) AS n FROM raw.visitor_events",
    ];
    let expected: Vec<String> = probes
        .iter()
        .map(|q| {
            let out = stripelake(
                root.path(),
                &["--storage", &lake, "query", "--format", "csv", q],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
            text(&out.stdout)
        })
        .collect();
    assert!(expected.iter().all(|e| e != "n\n0\n"), "{expected:?}");

    // The readers: every probe, over and over, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = probes
        .iter()
        .zip(expected.clone())
        .map(|(q, want)| {
            let (stop, dir, lake, q) = (stop.clone(), root.path().to_path_buf(), lake.clone(), *q);
            std::thread::spawn(move || {
                let mut wrong = Vec::new();
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out =
                        stripelake(&dir, &["--storage", &lake, "query", "--format", "csv", q]);
                    reads += 1;
                    if !out.status.success() || text(&out.stdout) != want {
                        wrong.push(format!("{q}: {} {}", text(&out.stdout), text(&out.stderr)));
                    }
                }
                (reads, wrong)
            })
        })
        .collect();

    let run = |args: &[&str]| {
        let out = stripelake(
            root.path(),
            &[&["--storage", lake.as_str()][..], args].concat(),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    };
    run(&["transform"]);
    run(&["load-visitors", "--visitors", &visitors, "--reload"]);
    run(&["transform"]);
    // A transform killed once its first mart folder appears, then run again.
    let before = mart_folders(root.path());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args(["--storage", &lake, "transform"])
        .current_dir(root.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("transform starts");
    while mart_folders(root.path()) == before && child.try_wait().expect("wait").is_none() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("kill");
    child.wait().expect("reaped");
    run(&["transform"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        let (reads, wrong) = reader.join().expect("reader");
        assert!(reads > 0);
        assert!(
            wrong.is_empty(),
            "{} of {reads} reads were wrong: {wrong:#?}",
            wrong.len()
        );
    }
    // The killed run's folders are beside the committed ones, never in them.
    for mart in [
        "mrr_daily",
        "customers",
        "revenue_daily",
        "revenue_attribution",
    ] {
        let dir = root.path().join("marts").join(mart);
        let latest = std::fs::read_to_string(dir.join("LATEST")).expect("LATEST");
        let mut on_disk: Vec<String> = files(&dir.join(&latest))
            .iter()
            .map(|p| {
                p.strip_prefix(root.path())
                    .expect("rel")
                    .display()
                    .to_string()
            })
            .collect();
        on_disk.sort();
        let manifest = support::manifest(root.path(), &format!("marts/{mart}")).expect("manifest");
        let mut listed: Vec<String> = manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f["path"].as_str().expect("path").to_string())
            .collect();
        listed.sort();
        assert_eq!(on_disk, listed, "{mart}");
    }
}

/// Every `marts/<model>/run=…` folder.
fn mart_folders(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(root.join("marts"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|m| std::fs::read_dir(m.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}
