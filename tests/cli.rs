use std::process::Output;

use crate::support::text;

fn stripelake(args: &[&str], dir: &std::path::Path) -> Output {
    crate::support::offline(dir, args)
}

#[test]
fn help_documents_every_exit_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = stripelake(&["--help"], dir.path());
    assert!(out.status.success());
    let help = text(&out.stdout);
    for code in [
        "0   ok",
        "1   partial failure",
        "2   configuration",
        "3   authentication",
        "4   missing permission",
        "5   transient",
        "99  nothing to do",
    ] {
        assert!(help.contains(code), "help lacks `{code}`:\n{help}");
    }
}

#[test]
fn a_bad_config_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        "[stripe]\nmax_in_flight = 0\napi_key = \"nope\"\n\n[storage]\nurll = \"file://x\"\n";
    std::fs::write(dir.path().join("bad.toml"), config).expect("write");
    let out = stripelake(&["--config", "bad.toml", "transform"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("3 problems"), "{err}");
    assert!(err.contains("bad.toml:2: stripe.max_in_flight:"), "{err}");
    assert!(
        err.contains("bad.toml:3: stripe.api_key: secrets are never read from pipeline.toml"),
        "{err}"
    );
    assert!(
        err.contains("bad.toml:6: storage.urll:") && err.contains("did you mean `url`?"),
        "{err}"
    );
    assert!(!err.contains("nope"), "the secret-looking value was echoed");
}

#[test]
fn the_documented_pipeline_toml_loads_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/pipeline.toml");
    let out = stripelake(&["--config", example, "key-link"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("https://dashboard.stripe.com/apikeys/create?"));
    // Its lake (./stripelake-data) does not exist here: the models say so rather than build
    // empty marts over nothing.
    let out = stripelake(&["--config", example, "transform"], dir.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no lake there"), "{err}");
    assert!(!dir.path().join("stripelake-data").exists());
}

#[test]
fn demo_serves_the_sandbox_and_writes_its_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = stripelake(&["demo", "--out", "data", "--scale", "0.3"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a summary line")).expect("JSON summary");
    assert_eq!(summary["command"], "demo");
    assert_eq!(summary["sandbox"]["resources_reachable"], 17);
    assert!(
        summary["sandbox"]["objects"]
            .as_u64()
            .is_some_and(|n| n > 500)
    );
    assert!(
        dir.path()
            .join("data/sandbox/expected_metrics.json")
            .exists()
    );
    assert!(dir.path().join("data/sandbox/visitor_events.csv").exists());
    // The report beside the lake, and the headline as a table for the person at the terminal.
    let report = std::fs::read_to_string(dir.path().join("data/report.html")).expect("report.html");
    assert!(report.contains("data-tile=\"mrr\""));
    let err = text(&out.stderr);
    let table: Vec<&str> = err
        .lines()
        .skip_while(|l| !l.contains("the report is"))
        .skip(1)
        .take(10)
        .collect();
    assert!(
        table[0].contains("30 days to")
            && table[1].trim_start().starts_with("MRR ")
            && table[1].contains('$'),
        "{err}"
    );
    assert_eq!(
        summary["stages_run"],
        serde_json::json!(["extract", "load-visitors", "transform"])
    );
    assert_eq!(
        summary["load_visitors"]["status"], "ok",
        "{}",
        summary["load_visitors"]
    );
    let rules: Vec<&str> = summary["headline"]["attribution"]
        .as_array()
        .expect("attribution split")
        .iter()
        .filter_map(|r| r["match_method"].as_str())
        .collect();
    assert_eq!(
        rules,
        vec!["client_reference_id", "email", "metadata", "none"],
        "{}",
        summary["headline"]
    );
    let transform = &summary["transform"];
    assert_eq!(transform["status"], "ok", "{transform}");
    assert_eq!(transform["models_built"], transform["models_total"]);
    // The headline read back from the marts agrees with the generator's own truth.
    let oracle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("data/sandbox/expected_metrics.json")).expect("oracle"),
    )
    .expect("oracle json");
    let as_of = oracle["as_of_day"].as_i64().expect("as_of_day");
    let active = oracle["mrr_subscription_daily"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["day"] == as_of && r["mrr"].as_i64() > Some(0))
        .count();
    assert_eq!(
        summary["headline"]["active_subscriptions"], active,
        "{}",
        summary["headline"]
    );

    // `query` over the demo's lake: every format, and errors that say what is wrong.
    let lake = format!("file://{}", dir.path().join("data").display());
    let q = |args: &[&str]| {
        stripelake(
            &[&["--storage", lake.as_str()][..], args].concat(),
            dir.path(),
        )
    };
    let out = q(&[
        "query",
        "SELECT count(*) AS n FROM mrr_daily WHERE basis = 'settlement'",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.starts_with("+---") && table.contains("| n "),
        "{table}"
    );
    let out = q(&[
        "query",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM raw.charges",
    ]);
    let csv = text(&out.stdout);
    let charges = summary["extract"]["accounts"][0]["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|s| s["stream"] == "charges")
        .expect("charges")["rows"]
        .clone();
    assert_eq!(csv.trim(), format!("n\n{charges}"), "{csv}");
    let out = q(&[
        "query",
        "--format",
        "json",
        "SELECT range_name FROM kpi_summary WHERE range_name LIKE 'last_%' ORDER BY 1",
    ]);
    assert_eq!(
        text(&out.stdout).trim(),
        "{\"range_name\":\"last_1_days\"}\n{\"range_name\":\"last_30_days\"}\n{\"range_name\":\"last_7_days\"}"
    );
    let out = q(&["query", "SELECT * FROM nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown table `nope`. Tables in this lake: customers,")
            && err.contains("raw.charges"),
        "{err}"
    );
    let out = q(&["query", "SELEC 1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("the query failed: SQL error"), "{err}");
}

#[test]
fn sandbox_oracle_writes_json_and_rejects_a_bad_scale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = stripelake(
        &["sandbox", "oracle", "--scale", "0.1", "--now", "1795000000"],
        dir.path(),
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["as_of_day"], 1_795_000_000 / 86_400 - 1);
    let bad = stripelake(&["sandbox", "oracle", "--scale", "0"], dir.path());
    assert_eq!(bad.status.code(), Some(2));
}
