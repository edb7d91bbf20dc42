//! Which column of a file feeds each of our columns: a preset's names, overridden by
//! `[visitors.columns]`; with no preset (`custom`) a column of our own name is used. A mapped
//! name `a.b` reads key `b` of column `a` when the file has no column `a.b` — how PostHog keeps
//! `properties` (a JSON object, or JSON text in Parquet).

use super::VisitorError;
use crate::config::{VISITOR_COLUMNS, VisitorPreset, VisitorsConfig};

/// Where one of our columns comes from in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The file's column at this index.
    Column(usize),
    /// Key `.1` of the JSON object (or JSON text) in column `.0`.
    JsonKey(usize, String),
}

/// Our columns (in `VISITOR_COLUMNS` order) → the file's names, and whether the user named it.
#[derive(Clone, Debug)]
pub struct Mapping {
    names: Vec<(String, bool)>,
}

/// PostHog's batch-export events model (S3 / file download, JSONLines or Parquet): event
/// properties live in the `properties` object, the person's email in `person_properties`.
const POSTHOG: &[(&str, &str)] = &[
    ("visitor_id", "distinct_id"),
    ("timestamp", "timestamp"),
    ("session_id", "properties.$session_id"),
    ("email", "person_properties.email"),
    ("referrer", "properties.$referrer"),
    ("utm_source", "properties.utm_source"),
    ("utm_medium", "properties.utm_medium"),
    ("utm_campaign", "properties.utm_campaign"),
    ("landing_page", "properties.$current_url"),
    ("country", "properties.$geoip_country_code"),
    ("device", "properties.$device_type"),
    ("browser", "properties.$browser"),
    ("site_id", "properties.$host"),
];

/// Plausible Community Edition's ClickHouse `events_v2` table, exported as CSV or Parquet
/// (`SELECT * FROM events_v2 … FORMAT CSVWithNames`). Its `user_id` is a daily-rotating hash:
/// attribution by id works within a day, by email not at all (Plausible stores none).
const PLAUSIBLE: &[(&str, &str)] = &[
    ("visitor_id", "user_id"),
    ("timestamp", "timestamp"),
    ("session_id", "session_id"),
    ("referrer", "referrer"),
    ("utm_source", "utm_source"),
    ("utm_medium", "utm_medium"),
    ("utm_campaign", "utm_campaign"),
    ("landing_page", "pathname"),
    ("country", "country_code"),
    ("device", "screen_size"),
    ("browser", "browser"),
    ("site_id", "site_id"),
];

impl Mapping {
    pub fn new(cfg: &VisitorsConfig) -> Mapping {
        let preset: &[(&str, &str)] = match cfg.preset {
            VisitorPreset::Posthog => POSTHOG,
            VisitorPreset::Plausible => PLAUSIBLE,
            VisitorPreset::Custom | VisitorPreset::Sandbox => &[],
        };
        let names = VISITOR_COLUMNS
            .iter()
            .map(|ours| match cfg.columns.get(*ours) {
                Some(theirs) => (theirs.clone(), true),
                None => {
                    let from_preset = preset.iter().find(|(o, _)| o == ours).map(|(_, t)| *t);
                    let own = matches!(cfg.preset, VisitorPreset::Custom | VisitorPreset::Sandbox);
                    match from_preset {
                        Some(t) => (t.to_string(), false),
                        None if own => (ours.to_string(), false),
                        // A preset without this column: nothing to read.
                        None => (String::new(), false),
                    }
                }
            })
            .collect();
        Mapping { names }
    }

    /// The file's name for our column `i` (`VISITOR_COLUMNS` order); `None` when not read.
    pub fn name(&self, i: usize) -> Option<&str> {
        self.names
            .get(i)
            .map(|(n, _)| n.as_str())
            .filter(|n| !n.is_empty())
    }

