//! Finding the files a visitors source names: one file, a directory or prefix (every file
//! under it), or a glob (`*` within a path segment, `**` across them, `?` one character) — on
//! local disk or any store `Storage` opens.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::VisitorError;
use super::read::Format;
use crate::config::VisitorFormat;
use crate::storage::Storage;

/// One file to load.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The file's full URL or path: its name in logs, quarantine records and the loaded-files
    /// state.
    pub name: String,
    /// Who the file is, however it was named: the canonical absolute path of a local file, the
    /// URL of a stored one. The loaded-files state and the part directory use it, so
    /// `events.csv`, `./events.csv` and a directory listing are one file.
    pub key: String,
    /// The store holding it and its root-relative path there.
    pub store: Storage,
    pub rel: String,
    /// Set when the file is on local disk and can be read in place.
    pub local: Option<PathBuf>,
    pub size: u64,
    pub modified: String,
    pub format: Format,
}

fn is_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

fn local_path(source: &str) -> Option<PathBuf> {
    match source.strip_prefix("file://") {
        Some(rest) => Some(PathBuf::from(rest)),
        None if !is_url(source) => Some(PathBuf::from(source)),
        None => None,
    }
}

/// `*` within a segment, `**` across segments, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            // `**/` is zero or more whole segments; a trailing `**` is everything below.
            (Some(b'*'), _) if p.get(1) == Some(&b'*') => match p[2..].strip_prefix(b"/") {
                Some(rest) => (0..=t.len())
                    .filter(|&i| i == 0 || t[i - 1] == b'/')
                    .any(|i| go(rest, &t[i..])),
                None => (0..=t.len()).any(|i| go(&p[2..], &t[i..])),
            },
            (Some(b'*'), _) => (0..=t.len())
                .take_while(|i| *i == 0 || t[i - 1] != b'/')
                .any(|i| go(&p[1..], &t[i..])),
            (Some(b'?'), Some(c)) if *c != b'/' => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

fn canonical(path: &std::path::Path, fallback: &str) -> String {
    std::fs::canonicalize(path).map_or_else(|_| fallback.to_string(), |p| p.display().to_string())
}

pub fn format_of(name: &str, configured: VisitorFormat) -> Option<Format> {
    match configured {
        VisitorFormat::Csv => return Some(Format::Csv),
        VisitorFormat::Ndjson => return Some(Format::Ndjson),
        VisitorFormat::Parquet => return Some(Format::Parquet),
        VisitorFormat::Auto => {}
    }
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or_default();
    match ext {
        "csv" => Some(Format::Csv),
        "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
        "parquet" | "pq" => Some(Format::Parquet),
        _ => None,
    }
}

/// A local source (or the folder before its glob) that does not exist: said before the lake is
/// opened, so a mistyped `--visitors` writes nothing. Store URLs are read when loading.
pub fn preflight(source: &str) -> Result<(), VisitorError> {
    let base = match source.find(['*', '?', '[']) {
        Some(i) => &source[..source[..i].rfind('/').map_or(0, |j| j + 1)],
        None => source,
    };
    let Some(path) = local_path(base).filter(|_| !base.is_empty()) else {
        return Ok(());
    };
    std::fs::metadata(&path)
        .map(|_| ())
        .map_err(|e| VisitorError::Source {
            location: source.into(),
            message: format!("cannot read {base}: {e}"),
        })
}

