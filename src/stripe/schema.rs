//! Stream schemas: `schemas/<stream>.json` → Arrow schema, and Stripe objects → RecordBatches.
//!
//! Typed columns are read by JSON path; every row also keeps the whole object as `_raw`, so
//! nothing Stripe sends is lost and unknown fields are never an error.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Columns every raw row carries besides its typed ones.
pub const RAW: &str = "_raw";
pub const META_COLUMNS: [&str; 6] = [
    "_raw",
    "_extracted_at",
    "_run_id",
    "_account",
    "_stripe_version",
    "_deleted",
];

#[derive(Debug, Deserialize)]
struct SchemaFile {
    stream: String,
    columns: Vec<ColumnFile>,
}

#[derive(Debug, Deserialize)]
struct ColumnFile {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    path: Option<String>,
    #[serde(default)]
    doc: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    String,
    Int64,
    Bool,
    Timestamp,
    Decimal,
    Json,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub path: Vec<String>,
    pub kind: ColumnType,
    pub doc: Option<String>,
}

/// A stream's columns and the Arrow schema they make.
#[derive(Clone, Debug)]
pub struct StreamSchema {
    pub stream: String,
    pub columns: Vec<Column>,
    pub arrow: SchemaRef,
}

/// What every row of one extraction shares.
#[derive(Clone, Debug)]
pub struct RowContext {
    pub run_id: String,
    pub extracted_at_ms: i64,
    pub account: String,
    pub stripe_version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schemas/{stream}.json: {message}")]
    File { stream: String, message: String },
    #[error("{stream}: cannot decode rows into the schema: {source}")]
    Decode {
        stream: String,
        source: arrow::error::ArrowError,
    },
}

impl ColumnType {
    fn parse(s: &str) -> Option<ColumnType> {
        Some(match s {
            "string" => ColumnType::String,
            "int64" => ColumnType::Int64,
            "bool" => ColumnType::Bool,
            "timestamp" => ColumnType::Timestamp,
            "decimal" => ColumnType::Decimal,
            "json" => ColumnType::Json,
            _ => return None,
        })
    }

    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::String | ColumnType::Json => DataType::Utf8,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
            // Exchange rates and percentages, exact: never floats.
            ColumnType::Decimal => DataType::Decimal128(28, 12),
        }
    }
}

impl StreamSchema {
    pub fn parse(stream: &str, text: &str) -> Result<StreamSchema, SchemaError> {
        let err = |message: String| SchemaError::File {
            stream: stream.into(),
            message,
        };
        let file: SchemaFile =
            serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        if file.stream != stream {
            return Err(err(format!("names stream `{}`", file.stream)));
        }
        let mut columns = Vec::new();
        for c in file.columns {
            let kind = ColumnType::parse(&c.kind)
                .ok_or_else(|| err(format!("column `{}`: unknown type `{}`", c.name, c.kind)))?;
            if META_COLUMNS.contains(&c.name.as_str()) {
                return Err(err(format!("column `{}` is reserved", c.name)));
            }
            let path = c
                .path
                .as_deref()
                .unwrap_or(&c.name)
                .split('.')
                .map(str::to_string)
                .collect();
            columns.push(Column {
                name: c.name,
                path,
                kind,
                doc: c.doc,
            });
        }
        let mut fields: Vec<Field> = columns
            .iter()
            .map(|c| {
                Field::new(
                    &c.name,
                    c.kind.arrow(),
                    c.name != "id" || stream == "balance",
                )
            })
            .collect();
        fields.extend([
            Field::new("_raw", DataType::Utf8, false),
            Field::new(
                "_extracted_at",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                false,
            ),
            Field::new("_run_id", DataType::Utf8, false),
            Field::new("_account", DataType::Utf8, false),
            Field::new("_stripe_version", DataType::Utf8, false),
            Field::new("_deleted", DataType::Boolean, false),
        ]);
        Ok(StreamSchema {
            stream: stream.into(),
            columns,
            arrow: Arc::new(Schema::new(fields)),
        })
    }

