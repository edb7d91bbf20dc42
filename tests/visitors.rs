//! `load-visitors` through the binary: good rows load, each bad row is quarantined with its line
//! and reason, a missing column is named, files load once, and the ready-made mappings read
//! PostHog's and Plausible's exports and Parquet.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn stripelake(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args(args)
        .current_dir(dir)
        .env_remove("STRIPE_API_KEY")
        .env_remove("STRIPELAKE_CONFIG")
        .env_remove("STRIPELAKE_VISITORS")
        .output()
        .expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn summary(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no summary; stderr: {}", text(&out.stderr)));
    serde_json::from_str(line).expect("summary JSON")
}

/// `load-visitors` into `dir/lake` with an optional pipeline.toml body.
fn load(dir: &Path, config: Option<&str>, source: &str) -> Output {
    let lake = format!("file://{}", dir.join("lake").display());
    let mut args = vec!["--storage", lake.as_str()];
    if let Some(body) = config {
        std::fs::write(dir.join("p.toml"), body).expect("write config");
        args.extend(["--config", "p.toml"]);
    }
    args.extend(["load-visitors", "--visitors", source]);
    stripelake(dir, &args)
}

/// `stripelake query --format csv` over `dir/lake`: the lines after the header.
fn query(dir: &Path, sql: &str) -> Vec<String> {
    let lake = format!("file://{}", dir.join("lake").display());
    let out = stripelake(dir, &["--storage", &lake, "query", "--format", "csv", sql]);
    assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

/// Every file under a directory.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn quarantine(dir: &Path) -> Vec<Value> {
    let qdir = dir.join("lake/quarantine/visitor_events");
    let mut files: Vec<_> = std::fs::read_dir(&qdir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .expect("read quarantine")
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("quarantine JSON"))
                .collect::<Vec<_>>()
        })
        .collect()
}

const MIXED: &[u8] = b"visitor_id,timestamp,referrer,email\n\
v1,2026-01-01T00:00:00Z,https://google.com/, Ann@Example.COM \n\
v2,notatime,,\n\
,2026-01-01T00:00:00Z,,\n\
v3,2026-01-02 10:00:00,,,extra\n\
v4,1767225600,,\n\
v5,2026-01-01T00:00:00Z,\xff\xfe,\n\
v6,2026-01-03 08:00:00,,\n";

#[test]
fn a_mixed_file_loads_its_good_rows_and_quarantines_each_bad_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("events.csv"), MIXED).expect("write");

    // 4 bad rows of 7 is far above the default 1 %: the file is refused whole, exit 1.
    let out = load(dir.path(), None, "events.csv");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let s = summary(&out);
    // Nothing of the only file committed: the stage failed (exit 1, the file's fault).
    assert_eq!(
        (&s["status"], &s["exit_code"]),
        (&"failed".into(), &1.into()),
        "{s}"
    );
    assert_eq!(
        s["load_visitors"]["visitors"]["refused"][0]["bad_rows"], 4,
        "{s}"
    );
    assert_eq!(s["load_visitors"]["visitors"]["rows"], 0, "{s}");
    let err = text(&out.stderr);
    assert!(err.contains("max_bad_row_ratio"), "{err}");
    assert!(
        !dir.path()
            .join("lake/_manifests/raw/visitor_events")
            .exists(),
        "a refused file must commit nothing"
    );
    assert!(
        !err.to_lowercase().contains("ann@example.com"),
        "an email reached the log: {err}"
    );

    // Within the configured ratio: the good rows load and each bad one is quarantined.
    let out = load(
        dir.path(),
        Some("[visitors]\nmax_bad_row_ratio = 0.6\n"),
        "events.csv",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = summary(&out);
    assert_eq!(s["load_visitors"]["visitors"]["rows"], 3, "{s}");
    assert_eq!(s["load_visitors"]["visitors"]["bad_rows"], 4, "{s}");
    let records = quarantine(dir.path());
    // Both loads quarantined the same four rows; the last four are this load's.
    assert_eq!(records.len(), 8, "{records:?}");
    let got: Vec<(u64, String)> = records[4..]
        .iter()
        .map(|r| {
            assert_eq!(r["file"], "events.csv", "{r}");
            (
                r["line"].as_u64().expect("line"),
                r["reason"].as_str().expect("reason").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "unparseable timestamp \"notatime\"".to_string()),
            (4, "missing visitor_id".to_string()),
            (
                5,
                "wrong column count: expected 4 fields, found 5".to_string()
            ),
            (
                7,
                "bad encoding: column `referrer` is not valid UTF-8".to_string()
            ),
        ]
    );
    assert_eq!(records[4]["raw"], "v2,notatime,,");
    assert_eq!(
        query(
            dir.path(),
            "SELECT visitor_id, CAST(timestamp AS VARCHAR), email, _line \
             FROM raw.visitor_events ORDER BY _line"
        ),
        vec![
            "v1,2026-01-01T00:00:00Z,ann@example.com,2",
            "v4,2026-01-01T00:00:00Z,,6",
            "v6,2026-01-03T08:00:00Z,,8",
        ]
    );
}

