//! Embeds every `sql/**/*.sql` model and `sql/**/*.csv` seed, so the binary runs from anywhere
//! and adding a model is adding one file.

use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("sql" | "csv")
        ) {
            out.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=sql");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let mut files = Vec::new();
    walk(&root.join("sql"), &mut files);
    files.sort();
    let mut code = String::from("pub static FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        let rel = f
            .strip_prefix(root.join("sql"))
            .expect("under sql/")
            .to_string_lossy()
            .replace('\\', "/");
        // The path is resolved when the crate compiles, not here: a build-script output cached
        // by a checkout elsewhere (a shared CARGO_TARGET_DIR) still points into this one.
        code.push_str(&format!(
            "    ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/sql/\", {rel:?}))),\n"
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("sql_files.rs");
    std::fs::write(out, code).expect("write sql_files.rs");
}
