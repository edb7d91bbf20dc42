//! The hand-computed attribution scenarios of `tests/attribution/` (METRICS.md §5–§6): each
//! scenario's Stripe objects go into a lake as raw tables, its visitor events through the real
//! loader (a CSV file, `load-visitors`' code path), the SQL models run, and every expected row is
//! compared with what the marts hold. The expected values were worked out by hand, from the rules
//! alone; nothing here computes them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;
use stripelake::config::VisitorsConfig;
use stripelake::storage::Storage;
use stripelake::transform;

use crate::transform_scenarios::{compare, load_objects, scenario_params};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/attribution");

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("date {s}: {e}"))
}

/// The marts a scenario may state expectations for, compared on the expected rows' columns.
const MARTS: &[&str] = &[
    "revenue_attribution",
    "revenue_by_channel",
    "revenue_per_visitor",
    "experiment_revenue",
    "kpi_summary",
];

/// A scenario's lake (raw tables and loaded visitor events) and its parameters.
async fn prepare(file: &str) -> (Value, Storage, transform::Params) {
    let path = format!("{DIR}/{file}.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let scenario: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let p = &scenario["params"];
    let as_of = date(p["as_of"].as_str().expect("as_of"));
    let kpi_range = p["kpi_range"].as_array().map(|r| {
        (
            date(r[0].as_str().expect("start")),
            date(r[1].as_str().expect("end")),
        )
    });
    let mut params = scenario_params(p, kpi_range);
    if let Some(keys) = p["metadata_keys"].as_array() {
        params.visitor_metadata_keys = keys
            .iter()
            .map(|k| k.as_str().expect("key").to_string())
            .collect();
    }
    params.session_timeout_minutes = p["session_timeout_minutes"].as_u64().map(|m| m as u32);

    let storage = Storage::open("memory://", &Default::default()).expect("memory store");
    let objects: BTreeMap<String, Vec<Value>> =
        serde_json::from_value(scenario["objects"].clone()).expect("objects");
    let extracted_at = as_of
        .succ_opt()
        .and_then(|d| d.and_hms_opt(6, 0, 0))
        .expect("time")
        .and_utc()
        .timestamp();
    load_objects(&storage, &objects, extracted_at).await;

    // The visitor events as the user's export: a CSV file read by the loader.
    let lines: Vec<&str> = scenario["visitor_events"]
        .as_array()
        .expect("visitor_events: CSV lines")
        .iter()
        .map(|l| l.as_str().expect("a CSV line"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("visitor_events.csv");
    std::fs::write(&csv, lines.join("\n") + "\n").expect("write CSV");
    let report = stripelake::visitors::load(
        &storage,
        &VisitorsConfig::default(),
        &csv.display().to_string(),
        &Default::default(),
        "load1",
        false,
    )
    .await
    .unwrap_or_else(|e| panic!("{file}: load-visitors: {e}"));
    assert_eq!(
        report.bad_rows, 0,
        "{file}: the scenario's CSV has bad rows"
    );
    assert_eq!(report.rows as usize, lines.len() - 1, "{file}: rows loaded");

    (scenario, storage, params)
}

async fn check(file: &str) {
    let (scenario, storage, params) = prepare(file).await;
    let outcomes = transform::run(&storage, &params, &[], "t1")
        .await
        .unwrap_or_else(|e| panic!("{file}: transform: {e}"));
    let failed: Vec<_> = outcomes.iter().filter(|o| o.status != "ok").collect();
    assert!(failed.is_empty(), "{file}: models failed: {failed:#?}");
    let ctx = transform::open(&storage).await.expect("open marts");

    let expected = &scenario["expected"];
    let mut problems = Vec::new();
    let mut compared = 0;
    for table in MARTS {
        let Some(want) = expected[*table].as_array() else {
            continue;
        };
        compared += 1;
        compare(&ctx, table, want, None, &mut problems).await;
    }
    assert!(compared > 0, "{file}: no expectations");
    assert!(
        problems.is_empty(),
        "{file} ({}):\n{}\nnotes: {}",
        scenario["name"],
        problems.join("\n"),
        scenario["notes"]
    );
}

/// The reconciliation check is not decoration: a revenue_by_channel that inner-joins the
/// attribution loses the standalone fee of a06 (no charge) and the check names the day.
#[tokio::test]
async fn a_channel_table_that_loses_revenue_fails_the_reconciliation_check() {
    let (_, storage, params) = prepare("a06_experiments_channels_and_revenue_per_visitor").await;
    let mut models = transform::models::embedded().expect("models");
    let by_channel = models
        .iter_mut()
        .find(|m| m.name == "revenue_by_channel")
        .expect("revenue_by_channel");
    let honest = "LEFT JOIN revenue_attribution a";
    assert!(
        by_channel.sql.contains(honest),
        "the test must track revenue_by_channel.sql"
    );
    by_channel.sql = by_channel.sql.replace(honest, "JOIN revenue_attribution a");
    let (_, outcomes) = transform::build_models(&storage, &params, models, &[], "t1", false)
        .await
        .expect("transform");
    let check = outcomes
        .iter()
        .find(|o| o.model == "check_attribution_totals")
        .expect("the check ran");
    assert_eq!(check.status, "failed", "{check:?}");
    let error = check.error.as_deref().unwrap_or_default();
    assert!(error.contains("rows break this check"), "{error}");
    // The check gates the commit: the channel table it caught is not committed.
    let failed: Vec<(&str, Option<&str>)> = outcomes
        .iter()
        .filter(|o| o.status != "ok")
        .map(|o| (o.model.as_str(), o.error.as_deref()))
        .filter(|(m, _)| *m != "check_attribution_totals")
        .collect();
    assert!(
        failed.iter().any(|(m, e)| *m == "revenue_by_channel"
            && e.is_some_and(
                |e| e.starts_with("not committed (check `check_attribution_totals` failed)")
            )),
        "{outcomes:#?}"
    );
    assert!(
        failed
            .iter()
            .all(|(_, e)| e.is_some_and(|e| e.starts_with("not committed ("))),
        "only what the check withholds: {outcomes:#?}"
    );
}

macro_rules! scenarios {
    ($($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                check(stringify!($name)).await;
            }
        )+

        #[test]
        fn every_attribution_scenario_file_has_a_test() {
            let tested: Vec<&str> = vec![$(stringify!($name)),+];
            assert_eq!(crate::transform_scenarios::scenario_files(DIR), tested);
        }
    };
}

scenarios!(
    a01_client_reference_id_and_fall_through,
    a02_metadata_order_and_aliases,
    a03_renewals_inherit_checkout,
    a04_email_normalisation_and_most_recent_session,
    a05_first_and_last_touch,
    a06_experiments_channels_and_revenue_per_visitor,
    a07_channel_rpv_edges,
);
