//! `volley plan FILE|-`: check a plan and show how it would run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use volley::planner::{Planner, parse_and_plan, render};

use crate::input::{self, InputFormatArg};

/// Arguments of `volley plan`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The plan or provider response to read (`-` for standard input).
    file: PathBuf,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The input's shape.
    #[arg(long, value_enum, default_value_t = InputFormatArg::Auto)]
    input_format: InputFormatArg,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Waves, critical path, estimated total and warnings, for people.
    Text,
    /// `{"calls", "waves", "critical_path", "estimated_ms", "edges"}`, for programs.
    Json,
    /// A Mermaid flowchart.
    Mermaid,
    /// A Graphviz digraph.
    Dot,
}

/// Exit 0 for a valid plan; 2 for unreadable or invalid input, one problem per line on stderr.
pub(crate) fn run(args: &Args) -> ExitCode {
    let text = match input::read(&args.file) {
        Ok(text) => text,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitCode::from(2);
        }
    };
    let (plan, dag) = match parse_and_plan(&text, args.input_format.into(), &Planner::new()) {
        Ok(planned) => planned,
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            return ExitCode::from(2);
        }
    };
    let output = match args.format {
        Format::Text => render::text(&plan, &dag),
        Format::Json => {
            let summary = render::Summary::new(&plan, &dag);
            serde_json::to_string(&summary).unwrap_or_default() + "\n"
        }
        Format::Mermaid => render::mermaid(&plan, &dag),
        Format::Dot => render::dot(&plan, &dag),
    };
    if args.format != Format::Text {
        for warning in dag.warnings() {
            eprintln!("warning: {warning}");
        }
    }
    print!("{output}");
    ExitCode::SUCCESS
}
