//! The built-in tools: `shell`, `http`, `read_file`, `write_file`, `list_dir`, `glob`, `echo`,
//! `sleep`, and command tools from `volley.toml`.

mod basic;
mod command;
mod fs;
mod http;
pub(crate) mod process;
mod shell;

use serde::de::DeserializeOwned;
use serde_json::Value;
use volley::executor::{Registry, RegistryError, ToolError};

pub use basic::{Echo, Sleep};
pub use command::{CommandTool, EXIT_TRANSIENT, fill};
pub use fs::{Glob, ListDir, MAX_ENTRIES, ReadFile, WriteFile, normalize};
pub use http::{Http, MAX_BODY};
pub use shell::Shell;

/// A registry of every built-in tool.
pub fn builtin_registry() -> Result<Registry, RegistryError> {
    let mut registry = Registry::new();
    registry
        .register(Shell)?
        .register(Http::new())?
        .register(ReadFile)?
        .register(WriteFile)?
        .register(ListDir)?
        .register(Glob)?
        .register(Echo)?
        .register(Sleep)?;
    Ok(registry)
}

/// Reads a tool's arguments into its typed form; the schema already checked them, so a failure
/// here is a schema gap, reported as invalid arguments.
pub(crate) fn parse_args<T: DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|e| ToolError::invalid_arguments(e.to_string()))
}
