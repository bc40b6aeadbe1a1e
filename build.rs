//! Bundles the simulated scenario library into the crate, so a dependent crate's tests can
//! run it (`wschaos::testing::library`) without a copy of this repository.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    if root.is_dir() {
        walk(&root, &mut files);
    }
    files.sort();
    let mut out = String::from(
        "/// The bundled scenario files: (path under `scenarios/`, text).\npub(crate) static FILES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        let name = file
            .strip_prefix(&root)
            .expect("walked from the root")
            .to_string_lossy()
            .replace('\\', "/");
        // Real-network files run processes of this repository; regression files record
        // the reference client's own open bugs. Neither means anything to another client.
        if name.starts_with("real/") || name.starts_with("regressions/") {
            continue;
        }
        let _ = writeln!(out, "    ({name:?}, include_str!({:?})),", file.display());
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(dest.join("library.rs"), out).expect("OUT_DIR is writable");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {} to bundle it: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot read {} to bundle it: {e}", dir.display()))
            .path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
}