    /// One flat row: typed columns by path, then the metadata columns.
    pub fn row(&self, object: &Value, ctx: &RowContext, deleted: bool) -> Map<String, Value> {
        let mut row = Map::new();
        for c in &self.columns {
            let mut v = object;
            for seg in &c.path {
                v = v.get(seg).unwrap_or(&Value::Null);
            }
            let value = match (c.kind, v) {
                (_, Value::Null) => Value::Null,
                (ColumnType::Json, v) => Value::String(v.to_string()),
                // An expanded reference still yields its id.
                (ColumnType::String, Value::Object(o)) => {
                    o.get("id").cloned().unwrap_or(Value::Null)
                }
                (ColumnType::Decimal, Value::Number(n)) => Value::String(n.to_string()),
                (_, v) => v.clone(),
            };
            row.insert(c.name.clone(), value);
        }
        row.insert("_raw".into(), Value::String(object.to_string()));
        row.insert("_extracted_at".into(), Value::from(ctx.extracted_at_ms));
        row.insert("_run_id".into(), Value::String(ctx.run_id.clone()));
        row.insert("_account".into(), Value::String(ctx.account.clone()));
        row.insert(
            "_stripe_version".into(),
            Value::String(ctx.stripe_version.clone()),
        );
        row.insert("_deleted".into(), Value::Bool(deleted));
        row
    }

    /// Rows → one RecordBatch, through arrow-json's decoder.
    pub fn batch(&self, rows: &[Map<String, Value>]) -> Result<RecordBatch, SchemaError> {
        let decode = |source| SchemaError::Decode {
            stream: self.stream.clone(),
            source,
        };
        let mut decoder = arrow::json::ReaderBuilder::new(self.arrow.clone())
            .with_batch_size(rows.len().max(1))
            .build_decoder()
            .map_err(decode)?;
        decoder.serialize(rows).map_err(decode)?;
        Ok(decoder
            .flush()
            .map_err(decode)?
            .unwrap_or_else(|| RecordBatch::new_empty(self.arrow.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_types_and_expanded_ids_decode() {
        let text = r#"{"stream":"t","columns":[{"name":"id","type":"string"},{"name":"created","type":"timestamp"},{"name":"sub","type":"string","path":"parent.sub"},{"name":"rate","type":"decimal"},{"name":"meta","type":"json","path":"metadata"}]}"#;
        let s = StreamSchema::parse("t", text).expect("schema");
        let ctx = RowContext {
            run_id: "r1".into(),
            extracted_at_ms: 5,
            account: "acct_1".into(),
            stripe_version: "v".into(),
        };
        let obj = json!({"id": "x_1", "created": 1_700_000_000, "parent": {"sub": {"id": "sub_9", "object": "subscription"}}, "rate": 1.276773, "metadata": {"a": "b"}, "unknown": [1]});
        let batch = s.batch(&[s.row(&obj, &ctx, false)]).expect("batch");
        assert_eq!(batch.num_rows(), 1);
        let sub = batch.column_by_name("sub").expect("sub");
        let sub = sub
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("utf8");
        assert_eq!(sub.value(0), "sub_9");
        let rate = batch.column_by_name("rate").expect("rate");
        let rate = rate
            .as_any()
            .downcast_ref::<arrow::array::Decimal128Array>()
            .expect("decimal");
        assert_eq!(rate.value_as_string(0), "1.276773000000");
        let raw = batch.column_by_name("_raw").expect("raw");
        let raw = raw
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("utf8");
        assert!(raw.value(0).contains("\"unknown\":[1]"));
    }

    #[test]
    fn a_bad_schema_names_the_file_and_column() {
        let err = StreamSchema::parse(
            "t",
            r#"{"stream":"t","columns":[{"name":"x","type":"float"}]}"#,
        )
        .expect_err("bad type");
        assert_eq!(
            err.to_string(),
            "schemas/t.json: column `x`: unknown type `float`"
        );
    }
}
