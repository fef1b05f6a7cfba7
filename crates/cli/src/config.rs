//! `volley.toml`: limits, per-tool policies, the audit log and command tools.
//!
//! Read from `--config FILE`, else `volley.toml` in the working directory, else defaults.
//! Unknown keys are errors naming the key and its line (typos must not pass silently).
//! The full reference is `docs/configuration.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The most calls running at once (a plan's `max_concurrency` overrides it).
    pub max_concurrency: Option<usize>,
    /// How long a cancelled tool may take to stop before it is dropped.
    pub grace_period_ms: Option<u64>,
    /// Where to append the audit log (JSON Lines); `--audit` overrides it.
    pub audit_log: Option<PathBuf>,
    /// Capacities shared by every call.
    #[serde(default)]
    pub resources: Resources,
    /// Per-tool policies, by tool name.
    #[serde(default)]
    pub tools: BTreeMap<String, ToolPolicy>,
    /// Tools that run a command, by tool name.
    #[serde(default)]
    pub commands: BTreeMap<String, CommandTool>,
    /// MCP servers whose tools become Volley tools.
    #[serde(default)]
    pub mcp: Mcp,
}

/// `[mcp]`: MCP servers whose tools become `mcp__<server>__<tool>` tools.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mcp {
    /// The servers, by name (`[mcp.servers.NAME]`).
    #[serde(default)]
    pub servers: BTreeMap<String, McpServer>,
}

/// `[mcp.servers.NAME]`: an MCP server Volley starts and talks to over its stdio.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    /// The program and its arguments (no shell).
    pub command: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (default: Volley's).
    pub cwd: Option<PathBuf>,
    /// When to start it: `"eager"` (the default) or `"lazy"`.
    #[serde(default)]
    pub start: StartPolicy,
    /// At most this many calls to the server at once (default: no limit).
    pub max_concurrency: Option<usize>,
    /// How long one call of its tools may run, unless `[tools.NAME]` or the call says otherwise.
    pub timeout_ms: Option<u64>,
}

/// When an MCP server starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartPolicy {
    /// At start-up: its tools are listed and the connection stays open.
    #[default]
    Eager,
    /// At start-up only to list its tools, then stopped; started again on the first call.
    Lazy,
}

/// `[resources]`: budgets every call draws on.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU, in cores (fractional).
    pub cpu_cores: Option<f64>,
    /// Memory, in MB.
    pub memory_mb: Option<u64>,
    /// I/O slots.
    pub io_slots: Option<u32>,
}

/// `[tools.NAME]`: what applies to every call of one tool.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolPolicy {
    /// At most this many calls of the tool at once.
    pub max_concurrency: Option<usize>,
    /// At most `calls` per `period_ms`, with bursts of `burst`.
    pub rate_limit: Option<RateLimit>,
    /// How long one attempt may run.
    pub timeout_ms: Option<u64>,
    /// Retries of transient failures and timeouts.
    pub retry: Option<Retry>,
    /// `critical`, `high`, `normal`, `low` or `background`.
    pub priority: Option<String>,
    /// How a voice agent says what the tool does ("check your calendar").
    pub spoken: Option<String>,
    /// How long a call usually takes.
    pub estimated_ms: Option<u64>,
    /// What each call needs from `[resources]`.
    pub cpu: Option<f64>,
    /// Memory each call needs, in MB.
    pub memory_mb: Option<u64>,
    /// I/O slots each call needs.
    pub io: Option<u32>,
}

/// A rate limit: `calls` per `period_ms`, bursts of `burst` (default: `calls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Calls allowed per period.
    pub calls: u32,
    /// The period, in milliseconds (default 1000).
    #[serde(default = "one_second")]
    pub period_ms: u64,
    /// How many may go at once after a quiet spell.
    pub burst: Option<u32>,
}

fn one_second() -> u64 {
    1_000
}

/// A retry policy, as in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all (1: no retry).
    pub max_attempts: u32,
    /// First delay; doubles each time, with jitter.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// Longest delay.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_ms: u64,
}

fn default_backoff() -> u64 {
    100
}

fn default_max_backoff() -> u64 {
    5_000
}

