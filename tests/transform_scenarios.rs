//! The hand-computed metric scenarios of `tests/scenarios/` (METRICS.md §2–§5): each scenario's
//! Stripe objects go into a lake as raw tables (through the same schema code extraction uses),
//! the SQL models run, and every expected row is compared with what the marts hold. The expected
//! values were worked out by hand; nothing here computes them.

use std::collections::BTreeMap;

use arrow::array::{Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use serde_json::Value;
use stripelake::storage::Storage;
use stripelake::storage::manifest::{self, Change};
use stripelake::storage::parquet::PartWriter;
use stripelake::stripe::schema::{RowContext, StreamSchema};
use stripelake::stripe::streams;
use stripelake::transform::{self, Params, money::Ratio};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scenarios");

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("date {s}: {e}"))
}

/// Writes each object list as the raw table of its stream, committed like an extraction.
pub async fn load_objects(
    storage: &Storage,
    objects: &BTreeMap<String, Vec<Value>>,
    extracted_at: i64,
) {
    for (stream, list) in objects {
        let def = streams::find(stream).unwrap_or_else(|| panic!("no stream {stream}"));
        let schema = StreamSchema::parse(def.name, def.schema).expect("schema");
        let ctx = RowContext {
            run_id: "scenario".into(),
            extracted_at_ms: extracted_at * 1000,
            account: "acct_scenario".into(),
            stripe_version: "2026-07-29.dahlia".into(),
        };
        let rows: Vec<_> = list.iter().map(|o| schema.row(o, &ctx, false)).collect();
        let dir = format!("raw/{stream}/account=acct_scenario");
        let mut writer = PartWriter::new(
            storage.clone(),
            dir,
            "scenario".into(),
            schema.arrow.clone(),
            64 << 20,
        );
        if !rows.is_empty() {
            writer
                .write(&schema.batch(&rows).expect("batch"))
                .await
                .expect("write");
        }
        let files = writer.finish().await.expect("finish");
        manifest::commit(
            storage,
            &format!("raw/{stream}"),
            "scenario",
            &files,
            Change::Append,
        )
        .await
        .expect("commit");
    }
}

/// Every value as text (dates `YYYY-MM-DD`, decimals as printed), `None` for NULL.
pub async fn rows(
    ctx: &datafusion::prelude::SessionContext,
    sql: &str,
) -> Vec<Vec<Option<String>>> {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<StringArray> = b
            .columns()
            .iter()
            .map(|c| {
                let s = cast(c, &DataType::Utf8).expect("to text");
                s.as_any()
                    .downcast_ref::<StringArray>()
                    .expect("utf8")
                    .clone()
            })
            .collect();
        for i in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|c| (!c.is_null(i)).then(|| c.value(i).to_string()))
                    .collect(),
            );
        }
    }
    out
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Equal as text, or as exact decimals (`"1.0837"` = `1.083700000000`).
fn same(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a == b
                || matches!(
                    (Ratio::parse_decimal(a), Ratio::parse_decimal(b)),
                    (Some(x), Some(y)) if x == y
                )
        }
        (None, None) => true,
        _ => false,
    }
}

