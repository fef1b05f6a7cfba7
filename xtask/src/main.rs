//! Repository tasks, run as `cargo xtask <command>`.
//!
//! - `cargo xtask bench [GROUP…]`: runs the criterion benchmarks of the `benches/` package (all of
//!   them, or the named groups such as `planner`), then prints each benchmark's median from
//!   criterion's own estimates so the figures can go into `docs/benchmarks.md`.
//! - `cargo xtask ci`: runs `.ci/run`.

mod bench;
mod tidy;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::run(&args[1..]),
        Some("ci") => run_ci(),
        Some("tidy") => tidy::check(&tidy::workspace_root()),
        _ => Err(usage()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    "usage: cargo xtask bench [planner|resources|progress|executor|aggregator…] | ci | tidy".into()
}

fn run_ci() -> Result<(), String> {
    let root = tidy::workspace_root();
    let status = std::process::Command::new("bash")
        .arg(root.join(".ci/run"))
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot run .ci/run: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(".ci/run failed: {status}"))
    }
}
