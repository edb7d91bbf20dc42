//! The model graph: every `sql/**/*.sql` file is a table named after the file, its dependencies
//! are the tables its SQL reads, and it runs after them.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/sql_files.rs"));
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    Staging,
    Intermediate,
    Mart,
    /// `sql/checks/`: a query whose rows are violations; built after what it reads, stored nowhere.
    Check,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    /// Path under `sql/`, for messages.
    pub file: String,
    pub sql: String,
    pub layer: Layer,
    pub deps: BTreeSet<String>,
    /// A staging or intermediate model with the line `-- Materialized: view`: its readers
    /// inline its query instead of reading a table held in memory (for wide, large inputs that
    /// are a plain projection of a raw table).
    pub view: bool,
    /// Its grain, from the line `-- unique: a, b` (checks have none): the runner fails the
    /// model when two rows share it.
    pub unique: Option<Grain>,
    /// Made by the runner (`latest.<stream>`), not a file under `sql/`.
    pub generated: bool,
}

/// What identifies a row of a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grain {
    /// These columns together.
    Columns(Vec<String>),
    /// The model has at most one row (`-- unique: (one row)`).
    OneRow,
}

impl std::fmt::Display for Grain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grain::Columns(c) => f.write_str(&c.join(", ")),
            Grain::OneRow => f.write_str(ONE_ROW),
        }
    }
}

/// The line that makes a model a view.
pub const VIEW_MARKER: &str = "-- Materialized: view";
/// The line that declares a model's grain: `-- unique: date, currency`.
pub const UNIQUE_MARKER: &str = "-- unique:";
const ONE_ROW: &str = "(one row)";
/// The schema of the relations the runner makes: `latest.<stream>`.
pub const LATEST: &str = "latest";

/// A seed: a CSV under `sql/seeds/` registered as a table of the same name.
pub struct Seed {
    pub name: String,
    pub csv: &'static str,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GraphError {
    #[error("sql/{file}: {message}")]
    Parse { file: String, message: String },
    #[error("sql/{file}: reads `{table}`, which is neither a model nor a raw table")]
    Missing { file: String, table: String },
    #[error("models depend on each other in a cycle: {}", files.join(" → "))]
    Cycle { files: Vec<String> },
    #[error("sql/{a} and sql/{b} both define `{name}`")]
    Duplicate { name: String, a: String, b: String },
    #[error("unknown model `{name}` in --models / [transform] models; known: {known}")]
    Unknown { name: String, known: String },
    #[error(
        "sql/{file}: no `-- unique: <columns>` line: declare the columns that identify a row \
         (or `-- unique: (one row)`), so every build checks them"
    )]
    NoGrain { file: String },
}

pub fn seeds() -> Vec<Seed> {
    embedded::FILES
        .iter()
        .filter(|(path, _)| path.ends_with(".csv"))
        .map(|(path, csv)| Seed {
            name: stem(path),
            csv,
        })
        .collect()
}

fn stem(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.rsplit_once('.').map_or(file, |(s, _)| s).to_string()
}

fn layer(path: &str) -> Layer {
    match path.split('/').next() {
        Some("staging") => Layer::Staging,
        Some("intermediate") => Layer::Intermediate,
        Some("checks") => Layer::Check,
        _ => Layer::Mart,
    }
}

/// Every embedded model, parsed.
pub fn embedded() -> Result<Vec<Model>, GraphError> {
    let files = embedded::FILES
        .iter()
        .filter(|(path, _)| path.ends_with(".sql"))
        .map(|(p, s)| (p.to_string(), s.to_string()));
    parse_all(files)
}

pub fn parse_all(files: impl Iterator<Item = (String, String)>) -> Result<Vec<Model>, GraphError> {
    let mut models: Vec<Model> = Vec::new();
    for (file, sql) in files {
        let name = stem(&file);
        if let Some(other) = models.iter().find(|m| m.name == name) {
            return Err(GraphError::Duplicate {
                name,
                a: other.file.clone(),
                b: file,
            });
        }
        let deps = dependencies(&file, &sql)?;
        let layer = layer(&file);
        let view = matches!(layer, Layer::Staging | Layer::Intermediate)
            && sql.lines().any(|l| l.trim() == VIEW_MARKER);
        let unique = grain(&sql);
        if unique.is_none() && layer != Layer::Check {
            return Err(GraphError::NoGrain { file });
        }
        models.push(Model {
            name,
            layer,
            file,
            sql,
            deps,
            view,
            unique,
            generated: false,
        });
    }
    Ok(models)
}