/// Compares a mart with the expected rows on the expected rows' columns, as multisets.
pub async fn compare(
    ctx: &datafusion::prelude::SessionContext,
    table: &str,
    expected: &[Value],
    only_dates: Option<&[String]>,
    problems: &mut Vec<String>,
) {
    let Some(first) = expected.first() else {
        let n = rows(ctx, &format!("SELECT count(*) FROM {table}")).await;
        if n[0][0].as_deref() != Some("0") {
            let all = rows(ctx, &format!("SELECT * FROM {table}")).await;
            problems.push(format!("{table}: expected no rows, found {all:?}"));
        }
        return;
    };
    let columns: Vec<String> = first
        .as_object()
        .expect("row object")
        .keys()
        .cloned()
        .collect();
    let mut sql = format!("SELECT {} FROM {table}", columns.join(", "));
    if let Some(days) = only_dates {
        let list: Vec<String> = days.iter().map(|d| format!("DATE '{d}'")).collect();
        sql.push_str(&format!(" WHERE date IN ({})", list.join(", ")));
    }
    let mut actual = rows(ctx, &sql).await;
    let mut missing = Vec::new();
    for want in expected {
        let want: Vec<Option<String>> = columns.iter().map(|c| text(&want[c])).collect();
        match actual
            .iter()
            .position(|got| got.iter().zip(&want).all(|(g, w)| same(g, w)))
        {
            Some(i) => {
                actual.swap_remove(i);
            }
            None => missing.push(want),
        }
    }
    for m in &missing {
        problems.push(format!("{table}: missing {}", show(&columns, m)));
    }
    for extra in &actual {
        problems.push(format!("{table}: unexpected {}", show(&columns, extra)));
    }
}

fn show(columns: &[String], row: &[Option<String>]) -> String {
    columns
        .iter()
        .zip(row)
        .map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or("NULL")))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn scenario_params(p: &Value, kpi_range: Option<(NaiveDate, NaiveDate)>) -> Params {
    Params {
        as_of: Some(date(p["as_of"].as_str().expect("as_of"))),
        report_timezone: p["report_timezone"].as_str().unwrap_or("UTC").into(),
        settlement_currency: p["settlement_currency"].as_str().map(String::from),
        discount_mode: p["discount_mode"].as_str().unwrap_or("forever_only").into(),
        churn_recognition: p["churn_recognition"].as_str().unwrap_or("at_end").into(),
        livemode: Some(false),
        kpi_ranges: kpi_range
            .map(|(a, b)| vec![("scenario".to_string(), a, b)])
            .unwrap_or_default(),
        kpi_windows_days: Vec::new(),
        ..Params::default()
    }
}

