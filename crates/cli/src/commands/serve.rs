//! `volley serve`: the HTTP API (see `volley_cli::serve` and `docs/http-api.md`).
//!
//! Exit codes: 0 after a clean shutdown (Ctrl-C or SIGTERM); 1 when the address cannot be
//! bound, or on a second signal during the shutdown; 2 for invalid options or configuration
//! (nothing was served).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::invalid;
use volley_cli::config::Config;
use volley_cli::serve::{
    DEFAULT_MAX_BATCHES, DEFAULT_MAX_BODY_BYTES, DEFAULT_RETAIN_BATCHES, Server, Token,
};
use volley_cli::setup;

/// The environment variable that holds the token (safer than `--token`, which other users
/// of the machine can read in the process list).
const TOKEN_VAR: &str = "VOLLEY_TOKEN";

/// Arguments of `volley serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on. Keep it on loopback unless a TLS-terminating proxy is in front:
    /// the API speaks plain HTTP.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// The configuration file (default: `volley.toml` in the working directory, if any).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The bearer token clients must send (`Authorization: Bearer TOKEN`), at least 16
    /// characters. Prefer the VOLLEY_TOKEN environment variable: a flag shows in `ps`.
    #[arg(long, value_name = "TOKEN")]
    token: Option<Token>,
    /// Serve without a token: anyone who can connect can run every tool, `shell` included.
    #[arg(long)]
    insecure_no_auth: bool,
    /// Largest request body accepted; larger ones get 413.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Batches running at once; more get 429.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_BATCHES)]
    max_batches: usize,
    /// Finished batches kept for `GET /v1/batches/ID` (the oldest go first).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RETAIN_BATCHES)]
    retain_batches: usize,
    /// Seconds a finished batch is kept.
    #[arg(long, value_name = "SECS", default_value_t = 900)]
    retain_secs: u64,
    /// Append the audit log (JSON Lines) to this file.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// No log line per request and per batch on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs the server on its own runtime until Ctrl-C or SIGTERM.
pub(crate) fn run(args: &Args) -> ExitCode {
    super::block_on(serve(args))
}

/// The token from `--token`, else from `VOLLEY_TOKEN`.
fn token(args: &Args) -> Result<Option<Token>, String> {
    if let Some(token) = &args.token {
        return Ok(Some(token.clone()));
    }
    match std::env::var(TOKEN_VAR) {
        Ok(value) => Token::new(value)
            .map(Some)
            .map_err(|e| format!("{TOKEN_VAR}: {e}")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "{TOKEN_VAR}: the token is not usable: it is not UTF-8"
        )),
    }
}

async fn serve(args: &Args) -> ExitCode {
    let token = match token(args) {
        Ok(token) => token,
        Err(problem) => return invalid(problem),
    };
    let (config, registry, servers) = match super::load(args.config.as_deref()).await {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let code = serve_with(args, token, &config, registry).await;
    // MCP servers are stopped cleanly once the server has drained.
    servers.shutdown().await;
    code
}

async fn serve_with(
    args: &Args,
    token: Option<Token>,
    config: &Config,
    registry: volley::executor::Registry,
) -> ExitCode {
    let tools = registry.len();
    let engine = match setup::engine(config, registry, args.audit.as_deref()) {
        Ok(engine) => engine,
        Err(problem) => return invalid(problem),
    };
    let mut builder = Server::builder(engine);
    builder
        .max_body_bytes(args.max_body_bytes)
        .max_batches(args.max_batches)
        .retain_batches(args.retain_batches)
        .retain_for(Duration::from_secs(args.retain_secs));
    let authenticated = token.is_some();
    if let Some(token) = token {
        builder.token(token);
    }
    if args.insecure_no_auth {
        builder.insecure_no_auth();
    }
    if args.quiet {
        builder.quiet();
    }
    let server = match builder.build() {
        Ok(server) => server,
        Err(problem) => return invalid(problem),
    };

    let listener = match tokio::net::TcpListener::bind(&args.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.addr);
            return ExitCode::from(1);
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.addr);
            return ExitCode::from(1);
        }
    };
    announce(addr, tools, authenticated);

    let shutdown = async {
        signal().await;
        eprintln!("volley serve: shutting down (a second signal stops at once)");
    };
    let served = server.serve(listener, shutdown);
    tokio::pin!(served);
    // The first signal starts the graceful shutdown inside `serve`; wait for a second one
    // only once it has.
    let result = tokio::select! {
        result = &mut served => result,
        () = async { signal().await; signal().await; } => {
            eprintln!("volley serve: second signal: stopping now");
            return ExitCode::from(1);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the server failed: {e}");
            ExitCode::from(1)
        }
    }
}

fn announce(addr: SocketAddr, tools: usize, authenticated: bool) {
    let auth = if authenticated {
        "bearer token required"
    } else {
        "NO AUTHENTICATION"
    };
    eprintln!("volley serve: listening on http://{addr} ({tools} tools; {auth})");
    if !addr.ip().is_loopback() {
        if authenticated {
            eprintln!(
                "volley serve: warning: {addr} is reachable from other machines and the API is \
                 plain HTTP: put a TLS-terminating proxy in front, or the token can be sniffed"
            );
        } else {
            eprintln!(
                "volley serve: warning: {addr} is reachable from other machines and needs no \
                 token: anyone there can run shell commands as this user"
            );
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