#[test]
fn a_missing_required_column_names_the_file_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("export.csv"),
        "visitor_id,event_time\nv1,2026-01-01T00:00:00Z\n",
    )
    .expect("write");
    let out = load(dir.path(), None, "export.csv");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "export.csv: no column `timestamp` for timestamp: the file's columns are \
             `visitor_id`, `event_time`; map it in pipeline.toml ([visitors.columns] timestamp \
             = \"<column>\") or choose a [visitors] preset"
        ),
        "{err}"
    );
    // A source that names nothing, or nothing readable, is a usage error that says so.
    let out = load(dir.path(), None, " ");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--visitors / STRIPELAKE_VISITORS"),
        "{}",
        text(&out.stderr)
    );
    let out = load(dir.path(), None, "exports/*.csv");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("visitors source `exports/*.csv`: cannot read exports/"),
        "{}",
        text(&out.stderr)
    );
    // Mapped, it loads.
    let out = load(
        dir.path(),
        Some("[visitors.columns]\ntimestamp = \"event_time\"\n"),
        "export.csv",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(summary(&out)["load_visitors"]["visitors"]["rows"], 1);
}

#[test]
fn each_file_loads_once_and_a_changed_file_is_loaded_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).expect("mkdir");
    let day = |d: u32, visitors: &[&str]| {
        let mut s = String::from("visitor_id,timestamp\n");
        for v in visitors {
            s.push_str(&format!("{v},2026-01-{d:02}T12:00:00Z\n"));
        }
        std::fs::write(exports.join(format!("day-{d:02}.csv")), s).expect("write");
    };
    day(1, &["a", "b"]);
    day(2, &["c"]);
    let source = "exports/*.csv";
    let first = summary(&load(dir.path(), None, source));
    assert_eq!(
        (
            &first["load_visitors"]["visitors"]["files_loaded"],
            &first["load_visitors"]["visitors"]["rows"]
        ),
        (&Value::from(2), &Value::from(3)),
        "{first}"
    );
    let again = summary(&load(dir.path(), None, source));
    assert_eq!(
        again["load_visitors"]["visitors"]["files_loaded"], 0,
        "{again}"
    );
    assert_eq!(
        again["load_visitors"]["visitors"]["files_unchanged"], 2,
        "{again}"
    );
    // Airflow's skip: exit 99 when asked for and nothing was new.
    let skip = load(
        dir.path(),
        Some("[run]\nexit_99_when_nothing_to_do = true\n"),
        source,
    );
    assert_eq!(skip.status.code(), Some(99), "{}", text(&skip.stderr));

    day(3, &["d"]);
    // A re-export of day 2 with one more row: a different size, so it is loaded again.
    day(2, &["c", "e"]);
    let third = summary(&load(dir.path(), None, source));
    assert_eq!(
        third["load_visitors"]["visitors"]["files_loaded"], 2,
        "{third}"
    );
    assert_eq!(third["load_visitors"]["visitors"]["rows"], 3, "{third}");
    // The table holds each file's newest load once: day 2's first load is gone from the
    // manifest; its part stays on disk for readers that resolved the previous version (an hour,
    // or until vacuum), beside one part per source file.
    assert_eq!(
        query(
            dir.path(),
            "SELECT _source_file, count(*) FROM raw.visitor_events GROUP BY 1 ORDER BY 1"
        ),
        vec![
            "exports/day-01.csv,2",
            "exports/day-02.csv,2",
            "exports/day-03.csv,1"
        ]
    );
    let parts = walk(&dir.path().join("lake/raw/visitor_events"));
    assert_eq!(parts.len(), 4, "{parts:?}");
    let committed =
        crate::support::manifest(&dir.path().join("lake"), "raw/visitor_events").expect("manifest");
    assert_eq!(committed["files"].as_array().map(Vec::len), Some(3));
    // A crash after the manifest but before the state: the next load reads every file again,
    // and each replaces its own earlier rows instead of doubling them.
    std::fs::remove_file(dir.path().join("lake/_state/visitor_events/files.json")).expect("rm");
    let rerun = summary(&load(dir.path(), None, source));
    assert_eq!(
        rerun["load_visitors"]["visitors"]["files_loaded"], 3,
        "{rerun}"
    );
    assert_eq!(
        query(
            dir.path(),
            "SELECT count(*), count(DISTINCT visitor_id) FROM raw.visitor_events"
        ),
        vec!["5,5"]
    );
    // A re-export that is now empty (header only) empties that file's rows.
    day(3, &[]);
    let emptied = summary(&load(dir.path(), None, source));
    assert_eq!(
        emptied["load_visitors"]["visitors"]["files_loaded"], 1,
        "{emptied}"
    );
    assert_eq!(
        query(dir.path(), "SELECT count(*) FROM raw.visitor_events"),
        vec!["4"]
    );
    let storage = stripelake::storage::Storage::open(
        &format!("file://{}", dir.path().join("lake").display()),
        &Default::default(),
    )
    .expect("store");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let staged = runtime.block_on(async {
        let params = stripelake::transform::Params::default();
        let wanted = ["stg_visitor_events".to_string()];
        let (ctx, _) = stripelake::transform::build(&storage, &params, &wanted, "t")
            .await
            .expect("build");
        crate::transform_scenarios::rows(
            &ctx,
            "SELECT visitor_id FROM stg_visitor_events ORDER BY visitor_id",
        )
        .await
    });
    let staged: Vec<&str> = staged.iter().filter_map(|r| r[0].as_deref()).collect();
    assert_eq!(staged, vec!["a", "b", "c", "e"]);
}

