//! The `volley` command: plan, run and serve an LLM agent's tool calls.
//!
//! Exit codes: 0 success; 1 some calls did not succeed (`run`); 2 invalid input (nothing ran);
//! 130 interrupted.

mod commands;
mod display;
mod input;
mod report_html;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run an LLM agent's tool calls in parallel.
#[derive(Debug, Parser)]
#[command(name = "volley", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a plan (or a model's response) and show its waves, critical path and edges.
    Plan(commands::plan::Args),
    /// Run a plan (or a model's response) with real tools; print the results.
    Run(commands::run::Args),
    /// Serve the HTTP API: agents in any language post plans and stream progress and results.
    Serve(commands::serve::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plan(args) => commands::plan::run(&args),
        Command::Run(args) => commands::run::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
    }
}
