//! Repository checks that run as tests (`cargo test -p xtask`) and as `cargo xtask tidy`.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of `xtask/`).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let xtask = manifest.unwrap_or_else(|_| PathBuf::from("xtask"));
    xtask
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Checks every crate's `lib.rs` opens with a `//!` overview and a runnable example, and that each
/// crate takes its lints from the workspace.
pub(crate) fn check(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    let crates = root.join("crates");
    let entries = std::fs::read_dir(&crates).map_err(|e| format!("{}: {e}", crates.display()))?;
    for entry in entries.flatten() {
        let dir = entry.path();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if !manifest.contains("[lints]\nworkspace = true") {
            problems.push(format!(
                "{}: Cargo.toml lacks `[lints] workspace = true`",
                dir.display()
            ));
        }
        let lib = dir.join("src/lib.rs");
        let Ok(text) = std::fs::read_to_string(&lib) else {
            continue;
        };
        if !text.starts_with("//!") {
            problems.push(format!(
                "{}: does not open with a `//!` overview",
                lib.display()
            ));
        }
        if !text.contains("//! ```") {
            problems.push(format!("{}: the overview has no example", lib.display()));
        }
        if !text.contains("#![deny(missing_docs)]") {
            problems.push(format!("{}: lacks #![deny(missing_docs)]", lib.display()));
        }
    }
    for doc in [
        "README.md",
        "docs/architecture.md",
        "docs/plan-format.md",
        "docs/benchmarks.md",
    ] {
        if !root.join(doc).is_file() {
            problems.push(format!("{doc} is missing"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn repository_is_tidy() {
        if let Err(problems) = super::check(&super::workspace_root()) {
            panic!("tidy found problems:\n{problems}");
        }
    }
}
