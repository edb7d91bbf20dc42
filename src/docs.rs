//! `docs/tables.md`, the data dictionary: every raw table from `schemas/` and every mart from
//! its SQL (the `-- Columns:` block) and its real schema. A test regenerates it and fails when the
//! committed file differs, or when a mart column has no meaning (or a meaning names no column).

use std::fmt::Write;

use arrow::datatypes::{DataType, Schema, TimeUnit};

use crate::stripe::schema::StreamSchema;
use crate::stripe::streams::{STREAMS, Sync};
use crate::transform::models::{Layer, Model};

/// The column meanings of a mart's `-- Columns:` block, in order.
pub fn column_docs(sql: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in sql.lines() {
        let Some(text) = line.strip_prefix("--") else {
            break;
        };
        if text.trim() == "Columns:" {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(rest) = text.strip_prefix("       ") {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(rest.trim());
            }
        } else if let Some((name, meaning)) = text.trim().split_once(": ") {
            out.push((name.to_string(), meaning.trim().to_string()));
        }
    }
    out
}

/// The paragraph above `-- Columns:` (without the grain line, shown on its own).
fn summary(sql: &str) -> String {
    sql.lines()
        .map_while(|l| l.strip_prefix("--"))
        .take_while(|l| l.trim() != "Columns:")
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("unique:"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "string".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Boolean => "bool".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(TimeUnit::Second, _) => "timestamp (s, UTC)".into(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => "timestamp (ms, UTC)".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        other => format!("{other}"),
    }
}

const META: &[(&str, &str)] = &[
    ("_raw", "the whole Stripe object as JSON"),
    ("_extracted_at", "when this version was extracted"),
    ("_run_id", "the extraction run that wrote it"),
    (
        "_account",
        "Stripe account id (Connect) or the key's own account",
    ),
    (
        "_stripe_version",
        "the pinned Stripe API version of the request",
    ),
    ("_deleted", "true for a tombstone (the object was deleted)"),
];

/// The whole dictionary. `marts` are the mart models with their built schemas.
pub fn tables_markdown(marts: &[(&Model, &Schema)]) -> Result<String, String> {
    let mut md = String::from(
        "# Tables\n\nGenerated from `schemas/` and `sql/marts/` by the test \
         `docs::the_data_dictionary_is_current` (run `STRIPELAKE_WRITE_DOCS=1 scripts/test` after \
         changing a schema or a mart). Money is integer minor units; `_settlement` columns are in \
         the settlement currency. Definitions: `../shared/METRICS.md`, choices: \
         `sql/DECISIONS.md`.\n\n## Marts\n",
    );
    for (model, schema) in marts {
        let docs = column_docs(&model.sql);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if let Some(undocumented) = names.iter().find(|n| !docs.iter().any(|(d, _)| d == *n)) {
            return Err(format!(
                "sql/{}: column `{undocumented}` has no line in its `-- Columns:` block",
                model.file
            ));
        }
        if let Some((stale, _)) = docs.iter().find(|(d, _)| !names.contains(&d.as_str())) {
            return Err(format!(
                "sql/{}: `-- Columns:` documents `{stale}`, which the model does not produce",
                model.file
            ));
        }
        let grain = model
            .unique
            .as_ref()
            .map(|g| format!(" One row per `{g}`."))
            .unwrap_or_default();
        let _ = write!(
            md,
            "\n### `{}`\n\n{} (`sql/{}`){grain}\n\n| column | type | meaning |\n|---|---|---|\n",
            model.name,
            summary(&model.sql),
            model.file
        );
        for f in schema.fields() {
            let meaning = docs
                .iter()
                .find(|(d, _)| d == f.name())
                .map(|(_, m)| m.as_str())
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| `{}` | {} | {} |",
                f.name(),
                type_name(f.data_type()),
                meaning.replace('|', "\\|")
            );
        }
    }
    md.push_str("\n## Raw tables\n\nOne per stream, `raw.<stream>` in `stripelake query`, files under `raw/<stream>/account=<acct>/`. Every version of an object the extractor has seen is kept; the staging models take the newest per id.\n");
    for def in STREAMS {
        let schema = StreamSchema::parse(def.name, def.schema).map_err(|e| e.to_string())?;
        let how = match def.sync {
            Sync::Incremental => "incremental by `created`, changes through events",
            Sync::FullRefresh => "listed whole every run",
            Sync::Snapshot => "one snapshot per run",
            Sync::Child => "the parent's embedded list, completed through its sub-list",
        };
        let _ = write!(
            md,
            "\n### `raw.{}`\n\nStripe `{}` objects from `{}` ({how}); permission `{}`.\n\n| column | type | meaning |\n|---|---|---|\n",
            def.name, def.object, def.path, def.permission
        );
        for (c, field) in schema.columns.iter().zip(schema.arrow.fields()) {
            let path = c.path.join(".");
            let meaning = match &c.doc {
                Some(doc) if path != c.name => format!("{doc} (Stripe `{path}`)"),
                Some(doc) => doc.clone(),
                None => format!("Stripe `{path}`"),
            };
            let _ = writeln!(
                md,
                "| `{}` | {} | {} |",
                c.name,
                type_name(field.data_type()),
                meaning.replace('|', "\\|")
            );
        }
        for (name, meaning) in META {
            let t = schema
                .arrow
                .field_with_name(name)
                .map(|f| type_name(f.data_type()))
                .unwrap_or_default();
            let _ = writeln!(md, "| `{name}` | {t} | {meaning} |");
        }
    }
    visitor_events(&mut md)?;
    Ok(md)
}

/// `raw.visitor_events`, which `load-visitors` writes from the user's web-analytics export.
fn visitor_events(md: &mut String) -> Result<(), String> {
    let _ = write!(
        md,
        "\n### `raw.visitor_events`\n\nWeb-analytics events loaded by `stripelake load-visitors` \
         (README \"Visitors and attribution\"): each source file's newest load, under \
         `raw/visitor_events/file=<hash of its name>/`.\n\n| column | type | meaning |\n|---|---|---|\n"
    );
    for field in crate::visitors::schema().fields() {
        let meaning = crate::visitors::COLUMN_DOCS
            .iter()
            .find(|(c, _)| c == field.name())
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                format!(
                    "raw.visitor_events: column `{}` has no meaning",
                    field.name()
                )
            })?;
        let _ = writeln!(
            md,
            "| `{}` | {} | {meaning} |",
            field.name(),
            type_name(field.data_type())
        );
    }
    Ok(())
}

/// The marts of the embedded model set.
pub fn marts() -> Result<Vec<Model>, String> {
    Ok(crate::transform::models::embedded()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|m| m.layer == Layer::Mart)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::column_docs;

    #[test]
    fn column_blocks_parse_with_continuations() {
        let sql = "-- What it is.\n--\n-- Columns:\n--   a: first\n--   b: second,\n--       continued\nSELECT 1 AS a, 2 AS b";
        assert_eq!(
            column_docs(sql),
            [
                ("a".to_string(), "first".to_string()),
                ("b".to_string(), "second, continued".to_string())
            ]
        );
    }
}
