//! The few things SQL cannot say exactly: report-zone days, JSON paths, and the integer money of
//! METRICS.md (MRR of a subscription state, FX conversion, 2-dp ratios). Each function takes any
//! argument types and casts them itself, so models can pass timestamps, string views or literals.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Builder, Decimal128Builder, Int64Array, Int64Builder,
    ListArray, ListBuilder, StringArray, StringBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, TimeUnit};
use chrono::{NaiveDate, TimeZone};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use serde_json::Value;

use super::money::{Ratio, convert};
use super::mrr::{self, Lookup, Rules};

type Body = fn(&[ArrayRef], usize) -> Result<ArrayRef>;

#[derive(Debug)]
struct Udf {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    body: Body,
}

// Names are unique: two functions are the same function exactly when their names are.
impl PartialEq for Udf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Udf {}
impl std::hash::Hash for Udf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for Udf {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        (self.body)(&arrays, args.number_rows).map(ColumnarValue::Array)
    }
}

fn udf(name: &'static str, arity: usize, returns: DataType, body: Body) -> ScalarUDF {
    ScalarUDF::from(Udf {
        name,
        signature: Signature::any(arity, Volatility::Immutable),
        returns,
        body,
    })
}

pub fn register(ctx: &SessionContext) {
    for f in functions() {
        ctx.register_udf(f);
    }
}

/// Every `sl_*` function the models may call (each documented in `sql/README.md`).
pub fn functions() -> Vec<ScalarUDF> {
    let list = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    vec![
        udf("sl_day", 2, DataType::Date32, sl_day),
        udf("sl_seconds", 1, DataType::Int64, sl_seconds),
        udf("sl_add_days", 2, DataType::Date32, sl_add_days),
        udf("sl_json", 2, DataType::Utf8, sl_json),
        udf("sl_json_key", 2, DataType::Utf8, sl_json_key),
        udf("sl_channel", 3, DataType::Utf8, sl_channel),
        udf("sl_source", 2, DataType::Utf8, sl_source),
        udf("sl_host", 1, DataType::Utf8, sl_host),
        udf("sl_json_patch", 2, DataType::Utf8, sl_json_patch),
        udf("sl_json_pick", 2, DataType::Utf8, sl_json_pick),
        udf("sl_ref_ids", 2, list.clone(), sl_ref_ids),
        udf("sl_sub_status", 3, DataType::Utf8, sl_sub_status),
        udf("sl_sub_mrr", 9, DataType::Int64, sl_sub_mrr),
        udf("sl_json_elements", 2, list.clone(), sl_json_elements),
        udf("sl_complete_items", 2, DataType::Utf8, sl_complete_items),
        udf("sl_reconstruct", 3, DataType::Utf8, sl_reconstruct),
        udf("sl_convert", 4, DataType::Int64, sl_convert),
        udf("sl_div_2dp", 2, DataType::Decimal128(38, 2), sl_div_2dp),
    ]
}

fn err(name: &str, message: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("{name}: {message}"))
}

fn strings(a: &ArrayRef) -> Result<StringArray> {
    let c = cast(a, &DataType::Utf8)?;
    Ok(c.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .unwrap_or_else(|| StringArray::new_null(a.len())))
}

fn ints(a: &ArrayRef) -> Result<Int64Array> {
    let c = match a.data_type() {
        DataType::Timestamp(unit, _) if *unit != TimeUnit::Second => cast(
            &cast(a, &DataType::Timestamp(TimeUnit::Second, None))?,
            &DataType::Int64,
        )?,
        _ => cast(a, &DataType::Int64)?,
    };
    Ok(c.as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
        .unwrap_or_else(|| Int64Array::new_null(a.len())))
}

fn opt_str(a: &StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i)).then(|| a.value(i))
}

fn opt_int(a: &Int64Array, i: usize) -> Option<i64> {
    (!a.is_null(i)).then(|| a.value(i))
}

