//! Reading one local file (CSV, NDJSON or Parquet) through the mapping into Arrow batches of
//! `raw.visitor_events`. Every row either becomes a table row or a quarantine record with its
//! line and reason: nothing is dropped silently.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int64Builder, StringArray, StringBuilder, TimestampMillisecondBuilder,
    TimestampSecondBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};
use tokio::sync::mpsc::Sender;

use super::{Lookup, Mapping, VisitorError, schema};
use crate::config::VISITOR_COLUMNS;

const BATCH_ROWS: usize = 65_536;
const COLUMNS: usize = VISITOR_COLUMNS.len();

/// Which reader a file needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
}

/// Bad rows after which a file already past its bad-row ratio is not read further: it will be
/// refused, and its quarantine records must not grow with the file.
const GIVE_UP_AFTER: u64 = 10_000;

/// Which load the rows belong to, and the bad-row ratio that refuses a file.
#[derive(Clone, Copy, Debug)]
pub struct Stamp<'a> {
    pub load_id: &'a str,
    pub loaded_at_ms: i64,
    pub max_bad_row_ratio: f64,
}

/// What a file's reading produced besides its batches.
#[derive(Debug, Default)]
pub struct FileOutcome {
    pub rows: u64,
    pub bad_rows: u64,
    /// NDJSON quarantine records: `{"file","line","reason","raw"}`.
    pub quarantine: Vec<u8>,
    /// The first few bad rows as `line N: reason`, for the log (never the row's content).
    pub examples: Vec<String>,
    /// Reading stopped after `GIVE_UP_AFTER` bad rows, past the ratio.
    pub stopped_early: bool,
}

/// Validates rows and builds batches; sends each full batch to the writer.
struct Sink<'a> {
    file: &'a str,
    stamp: Stamp<'a>,
    text: Vec<StringBuilder>,
    timestamps: TimestampSecondBuilder,
    lines: Int64Builder,
    len: usize,
    out: FileOutcome,
    tx: &'a Sender<RecordBatch>,
}

impl<'a> Sink<'a> {
    fn new(file: &'a str, stamp: Stamp<'a>, tx: &'a Sender<RecordBatch>) -> Self {
        Sink {
            file,
            stamp,
            text: (0..COLUMNS - 1).map(|_| StringBuilder::new()).collect(),
            timestamps: TimestampSecondBuilder::new().with_timezone("UTC"),
            lines: Int64Builder::new(),
            len: 0,
            out: FileOutcome::default(),
            tx,
        }
    }

    /// One row's values in `VISITOR_COLUMNS` order.
    fn row(&mut self, line: u64, values: &[Option<&str>; COLUMNS], raw: impl FnOnce() -> String) {
        let visitor = values[0].map(str::trim).filter(|v| !v.is_empty());
        let Some(visitor) = visitor else {
            return self.bad(line, "missing visitor_id".into(), raw());
        };
        let Some(ts_text) = values[1].map(str::trim).filter(|v| !v.is_empty()) else {
            return self.bad(line, "missing timestamp".into(), raw());
        };
        let Some(ts) = super::parse_timestamp(ts_text) else {
            // The reason reaches the log: a mis-mapped column must not put an email there.
            let reason = if ts_text.contains('@') {
                "unparseable timestamp (the value looks like an email: check the mapping)".into()
            } else {
                let shown: String = ts_text.chars().take(40).collect();
                format!("unparseable timestamp {shown:?}")
            };
            return self.bad(line, reason, raw());
        };
        self.text[0].append_value(visitor);
        self.timestamps.append_value(ts);
        for (i, v) in values.iter().enumerate().skip(2) {
            let v = v.map(str::trim).filter(|v| !v.is_empty());
            let builder = &mut self.text[i - 1];
            match v {
                // Emails are matched normalised (METRICS.md §6.1 rule 7).
                Some(v) if VISITOR_COLUMNS[i] == "email" => builder.append_value(v.to_lowercase()),
                Some(v) => builder.append_value(v),
                None => builder.append_null(),
            }
        }
        self.lines.append_value(line as i64);
        self.len += 1;
        self.out.rows += 1;
        if self.len >= BATCH_ROWS {
            self.flush();
        }
    }