async fn check(file: &str) {
    let path = format!("{DIR}/{file}.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let scenario: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let params = &scenario["params"];
    let expected = &scenario["expected"];
    let kpi_range = expected["kpi"]["range"].as_array().map(|r| {
        (
            date(r[0].as_str().expect("start")),
            date(r[1].as_str().expect("end")),
        )
    });
    let storage = Storage::open("memory://", &Default::default()).expect("memory store");
    let objects: BTreeMap<String, Vec<Value>> =
        serde_json::from_value(scenario["objects"].clone()).expect("objects");
    // Extracted the morning after as_of: the lake's newest versions are the final states.
    let as_of = date(params["as_of"].as_str().expect("as_of"));
    let extracted_at = as_of
        .succ_opt()
        .expect("day")
        .and_hms_opt(6, 0, 0)
        .expect("time")
        .and_utc()
        .timestamp();
    load_objects(&storage, &objects, extracted_at).await;
    let outcomes = transform::run(&storage, &scenario_params(params, kpi_range), &[], "t1")
        .await
        .unwrap_or_else(|e| panic!("{file}: transform: {e}"));
    let failed: Vec<_> = outcomes.iter().filter(|o| o.status != "ok").collect();
    assert!(failed.is_empty(), "{file}: models failed: {failed:#?}");
    let ctx = transform::open(&storage).await.expect("open marts");

    let mut problems = Vec::new();
    let mrr_days: Option<Vec<String>> = params["mrr_days"].as_array().map(|a| {
        a.iter()
            .filter_map(|d| d.as_str().map(String::from))
            .collect()
    });
    for table in [
        "mrr_subscription_daily",
        "mrr_daily",
        "mrr_movements",
        "revenue_daily",
    ] {
        let Some(want) = expected[table].as_array() else {
            continue;
        };
        let days = match table {
            "mrr_subscription_daily" | "mrr_daily" => mrr_days.as_deref(),
            _ => None,
        };
        compare(&ctx, table, want, days, &mut problems).await;
    }
    if let Some(kpi) = expected["kpi"].as_object() {
        let mut summary = serde_json::Map::new();
        for k in ["new_customers", "churned_subscriptions", "aov"] {
            summary.insert(k.into(), kpi[k].clone());
        }
        compare(
            &ctx,
            "kpi_summary",
            &[Value::Object(summary)],
            None,
            &mut problems,
        )
        .await;
        let top = kpi["top_customers"].as_array().expect("top_customers");
        compare(&ctx, "kpi_top_customers", top, None, &mut problems).await;
    }
    assert!(
        problems.is_empty(),
        "{file} ({}):\n{}\nnotes: {}",
        scenario["name"],
        problems.join("\n"),
        scenario["notes"]
    );
}

/// The identity checks are not decoration: a mart that drops the FX adjustment is caught.
#[tokio::test]
async fn a_broken_identity_fails_its_check() {
    let text = std::fs::read_to_string(format!("{DIR}/27_eur_fx_adjustment.json")).expect("read");
    let scenario: Value = serde_json::from_str(&text).expect("json");
    let storage = Storage::open("memory://", &Default::default()).expect("memory store");
    let objects: BTreeMap<String, Vec<Value>> =
        serde_json::from_value(scenario["objects"].clone()).expect("objects");
    load_objects(&storage, &objects, 1_772_800_000).await;
    let mut models = transform::models::embedded().expect("models");
    let daily = models
        .iter_mut()
        .find(|m| m.name == "mrr_daily")
        .expect("mrr_daily");
    let honest =
        "mrr - COALESCE(lag(mrr) OVER (ORDER BY date), 0) - net_mrr_movement AS fx_adjustment";
    assert!(
        daily.sql.contains(honest),
        "the test must track mrr_daily.sql"
    );
    daily.sql = daily
        .sql
        .replace(honest, "CAST(0 AS BIGINT) AS fx_adjustment");
    let params = scenario_params(&scenario["params"], None);
    let (_, outcomes) = transform::build_models(&storage, &params, models, &[], "t1", false)
        .await
        .expect("transform");
    let check = outcomes
        .iter()
        .find(|o| o.model == "check_mrr_identity")
        .expect("the check ran");
    assert_eq!(check.status, "failed", "{check:?}");
    let error = check.error.as_deref().unwrap_or_default();
    assert!(error.contains("rows break this check"), "{error}");
    // The check gates the commit: the mart it reads, and what is built from that, stay out.
    let daily = outcomes
        .iter()
        .find(|o| o.model == "mrr_daily")
        .expect("mrr_daily");
    assert_eq!(
        (daily.status, daily.error.as_deref()),
        (
            "failed",
            Some("not committed (check `check_mrr_identity` failed): the previous version stays")
        )
    );
    let withheld: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.status != "ok")
        .map(|o| o.model.as_str())
        .collect();
    assert_eq!(
        withheld,
        ["mrr_daily", "check_mrr_identity", "kpi_summary"],
        "{outcomes:#?}"
    );
    let committed = stripelake::storage::Table::mart(&storage, "mrr_daily")
        .latest()
        .await
        .expect("read");
    assert_eq!(committed, None, "mrr_daily was never committed");
    assert!(
        storage
            .list("marts/mrr_daily/")
            .await
            .expect("list")
            .is_empty()
    );
}

