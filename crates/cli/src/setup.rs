//! From a [`Config`] to a ready [`Engine`]: the built-in, command and MCP tools, each wrapped
//! with its `[tools.NAME]` policy, a resource manager with the configured capacities, caps and rate
//! limits, and the audit log.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use volley::executor::{Engine, JsonLinesSink, Registry, Resources, Tool, ToolContext, ToolError};
use volley::planner::{AccessKey, Priority, RetryPolicy};
use volley::resources::{RateLimit, ResourceManager};

use crate::config::{Config, StdinMode, ToolPolicy};
use crate::mcp::{self, McpServers};
use crate::tools::{CommandTool, builtin_registry};

/// A tool with the metadata its `[tools.NAME]` section overrides.
#[derive(Clone)]
pub struct Configured {
    inner: Arc<dyn Tool>,
    policy: ToolPolicy,
    priority: Option<Priority>,
}

impl std::fmt::Debug for Configured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configured")
            .field("tool", &self.inner.name())
            .field("policy", &self.policy)
            .finish()
    }
}

impl Configured {
    /// Wraps `inner` with `policy`; fails on a priority name that does not exist.
    pub fn new(inner: Arc<dyn Tool>, policy: ToolPolicy) -> Result<Configured, String> {
        let priority = match &policy.priority {
            Some(name) => Some(
                name.parse::<Priority>()
                    .map_err(|p| format!("tools.{}.priority: {p}", inner.name()))?,
            ),
            None => None,
        };
        Ok(Configured {
            inner,
            policy,
            priority,
        })
    }
}

#[async_trait]
impl Tool for Configured {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn description(&self) -> &str {
        self.inner.description()
    }
    fn input_schema(&self) -> Value {
        self.inner.input_schema()
    }
    async fn call(&self, args: Value, ctx: ToolContext) -> Result<Value, ToolError> {
        self.inner.call(args, ctx).await
    }
    fn spoken(&self) -> Option<&str> {
        self.policy
            .spoken
            .as_deref()
            .or_else(|| self.inner.spoken())
    }
    fn estimated_duration(&self) -> Option<Duration> {
        self.policy
            .estimated_ms
            .map(Duration::from_millis)
            .or_else(|| self.inner.estimated_duration())
    }
    fn timeout(&self) -> Option<Duration> {
        self.policy
            .timeout_ms
            .map(Duration::from_millis)
            .or_else(|| self.inner.timeout())
    }
    fn retry_policy(&self) -> Option<RetryPolicy> {
        match self.policy.retry {
            Some(r) => Some(RetryPolicy {
                max_attempts: r.max_attempts,
                backoff_ms: r.backoff_ms,
                max_backoff_ms: r.max_backoff_ms,
            }),
            None => self.inner.retry_policy(),
        }
    }
    fn priority(&self) -> Priority {
        self.priority.unwrap_or_else(|| self.inner.priority())
    }
    fn resources(&self) -> Resources {
        let mut resources = self.inner.resources();
        if let Some(cpu) = self.policy.cpu {
            resources.cpu = cpu;
        }
        if let Some(mb) = self.policy.memory_mb {
            resources.memory_mb = mb;
        }
        if let Some(io) = self.policy.io {
            resources.io = io;
        }
        resources
    }
    fn access_keys(&self, args: &Value) -> Vec<AccessKey> {
        self.inner.access_keys(args)
    }
    fn concurrency_safe(&self) -> bool {
        self.inner.concurrency_safe()
    }
    fn redact(&self) -> &[&str] {
        self.inner.redact()
    }
    fn spawn(&self) -> bool {
        self.inner.spawn()
    }
}

/// The tools a configuration makes available: the built-ins, its command tools and the tools
/// of its MCP servers, each with its policy. A `[tools.NAME]` section for a tool that does not
/// exist is an error (a typo must not silently configure nothing).
///
/// MCP servers are started (and listed) here, which needs a multi-threaded tokio runtime to
/// block on; async callers should prefer [`registry_async`], which also returns the servers'
/// handle for a clean shutdown. Without `[mcp.servers]` no runtime is needed.
pub fn registry(config: &Config) -> Result<Registry, String> {
    if config.mcp.servers.is_empty() {
        return registry_with(config, Vec::new());
    }
    let handle = tokio::runtime::Handle::try_current()
        .ok()
        .filter(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        .ok_or("[mcp.servers] are started from a multi-threaded tokio runtime: use setup::registry_async")?;
    let loaded = tokio::task::block_in_place(|| handle.block_on(mcp::load(&config.mcp.servers)))
        .map_err(|e| e.to_string())?;
    registry_with(config, loaded.dyn_tools())
}

/// [`registry`] for async callers: starts the MCP servers, lists their tools, and returns the
/// servers with the registry so the caller can [`McpServers::shutdown`] them on exit.
pub async fn registry_async(config: &Config) -> Result<(Registry, McpServers), String> {
    let loaded = mcp::load(&config.mcp.servers)
        .await
        .map_err(|e| e.to_string())?;
    match registry_with(config, loaded.dyn_tools()) {
        Ok(registry) => Ok((registry, loaded.servers)),
        Err(problem) => {
            loaded.servers.shutdown().await;
            Err(problem)
        }
    }
}

/// The built-ins, the command tools and `extra` (MCP tools), each with its policy.
fn registry_with(config: &Config, extra: Vec<Arc<dyn Tool>>) -> Result<Registry, String> {
    let builtins = builtin_registry().map_err(|e| e.to_string())?;
    let mut tools: Vec<Arc<dyn Tool>> = builtins
        .names()
        .iter()
        .filter_map(|n| builtins.get(n))
        .collect();
    for (name, command) in &config.commands {
        if builtins.contains(name) {
            return Err(format!(
                "commands.{name}: a built-in tool already has this name"
            ));
        }
        tools.push(Arc::new(CommandTool {
            name: name.clone(),
            description: command.description.clone(),
            input_schema: command.input_schema.clone(),
            argv: command.argv.clone(),
            stdin_json: command.stdin == StdinMode::Json,
            cwd: command.cwd.clone(),
            env: command.env.clone(),
            access: command.access.clone(),
            spoken: None,
        }));
    }
    tools.extend(extra);
    for name in config.tools.keys() {
        if !tools.iter().any(|t| t.name() == name) {
            let known: Vec<&str> = tools.iter().map(|t| t.name()).collect();
            let close = volley::planner::closest_names(name, known.iter().copied(), 3);
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!("; did you mean `{}`?", close.join("`, `"))
            };
            return Err(format!("tools.{name}: no tool has this name{hint}"));
        }
    }
    let mut registry = Registry::new();
    for tool in tools {
        let tool = match config.tools.get(tool.name()) {
            Some(policy) => Arc::new(Configured::new(tool, policy.clone())?) as Arc<dyn Tool>,
            None => tool,
        };
        registry.register_arc(tool).map_err(|e| e.to_string())?;
    }
    Ok(registry)
}