    fn bad(&mut self, line: u64, reason: String, raw: String) {
        self.out.bad_rows += 1;
        if self.out.examples.len() < 5 {
            self.out.examples.push(format!("line {line}: {reason}"));
        }
        let record =
            serde_json::json!({"file": self.file, "line": line, "reason": reason, "raw": raw});
        self.out.quarantine.extend(record.to_string().as_bytes());
        self.out.quarantine.push(b'\n');
        let seen = (self.out.rows + self.out.bad_rows) as f64;
        if self.out.bad_rows >= GIVE_UP_AFTER
            && self.out.bad_rows as f64 / seen > self.stamp.max_bad_row_ratio
        {
            self.out.stopped_early = true;
        }
    }

    fn done(&self) -> bool {
        self.out.stopped_early
    }

    fn flush(&mut self) {
        if self.len == 0 {
            return;
        }
        let n = self.len;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(COLUMNS + 4);
        columns.push(Arc::new(self.text[0].finish()));
        columns.push(Arc::new(self.timestamps.finish()));
        for b in &mut self.text[1..] {
            columns.push(Arc::new(b.finish()));
        }
        columns.push(Arc::new(StringArray::from(vec![self.file; n])));
        columns.push(Arc::new(self.lines.finish()));
        columns.push(Arc::new(StringArray::from(vec![self.stamp.load_id; n])));
        let mut loaded = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        loaded.append_value_n(self.stamp.loaded_at_ms, n);
        columns.push(Arc::new(loaded.finish()));
        self.len = 0;
        match RecordBatch::try_new(schema(), columns) {
            // A closed channel means the writer failed; it reports why.
            Ok(batch) => {
                let _ = self.tx.blocking_send(batch);
            }
            Err(e) => panic!("visitor batch does not match its own schema: {e}"),
        }
    }

    fn finish(mut self) -> FileOutcome {
        self.flush();
        self.out
    }
}

/// Reads `path` (the local copy of `file`) and sends its batches; blocking.
pub fn read_file(
    path: &Path,
    file: &str,
    format: Format,
    mapping: &Mapping,
    stamp: Stamp<'_>,
    tx: &Sender<RecordBatch>,
) -> Result<FileOutcome, VisitorError> {
    let io = |e: std::io::Error| VisitorError::Format {
        file: file.into(),
        message: format!("cannot read: {e}"),
    };
    let mut sink = Sink::new(file, stamp, tx);
    let mut f = std::fs::File::open(path).map_err(io)?;
    if format != Format::Parquet {
        refuse_non_text(&mut f, file)?;
    }
    match format {
        Format::Csv => read_csv(
            BufReader::with_capacity(1 << 20, f),
            file,
            mapping,
            &mut sink,
        )?,
        Format::Ndjson => read_ndjson(
            BufReader::with_capacity(1 << 20, f),
            file,
            mapping,
            &mut sink,
        )?,
        Format::Parquet => read_parquet(f, file, mapping, &mut sink)?,
    }
    Ok(sink.finish())
}

/// The text of a JSON value: strings as themselves, null as none, the rest as JSON.
fn json_text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        other => Some(std::borrow::Cow::Owned(other.to_string())),
    }
}

/// Key `key` of a JSON object, or of JSON text holding one.
fn json_key(v: &Value, key: &str) -> Option<Value> {
    match v {
        Value::Object(m) => m.get(key).cloned(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => m.get(key).cloned(),
            _ => None,
        },
        _ => None,
    }
}