/// A mart whose rows repeat its declared grain fails, says which key and value, and is never
/// committed: the previous version and its files stay as they were.
#[tokio::test]
async fn a_mart_that_breaks_its_grain_is_not_committed() {
    let text = std::fs::read_to_string(format!("{DIR}/33_revenue_refunds.json")).expect("read");
    let scenario: Value = serde_json::from_str(&text).expect("json");
    let storage = Storage::open("memory://", &Default::default()).expect("memory store");
    let objects: BTreeMap<String, Vec<Value>> =
        serde_json::from_value(scenario["objects"].clone()).expect("objects");
    load_objects(&storage, &objects, 1_772_800_000).await;
    let params = scenario_params(&scenario["params"], None);
    let wanted = ["revenue_daily".to_string()];
    let honest = transform::models::embedded().expect("models");
    let (_, first) = transform::build_models(&storage, &params, honest, &wanted, "t1", false)
        .await
        .expect("transform");
    assert!(first.iter().all(|o| o.status == "ok"), "{first:#?}");
    let mart = stripelake::storage::Table::mart(&storage, "revenue_daily");
    let committed = mart.latest().await.expect("read").expect("committed");

    let mut models = transform::models::embedded().expect("models");
    let daily = models
        .iter_mut()
        .find(|m| m.name == "revenue_daily")
        .expect("revenue_daily");
    daily.sql = format!(
        "SELECT * FROM ({0}\n) a UNION ALL SELECT * FROM ({0}\n) b",
        daily.sql
    );
    let (_, second) = transform::build_models(&storage, &params, models, &wanted, "t2", false)
        .await
        .expect("transform");
    let failed = second
        .iter()
        .find(|o| o.model == "revenue_daily")
        .expect("revenue_daily ran");
    let error = failed.error.as_deref().unwrap_or_default();
    assert_eq!(failed.status, "failed", "{failed:?}");
    assert!(
        error.starts_with("model `revenue_daily` (sql/marts/revenue_daily.sql) failed: declares `-- unique: date, currency` but date = ")
            && error.contains(", currency = ")
            && error.contains(" appears 2 times"),
        "{error}"
    );
    assert_eq!(mart.latest().await.expect("read"), Some(committed.clone()));
    let on_disk: Vec<String> = storage
        .list("marts/revenue_daily/")
        .await
        .expect("list")
        .into_iter()
        .filter(|p| p.ends_with(".parquet"))
        .collect();
    let listed: Vec<String> = committed.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(on_disk, listed, "the refused version's files are gone");
}

/// The scenario names of a directory (its `*.json` files), sorted: each must have a test.
pub fn scenario_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(String::from))
        .collect();
    files.sort();
    files
}

macro_rules! scenarios {
    ($($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                check(&stringify!($name)[1..]).await;
            }
        )+

        #[test]
        fn every_scenario_file_has_a_test() {
            let tested: Vec<&str> = vec![$(&stringify!($name)[1..]),+];
            assert_eq!(scenario_files(DIR), tested);
        }
    };
}

scenarios!(
    s01_monthly_basic,
    s02_yearly_plan,
    s03_weekly_plan,
    s04_daily_plan,
    s05_interval_count,
    s06_quantity_change,
    s07_multiple_items_mixed_intervals,
    s08_tiered_volume,
    s09_tiered_graduated,
    s10_metered_item,
    s11_coupon_once,
    s12_coupon_repeating,
    s13_forever_percent,
    s14_forever_amount_off,
    s15_forever_100pct_churn,
    s16_trial_conversion,
    s17_past_due_counts,
    s18_unpaid_churn,
    s19_paused_churn_reactivation,
    s20_scheduled_cancellation,
    s21_same_day_netting,
    s22_reactivation_same_customer,
    s23_second_subscription_expansion,
    s24_downgrade_contraction,
    s25_monthly_to_annual_contraction,
    s26_jpy_fx_exponent,
    s27_eur_fx_adjustment,
    s28_customer_level_discount,
    s29_report_timezone,
    s30_revenue_charge_fee,
    s31_revenue_partial_capture_reversal,
    s32_revenue_charge_failure,
    s33_revenue_refunds,
    s34_revenue_disputes,
    s35_revenue_fees_payouts_transfers,
    s36_revenue_failed_attempts,
    s37_kpi_customers_aov_top,
    s38_kpi_churned_subscriptions,
    s39_kpi_aov_half_away,
);