/// The grain a model's leading comment declares.
pub fn grain(sql: &str) -> Option<Grain> {
    let line = sql
        .lines()
        .map_while(|l| l.trim_start().starts_with("--").then_some(l.trim()))
        .find_map(|l| l.strip_prefix(UNIQUE_MARKER))?
        .trim();
    if line == ONE_ROW {
        return Some(Grain::OneRow);
    }
    let columns: Vec<String> = line
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    (!columns.is_empty()).then_some(Grain::Columns(columns))
}

/// `latest.<stream>` for every raw stream: the newest stored version of each object (per
/// `(_account, id)`, later extractions first), tombstones dropped, and one mode (live or test;
/// objects without `livemode`, such as balance transactions, belong to the lake's mode). Staging
/// models read these, so the rule is written once.
pub fn latest_relations() -> Result<Vec<Model>, String> {
    let mut out = Vec::new();
    for def in crate::stripe::streams::STREAMS {
        let schema = crate::stripe::schema::StreamSchema::parse(def.name, def.schema)
            .map_err(|e| e.to_string())?;
        let columns: Vec<&str> = schema
            .arrow
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        // Snapshots without an id (the balance) have no versions to choose between.
        if columns.contains(&"id") {
            out.push(latest_relation(def.name, &columns));
        }
    }
    Ok(out)
}

fn latest_relation(stream: &str, columns: &[&str]) -> Model {
    let list: Vec<String> = columns.iter().map(|c| format!("v.\"{c}\"")).collect();
    let mode = match columns.contains(&"livemode") {
        true => "\n  AND COALESCE(v.livemode, s.livemode) = s.livemode",
        false => "",
    };
    // The one-row settings go first: on the right of a CROSS JOIN, DataFusion emits a batch
    // per row (BENCHMARKS.md).
    let sql = format!(
        "SELECT {}\nFROM stg_settings s\nCROSS JOIN (\n    SELECT *, row_number() OVER \
         (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank\n    \
         FROM raw.{stream}\n) v\nWHERE v.version_rank = 1\n  AND NOT v._deleted{mode}",
        list.join(", ")
    );
    Model {
        name: format!("{LATEST}.{stream}"),
        file: format!("made by the runner from raw.{stream}"),
        deps: BTreeSet::from([format!("raw.{stream}"), "stg_settings".to_string()]),
        sql,
        layer: Layer::Staging,
        view: true,
        unique: None,
        generated: true,
    }
}

fn dependencies(file: &str, sql: &str) -> Result<BTreeSet<String>, GraphError> {
    let parse = |message: String| GraphError::Parse {
        file: file.into(),
        message,
    };
    let statements = DFParser::parse_sql(sql).map_err(|e| parse(e.to_string()))?;
    if statements.len() != 1 {
        return Err(parse(format!(
            "holds {} statements; a model is exactly one SELECT",
            statements.len()
        )));
    }
    let (tables, _ctes) =
        resolve_table_references(&statements[0], true).map_err(|e| parse(e.to_string()))?;
    Ok(tables.iter().map(|t| t.to_string()).collect())
}

