//! Why an MCP server could not give Volley its tools.

/// Why an MCP server could not be started or listed. Each variant names the server; the
/// start-up ones also name its command and carry the last lines of its stderr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The program could not be started (not found, not executable…).
    #[error(
        "MCP server `{server}`: cannot run `{command}`: {problem}{}",
        tail(stderr)
    )]
    Spawn {
        /// The server's name in `[mcp.servers]`.
        server: String,
        /// Its command, as one line.
        command: String,
        /// What the system said.
        problem: String,
        /// The last lines it wrote on stderr.
        stderr: Vec<String>,
    },
    /// It started but did not complete the MCP handshake (it exited, or spoke no MCP).
    #[error(
        "MCP server `{server}` (`{command}`) did not start: {problem}{}",
        tail(stderr)
    )]
    Initialize {
        /// The server's name.
        server: String,
        /// Its command, as one line.
        command: String,
        /// What went wrong.
        problem: String,
        /// The last lines it wrote on stderr.
        stderr: Vec<String>,
    },
    /// `tools/list` failed.
    #[error("MCP server `{server}`: cannot list its tools: {problem}")]
    List {
        /// The server's name.
        server: String,
        /// What went wrong.
        problem: String,
    },
}

impl McpError {
    /// The server it is about.
    pub fn server(&self) -> &str {
        match self {
            McpError::Spawn { server, .. }
            | McpError::Initialize { server, .. }
            | McpError::List { server, .. } => server,
        }
    }
}

/// `"; stderr: …"` with the lines, or nothing.
pub(crate) fn tail(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends with:\n  {}", lines.join("\n  "))
    }
}