    /// Each of our columns' lookup in a file with these columns. A missing `visitor_id` or
    /// `timestamp`, or a column the user mapped by name, is an error naming both.
    pub fn resolve(
        &self,
        file: &str,
        header: &[String],
    ) -> Result<Vec<Option<Lookup>>, VisitorError> {
        let index = |name: &str| header.iter().position(|h| h == name);
        let mut out = Vec::with_capacity(self.names.len());
        for (i, (name, explicit)) in self.names.iter().enumerate() {
            if name.is_empty() {
                out.push(None);
                continue;
            }
            let found = index(name).map(Lookup::Column).or_else(|| {
                let (column, key) = name.split_once('.')?;
                index(column).map(|c| Lookup::JsonKey(c, key.to_string()))
            });
            let required = i < 2;
            match found {
                Some(l) => out.push(Some(l)),
                None if required || *explicit => {
                    return Err(VisitorError::MissingColumn {
                        file: file.into(),
                        column: name.clone(),
                        ours: VISITOR_COLUMNS[i].into(),
                        found: shown(header),
                    });
                }
                None => out.push(None),
            }
        }
        Ok(out)
    }
}

fn shown(header: &[String]) -> String {
    const MAX: usize = 20;
    // A file without a header row shows its first data row here: never echo an email.
    let mut names: Vec<String> = header
        .iter()
        .take(MAX)
        .map(|h| {
            if h.contains('@') {
                "`<an email-like value: does the file have a header row?>`".to_string()
            } else {
                format!("`{h}`")
            }
        })
        .collect();
    if header.len() > MAX {
        names.push(format!("and {} more", header.len() - MAX));
    }
    if names.is_empty() {
        "none (an empty header)".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn custom_reads_our_own_names_and_user_names_win() {
        let mut cfg = VisitorsConfig::default();
        cfg.columns.insert("visitor_id".into(), "anon".into());
        let m = Mapping::new(&cfg);
        let got = m
            .resolve("f.csv", &header(&["anon", "timestamp", "referrer"]))
            .expect("resolves");
        assert_eq!(got[0], Some(Lookup::Column(0)));
        assert_eq!(got[1], Some(Lookup::Column(1)));
        assert_eq!(got[4], Some(Lookup::Column(2)));
        assert!(got[2].is_none() && got[3].is_none());
    }

    #[test]
    fn a_missing_required_or_named_column_names_the_file_and_column() {
        let m = Mapping::new(&VisitorsConfig::default());
        let e = m
            .resolve("s3://b/events.csv", &header(&["visitor_id", "ts"]))
            .expect_err("no timestamp");
        assert_eq!(
            e.to_string(),
            "s3://b/events.csv: no column `timestamp` for timestamp: the file's columns are \
             `visitor_id`, `ts`; map it in pipeline.toml ([visitors.columns] timestamp = \
             \"<column>\") or choose a [visitors] preset"
        );
        let mut cfg = VisitorsConfig::default();
        cfg.columns.insert("referrer".into(), "ref".into());
        let e = Mapping::new(&cfg)
            .resolve("f.csv", &header(&["visitor_id", "timestamp"]))
            .expect_err("named column absent");
        assert!(
            e.to_string().contains("no column `ref` for referrer"),
            "{e}"
        );
    }

    #[test]
    fn posthog_reads_keys_of_the_properties_object() {
        let cfg = VisitorsConfig {
            preset: VisitorPreset::Posthog,
            ..VisitorsConfig::default()
        };
        let got = Mapping::new(&cfg)
            .resolve(
                "export.jsonl",
                &header(&["uuid", "event", "distinct_id", "timestamp", "properties"]),
            )
            .expect("resolves");
        assert_eq!(got[0], Some(Lookup::Column(2)));
        assert_eq!(got[2], Some(Lookup::JsonKey(4, "$session_id".into())));
        // person_properties is absent: the preset's optional email is simply not read.
        assert_eq!(got[3], None);
    }
}
