//! `stripelake report` and `stripelake digest` (issue #17), through the binary.
//!
//! The report's numbers are checked against `stripelake query` over the same marts: each tile,
//! and each data point of each chart (read from its `data-mark` / `data-value` attributes), is
//! recomputed here from the marts' daily rows: month ends, monthly sums and shares are worked out
//! in this file, not by the report's code. The digest is checked against a scenario whose every
//! figure was worked out by hand (`tests/digest/days.json`, its `notes`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use chrono::{Datelike, Months, NaiveDate};
use serde_json::{Map, Value};
use stripelake::storage::Storage;
use stripelake::transform;

use crate::support::{self, KEY, NOW, offline as stripelake, text};
use crate::transform_scenarios::{load_objects, scenario_params};

/// The demo's lake at `scale` under `dir/data`; its storage URL.
fn demo_lake(dir: &Path, scale: &str) -> String {
    format!(
        "file://{}",
        support::demo_lake(dir, "data", scale).display()
    )
}

/// `stripelake report --months 13 --out <out>` over the lake, successful.
fn report(dir: &Path, lake: &str, out: &str) -> Output {
    let args = ["--storage", lake, "report", "--months", "13", "--out", out];
    let done = stripelake(dir, &args);
    assert!(done.status.success(), "{}", text(&done.stderr));
    done
}

/// `stripelake query --format json` over the lake: one object per row.
fn query(dir: &Path, lake: &str, sql: &str) -> Vec<Map<String, Value>> {
    let out = stripelake(dir, &["--storage", lake, "query", "--format", "json", sql]);
    assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("{sql}: not a row: {l} ({other:?})"),
        })
        .collect()
}

fn int(row: &Map<String, Value>, key: &str) -> i64 {
    match &row[key] {
        Value::Number(n) => n.as_i64().unwrap_or_else(|| panic!("{key}: {n}")),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("{key}: {s}")),
        Value::Null => 0,
        other => panic!("{key}: {other}"),
    }
}

fn string(row: &Map<String, Value>, key: &str) -> String {
    row[key].as_str().unwrap_or_default().to_string()
}

/// US dollars from cents, written out here independently of the report's formatter.
fn usd(cents: i64) -> String {
    let sign = if cents < 0 { "−" } else { "" };
    let (whole, frac) = (cents.abs() / 100, cents.abs() % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}${grouped}.{frac:02}")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The value of `name="…"` in `tag` (the text of one element's opening tag).
fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + len]))
}

/// Every chart of the page: its `data-chart` id → its marks (`data-mark` → `data-value`).
fn charts(html: &str) -> BTreeMap<String, BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for piece in html.split("<svg ").skip(1) {
        let body = &piece[..piece.find("</svg>").expect("a closed svg")];
        let id = attr(&body[..body.find('>').expect("tag")], "data-chart").expect("data-chart");
        let mut marks = BTreeMap::new();
        for tag in body.split('<').filter(|t| t.contains(" data-mark=\"")) {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            let mark = attr(tag, "data-mark").expect("data-mark");
            let value = attr(tag, "data-value").expect("data-value");
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("{id} {mark}: {value}"));
            assert!(
                marks.insert(mark.clone(), value).is_none(),
                "{id}: mark {mark} twice"
            );
        }
        assert!(out.insert(id.clone(), marks).is_none(), "chart {id} twice");
    }
    out
}

/// The tiles: key → (data-value, data-previous, the value as shown).
fn tiles(html: &str) -> BTreeMap<String, (f64, f64, String)> {
    // (Revenue per visitor without visitor data has empty values; the demo has visitors.)
    let mut out = BTreeMap::new();
    for piece in html.split("<div class=\"tile\"").skip(1) {
        let tag = &piece[..piece.find('>').expect("tag")];
        let number = |name| {
            attr(tag, name)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("tile {tag}: {name}"))
        };
        let shown = piece
            .split("<div class=\"value\">")
            .nth(1)
            .and_then(|v| v.split("</div>").next())
            .map(unescape)
            .expect("a shown value");
        let key = attr(tag, "data-tile").expect("data-tile");
        out.insert(key, (number("data-value"), number("data-previous"), shown));
    }
    out
}

/// The JSON island with every figure of the page.
fn island(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"report-data\">";
    let start = html.find(open).expect("the JSON island") + open.len();
    let len = html[start..].find("</script>").expect("closed");
    serde_json::from_str(&html[start..start + len]).expect("island JSON")
}

