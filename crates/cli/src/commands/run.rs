//! `volley run FILE|-`: run a plan (or a model's answer) with real tools; live progress on
//! stderr, the result on stdout.
//!
//! Exit codes: 0 every call succeeded; 1 some did not; 2 invalid input (nothing ran); 130
//! interrupted (Ctrl-C cancelled the batch; every call's outcome is still printed).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use volley::aggregator::Aggregator;
use volley::executor::{Registry, Status};
use volley::planner::{ParseOptions, parse_and_plan_with};
use volley::progress::{Narrator, ToolPhrase};
use volley_cli::config::Config;
use volley_cli::setup;

use super::invalid;
use crate::display::Display;
use crate::input::{self, InputFormatArg};

/// Arguments of `volley run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The plan or provider response to run (`-` for standard input).
    file: PathBuf,
    /// The input's shape.
    #[arg(long, value_enum, default_value_t = InputFormatArg::Auto)]
    input_format: InputFormatArg,
    /// What to print on stdout: the batch result (JSON), or the message to send back to the
    /// model in its provider's format.
    #[arg(long, value_enum, default_value_t = Output::Json)]
    output: Output,
    /// The configuration file (default: `volley.toml` in the working directory, if any).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print what a voice agent would say, as it would say it.
    #[arg(long)]
    narrate: bool,
    /// Write a self-contained HTML page with the timeline and the run report.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Append the audit log (JSON Lines) to this file.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// No live display on stderr (narration, if asked, still prints).
    #[arg(long, short)]
    quiet: bool,
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// `{"results": […], "summary": {…}}`.
    Json,
    /// An Anthropic `user` message of `tool_result` blocks.
    Anthropic,
    /// A Bedrock Converse `user` message of `toolResult` blocks.
    Bedrock,
    /// OpenAI `tool` messages, one per call.
    Openai,
}

/// Runs the command on its own runtime.
pub(crate) fn run(args: &Args) -> ExitCode {
    super::block_on(run_async(args))
}

async fn run_async(args: &Args) -> ExitCode {
    // Registered before anything runs: `ctrl_c()` would only listen once first polled, and a
    // Ctrl-C before that would kill the process without an outcome for anyone.
    let mut interrupt =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
            Ok(signal) => signal,
            Err(e) => return invalid(format!("cannot listen for Ctrl-C: {e}")),
        };
    let text = match input::read(&args.file) {
        Ok(text) => text,
        Err(problem) => return invalid(problem),
    };
    let (config, registry, servers) = match super::load(args.config.as_deref()).await {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let code = execute(args, &config, registry, &text, &mut interrupt).await;
    // MCP servers are stopped cleanly, whatever happened.
    servers.shutdown().await;
    code
}

async fn execute(
    args: &Args,
    config: &Config,
    registry: Registry,
    text: &str,
    interrupt: &mut tokio::signal::unix::Signal,
) -> ExitCode {
    let engine = match setup::engine(config, registry.clone(), args.audit.as_deref()) {
        Ok(engine) => engine,
        Err(problem) => return invalid(problem),
    };
    // Only input that cannot be read as a plan is refused; unknown tools and bad arguments
    // fail their own call when it runs.
    // A model's call whose arguments cannot be read fails alone too: the model must get a
    // result for every call it made.
    let lenient = ParseOptions {
        lenient_arguments: true,
    };
    let mut plan = match parse_and_plan_with(
        text,
        args.input_format.into(),
        &volley::planner::Planner::new(),
        lenient,
    ) {
        Ok((plan, _)) => plan,
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            return ExitCode::from(2);
        }
    };
    // The tools' access keys and estimates can add edges: plan again with them.
    let dag = match engine.plan(&mut plan) {
        Ok(dag) => dag,
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            return ExitCode::from(2);
        }
    };
    let narrator = args.narrate.then(|| narrator(&registry));
    if let Some(narrator) = &narrator {
        say(&narrator.start(&plan, &dag));
    }
    let handle = match engine.run(plan.clone()) {
        Ok(handle) => handle,
        Err(e) => return invalid(e),
    };

    let display = Display::new(!args.quiet, std::io::stderr().is_terminal());
    let watcher = {
        let handle = handle.clone();
        let narrator = narrator.clone();
        tokio::spawn(async move { display.watch(&handle, narrator.as_ref()).await })
    };
    let interrupted = tokio::select! {
        _ = handle.wait() => false,
        _ = interrupt.recv() => {
            eprintln!("\ninterrupted: cancelling the batch (every call still gets its outcome)");
            handle.cancel();
            true
        }
    };
    let outcomes = handle.wait().await;
    let snapshot = watcher.await.ok().flatten();

    let aggregator = Aggregator::new();
    let batch = aggregator.batch(&plan, &outcomes).with_dag(&dag);
    if let (Some(narrator), Some(snapshot)) = (&narrator, &snapshot) {
        say(&narrator.outcome(snapshot));
    }
    if let Some(path) = &args.report {
        let page = crate::report_html::page(&plan, &batch);
        if let Err(e) = std::fs::write(path, page) {
            eprintln!("error: cannot write the report {}: {e}", path.display());
        }
    }
    let output = match args.output {
        Output::Json => serde_json::to_value(batch.result()),
        Output::Anthropic => Ok(batch.anthropic().to_value()),
        Output::Bedrock => Ok(batch.bedrock().to_value()),
        Output::Openai => serde_json::to_value(batch.openai()),
    };
    let text = output
        .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
        .unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();

    if interrupted {
        ExitCode::from(130)
    } else if outcomes.iter().all(|o| o.status == Status::Ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A narrator speaking each tool's configured or built-in phrase.
fn narrator(registry: &Registry) -> Narrator {
    let mut builder = Narrator::builder();
    for name in registry.names() {
        if let Some(phrase) = registry
            .get(name)
            .and_then(|t| t.spoken().map(str::to_owned))
        {
            builder.phrase(name, ToolPhrase::new(phrase));
        }
    }
    builder.build()
}

fn say(sentence: &str) {
    eprintln!("🗣  {sentence}");
}
