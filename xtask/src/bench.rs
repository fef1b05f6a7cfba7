//! `cargo xtask bench [GROUP…]`: run criterion benchmarks and print their medians.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tidy::workspace_root;

/// Runs the named bench targets (all when none is named) and prints a median table.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["bench", "--package", "volley-benches"]);
    // Anything after `--` goes to criterion (for example `-- --measurement-time 3`).
    let (groups, criterion_args) = match args.iter().position(|g| g == "--") {
        Some(pos) => (&args[..pos], &args[pos + 1..]),
        None => (args, &args[args.len()..]),
    };
    for group in groups {
        cmd.args(["--bench", group]);
    }
    if !criterion_args.is_empty() {
        cmd.arg("--").args(criterion_args);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    if !status.success() {
        return Err(format!("cargo bench failed: {status}"));
    }
    print_medians(&root.join("target/criterion"), groups);
    Ok(())
}

/// Prints `group/bench  median` for every estimate criterion wrote in this run.
fn print_medians(dir: &Path, groups: &[String]) {
    let mut found = Vec::new();
    collect_estimates(dir, &mut found);
    found.sort();
    println!("\nmedians (criterion point estimates, from target/criterion):");
    for path in found {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some(median_ns) = median_point_estimate(&text) else {
            continue;
        };
        // .../criterion/<group>/<bench…>/new/estimates.json
        let Ok(rel) = path.strip_prefix(dir) else {
            continue;
        };
        let name: Vec<_> = rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        let name = name[..name.len().saturating_sub(2)].join("/");
        let wanted = groups.is_empty()
            || groups
                .iter()
                .any(|g| name.starts_with(g.as_str()) || name.contains(&format!("{g}_")));
        if wanted {
            println!("  {name:<60} {}", format_ns(median_ns));
        }
    }
}

fn collect_estimates(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "report" || n == "base")
            {
                continue;
            }
            collect_estimates(&path, out);
        } else if path.ends_with("new/estimates.json") {
            out.push(path);
        }
    }
}

/// Extracts `"median":{…"point_estimate":X…}` without a JSON dependency.
fn median_point_estimate(text: &str) -> Option<f64> {
    let median = text.find("\"median\"")?;
    let rest = &text[median..];
    let key = "\"point_estimate\":";
    let start = rest.find(key)? + key.len();
    let rest = &rest[start..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_median_not_the_mean() {
        let text = r#"{"mean":{"confidence_interval":{"lower_bound":1.0},"point_estimate":5.0},"median":{"confidence_interval":{"lower_bound":2.0,"upper_bound":3.0},"point_estimate":2.5,"standard_error":0.1}}"#;
        assert_eq!(median_point_estimate(text), Some(2.5));
    }

    #[test]
    fn formats_each_unit() {
        assert_eq!(format_ns(12.34), "12.3 ns");
        assert_eq!(format_ns(12_340.0), "12.340 µs");
        assert_eq!(format_ns(12_340_000.0), "12.340 ms");
        assert_eq!(format_ns(2_500_000_000.0), "2.500 s");
    }
}
