//! The source tree's shape: no module imports a module that imports it back, at any depth, and
//! the imports form no cycle. Imports are read from `crate::…` and `super::…` paths outside test
//! modules; a parent reaching its own children (`list::Slice` in `extract/mod.rs`) is how Rust
//! modules nest, not an import back, and is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/` (as `a::b`) and its source without test modules.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("src/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .expect("under src/")
                .with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            out.insert(parts.join("::"), code.to_string());
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// The paths named after each `prefix` (`crate::`, `super::`), braces expanded one level.
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        if code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(inner) = rest.strip_prefix('{') {
            let end = inner.find('}').unwrap_or(inner.len());
            out.extend(
                inner[..end]
                    .split(',')
                    .map(|p| p.trim().split("::").next().unwrap_or("").to_string())
                    .filter(|p| p.starts_with(|c: char| c.is_ascii_lowercase())),
            );
        } else {
            let path: String = rest.chars().take_while(|c| ident(*c)).collect();
            out.push(path.trim_end_matches(':').to_string());
        }
    }
    out
}

/// Module → the modules it imports (resolved to the longest known module prefix).
fn imports(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let resolve = |path: &str| -> Option<String> {
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        (1..=parts.len())
            .rev()
            .map(|n| parts[..n].join("::"))
            .find(|m| mods.contains_key(m))
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in mods {
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
        let mut named: Vec<String> = paths_after(code, "crate::");
        named.extend(
            paths_after(code, "super::")
                .into_iter()
                .map(|p| match parent {
                    "" => p,
                    parent => format!("{parent}::{p}"),
                }),
        );
        let targets = out.entry(module.clone()).or_default();
        targets.extend(
            named
                .iter()
                .filter_map(|p| resolve(p))
                .filter(|t| t != module),
        );
    }
    out
}

fn truncate(module: &str, depth: usize) -> String {
    module
        .split("::")
        .take(depth)
        .collect::<Vec<_>>()
        .join("::")
}

/// A cycle in `edges`, if there is one, as the modules along it.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        at: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == at) {
            let mut c = path[i..].to_vec();
            c.push(at.to_string());
            return Some(c);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_string());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(at.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|m| visit(m, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mods = modules();
    assert!(mods.contains_key("pipeline::verdict") && mods.contains_key("sandbox::server"));
    let imports = imports(&mods);
    assert!(
        imports["pipeline"].contains("extract") && imports["sandbox::server"].contains("sandbox"),
        "the reader finds imports: {imports:?}"
    );
    for depth in 1..=3 {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, targets) in &imports {
            for to in targets {
                let (a, b) = (truncate(from, depth), truncate(to, depth));
                if a != b {
                    edges.entry(a).or_default().insert(b);
                }
            }
        }
        if let Some(c) = cycle(&edges) {
            panic!(
                "modules import each other (depth {depth}): {}",
                c.join(" → ")
            );
        }
    }
}

#[test]
fn the_import_reader_sees_braces_and_super() {
    let code =
        "use super::{read, source::{self, X}};\nuse crate::storage::Table;\nlet x = crate::a::b();";
    assert_eq!(paths_after(code, "super::"), ["read", "source"]);
    assert_eq!(paths_after(code, "crate::"), ["storage::Table", "a::b"]);
}