/// `[commands.NAME]`: a tool that runs a program.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandTool {
    /// What the tool does, for the model.
    pub description: String,
    /// The JSON Schema of its arguments (an object schema).
    #[serde(default = "any_object")]
    pub input_schema: Value,
    /// The program and its arguments; `{name}` is replaced by argument `name` (strings raw,
    /// other values as JSON). No shell is involved.
    pub argv: Vec<String>,
    /// `"json"`: the arguments are written to stdin as JSON; `"none"` (the default): nothing.
    #[serde(default)]
    pub stdin: StdinMode,
    /// Working directory (default: Volley's).
    pub cwd: Option<PathBuf>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Access keys, with `{name}` placeholders filled from the arguments (`read:{path}`).
    #[serde(default)]
    pub access: Vec<String>,
}

/// What a command tool gets on stdin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StdinMode {
    /// Nothing.
    #[default]
    None,
    /// The arguments as JSON.
    Json,
}

fn any_object() -> Value {
    serde_json::json!({"type": "object"})
}

impl Config {
    /// Parses a configuration; the error names the key and its line.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| describe(&e, text, origin))?;
        config
            .check()
            .map_err(|problem| format!("{}: {problem}", origin.display()))?;
        Ok(config)
    }

    /// Reads `path`, or `volley.toml` in `dir` when no path is given and it exists.
    pub fn load(path: Option<&Path>, dir: &Path) -> Result<Config, String> {
        let (path, required) = match path {
            Some(path) => (path.to_path_buf(), true),
            None => (dir.join("volley.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Checks what serde cannot: ranges and names.
    fn check(&self) -> Result<(), String> {
        if self.max_concurrency == Some(0) {
            return Err("max_concurrency must be at least 1".into());
        }
        for (name, tool) in &self.tools {
            if let Some(priority) = &tool.priority {
                priority
                    .parse::<volley::planner::Priority>()
                    .map_err(|problem| format!("tools.{name}.priority: {problem}"))?;
            }
            if let Some(rate) = tool.rate_limit
                && (rate.calls == 0 || rate.period_ms == 0)
            {
                return Err(format!(
                    "tools.{name}.rate_limit: calls and period_ms must be at least 1"
                ));
            }
            if let Some(retry) = tool.retry
                && retry.max_attempts == 0
            {
                return Err(format!(
                    "tools.{name}.retry.max_attempts: must be at least 1"
                ));
            }
        }
        for (name, server) in &self.mcp.servers {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(format!(
                    "mcp.servers.{name}: a server name uses only letters, digits, `_` and `-`"
                ));
            }
            if server.command.is_empty() {
                return Err(format!(
                    "mcp.servers.{name}.command: needs at least the program"
                ));
            }
            if server.max_concurrency == Some(0) {
                return Err(format!(
                    "mcp.servers.{name}.max_concurrency: must be at least 1"
                ));
            }
        }
        for (name, command) in &self.commands {
            if command.argv.is_empty() {
                return Err(format!("commands.{name}.argv: needs at least the program"));
            }
            if command.input_schema.get("type").and_then(Value::as_str) != Some("object") {
                return Err(format!(
                    "commands.{name}.input_schema: must be an object schema (`type = \"object\"`)"
                ));
            }
        }
        Ok(())
    }
}

/// `FILE:LINE:COLUMN: message`, from toml's error and span.
fn describe(error: &toml::de::Error, text: &str, origin: &Path) -> String {
    let message = error.message().trim_end().to_owned();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
            format!("{}:{line}:{column}: {message}", origin.display())
        }
        None => format!("{}: {message}", origin.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
max_concurrency = 8
grace_period_ms = 500
audit_log = "audit.jsonl"

[resources]
cpu_cores = 2.0
memory_mb = 4096

[tools.check_crm]
max_concurrency = 2
rate_limit = { calls = 5, period_ms = 1000, burst = 2 }
retry = { max_attempts = 3 }
priority = "high"
spoken = "check your CRM records"

[commands.find_contact]
description = "Find a contact by email"
input_schema = { type = "object", properties = { email = { type = "string" } }, required = ["email"] }
argv = ["python3", "tools.py", "find_contact", "{email}"]

[mcp.servers.time]
command = ["uvx", "mcp-server-time"]
env = { TZ = "UTC" }
start = "lazy"
max_concurrency = 4
timeout_ms = 5000

[mcp.servers.everything]
command = ["node", "server-everything/dist/index.js", "stdio"]
"#;

    #[test]
    fn reads_a_complete_configuration() {
        let config = Config::parse(EXAMPLE, Path::new("volley.toml")).unwrap();
        assert_eq!(config.max_concurrency, Some(8));
        assert_eq!(config.resources.memory_mb, Some(4096));
        let crm = &config.tools["check_crm"];
        assert_eq!(
            crm.rate_limit,
            Some(RateLimit {
                calls: 5,
                period_ms: 1_000,
                burst: Some(2)
            })
        );
        assert_eq!(
            crm.retry,
            Some(Retry {
                max_attempts: 3,
                backoff_ms: 100,
                max_backoff_ms: 5_000
            })
        );
        let time = &config.mcp.servers["time"];
        assert_eq!(time.command, ["uvx", "mcp-server-time"]);
        assert_eq!(time.start, StartPolicy::Lazy);
        assert_eq!(time.max_concurrency, Some(4));
        assert_eq!(config.mcp.servers["everything"].start, StartPolicy::Eager);
        let find = &config.commands["find_contact"];
        assert_eq!(find.argv[3], "{email}");
        assert_eq!(find.stdin, StdinMode::None);
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let cases = [
            (
                "max_concurency = 3",
                "volley.toml:1:1: unknown field `max_concurency`",
            ),
            (
                "[tools.x]\ntimeout = 5",
                "volley.toml:2:1: unknown field `timeout`",
            ),
            (
                "[resources]\ncpu_cores = \"two\"",
                "volley.toml:2:13: invalid type: string \"two\", expected f64",
            ),
            (
                "[tools.x]\npriority = \"urgent\"",
                "volley.toml: tools.x.priority: `urgent` is not one of",
            ),
            (
                "[commands.x]\ndescription = \"d\"\nargv = []",
                "volley.toml: commands.x.argv: needs at least the program",
            ),
            (
                "[mcp.servers.t]\ncommand = []",
                "volley.toml: mcp.servers.t.command: needs at least the program",
            ),
            (
                "[mcp.servers.t]\ncommand = [\"x\"]\nstart = \"later\"",
                "volley.toml:3:9: unknown variant `later`",
            ),
            (
                "[mcp.servers.\"a.b\"]\ncommand = [\"x\"]",
                "volley.toml: mcp.servers.a.b: a server name uses only",
            ),
            (
                "max_concurrency = 0",
                "volley.toml: max_concurrency must be at least 1",
            ),
        ];
        for (text, expected) in cases {
            let error = Config::parse(text, Path::new("volley.toml")).unwrap_err();
            assert!(
                error.starts_with(expected),
                "{text:?}\n  got {error}\n want {expected}"
            );
        }
    }

    #[test]
    fn the_bundled_example_configuration_is_valid() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/voice-assistant.toml");
        let config = Config::load(Some(&path), Path::new(".")).unwrap();
        assert_eq!(config.commands.len(), 4);
        assert_eq!(config.tools["check_crm"].max_concurrency, Some(2));
    }

    #[test]
    fn the_documented_example_is_valid() {
        let doc = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"),
        )
        .unwrap();
        let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let config = Config::parse(&doc[start..end], Path::new("docs/configuration.md")).unwrap();
        assert_eq!(
            config.tools["check_crm"].rate_limit.map(|r| r.burst),
            Some(Some(5))
        );
        assert_eq!(
            config.commands["find_contact"].access,
            ["read:contacts/{email}"]
        );
    }

    #[test]
    fn a_missing_default_file_means_defaults_but_a_named_one_is_required() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(None, dir.path()).unwrap(), Config::default());
        let error = Config::load(Some(&dir.path().join("nope.toml")), dir.path()).unwrap_err();
        assert!(error.starts_with("cannot read "), "{error}");
    }
}