/// The resource manager for a configuration's capacities, per-tool caps and rate limits. The
/// global limit is the engine's (plan, then configuration, then its default), not the manager's.
pub fn resources(config: &Config) -> Result<ResourceManager, String> {
    let mut builder = ResourceManager::builder();
    builder.unlimited_concurrency();
    if let Some(cpu) = config.resources.cpu_cores {
        builder.cpu_cores(cpu);
    }
    if let Some(mb) = config.resources.memory_mb {
        builder.memory_mb(mb);
    }
    if let Some(io) = config.resources.io_slots {
        builder.io_slots(io);
    }
    for (name, policy) in &config.tools {
        if let Some(n) = policy.max_concurrency {
            builder.tool_concurrency(name, n);
        }
        if let Some(rate) = policy.rate_limit {
            let mut limit = RateLimit::new(rate.calls, Duration::from_millis(rate.period_ms));
            if let Some(burst) = rate.burst {
                limit = limit.burst(burst);
            }
            builder.rate_limit(name, limit);
        }
    }
    builder.build().map_err(|e| format!("[resources]: {e}"))
}

/// An engine for a configuration; `audit` (from `--audit`) overrides `audit_log`.
pub fn engine(
    config: &Config,
    registry: Registry,
    audit: Option<&std::path::Path>,
) -> Result<Engine, String> {
    let mut builder = Engine::builder(registry);
    // Displays, narration and the HTTP event streams all watch batches: make each batch's
    // progress bus when it starts, so events carry their real times even for instant tools.
    builder.progress(true);
    if let Some(n) = config.max_concurrency {
        builder.max_concurrency(n);
    }
    if let Some(ms) = config.grace_period_ms {
        builder.grace_period(Duration::from_millis(ms));
    }
    builder.resources(Arc::new(resources(config)?));
    if let Some(path) = audit.or(config.audit_log.as_deref()) {
        let sink = JsonLinesSink::append(path)
            .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
        builder.audit(Arc::new(sink));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("volley.toml")).unwrap()
    }

    #[test]
    fn policies_override_tool_metadata() {
        let registry = registry(&config(
            "[tools.sleep]\nspoken = \"take a nap\"\ntimeout_ms = 50\npriority = \"low\"\nretry = { max_attempts = 4 }\nmemory_mb = 64",
        ))
        .unwrap();
        let sleep = registry.get("sleep").unwrap();
        assert_eq!(sleep.spoken(), Some("take a nap"));
        assert_eq!(sleep.timeout(), Some(Duration::from_millis(50)));
        assert_eq!(sleep.priority(), Priority::Low);
        assert_eq!(sleep.retry_policy().map(|r| r.max_attempts), Some(4));
        assert_eq!(sleep.resources().memory_mb, 64);
        // Untouched tools keep their own metadata.
        assert_eq!(
            registry.get("shell").unwrap().spoken(),
            Some("run a command")
        );
    }

    #[test]
    fn command_tools_join_the_builtins_and_typos_are_errors() {
        let with_command = config(
            "[commands.lookup]\ndescription = \"d\"\nargv = [\"echo\", \"{x}\"]\n[tools.lookup]\nmax_concurrency = 2",
        );
        let registry = registry(&with_command).unwrap();
        assert!(registry.contains("lookup"));
        assert_eq!(registry.len(), 9);
        assert!(resources(&with_command).is_ok());

        let typo = config("[tools.shel]\ntimeout_ms = 5");
        assert_eq!(
            super::registry(&typo).unwrap_err(),
            "tools.shel: no tool has this name; did you mean `shell`?"
        );
        let clash = config("[commands.echo]\ndescription = \"d\"\nargv = [\"echo\"]");
        assert_eq!(
            super::registry(&clash).unwrap_err(),
            "commands.echo: a built-in tool already has this name"
        );
    }
}