/// CSV and NDJSON must be UTF-8 text: a UTF-16 export (Excel's "Unicode text", some Windows
/// tools) or a binary file would otherwise show NUL-ridden garbage as its column names.
fn refuse_non_text(f: &mut std::fs::File, file: &str) -> Result<(), VisitorError> {
    use std::io::Seek;
    let mut head = [0u8; 4096];
    let n = f.read(&mut head).map_err(|e| VisitorError::Format {
        file: file.into(),
        message: format!("cannot read: {e}"),
    })?;
    f.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| VisitorError::Format {
            file: file.into(),
            message: format!("cannot read: {e}"),
        })?;
    let head = &head[..n];
    let why = if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        Some("is UTF-16 (it starts with a UTF-16 byte-order mark)")
    } else if head.contains(&0) {
        Some("is not text: it holds NUL bytes (UTF-16 without a byte-order mark, or binary)")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(VisitorError::Format {
            file: file.into(),
            message: format!("{why}: export it as UTF-8 CSV or NDJSON"),
        }),
    }
}

fn read_csv<R: Read>(
    reader: R,
    file: &str,
    mapping: &Mapping,
    sink: &mut Sink<'_>,
) -> Result<(), VisitorError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let format_error = |message: String| VisitorError::Format {
        file: file.into(),
        message,
    };
    match csv.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => {
            return Err(format_error(
                "the file is empty: a CSV needs a header row".into(),
            ));
        }
        Err(e) => return Err(format_error(format!("cannot read the header row: {e}"))),
    }
    let header: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = String::from_utf8_lossy(h);
            let h = if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                &h
            };
            h.trim().to_string()
        })
        .collect();
    let lookups = mapping.resolve(file, &header)?;
    let mut parsed: HashMap<usize, Value> = HashMap::new();
    loop {
        if sink.done() {
            break;
        }
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(format_error(format!("cannot read near line {line}: {e}")));
                }
                sink.bad(line, format!("unreadable CSV: {e}"), String::new());
                continue;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let raw = || {
            record
                .iter()
                .map(|f| {
                    let s = String::from_utf8_lossy(f);
                    if s.contains([',', '"', '\n']) {
                        format!("\"{}\"", s.replace('"', "\"\""))
                    } else {
                        s.into_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        if record.len() != header.len() {
            let reason = format!(
                "wrong column count: expected {} fields, found {}",
                header.len(),
                record.len()
            );
            sink.bad(line, reason, raw());
            continue;
        }
        parsed.clear();
        // Plain columns are borrowed from the record; only JSON keys allocate.
        let mut borrowed: [Option<&str>; COLUMNS] = [None; COLUMNS];
        let mut owned: [Option<String>; COLUMNS] = Default::default();
        let mut bad_encoding = None;
        for (i, lookup) in lookups.iter().enumerate() {
            let Some(lookup) = lookup else { continue };
            let column = match lookup {
                Lookup::Column(c) | Lookup::JsonKey(c, _) => *c,
            };
            let Ok(text) = std::str::from_utf8(&record[column]) else {
                bad_encoding = Some(header[column].clone());
                break;
            };
            match lookup {
                Lookup::Column(_) => borrowed[i] = Some(text),
                Lookup::JsonKey(c, key) => {
                    let v = parsed
                        .entry(*c)
                        .or_insert_with(|| serde_json::from_str(text).unwrap_or(Value::Null));
                    owned[i] = json_key(v, key)
                        .as_ref()
                        .and_then(json_text)
                        .map(|s| s.into_owned());
                }
            }
        }
        if let Some(column) = bad_encoding {
            sink.bad(
                line,
                format!("bad encoding: column `{column}` is not valid UTF-8"),
                raw(),
            );
            continue;
        }
        let values: [Option<&str>; COLUMNS] =
            std::array::from_fn(|i| borrowed[i].or(owned[i].as_deref()));
        sink.row(line, &values, raw);
    }
    Ok(())
}

fn read_ndjson<R: BufRead>(
    mut reader: R,
    file: &str,
    mapping: &Mapping,
    sink: &mut Sink<'_>,
) -> Result<(), VisitorError> {
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        if sink.done() {
            break;
        }
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| VisitorError::Format {
                file: file.into(),
                message: format!("cannot read near line {}: {e}", line + 1),
            })?;
        if n == 0 {
            break;
        }
        line += 1;
        let Ok(text) = std::str::from_utf8(&buf) else {
            sink.bad(
                line,
                "bad encoding: the line is not valid UTF-8".into(),
                String::from_utf8_lossy(&buf).trim_end().to_string(),
            );
            continue;
        };
        // A byte-order mark opens files saved by some Windows tools (CSV strips it too).
        let text = match line {
            1 => text.trim_start_matches('\u{feff}').trim(),
            _ => text.trim(),
        };
        if text.is_empty() {
            continue;
        }
        let object: Map<String, Value> = match serde_json::from_str(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                sink.bad(line, "not a JSON object".into(), text.to_string());
                continue;
            }
            Err(e) => {
                sink.bad(line, format!("invalid JSON: {e}"), text.to_string());
                continue;
            }
        };
        // Each line stands alone: exporters leave out keys whose value is null, so a key absent
        // here is NULL for this row only (and a missing visitor id or timestamp quarantines it).
        let owned: [Option<String>; COLUMNS] = std::array::from_fn(|i| {
            let name = mapping.name(i)?;
            let v = match object.get(name) {
                Some(v) => v.clone(),
                None => {
                    let (key, sub) = name.split_once('.')?;
                    json_key(object.get(key)?, sub)?
                }
            };
            json_text(&v).map(|s| s.into_owned())
        });
        let values: [Option<&str>; COLUMNS] = std::array::from_fn(|i| owned[i].as_deref());
        sink.row(line, &values, || text.to_string());
    }
    Ok(())
}