#[test]
fn ready_made_mappings_read_posthog_plausible_and_parquet_exports() {
    let dir = tempfile::tempdir().expect("tempdir");
    // PostHog's batch export (JSONLines): event properties in `properties`, the person's email
    // in `person_properties`.
    let posthog = [
        r#"{"uuid":"0190-a","event":"$pageview","distinct_id":"ph_1","timestamp":"2026-02-01T09:00:00.123000+00:00","properties":{"$session_id":"s_ph","$referrer":"https://www.google.com/","$current_url":"https://acme.test/pricing","$host":"acme.test","utm_source":null,"$browser":"Firefox","$device_type":"Desktop","$geoip_country_code":"DE"},"person_properties":{"email":" Ann@Example.com"}}"#,
        r#"{"uuid":"0190-b","event":"$pageview","distinct_id":"ph_2","timestamp":"2026-02-01T10:00:00Z","properties":{"$session_id":"s_ph2","$referrer":"$direct","utm_source":"newsletter","utm_medium":"email","utm_campaign":"feb"},"person_properties":{}}"#,
    ];
    std::fs::write(dir.path().join("posthog.jsonl"), posthog.join("\n")).expect("write");
    let out = load(
        dir.path(),
        Some("[visitors]\npreset = \"posthog\"\n"),
        "posthog.jsonl",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        query(
            dir.path(),
            "SELECT visitor_id, CAST(timestamp AS VARCHAR), session_id, email, referrer, \
             utm_source, utm_campaign, landing_page, country, device, browser, site_id \
             FROM raw.visitor_events ORDER BY visitor_id"
        ),
        vec![
            "ph_1,2026-02-01T09:00:00Z,s_ph,ann@example.com,https://www.google.com/,,,\
             https://acme.test/pricing,DE,Desktop,Firefox,acme.test",
            "ph_2,2026-02-01T10:00:00Z,s_ph2,,$direct,newsletter,feb,,,,,",
        ]
    );

    // Plausible CE's events_v2 table exported as CSV with names.
    let plausible = "name,site_id,user_id,session_id,hostname,pathname,referrer,\
        referrer_source,country_code,screen_size,browser,utm_medium,utm_source,utm_campaign,\
        timestamp\n\
        pageview,7,1234567890,987,acme.test,/pricing,https://news.ycombinator.com/,Hacker News,\
        US,Mobile,Safari,,,,2026-02-02 08:30:00\n";
    std::fs::write(dir.path().join("plausible.csv"), plausible).expect("write");
    let out = load(
        dir.path(),
        Some("[visitors]\npreset = \"plausible\"\n"),
        "plausible.csv",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        query(
            dir.path(),
            "SELECT visitor_id, CAST(timestamp AS VARCHAR), session_id, referrer, landing_page, \
             country, device, site_id FROM raw.visitor_events WHERE visitor_id = '1234567890'"
        ),
        vec![
            "1234567890,2026-02-02T08:30:00Z,987,https://news.ycombinator.com/,/pricing,US,\
             Mobile,7"
        ]
    );

    // Parquet written by pyarrow, with a timestamp-typed column and a custom mapping.
    let python = std::env::var("STRIPELAKE_TEST_PYTHON").expect(
        "STRIPELAKE_TEST_PYTHON is unset: run the suite with scripts/test, which installs pyarrow",
    );
    let script = "import sys, datetime, pyarrow as pa, pyarrow.parquet as pq\n\
        t = pa.table({'anon': ['pq_1', None, 'pq_2'], \
        'ts': pa.array([datetime.datetime(2026, 2, 3, 7, 0), datetime.datetime(2026, 2, 3, 7, 5), \
        datetime.datetime(2026, 2, 3, 7, 10)], pa.timestamp('ms', tz='UTC')), \
        'ref': ['https://t.co/x', 'https://t.co/y', None]})\n\
        pq.write_table(t, sys.argv[1])\n";
    let status = Command::new(python)
        .args(["-c", script])
        .arg(dir.path().join("events.parquet"))
        .status()
        .expect("python runs");
    assert!(status.success());
    let out = load(
        dir.path(),
        Some(
            "[visitors]\nmax_bad_row_ratio = 0.5\n[visitors.columns]\nvisitor_id = \"anon\"\n\
             timestamp = \"ts\"\nreferrer = \"ref\"\n",
        ),
        "events.parquet",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = summary(&out);
    assert_eq!(
        (
            &s["load_visitors"]["visitors"]["rows"],
            &s["load_visitors"]["visitors"]["bad_rows"]
        ),
        (&Value::from(2), &Value::from(1)),
        "{s}"
    );
    assert_eq!(
        query(
            dir.path(),
            "SELECT visitor_id, CAST(timestamp AS VARCHAR), referrer, _line \
             FROM raw.visitor_events WHERE visitor_id LIKE 'pq_%' ORDER BY visitor_id"
        ),
        vec![
            "pq_1,2026-02-03T07:00:00Z,https://t.co/x,1",
            "pq_2,2026-02-03T07:10:00Z,,3"
        ]
    );
    let bad = quarantine(dir.path());
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(
        (&bad[0]["line"], &bad[0]["reason"]),
        (&Value::from(2), &Value::from("missing visitor_id"))
    );
}

/// Kills the sandbox process however the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The README's two commands: `sandbox serve --visitors-out v.csv`, then
/// `run --api-base … --visitors v.csv`, attribute the sandbox's revenue to its visitors.
#[test]
fn sandbox_serve_writes_the_visitor_export_that_run_attributes() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let now = crate::support::NOW.to_string();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_stripelake"))
            .args([
                "sandbox", "serve", "--port", "0", "--seed", "5", "--scale", "0.2",
            ])
            .args(["--now", &now, "--visitors-out", "v.csv"])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sandbox starts"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    // Kept open until the end: a closed pipe would fail the sandbox's later log lines.
    let mut lines = std::io::BufReader::new(stderr).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            let rest = l.strip_prefix("sandbox: http://")?;
            Some(format!("http://{}", rest.split_whitespace().next()?))
        })
        .expect("the sandbox prints its URL");
    let lake = format!("file://{}", dir.path().join("lake").display());
    let out = Command::new(env!("CARGO_BIN_EXE_stripelake"))
        .args([
            "--storage",
            &lake,
            "--api-base",
            &url,
            "run",
            "--since",
            "2000-01-01",
        ])
        .args(["--max-requests-per-second", "2000", "--visitors", "v.csv"])
        .current_dir(dir.path())
        .env("STRIPE_API_KEY", crate::support::KEY)
        .env("STRIPELAKE_NOW", &now)
        .env_remove("STRIPELAKE_CONFIG")
        .output()
        .expect("run");
    drop(child);
    drop(lines);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = summary(&out);
    assert!(
        s["load_visitors"]["visitors"]["rows"].as_u64() > Some(100),
        "{}",
        s["load_visitors"]
    );
    let methods = query(
        dir.path(),
        "SELECT DISTINCT CASE WHEN match_method LIKE 'metadata:%' THEN 'metadata' \
         ELSE match_method END AS m FROM revenue_attribution ORDER BY m",
    );
    assert_eq!(
        methods,
        vec!["client_reference_id", "email", "metadata", "none"]
    );
    let attributed = query(
        dir.path(),
        "SELECT sum(gross_settlement) FROM revenue_by_channel WHERE channel <> 'Unattributed'",
    );
    assert!(
        attributed[0].parse::<i64>().is_ok_and(|n| n > 0),
        "{attributed:?}"
    );
}