/// Every file the source names, sorted by name. A file whose format cannot be told is an
/// error when named alone, and skipped (with the rest listed) in a directory or glob.
pub async fn list(
    source: &str,
    format: VisitorFormat,
    options: &BTreeMap<String, String>,
) -> Result<Vec<SourceFile>, VisitorError> {
    let bad = |message: String| VisitorError::Source {
        location: source.into(),
        message,
    };
    let glob_at = source.find(['*', '?', '[']);
    let (base, pattern) = match glob_at {
        Some(i) => {
            let cut = source[..i].rfind('/').map_or(0, |j| j + 1);
            (&source[..cut], Some(&source[cut..]))
        }
        None => (source, None),
    };
    if let Some(path) = local_path(base) {
        let shown = if base.is_empty() { "." } else { base };
        let meta = std::fs::metadata(if base.is_empty() {
            "."
        } else {
            path.to_str().unwrap_or(".")
        })
        .map_err(|e| bad(format!("cannot read {shown}: {e}")))?;
        if meta.is_file() && pattern.is_none() {
            let dir = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            };
            let store =
                Storage::open(&dir.to_string_lossy(), options).map_err(|e| bad(e.to_string()))?;
            let fmt = format_of(&name, format).ok_or_else(|| {
                bad(format!(
                    "cannot tell the format of {name} from its extension: set [visitors] format \
                     to csv, ndjson or parquet"
                ))
            })?;
            let modified = meta
                .modified()
                .map(|m| chrono::DateTime::<chrono::Utc>::from(m).to_rfc3339())
                .unwrap_or_default();
            return Ok(vec![SourceFile {
                key: canonical(&path, source),
                name: source.into(),
                store,
                rel: name,
                local: Some(path.clone()),
                size: meta.len(),
                modified,
                format: fmt,
            }]);
        }
    }
    let root = if base.is_empty() { "." } else { base };
    let store =
        Storage::open(root.trim_end_matches('/'), options).map_err(|e| bad(e.to_string()))?;
    let listed = store
        .list_meta("")
        .await
        .map_err(|e| match e.is_transient() {
            true => VisitorError::Unavailable {
                location: source.into(),
                message: e.to_string(),
            },
            false => bad(e.to_string()),
        })?;
    let local_root = local_path(root);
    let mut files = Vec::new();
    let mut single = None;
    for (rel, modified, size) in listed {
        if let Some(p) = pattern
            && !glob_match(p, &rel)
        {
            continue;
        }
        let Some(fmt) = format_of(&rel, format) else {
            continue;
        };
        let name = format!("{}/{rel}", root.trim_end_matches('/'));
        let key = match &local_root {
            Some(r) => canonical(&r.join(&rel), &name),
            None => name.clone(),
        };
        files.push(SourceFile {
            key,
            name,
            store: store.clone(),
            local: local_root.as_ref().map(|r| r.join(&rel)),
            rel,
            size,
            modified: modified.to_rfc3339(),
            format: fmt,
        });
    }
    // A store URL naming one object: list its parent and keep that object.
    if files.is_empty()
        && pattern.is_none()
        && local_path(source).is_none()
        && let Some((parent, name)) = source.trim_end_matches('/').rsplit_once('/')
    {
        let parent_store = Storage::open(parent, options).map_err(|e| bad(e.to_string()))?;
        let listed = parent_store
            .list_meta("")
            .await
            .map_err(|e| bad(e.to_string()))?;
        if let Some((rel, modified, size)) = listed.into_iter().find(|(rel, _, _)| rel == name) {
            let fmt = format_of(&rel, format).ok_or_else(|| {
                bad(format!(
                    "cannot tell the format of {rel} from its extension: set [visitors] format"
                ))
            })?;
            single = Some(SourceFile {
                key: source.into(),
                name: source.into(),
                store: parent_store,
                rel,
                local: None,
                size,
                modified: modified.to_rfc3339(),
                format: fmt,
            });
        }
    }
    if let Some(one) = single {
        files.push(one);
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.csv", "a.csv"));
        assert!(!glob_match("*.csv", "d/a.csv"));
        assert!(glob_match("**/*.csv", "d/e/a.csv"));
        assert!(glob_match("**/*.csv", "a.csv"));
        assert!(glob_match("events-2026-??.ndjson", "events-2026-01.ndjson"));
        assert!(!glob_match("events-2026-??.ndjson", "events-2026-1.ndjson"));
        assert!(glob_match("d/*/x.parquet", "d/2026/x.parquet"));
        // `**/` stands for whole segments, never half a name.
        assert!(glob_match("exports/**/events.csv", "exports/events.csv"));
        assert!(glob_match(
            "exports/**/events.csv",
            "exports/2026/01/events.csv"
        ));
        assert!(!glob_match(
            "exports/**/events.csv",
            "exports/old_events.csv"
        ));
        assert!(!glob_match("**/day-*.csv", "x/today-1.csv"));
        assert!(glob_match("exports/**", "exports/a/b.csv"));
    }
}