fn parse(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// `sl_day(ts, tz)`: the calendar date of a Unix time in the report time zone.
fn sl_day(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (ts, tz) = (ints(&args[0])?, strings(&args[1])?);
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut zones: HashMap<String, chrono_tz::Tz> = HashMap::new();
    let mut out = Date32Builder::with_capacity(ts.len());
    for i in 0..ts.len() {
        let (Some(t), Some(name)) = (opt_int(&ts, i), opt_str(&tz, i)) else {
            out.append_null();
            continue;
        };
        let zone = match zones.get(name) {
            Some(z) => *z,
            None => {
                let z: chrono_tz::Tz = name
                    .parse()
                    .map_err(|_| err("sl_day", format!("unknown time zone `{name}`")))?;
                zones.insert(name.into(), z);
                z
            }
        };
        let local = zone
            .timestamp_opt(t, 0)
            .single()
            .ok_or_else(|| err("sl_day", format!("timestamp {t} out of range")))?
            .date_naive();
        out.append_value((local - epoch).num_days() as i32);
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_seconds(ts)`: Unix seconds of a timestamp of any unit (or of an integer, unchanged).
fn sl_seconds(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    Ok(Arc::new(ints(&args[0])?))
}

/// `sl_add_days(date, n)`.
fn sl_add_days(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let dates = cast(&args[0], &DataType::Int32)?;
    let dates = ints(&dates)?;
    let n = ints(&args[1])?;
    let mut out = Date32Builder::with_capacity(dates.len());
    for i in 0..dates.len() {
        match (opt_int(&dates, i), opt_int(&n, i)) {
            (Some(d), Some(k)) => out.append_value((d + k) as i32),
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn at_path<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').filter(|s| !s.is_empty()).fold(v, |v, seg| {
        match v {
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => v.get(seg),
        }
        .unwrap_or(&Value::Null)
    })
}

/// Deserialises only the value at `path` (object keys only), skipping everything else without
/// building it: `sl_json` on a 5 KB subscription is mostly skipping.
struct PathSeed<'p>(&'p [&'p str]);

impl<'de> serde::de::DeserializeSeed<'de> for PathSeed<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.is_empty() {
            return serde::Deserialize::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PathSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut found = Value::Null;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.0[0] {
                found = map.next_value_seed(PathSeed(&self.0[1..]))?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let wanted = self.0[0].parse::<usize>().ok();
        let (mut found, mut i) = (Value::Null, 0);
        loop {
            if Some(i) == wanted {
                match seq.next_element_seed(PathSeed(&self.0[1..]))? {
                    Some(v) => found = v,
                    None => break,
                }
            } else if seq.next_element::<serde::de::IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }
    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

fn value_at(text: &str, path: &str) -> Value {
    let segments: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    value_at_segments(text, &segments)
}

fn value_at_segments(text: &str, segments: &[&str]) -> Value {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    PathSeed(segments)
        .deserialize(&mut de)
        .unwrap_or(Value::Null)
}

/// A string value as itself, anything else as JSON text, or NULL.
fn json_texts(args: &[ArrayRef], lookup: impl Fn(&str, &str) -> Value) -> Result<ArrayRef> {
    let (json, path) = (strings(&args[0])?, strings(&args[1])?);
    let mut out = StringBuilder::new();
    for i in 0..json.len() {
        let Some(text) = opt_str(&json, i) else {
            out.append_null();
            continue;
        };
        match &lookup(text, opt_str(&path, i).unwrap_or("")) {
            Value::Null => out.append_null(),
            Value::String(s) => out.append_value(s),
            other => out.append_value(other.to_string()),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_json(json, 'a.b.0.c')`: the value at a dotted path.
fn sl_json(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    json_texts(args, value_at)
}

/// `sl_json_pick(json, 'a.b,c')`: the object with only the values at these dotted paths, at
/// the same places (absent and null values left out). What a later model reads, without the
/// rest of a large object: parsed once here instead of carried.
fn sl_json_pick(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (json, paths) = (strings(&args[0])?, strings(&args[1])?);
    let mut out = StringBuilder::new();
    for i in 0..json.len() {
        let Some(text) = opt_str(&json, i) else {
            out.append_null();
            continue;
        };
        let whole = parse(Some(text));
        let mut picked = Value::Object(Default::default());
        for path in opt_str(&paths, i).unwrap_or("").split(',') {
            let segments: Vec<&str> = path.trim().split('.').filter(|s| !s.is_empty()).collect();
            let found = segments.iter().try_fold(&whole, |v, seg| v.get(*seg));
            let (Some(value), Some((last, parents))) = (found, segments.split_last()) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            let mut at = &mut picked;
            for seg in parents {
                at = &mut at[*seg];
                if !at.is_object() {
                    *at = Value::Object(Default::default());
                }
            }
            at[*last] = value.clone();
        }
        out.append_value(picked.to_string());
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_json_key(json, key)`: the value of one top-level key, dots and all (metadata keys are
/// the user's and may contain them).
fn sl_json_key(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    json_texts(args, |text, key| value_at_segments(text, &[key]))
}

/// `sl_channel(referrer, utm_source, utm_medium)`: a web session's channel (METRICS.md §6.2).
fn sl_channel(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (referrer, source, medium) = (strings(&args[0])?, strings(&args[1])?, strings(&args[2])?);
    let mut out = StringBuilder::new();
    for i in 0..referrer.len() {
        out.append_value(crate::visitors::channel::channel(
            opt_str(&referrer, i),
            opt_str(&source, i),
            opt_str(&medium, i),
        ));
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_host(url)`: the host of a URL (lowercase, without `www.`), NULL for a path or no URL.
fn sl_host(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let urls = strings(&args[0])?;
    let mut out = StringBuilder::new();
    for i in 0..urls.len() {
        out.append_option(opt_str(&urls, i).and_then(crate::visitors::channel::referrer_host));
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_source(referrer, utm_source)`: a web session's source, `(direct)` without either.
fn sl_source(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (referrer, source) = (strings(&args[0])?, strings(&args[1])?);
    let mut out = StringBuilder::new();
    for i in 0..referrer.len() {
        out.append_value(crate::visitors::channel::source(
            opt_str(&referrer, i),
            opt_str(&source, i),
        ));
    }
    Ok(Arc::new(out.finish()))
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// `sl_json_patch(object, previous_attributes)`: the object as it was before an event.
fn sl_json_patch(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (json, patch) = (strings(&args[0])?, strings(&args[1])?);
    let mut out = StringBuilder::new();
    for i in 0..json.len() {
        let Some(text) = opt_str(&json, i) else {
            out.append_null();
            continue;
        };
        let mut v = parse(Some(text));
        merge(&mut v, &parse(opt_str(&patch, i)));
        out.append_value(v.to_string());
    }
    Ok(Arc::new(out.finish()))
}

fn collect_coupon_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if o.get("object").and_then(Value::as_str) == Some("discount") {
                let c = v
                    .pointer("/source/coupon")
                    .filter(|c| !c.is_null())
                    .or_else(|| o.get("coupon"));
                match c {
                    Some(Value::String(id)) => out.push(id.clone()),
                    Some(Value::Object(c)) => {
                        if let Some(Value::String(id)) = c.get("id") {
                            out.push(id.clone());
                        }
                    }
                    _ => {}
                }
            }
            o.values().for_each(|v| collect_coupon_ids(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_coupon_ids(v, out)),
        _ => {}
    }
}

/// `sl_complete_items(subscription_json, items[])`: a state whose embedded `items` list was cut
/// off (`has_more`, Stripe embeds 10) gets the missing items from the subscription_items stream.
fn sl_complete_items(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let json = strings(&args[0])?;
    let mut out = StringBuilder::new();
    for i in 0..json.len() {
        let Some(text) = opt_str(&json, i) else {
            out.append_null();
            continue;
        };
        // Most states are complete: look before parsing the whole object.
        if value_at(text, "items.has_more") != Value::Bool(true) {
            out.append_value(text);
            continue;
        }
        let mut sub = parse(Some(text));
        if let Some(items) = sub.pointer_mut("/items/data").and_then(Value::as_array_mut) {
            let known: Vec<Value> = items
                .iter()
                .filter_map(|it| it.get("id").cloned())
                .collect();
            for extra in list_values(&args[1], i)? {
                if extra.get("id").is_some_and(|id| !known.contains(id)) {
                    items.push(extra);
                }
            }
            if let Some(list) = sub.get_mut("items") {
                list["has_more"] = Value::Bool(false);
            }
            out.append_value(sub.to_string());
        } else {
            out.append_value(text);
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_reconstruct(state_json, invoice_lines[], at)`: the state with the items its subscription
/// was billed for at `at` (METRICS.md §1 item 6c), or unchanged when no line is that old.
fn sl_reconstruct(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (json, at) = (strings(&args[0])?, ints(&args[2])?);
    let mut out = StringBuilder::new();
    // Every moment of a subscription carries the same line list: parse each list once.
    let mut parsed: HashMap<u64, Arc<Vec<Value>>> = HashMap::new();
    for i in 0..json.len() {
        let Some(text) = opt_str(&json, i) else {
            out.append_null();
            continue;
        };
        let lines = list_values_cached(&args[1], i, &mut parsed)?;
        let billed = mrr::billed_items(&lines, opt_int(&at, i).unwrap_or(i64::MIN));
        match billed {
            Some(items) => {
                let mut sub = parse(Some(text));
                if let Some(list) = sub.get_mut("items") {
                    list["data"] = Value::Array(items);
                    list["has_more"] = Value::Bool(false);
                }
                out.append_value(sub.to_string());
            }
            None => out.append_value(text),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_json_elements(json, path)`: the elements of the array at `path`, each as JSON text.
fn sl_json_elements(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (json, path) = (strings(&args[0])?, strings(&args[1])?);
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..json.len() {
        let v = parse(opt_str(&json, i));
        for e in at_path(&v, opt_str(&path, i).unwrap_or(""))
            .as_array()
            .into_iter()
            .flatten()
        {
            out.values().append_value(e.to_string());
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_ref_ids(subscription_json, 'prices' | 'coupons' | 'discounts')`: what a state refers to, for the joins
/// that bring the full objects.
fn sl_ref_ids(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (json, kind) = (strings(&args[0])?, strings(&args[1])?);
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..json.len() {
        let v = parse(opt_str(&json, i));
        let mut ids = Vec::new();
        match opt_str(&kind, i) {
            Some("prices") => {
                for item in at_path(&v, "items.data").as_array().into_iter().flatten() {
                    if let Some(id) = item.pointer("/price/id").and_then(Value::as_str) {
                        ids.push(id.to_string());
                    }
                }
            }
            Some("coupons") => collect_coupon_ids(&v, &mut ids),
            // Discounts named by id (event payloads never expand them).
            Some("discounts") => {
                let items = at_path(&v, "items.data").as_array().into_iter().flatten();
                for list in std::iter::once(&v)
                    .chain(items)
                    .filter_map(|o| o.get("discounts"))
                {
                    for d in list.as_array().into_iter().flatten() {
                        if let Some(id) = d.as_str() {
                            ids.push(id.to_string());
                        }
                    }
                }
            }
            other => return Err(err("sl_ref_ids", format!("unknown kind {other:?}"))),
        }
        ids.sort();
        ids.dedup();
        for id in ids {
            out.values().append_value(id);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

fn bools(a: &ArrayRef) -> Result<BooleanArray> {
    let c = cast(a, &DataType::Boolean)?;
    Ok(c.as_any()
        .downcast_ref::<BooleanArray>()
        .cloned()
        .unwrap_or_else(|| BooleanArray::new_null(a.len())))
}

/// `sl_sub_status(state_json, at, reconstructed)`.
fn sl_sub_status(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (json, at, rec) = (strings(&args[0])?, ints(&args[1])?, bools(&args[2])?);
    let mut out = StringBuilder::new();
    for i in 0..json.len() {
        let reconstructed = !rec.is_null(i) && rec.value(i);
        if !reconstructed {
            let status = value_at(opt_str(&json, i).unwrap_or("null"), "status");
            out.append_value(status.as_str().unwrap_or(""));
            continue;
        }
        let v = parse(opt_str(&json, i));
        out.append_value(mrr::status_at(&v, opt_int(&at, i).unwrap_or(0), true));
    }
    Ok(Arc::new(out.finish()))
}

fn list_values(a: &ArrayRef, i: usize) -> Result<Vec<Value>> {
    let Some(list) = a.as_any().downcast_ref::<ListArray>() else {
        return Ok(Vec::new());
    };
    if list.is_null(i) {
        return Ok(Vec::new());
    }
    let values = strings(&list.value(i))?;
    Ok((0..values.len())
        .filter_map(|j| opt_str(&values, j))
        .map(|t| parse(Some(t)))
        .collect())
}

/// `list_values`, remembering parsed lists by a hash of their text.
fn list_values_cached(
    a: &ArrayRef,
    i: usize,
    cache: &mut HashMap<u64, Arc<Vec<Value>>>,
) -> Result<Arc<Vec<Value>>> {
    use std::hash::{Hash, Hasher};
    let Some(list) = a.as_any().downcast_ref::<ListArray>() else {
        return Ok(Arc::new(Vec::new()));
    };
    if list.is_null(i) {
        return Ok(Arc::new(Vec::new()));
    }
    let values = strings(&list.value(i))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for j in 0..values.len() {
        opt_str(&values, j).hash(&mut hasher);
    }
    let key = hasher.finish();
    if let Some(hit) = cache.get(&key) {
        return Ok(hit.clone());
    }
    let parsed: Arc<Vec<Value>> = Arc::new(
        (0..values.len())
            .filter_map(|j| opt_str(&values, j))
            .map(|t| parse(Some(t)))
            .collect(),
    );
    cache.insert(key, parsed.clone());
    Ok(parsed)
}

/// `sl_sub_mrr(state_json, customer_discount_json, status, prices[], coupons[], discounts[],
/// discount_mode, churn_recognition, at)`: METRICS.md §3 for one state.
fn sl_sub_mrr(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (json, cust, status) = (strings(&args[0])?, strings(&args[1])?, strings(&args[2])?);
    let (mode, churn, at) = (strings(&args[6])?, strings(&args[7])?, ints(&args[8])?);
    let mut out = Int64Builder::with_capacity(json.len());
    for i in 0..json.len() {
        let rules = Rules {
            all_discounts: match opt_str(&mode, i) {
                Some("forever_only") | None => false,
                Some("all_active") => true,
                Some(other) => return Err(err("sl_sub_mrr", format!("discount_mode {other}"))),
            },
            churn_at_request: opt_str(&churn, i) == Some("at_request"),
        };
        let sub = parse(opt_str(&json, i));
        let customer_discount = parse(opt_str(&cust, i));
        let (prices, coupons) = (list_values(&args[3], i)?, list_values(&args[4], i)?);
        let discounts = list_values(&args[5], i)?;
        let by_id = |objs: &[Value]| -> Vec<(String, usize)> {
            objs.iter()
                .enumerate()
                .filter_map(|(k, o)| Some((o.get("id")?.as_str()?.to_string(), k)))
                .collect()
        };
        let (price_ids, coupon_ids) = (by_id(&prices), by_id(&coupons));
        let discount_ids = by_id(&discounts);
        let lookup = Lookup {
            prices: price_ids
                .iter()
                .map(|(id, k)| (id.as_str(), &prices[*k]))
                .collect(),
            coupons: coupon_ids
                .iter()
                .map(|(id, k)| (id.as_str(), &coupons[*k]))
                .collect(),
            discounts: discount_ids
                .iter()
                .map(|(id, k)| (id.as_str(), &discounts[*k]))
                .collect(),
        };
        let value = mrr::subscription_mrr(
            &sub,
            &customer_discount,
            opt_str(&status, i).unwrap_or(""),
            &lookup,
            rules,
            opt_int(&at, i).unwrap_or(0),
        );
        out.append_value(value);
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_convert(amount, rate, exponent_from, exponent_to)`: NULL when the rate is unknown.
fn sl_convert(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (amount, rate) = (ints(&args[0])?, strings(&args[1])?);
    let (from, to) = (ints(&args[2])?, ints(&args[3])?);
    let mut out = Int64Builder::with_capacity(amount.len());
    for i in 0..amount.len() {
        let rate = opt_str(&rate, i).and_then(Ratio::parse_decimal);
        match (opt_int(&amount, i), rate) {
            (Some(x), Some(r)) => out.append_value(convert(
                x,
                r,
                opt_int(&from, i).unwrap_or(2) as i32,
                opt_int(&to, i).unwrap_or(2) as i32,
            )),
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `sl_div_2dp(numerator, denominator)`: half away from zero to 2 places; NULL when dividing by 0.
fn sl_div_2dp(args: &[ArrayRef], _: usize) -> Result<ArrayRef> {
    let (num, den) = (ints(&args[0])?, ints(&args[1])?);
    let mut out = Decimal128Builder::with_capacity(num.len());
    for i in 0..num.len() {
        match (opt_int(&num, i), opt_int(&den, i)) {
            (Some(n), Some(d)) if d != 0 => {
                out.append_value(Ratio::new(n as i128, d as i128).round_to_scale(2))
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish().with_precision_and_scale(38, 2)?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pick_keeps_only_the_paths_at_their_places() {
        use super::*;
        use arrow::array::Array;
        let json: ArrayRef = Arc::new(StringArray::from(vec![
            Some(r#"{"a":{"b":1,"x":2},"c":"s","d":null,"big":[1,2,3]}"#),
            None,
        ]));
        let paths: ArrayRef = Arc::new(StringArray::from(vec!["a.b, c, d, e.f", "a"]));
        let out = sl_json_pick(&[json, paths], 2).expect("pick");
        let out = out.as_any().downcast_ref::<StringArray>().expect("text");
        assert_eq!(
            serde_json::from_str::<Value>(out.value(0)).expect("json"),
            serde_json::json!({"a": {"b": 1}, "c": "s"})
        );
        assert!(out.is_null(1));
    }

    #[test]
    fn every_function_is_documented_where_sql_authors_read() {
        let readme = include_str!("../../sql/README.md");
        for f in super::functions() {
            assert!(
                readme.contains(&format!("`{}(", f.name())),
                "sql/README.md does not document {}",
                f.name()
            );
        }
    }

    use super::value_at;
    use serde_json::json;

    #[test]
    fn paths_reach_nested_values_and_miss_cleanly() {
        let text = r#"{"a": {"b": [10, {"c": "x"}], "n": null}, "z": 1.5}"#;
        assert_eq!(value_at(text, "a.b.1.c"), json!("x"));
        assert_eq!(value_at(text, "a.b.0"), json!(10));
        assert_eq!(value_at(text, "z"), json!(1.5));
        assert_eq!(
            value_at(text, "a"),
            json!({"b": [10, {"c": "x"}], "n": null})
        );
        assert_eq!(value_at(text, "a.n"), json!(null));
        assert_eq!(value_at(text, "a.missing.deeper"), json!(null));
        assert_eq!(value_at(text, "z.deeper"), json!(null));
        assert_eq!(value_at("not json", "a"), json!(null));
    }
}