#[test]
fn ndjson_lines_stand_alone_and_a_bad_file_does_not_stop_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).expect("mkdir");
    // Exporters leave out null keys: each line has its own set, and line 3 has no visitor id.
    let ndjson = [
        r#"{"visitor_id":"n1","timestamp":"2026-01-01T00:00:00Z"}"#,
        r#"{"visitor_id":"n2","timestamp":"2026-01-01T01:00:00+0000","email":"B@X.com","referrer":"https://google.com/"}"#,
        r#"{"timestamp":"2026-01-01T02:00:00Z","referrer":"https://t.co/"}"#,
        r#"{"visitor_id":"n4","timestamp":"1767229200000000000","utm_source":"newsletter"}"#,
    ];
    std::fs::write(exports.join("a.ndjson"), ndjson.join("\n")).expect("write");
    // A file whose header lacks the timestamp: refused alone, the others load.
    std::fs::write(exports.join("b.csv"), "visitor_id,when\nx,2026-01-01\n").expect("write");
    let out = load(
        dir.path(),
        Some("[visitors]\nmax_bad_row_ratio = 0.5\n"),
        "exports/*",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let s = summary(&out);
    assert_eq!(s["load_visitors"]["visitors"]["files_loaded"], 1, "{s}");
    let reason = s["load_visitors"]["visitors"]["refused"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("b.csv: no column `timestamp` for timestamp"),
        "{s}"
    );
    assert_eq!(
        query(
            dir.path(),
            "SELECT visitor_id, CAST(timestamp AS VARCHAR), email, referrer, utm_source, _line \
             FROM raw.visitor_events ORDER BY _line"
        ),
        vec![
            "n1,2026-01-01T00:00:00Z,,,,1",
            "n2,2026-01-01T01:00:00Z,b@x.com,https://google.com/,,2",
            "n4,2026-01-01T01:00:00Z,,,newsletter,4",
        ]
    );
    let bad = quarantine(dir.path());
    assert_eq!(
        (&bad[0]["line"], &bad[0]["reason"]),
        (&Value::from(3), &Value::from("missing visitor_id")),
        "{bad:?}"
    );

    // The same file named another way is the same file.
    let again = summary(&load(
        dir.path(),
        Some("[visitors]\nmax_bad_row_ratio = 0.5\n"),
        "./exports/a.ndjson",
    ));
    assert_eq!(
        again["load_visitors"]["visitors"]["files_unchanged"], 1,
        "{again}"
    );

    // A glob that matches nothing yet is nothing to do, not an error.
    let none = load(dir.path(), None, "exports/*.parquet");
    assert_eq!(none.status.code(), Some(0), "{}", text(&none.stderr));
    assert_eq!(
        summary(&none)["load_visitors"]["visitors"]["files_found"],
        0
    );
}

#[test]
fn a_file_of_bad_rows_is_given_up_on_without_holding_them_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv = String::from("visitor_id,timestamp\n");
    for i in 0..30_000 {
        csv.push_str(&format!("v{i},2026-02-01T09:00:00+00\n"));
    }
    std::fs::write(dir.path().join("events.csv"), csv).expect("write");
    let out = load(dir.path(), None, "events.csv");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let s = summary(&out);
    let refused = &s["load_visitors"]["visitors"]["refused"][0];
    assert_eq!(refused["bad_rows"], 10_000, "{s}");
    assert!(
        refused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("reading stopped there")),
        "{s}"
    );
    assert_eq!(quarantine(dir.path()).len(), 10_000);
}