/// Models in an order where each comes after what it reads; `external` are tables that exist
/// before any model runs (raw streams, seeds, params).
pub fn order(models: &[Model], external: &BTreeSet<String>) -> Result<Vec<Model>, GraphError> {
    let by_name: BTreeMap<&str, &Model> = models.iter().map(|m| (m.name.as_str(), m)).collect();
    for m in models {
        if let Some(table) = m
            .deps
            .iter()
            .find(|d| !by_name.contains_key(d.as_str()) && !external.contains(*d))
        {
            return Err(GraphError::Missing {
                file: m.file.clone(),
                table: table.clone(),
            });
        }
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    // Deterministic Kahn: each round takes every ready model in name order.
    while out.len() < models.len() {
        let ready: Vec<&Model> = models
            .iter()
            .filter(|m| !done.contains(m.name.as_str()))
            .filter(|m| {
                m.deps
                    .iter()
                    .all(|d| done.contains(d.as_str()) || !by_name.contains_key(d.as_str()))
            })
            .collect();
        if ready.is_empty() {
            return Err(GraphError::Cycle {
                files: cycle(models, &done),
            });
        }
        for m in ready {
            done.insert(&m.name);
            out.push(m.clone());
        }
    }
    Ok(out)
}

/// One cycle among the models not yet ordered, as files, first file repeated at the end.
fn cycle(models: &[Model], done: &BTreeSet<&str>) -> Vec<String> {
    let left: BTreeMap<&str, &Model> = models
        .iter()
        .filter(|m| !done.contains(m.name.as_str()))
        .map(|m| (m.name.as_str(), m))
        .collect();
    let Some(mut at) = left.values().next().copied() else {
        return Vec::new();
    };
    let mut path: Vec<&Model> = Vec::new();
    loop {
        if let Some(pos) = path.iter().position(|m| m.name == at.name) {
            let mut files: Vec<String> = path[pos..].iter().map(|m| m.file.clone()).collect();
            files.push(at.file.clone());
            return files;
        }
        path.push(at);
        let Some(next) = at.deps.iter().find_map(|d| left.get(d.as_str())) else {
            return path.iter().map(|m| m.file.clone()).collect();
        };
        at = next;
    }
}

/// The models to run for `--models a,b`: those and everything they read, in order.
pub fn select(ordered: Vec<Model>, wanted: &[String]) -> Result<Vec<Model>, GraphError> {
    if wanted.is_empty() {
        return Ok(ordered);
    }
    let known: BTreeSet<&str> = ordered.iter().map(|m| m.name.as_str()).collect();
    if let Some(bad) = wanted.iter().find(|w| !known.contains(w.as_str())) {
        return Err(GraphError::Unknown {
            name: bad.clone(),
            known: known.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    let mut keep: BTreeSet<String> = wanted.iter().cloned().collect();
    for m in ordered.iter().rev() {
        if keep.contains(&m.name) {
            keep.extend(m.deps.iter().cloned());
        }
    }
    // The checks gate the commit: every check whose models are all being built runs too.
    for check in ordered.iter().filter(|m| m.layer == Layer::Check) {
        let models_read = check.deps.iter().filter(|d| known.contains(d.as_str()));
        if models_read.clone().count() > 0 && models_read.clone().all(|d| keep.contains(d)) {
            keep.insert(check.name.clone());
        }
    }
    Ok(ordered
        .into_iter()
        .filter(|m| keep.contains(&m.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(files: &[(&str, &str)]) -> Result<Vec<Model>, GraphError> {
        parse_all(
            files
                .iter()
                .map(|(p, s)| (p.to_string(), format!("-- unique: id\n{s}"))),
        )
    }

    #[test]
    fn selecting_models_brings_the_checks_over_them() {
        let models = embedded().expect("models");
        let mut external: BTreeSet<String> = crate::stripe::streams::STREAMS
            .iter()
            .map(|s| format!("raw.{}", s.name))
            .collect();
        external.extend(seeds().into_iter().map(|s| s.name));
        external.extend(
            [
                "params",
                "kpi_windows",
                "visitor_metadata_keys",
                "raw.visitor_events",
            ]
            .map(String::from),
        );
        let mut all = models.clone();
        all.extend(latest_relations().expect("relations"));
        let ordered = order(&all, &external).expect("order");
        let names = |wanted: &[&str]| -> Vec<String> {
            let wanted: Vec<String> = wanted.iter().map(|w| w.to_string()).collect();
            select(ordered.clone(), &wanted)
                .expect("select")
                .into_iter()
                .filter(|m| m.layer == Layer::Check)
                .map(|m| m.name)
                .collect()
        };
        assert_eq!(
            names(&["mrr_daily"]),
            ["check_movements_sum", "check_mrr_identity"]
        );
        assert_eq!(names(&["revenue_daily"]), ["check_revenue_ledger"]);
        assert_eq!(names(&["customers"]), Vec::<String>::new());
    }

    #[test]
    fn a_model_declares_its_grain_or_is_refused() {
        assert_eq!(
            grain("-- What it is.\n-- unique: date, currency\nSELECT 1"),
            Some(Grain::Columns(vec!["date".into(), "currency".into()]))
        );
        assert_eq!(grain("-- unique: (one row)\nSELECT 1"), Some(Grain::OneRow));
        assert_eq!(
            grain("SELECT 1 -- unique: a"),
            None,
            "only the leading comment"
        );
        let e = parse_all(std::iter::once((
            "marts/m.sql".into(),
            "SELECT 1 AS a".into(),
        )))
        .expect_err("no grain");
        assert_eq!(
            e,
            GraphError::NoGrain {
                file: "marts/m.sql".into()
            }
        );
        let check = parse_all(std::iter::once((
            "checks/c.sql".into(),
            "SELECT 1 AS a".into(),
        )));
        assert!(
            check.is_ok(),
            "a check's rows are violations: it has no grain"
        );
    }

    #[test]
    fn order_follows_the_sql_and_ignores_ctes() {
        let models = graph(&[
            (
                "marts/b.sql",
                "WITH x AS (SELECT * FROM a) SELECT * FROM x JOIN raw.r1 USING (id)",
            ),
            ("staging/a.sql", "SELECT * FROM raw.r1"),
        ])
        .expect("parse");
        let ext = BTreeSet::from(["raw.r1".to_string()]);
        let names: Vec<String> = order(&models, &ext)
            .expect("order")
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn a_missing_table_and_a_cycle_name_the_files() {
        let models = graph(&[("marts/b.sql", "SELECT * FROM nowhere")]).expect("parse");
        assert_eq!(
            order(&models, &BTreeSet::new())
                .expect_err("missing")
                .to_string(),
            "sql/marts/b.sql: reads `nowhere`, which is neither a model nor a raw table"
        );
        let models = graph(&[
            ("marts/a.sql", "SELECT * FROM b"),
            ("marts/b.sql", "SELECT * FROM a"),
        ])
        .expect("parse");
        assert_eq!(
            order(&models, &BTreeSet::new())
                .expect_err("cycle")
                .to_string(),
            "models depend on each other in a cycle: marts/a.sql → marts/b.sql → marts/a.sql"
        );
    }

    #[test]
    fn bad_sql_names_the_file() {
        let e = graph(&[("marts/x.sql", "SELEC 1")]).expect_err("bad");
        assert!(e.to_string().starts_with("sql/marts/x.sql: "), "{e}");
    }

    #[test]
    fn the_embedded_models_form_a_graph_over_known_tables() {
        let models = embedded().expect("embedded models parse");
        assert!(models.iter().any(|m| m.name == "revenue_daily"));
        let mut external: BTreeSet<String> = crate::stripe::streams::STREAMS
            .iter()
            .map(|s| format!("raw.{}", s.name))
            .collect();
        external.extend(seeds().into_iter().map(|s| s.name));
        external.insert("params".into());
        external.insert("kpi_windows".into());
        external.insert("visitor_metadata_keys".into());
        external.insert("raw.visitor_events".into());
        let mut all = models.clone();
        all.extend(latest_relations().expect("every stream's relation"));
        order(&all, &external).expect("every model's inputs exist and there is no cycle");
        let staging_reads_raw: Vec<&str> = models
            .iter()
            .filter(|m| m.deps.iter().any(|d| d.starts_with("raw.")))
            .map(|m| m.name.as_str())
            .collect();
        // Staging reads `latest.<stream>`; only these need every stored version (discount
        // objects and subscription states anywhere in the history, extraction times and modes),
        // or read what is not a Stripe object.
        assert_eq!(
            staging_reads_raw,
            [
                "int_discounts",
                "int_subscription_exact_states",
                "stg_settings",
                "stg_visitor_events"
            ]
        );
        let checks = models.iter().filter(|m| m.layer == Layer::Check).count();
        assert!(checks >= 3, "the identity checks are models too");
    }
}
