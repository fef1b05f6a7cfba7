//! One module per subcommand, and what they share.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use volley::executor::Registry;
use volley_cli::config::Config;
use volley_cli::mcp::McpServers;
use volley_cli::setup;

pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod serve;

/// Reports input that cannot be used (nothing ran): exit 2.
pub(crate) fn invalid(problem: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {problem}");
    ExitCode::from(2)
}

/// Runs a command's future on a multi-threaded runtime of its own; tools still running a
/// second after it returns are not waited for.
pub(crate) fn block_on(command: impl Future<Output = ExitCode>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return invalid(format!("cannot start the runtime: {e}")),
    };
    let code = runtime.block_on(command);
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Reads the configuration (`--config`, else `volley.toml` here) and builds its registry,
/// starting any MCP servers; the caller shuts those down when done. Problems exit 2.
pub(crate) async fn load(
    config: Option<&Path>,
) -> Result<(Config, Registry, McpServers), ExitCode> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let config = Config::load(config, &cwd).map_err(invalid)?;
    let (registry, servers) = setup::registry_async(&config)
        .await
        .map_err(|problem| invalid(format!("configuration: {problem}")))?;
    Ok((config, registry, servers))
}