fn read_parquet(
    f: std::fs::File,
    file: &str,
    mapping: &Mapping,
    sink: &mut Sink<'_>,
) -> Result<(), VisitorError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let format_error = |message: String| VisitorError::Format {
        file: file.into(),
        message,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| format_error(format!("not a readable Parquet file: {e}")))?;
    let header: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let lookups = mapping.resolve(file, &header)?;
    let reader = builder
        .with_batch_size(8192)
        .build()
        .map_err(|e| format_error(e.to_string()))?;
    let mut row_number = 0u64;
    for batch in reader {
        if sink.done() {
            break;
        }
        let batch = batch.map_err(|e| format_error(format!("cannot read row group: {e}")))?;
        let mut texts: HashMap<usize, StringArray> = HashMap::new();
        for l in lookups.iter().flatten() {
            let (Lookup::Column(c) | Lookup::JsonKey(c, _)) = l;
            if texts.contains_key(c) {
                continue;
            }
            let column = cast(batch.column(*c), &DataType::Utf8).map_err(|e| {
                format_error(format!(
                    "column `{}` cannot be read as text: {e}",
                    header[*c]
                ))
            })?;
            let strings = column
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| format_error(format!("column `{}` is not text", header[*c])))?;
            texts.insert(*c, strings);
        }
        for r in 0..batch.num_rows() {
            if sink.done() {
                break;
            }
            row_number += 1;
            let cell = |c: &usize| {
                let a = &texts[c];
                (!a.is_null(r)).then(|| a.value(r))
            };
            let owned: [Option<String>; COLUMNS] = std::array::from_fn(|i| match &lookups[i] {
                None => None,
                Some(Lookup::Column(c)) => cell(c).map(str::to_string),
                Some(Lookup::JsonKey(c, key)) => {
                    let v: Value = serde_json::from_str(cell(c)?).ok()?;
                    json_key(&v, key)
                        .as_ref()
                        .and_then(json_text)
                        .map(|s| s.into_owned())
                }
            });
            let values: [Option<&str>; COLUMNS] = std::array::from_fn(|i| owned[i].as_deref());
            let raw = || {
                let m: Map<String, Value> = VISITOR_COLUMNS
                    .iter()
                    .zip(&owned)
                    .filter_map(|(k, v)| Some((k.to_string(), Value::String(v.clone()?))))
                    .collect();
                Value::Object(m).to_string()
            };
            sink.row(row_number, &values, raw);
        }
    }
    Ok(())
}