/// The last row of each month, by `YYYY-MM` (rows sorted by date, `d` first).
fn month_ends<'a>(
    rows: impl Iterator<Item = &'a Map<String, Value>>,
) -> BTreeMap<String, &'a Map<String, Value>> {
    let mut out = BTreeMap::new();
    for r in rows {
        out.insert(string(r, "d")[..7].to_string(), r);
    }
    out
}

/// Each tile, each chart point and the tables of a 13-month report over the demo's lake (scale
/// 1), against `stripelake query`; the file is self-contained and under 1 MB.
#[test]
fn every_number_in_the_report_is_what_query_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let lake = demo_lake(d, "1");
    let out = report(d, &lake, "r/report.html");
    let summary = support::summary(&out);
    let html = std::fs::read_to_string(d.join("r/report.html")).expect("the report");
    assert_eq!(summary["bytes"], html.len(), "{summary}");
    assert!(html.len() <= 1_000_000, "{} bytes", html.len());

    // Self-contained: nothing is fetched, and the only script is the data island (not run).
    for remote in [
        "http://", "https://", "src=", "href=", "url(", "@import", "<link", "<img", "<iframe",
    ] {
        assert!(!html.contains(remote), "the report contains `{remote}`");
    }
    assert_eq!(html.matches("<script").count(), 1);

    let kpi = |range: &str| {
        query(
            d,
            &lake,
            &format!(
                "SELECT CAST(end_date AS VARCHAR) AS end_date, mrr, arr, active_subscriptions, \
             active_customers, net_revenue_settlement, new_customers, churned_subscriptions, \
             failed_payments, CAST(revenue_per_visitor AS DOUBLE) AS rpv FROM kpi_summary \
             WHERE range_name = '{range}'"
            ),
        )
        .pop()
        .unwrap_or_else(|| panic!("no {range} row"))
    };
    let (now, before) = (kpi("last_30_days"), kpi("previous_30_days"));
    let settlement = query(
        d,
        &lake,
        "SELECT DISTINCT currency FROM mrr_daily WHERE basis = 'settlement'",
    );
    assert_eq!(settlement.len(), 1);
    assert_eq!(
        string(&settlement[0], "currency"),
        "usd",
        "the demo settles in USD"
    );

    // Tiles: the 30 days to as_of against the 30 before, and the value as a person reads it.
    let shown = tiles(&html);
    let columns = [
        ("mrr", "mrr"),
        ("arr", "arr"),
        ("active_subscriptions", "active_subscriptions"),
        ("active_customers", "active_customers"),
        ("net_revenue", "net_revenue_settlement"),
        ("new_customers", "new_customers"),
        ("churned_subscriptions", "churned_subscriptions"),
        ("failed_payments", "failed_payments"),
    ];
    for (tile, column) in columns {
        let (value, previous, text) = &shown[tile];
        assert_eq!(*value, int(&now, column) as f64, "tile {tile}");
        assert_eq!(
            *previous,
            int(&before, column) as f64,
            "tile {tile} (previous)"
        );
        let expected = match ["mrr", "arr", "net_revenue"].contains(&tile) {
            true => usd(int(&now, column)),
            false => int(&now, column).to_string(),
        };
        assert_eq!(text, &expected, "tile {tile} as shown");
    }
    let rpv = now["rpv"].as_f64().expect("the demo has visitors");
    assert_eq!(shown["revenue_per_visitor"].0, rpv);
    assert_eq!(shown["revenue_per_visitor"].2, usd(rpv.round() as i64));
    assert_eq!(shown.len(), columns.len() + 1);

    // The charts, recomputed from the marts' daily rows.
    let as_of = NaiveDate::parse_from_str(&string(&now, "end_date"), "%Y-%m-%d").expect("as_of");
    let first = as_of
        .with_day(1)
        .and_then(|m| m.checked_sub_months(Months::new(12)))
        .expect("first month")
        .to_string();
    let last = as_of.to_string();
    let within = |r: &&Map<String, Value>| {
        let day = string(r, "d");
        day >= first && day <= last
    };
    let daily = query(
        d,
        &lake,
        "SELECT CAST(date AS VARCHAR) AS d, mrr, arr, new_mrr, expansion_mrr, reactivation_mrr, \
         contraction_mrr, churned_mrr, fx_adjustment, net_mrr_movement FROM mrr_daily WHERE \
         basis = 'settlement' ORDER BY date",
    );
    let shown = charts(&html);
    let mut expected: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let ends = month_ends(daily.iter().filter(within));
    assert_eq!(ends.len(), 13, "13 months of MRR");
    expected.insert(
        "mrr".into(),
        ends.iter()
            .map(|(m, r)| (m.clone(), int(r, "mrr")))
            .collect(),
    );
    expected.insert(
        "arr".into(),
        ends.iter()
            .map(|(m, r)| (m.clone(), int(r, "arr")))
            .collect(),
    );

    let parts = [
        ("new", "new_mrr"),
        ("expansion", "expansion_mrr"),
        ("reactivation", "reactivation_mrr"),
        ("contraction", "contraction_mrr"),
        ("churn", "churned_mrr"),
    ];
    let mut sums: BTreeMap<String, BTreeMap<&str, i64>> = BTreeMap::new();
    for r in daily.iter().filter(within) {
        let month = sums.entry(string(r, "d")[..7].to_string()).or_default();
        for (part, column) in parts
            .iter()
            .chain(&[("net", "net_mrr_movement"), ("fx", "fx_adjustment")])
        {
            *month.entry(part).or_default() += int(r, column);
        }
    }
    let mut movements = BTreeMap::new();
    for (month, s) in &sums {
        for (part, _) in parts {
            if s[part] != 0 {
                movements.insert(format!("{month} {part}"), s[part]);
            }
        }
        movements.insert(format!("{month} net"), s["net"]);
    }
    expected.insert("movements".into(), movements);

    // The bridge of as_of's month: MRR the day before it began, its movements, FX, MRR on as_of.
    let this_month = &last[..7];
    let day_before = as_of
        .with_day(1)
        .and_then(|d| d.pred_opt())
        .expect("day")
        .to_string();
    let mrr_on = |day: &str| {
        daily
            .iter()
            .find(|r| string(r, "d") == day)
            .map_or(0, |r| int(r, "mrr"))
    };
    let s = &sums[this_month];
    let mut bridge: BTreeMap<String, i64> =
        parts.iter().map(|(p, _)| (p.to_string(), s[p])).collect();
    bridge.insert("fx".into(), s["fx"]);
    bridge.insert("start".into(), mrr_on(&day_before));
    bridge.insert("end".into(), mrr_on(&last));
    let moved: i64 = parts.iter().map(|(p, _)| s[p]).sum::<i64>() + s["fx"];
    assert_eq!(bridge["start"] + moved, bridge["end"], "the bridge adds up");
    expected.insert("bridge".into(), bridge);

    let revenue = query(
        d,
        &lake,
        "SELECT CAST(date AS VARCHAR) AS d, gross_charges_settlement AS gross, refunds_settlement \
         AS refunds, disputes_settlement AS disputes, fees_settlement AS fees, \
         net_revenue_settlement AS net FROM revenue_daily",
    );
    let mut by_day: BTreeMap<String, [i64; 5]> = BTreeMap::new();
    for r in revenue.iter().filter(within) {
        let day = by_day.entry(string(r, "d")).or_default();
        for (i, c) in ["gross", "refunds", "disputes", "fees", "net"]
            .iter()
            .enumerate()
        {
            day[i] += int(r, c);
        }
    }
    let mut days = BTreeMap::new();
    for (day, [gross, refunds, disputes, fees, net]) in &by_day {
        for (part, v) in [
            ("gross", *gross),
            ("refunds", -refunds),
            ("disputes", -disputes),
            ("fees", -fees),
        ] {
            if v != 0 {
                days.insert(format!("{day} {part}"), v);
            }
        }
        days.insert(format!("{day} net"), *net);
    }
    // Every calendar day is a slot: days without a row are a zero net.
    let mut day = NaiveDate::parse_from_str(&first, "%Y-%m-%d").expect("first");
    while day <= as_of {
        days.entry(format!("{day} net")).or_insert(0);
        day = day.succ_opt().expect("day");
    }
    expected.insert("revenue".into(), days);

    let channels = query(
        d,
        &lake,
        "SELECT channel, gross_revenue_settlement AS gross, unique_visitors AS visitors FROM \
         revenue_per_visitor WHERE range_name = 'last_30_days' AND channel <> 'All'",
    );
    expected.insert(
        "channels".into(),
        channels
            .iter()
            .filter(|r| int(r, "gross") > 0 || int(r, "visitors") > 0)
            .map(|r| (string(r, "channel"), int(r, "gross")))
            .collect(),
    );

    // Reconstructed share of each month's MRR, in tenths of a percent, rounded half up.
    let states = query(
        d,
        &lake,
        "SELECT CAST(date AS VARCHAR) AS d, state_source, mrr_settlement FROM mrr_subscription_daily",
    );
    let mut shares: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in states.iter().filter(within) {
        let month = shares.entry(string(r, "d")[..7].to_string()).or_default();
        let mrr = int(r, "mrr_settlement");
        month.1 += mrr;
        if string(r, "state_source") == "reconstructed" {
            month.0 += mrr;
        }
    }
    expected.insert(
        "reconstructed".into(),
        shares
            .iter()
            .map(|(m, (rebuilt, total))| {
                let tenths = match total {
                    0 => 0,
                    t => (2000 * rebuilt + t) / (2 * t),
                };
                (m.clone(), tenths)
            })
            .collect(),
    );

    // More than one currency: MRR in each, natively, at each month's end.
    let native = query(
        d,
        &lake,
        "SELECT CAST(date AS VARCHAR) AS d, currency, mrr FROM mrr_daily WHERE basis = 'native' \
         ORDER BY date",
    );
    let held: Vec<String> = native
        .iter()
        .filter(|r| string(r, "d") == last && int(r, "mrr") > 0)
        .map(|r| string(r, "currency"))
        .collect();
    assert!(
        held.len() > 1,
        "the demo account bills in several currencies: {held:?}"
    );
    for currency in &held {
        let ends = month_ends(
            native
                .iter()
                .filter(within)
                .filter(|r| &string(r, "currency") == currency),
        );
        expected.insert(
            format!("mrr_{currency}"),
            ends.iter()
                .map(|(m, r)| (m.clone(), int(r, "mrr")))
                .collect(),
        );
    }
    assert_eq!(
        shown.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the charts drawn"
    );
    for (chart, marks) in &expected {
        assert_eq!(&shown[chart], marks, "chart {chart}");
    }

    // The tables: top customers, the last transactions, experiments, as the marts hold them.
    let data = island(&html);
    let top = query(
        d,
        &lake,
        "SELECT rank, customer_key, net_sales, charge_count FROM kpi_top_customers WHERE \
         range_name = 'last_30_days' AND rank <= 10 ORDER BY rank",
    );
    assert_eq!(
        data["top_customers"],
        Value::Array(top.iter().cloned().map(Value::Object).collect())
    );
    for r in &top {
        let row = format!(
            "<td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            string(r, "customer_key"),
            usd(int(r, "net_sales")),
            int(r, "charge_count")
        );
        assert!(html.contains(&row), "top customers lack {row}");
    }
    let recent = query(
        d,
        &lake,
        "SELECT CAST(created AS VARCHAR) AS created, category, customer_key, currency, \
         presentment_amount, net_settlement FROM kpi_recent_transactions WHERE range_name = \
         'last_30_days' ORDER BY rank",
    );
    assert!(!recent.is_empty());
    assert_eq!(
        data["transactions"],
        Value::Array(recent.into_iter().map(Value::Object).collect())
    );
    let experiments = query(
        d,
        &lake,
        "SELECT experiment, variant, visitors, converting_visitors, gross_settlement AS gross \
         FROM experiment_revenue ORDER BY experiment, variant",
    );
    let island_experiments: Vec<(String, String, i64, i64, i64)> = data["experiments"]
        .as_array()
        .expect("experiments")
        .iter()
        .map(|e| {
            let e = e.as_object().expect("row");
            (
                string(e, "experiment"),
                string(e, "variant"),
                int(e, "visitors"),
                int(e, "converting_visitors"),
                int(e, "gross"),
            )
        })
        .collect();
    let marts_experiments: Vec<(String, String, i64, i64, i64)> = experiments
        .iter()
        .map(|e| {
            (
                string(e, "experiment"),
                string(e, "variant"),
                int(e, "visitors"),
                int(e, "converting_visitors"),
                int(e, "gross"),
            )
        })
        .collect();
    assert!(!marts_experiments.is_empty());
    assert_eq!(island_experiments, marts_experiments);
    assert_eq!(data["as_of"], last.as_str());

    // The channel table's visitors and revenue per visitor; MRR by currency on as_of.
    let channel_rows: Vec<Value> = query(
        d,
        &lake,
        "SELECT channel, gross_revenue_settlement AS gross, unique_visitors AS visitors, \
         CAST(revenue_per_visitor AS DOUBLE) AS rpv FROM revenue_per_visitor WHERE range_name = \
         'last_30_days' AND channel <> 'All' AND (unique_visitors > 0 OR \
         gross_revenue_settlement > 0) ORDER BY gross DESC, channel",
    )
    .into_iter()
    .map(Value::Object)
    .collect();
    let listed = |rows: &[Value], keys: &[&str]| -> Vec<String> {
        rows.iter()
            .map(|r| {
                keys.iter()
                    .map(|k| r[*k].to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    let island_channels = data["channels"].as_array().expect("channels");
    assert_eq!(
        listed(island_channels, &["channel", "gross", "visitors"]),
        listed(&channel_rows, &["channel", "gross", "visitors"])
    );
    for (shown, marts) in island_channels.iter().zip(&channel_rows) {
        let (a, b) = (shown["revenue_per_visitor"].as_f64(), marts["rpv"].as_f64());
        assert!(
            a.zip(b).is_some_and(|(a, b)| (a - b).abs() < 0.005),
            "{shown} vs {marts}"
        );
        let per_visitor = usd(b.expect("rpv").round() as i64);
        let cell = format!("<td class=\"num\">{per_visitor}</td></tr>");
        assert!(html.contains(&cell), "the channel table lacks {cell}");
    }
    let per_currency: Vec<Value> = query(
        d,
        &lake,
        &format!(
            "SELECT currency, mrr, active_subscriptions FROM mrr_daily WHERE basis = 'native' \
             AND date = DATE '{last}' AND mrr > 0 ORDER BY mrr DESC, currency"
        ),
    )
    .into_iter()
    .map(Value::Object)
    .collect();
    let keys = ["currency", "mrr", "active_subscriptions"];
    assert_eq!(
        listed(data["currencies"].as_array().expect("currencies"), &keys),
        listed(&per_currency, &keys)
    );

    // When the data was last extracted (kpi_summary.last_extracted_at): the newest row of the
    // tables that decide the as-of day, read from the raw tables themselves.
    let newest = query(
        d,
        &lake,
        "SELECT CAST(max(at) AS VARCHAR) AS at FROM (SELECT max(_extracted_at) AS at FROM \
         raw.balance_transactions UNION ALL SELECT max(_extracted_at) FROM raw.subscriptions \
         UNION ALL SELECT max(_extracted_at) FROM raw.charges) e",
    );
    assert_eq!(data["last_extracted"], newest[0]["at"]);
    let shown = newest[0]["at"].as_str().expect("a time");
    assert!(html.contains(&format!("data last extracted {shown}")));

    // An as-of the marts were not built for is refused with the command that builds it.
    let other = as_of.pred_opt().expect("day").to_string();
    let out = stripelake(d, &["--storage", &lake, "report", "--as-of", &other]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("run `stripelake transform --as-of {other}`")),
        "{err}"
    );
}

/// A lake that was extracted but never transformed: `report` and `digest` say what to run.
#[tokio::test]
async fn without_marts_report_and_digest_say_to_run_the_transform() {
    let sb = support::start(7, 0.05).await;
    let root = tempfile::tempdir().expect("root");
    let out = support::extract(&sb, root.path(), KEY, NOW, &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lake = format!("file://{}", root.path().display());
    let dir = tempfile::tempdir().expect("cwd");
    for command in ["report", "digest"] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stripelake"))
            .args(["--storage", &lake, command])
            .current_dir(dir.path())
            .env_remove("STRIPELAKE_CONFIG")
            .output()
            .await
            .expect("binary runs");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("the lake has no marts to report on")
                && err.contains("run `stripelake transform`"),
            "{command}: {err}"
        );
        assert!(!dir.path().join("report.html").exists());
    }
}

/// The hand-computed digest scenario in a local lake, transformed as of `as_of`.
async fn digest_lake(root: &Path, as_of: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/digest/days.json");
    let scenario: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let mut objects: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for name in scenario["include"].as_array().expect("include") {
        let file = format!(
            "{}/tests/scenarios/{}.json",
            env!("CARGO_MANIFEST_DIR"),
            name.as_str().expect("name")
        );
        let included: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        for (stream, list) in included["objects"].as_object().expect("objects") {
            objects
                .entry(stream.clone())
                .or_default()
                .extend(list.as_array().expect("list").iter().cloned());
        }
    }
    for (stream, list) in scenario["objects"].as_object().expect("objects") {
        objects
            .entry(stream.clone())
            .or_default()
            .extend(list.as_array().expect("list").iter().cloned());
    }
    let storage =
        Storage::open(&format!("file://{}", root.display()), &Default::default()).expect("store");
    // Extracted on 2026-03-21 at 06:00 UTC: every as-of up to 03-20 is covered.
    load_objects(&storage, &objects, 1_774_072_800).await;
    let mut params = scenario_params(&scenario["params"], None);
    params.as_of = Some(NaiveDate::parse_from_str(as_of, "%Y-%m-%d").expect("date"));
    params.report_ranges = true;
    let outcomes = transform::run(&storage, &params, &[], "t1")
        .await
        .expect("transform");
    assert!(outcomes.iter().all(|o| o.status == "ok"), "{outcomes:#?}");
    scenario
}

fn digest(root: &Path, args: &[&str]) -> Output {
    let lake = format!("file://{}", root.display());
    stripelake(
        root,
        &[&["--storage", lake.as_str(), "digest"][..], args].concat(),
    )
}

/// Each figure of the digest, in each format, against the scenario's hand-computed values.
#[tokio::test]
async fn the_digest_shows_the_hand_computed_day() {
    let root = tempfile::tempdir().expect("root");
    let scenario = digest_lake(root.path(), "2026-03-08").await;
    let want = &scenario["expected"];

    let out = digest(root.path(), &["--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: Value = serde_json::from_str(text(&out.stdout).trim()).expect("JSON digest");
    for key in ["day", "day_before", "week_before", "currency"] {
        assert_eq!(got[key], want[key], "{key}");
    }
    let figures = want["figures"].as_object().expect("figures");
    assert_eq!(
        got["figures"].as_object().expect("figures").len(),
        figures.len()
    );
    for (key, values) in figures {
        let g = &got["figures"][key];
        assert_eq!(
            [&g["day"], &g["day_before"], &g["week_before"]],
            [&values[0], &values[1], &values[2]],
            "{key}; notes: {}",
            scenario["notes"]
        );
    }
    assert_eq!(got["largest_new_customer"], want["largest_new_customer"]);
    assert_eq!(
        got["figures"]["net_revenue"]["shown"],
        serde_json::json!(["−$7.91", "$0.00", "$28.83"])
    );

    let out = digest(root.path(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected_text = "\
Stripe digest for 2026-03-08 (against 2026-03-07 and 2026-03-01), amounts in USD
                        2026-03-08   2026-03-07   2026-03-01
Net revenue                 −$7.91        $0.00       $28.83
Payments                         1            0            1
New customers                    1            0            1
New subscribers                  0            0            6
Churned subscriptions            0            1            0
MRR                         $50.00       $50.00      $200.00
Net MRR movement             $0.00      −$30.00      $200.00
Failed payments                  0            1            0
Disputes opened                  1            0            0
Largest new customer: cus_37Fred ($90.00)
";
    assert_eq!(text(&out.stdout), expected_text);

    let out = digest(root.path(), &["--format", "markdown"]);
    let markdown = text(&out.stdout);
    for line in [
        "**Stripe digest for 2026-03-08 (against 2026-03-07 and 2026-03-01), amounts in USD**",
        "| | 2026-03-08 | 2026-03-07 | 2026-03-01 |",
        "|---|---:|---:|---:|",
        "| Net revenue | −$7.91 | $0.00 | $28.83 |",
        "| Payments | 1 | 0 | 1 |",
        "| New customers | 1 | 0 | 1 |",
        "| New subscribers | 0 | 0 | 6 |",
        "| Churned subscriptions | 0 | 1 | 0 |",
        "| MRR | $50.00 | $50.00 | $200.00 |",
        "| Net MRR movement | $0.00 | −$30.00 | $200.00 |",
        "| Failed payments | 0 | 1 | 0 |",
        "| Disputes opened | 1 | 0 | 0 |",
        "Largest new customer: cus_37Fred ($90.00)",
    ] {
        assert!(
            markdown.lines().any(|l| l == line),
            "markdown lacks `{line}`:\n{markdown}"
        );
    }

    // Slack Block Kit: a header, a section of at most ten fields (Slack's limit), a context.
    let out = digest(root.path(), &["--format", "slack"]);
    let slack: Value = serde_json::from_str(text(&out.stdout).trim()).expect("Slack JSON");
    assert!(
        slack["text"]
            .as_str()
            .is_some_and(|t| t.contains("2026-03-08"))
    );
    let blocks = slack["blocks"].as_array().expect("blocks");
    let kinds: Vec<&str> = blocks.iter().filter_map(|b| b["type"].as_str()).collect();
    assert_eq!(kinds, ["header", "section", "context"]);
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    let fields = blocks[1]["fields"].as_array().expect("fields");
    assert!(fields.len() <= 10);
    let field_texts: Vec<&str> = fields.iter().filter_map(|f| f["text"].as_str()).collect();
    assert!(
        field_texts.contains(&"*Net revenue*\n−$7.91 (day before $0.00, a week before $28.83)"),
        "{field_texts:?}"
    );
    assert!(
        field_texts.contains(&"*Churned subscriptions*\n0 (day before 1, a week before 0)"),
        "{field_texts:?}"
    );
    assert!(
        fields
            .iter()
            .all(|f| f["type"] == "mrkdwn" && f["text"].as_str().is_some_and(|t| t.len() <= 2000))
    );
    let context = blocks[2]["elements"][0]["text"].as_str().expect("context");
    assert!(context.contains("cus_37Fred ($90.00)"), "{context}");

    // Another day than the marts were built for: refused, with the command that builds it.
    let out = digest(root.path(), &["--as-of", "2026-03-09"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("the marts were built as of 2026-03-08, not 2026-03-09"),
        "{err}"
    );
}

/// Days without activity are zeros (MRR carries on), not an error.
#[tokio::test]
async fn a_quiet_day_digests_to_zeros() {
    let root = tempfile::tempdir().expect("root");
    digest_lake(root.path(), "2026-03-20").await;
    let out = digest(root.path(), &["--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: Value = serde_json::from_str(text(&out.stdout).trim()).expect("JSON digest");
    assert_eq!(
        [&got["day"], &got["day_before"], &got["week_before"]],
        ["2026-03-20", "2026-03-19", "2026-03-13"]
    );
    for (key, figure) in got["figures"].as_object().expect("figures") {
        let expected = if key == "mrr" { 5000 } else { 0 };
        for column in ["day", "day_before", "week_before"] {
            assert_eq!(figure[column], expected, "{key} {column}");
        }
    }
    assert_eq!(got["largest_new_customer"], Value::Null);
    let out = digest(root.path(), &[]);
    assert!(
        text(&out.stdout).ends_with("Largest new customer: none\n"),
        "{}",
        text(&out.stdout)
    );
}

/// The report in headless Chromium with the network off: no console errors, no requests, every
/// chart drawn, screenshots at 1280 and 390 px (tests/python/browser_check.py).
#[test]
fn the_report_draws_in_a_real_browser() {
    let python = std::env::var("STRIPELAKE_TEST_PYTHON").expect(
        "STRIPELAKE_TEST_PYTHON is unset: run the suite with scripts/test, which installs selenium",
    );
    let chromedriver = std::env::var("STRIPELAKE_CHROMEDRIVER").expect(
        "STRIPELAKE_CHROMEDRIVER is unset: run the suite with scripts/test, which installs \
         Debian's chromium and chromium-driver",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let lake = demo_lake(d, "1");
    report(d, &lake, "report.html");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    let out = std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/browser_check.py"
        ))
        .arg(d.join("report.html"))
        .arg(&shots)
        .arg(chromedriver)
        .output()
        .expect("python runs");
    let findings = text(&out.stdout);
    assert!(out.status.success(), "{findings}\n{}", text(&out.stderr));
    let findings: Value = serde_json::from_str(findings.trim()).expect("findings JSON");
    let charts = findings["charts"].as_array().expect("charts");
    assert!(charts.len() >= 7, "{findings}");
    assert_eq!(findings["tiles"], 9);
    for width in ["1280", "390"] {
        let path = findings["screenshots"][width]["path"]
            .as_str()
            .expect("screenshot");
        assert!(
            std::fs::metadata(path).is_ok_and(|m| m.len() > 10_000),
            "{path}"
        );
    }
    eprintln!(
        "report opened in {} s (load event {} ms); screenshots in {}",
        findings["open_seconds"],
        findings["timing"]["load_ms"],
        shots.display()
    );
}
