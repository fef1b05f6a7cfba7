//! One module per subcommand, and what they share.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

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
