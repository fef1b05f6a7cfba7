//! Parallel sub-agents: one tool call that runs a list of delegated tasks through an agent loop
//! the application supplies, with a filtered registry, in parallel, results in input order.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::context::ToolContext;
use crate::error::ToolError;
use crate::registry::Registry;
use crate::tool::Tool;

/// Sub-tasks running at once when the call does not say: 5.
pub const DEFAULT_MAX_CONCURRENT: usize = 5;

/// How deep sub-agents may nest: 1, so sub-agents get no sub-agent tool (as in Claude Code).
pub const DEFAULT_MAX_DEPTH: u32 = 1;

/// One delegated task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubagentTask {
    /// A short name for it, echoed in its result.
    pub label: String,
    /// The sub-agent's prompt.
    pub input: String,
    /// The tools it may use (all of the sub-agent registry when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_tools: Option<Vec<String>>,
    /// The most model turns it may take (the runner enforces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turns: Option<u32>,
}

/// One task's result, in the tool's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubagentResult {
    /// The task's label.
    pub label: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What the sub-agent answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it ran (0 when it never started).
    pub duration_ms: u64,
}

/// Runs one sub-agent: usually the application's agent loop, given the task, the tools it may
/// use and a context whose token fires when the task is cancelled.
#[async_trait]
pub trait SubagentRunner: Send + Sync + 'static {
    /// Runs `task` with `tools`; returns the sub-agent's answer.
    async fn run(
        &self,
        task: SubagentTask,
        tools: Registry,
        ctx: ToolContext,
    ) -> Result<Value, ToolError>;
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    tasks: Vec<SubagentTask>,
    #[serde(default)]
    max_concurrent: Option<usize>,
    #[serde(default)]
    fail_fast: bool,
}

/// The sub-agent tool (named `run_subagents` by default).
///
/// Its input: `{"tasks": [{"label", "input", "allowed_tools"?, "max_turns"?}…],
/// "max_concurrent"?: 5, "fail_fast"?: false}`. Its output: `{"results": [{"label", "ok",
/// "output"?, "error"?, "duration_ms"}…], "succeeded": n, "failed": m}`, results in input
/// order. With `fail_fast`, the first failure cancels the running tasks and the rest never
/// start. Each task sees the sub-agent registry filtered to its `allowed_tools`; that registry
/// holds this tool again (one level deeper) only while the depth stays under the limit.
#[derive(Clone)]
pub struct SubagentTool {
    name: String,
    runner: Arc<dyn SubagentRunner>,
    tools: Registry,
    depth: u32,
    max_depth: u32,
    max_concurrent: usize,
}

impl std::fmt::Debug for SubagentTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubagentTool")
            .field("name", &self.name)
            .field("tools", &self.tools)
            .field("depth", &self.depth)
            .field("max_depth", &self.max_depth)
            .finish_non_exhaustive()
    }
}

impl SubagentTool {
    /// A sub-agent tool whose tasks run through `runner` with (a filtered copy of) `tools`.
    pub fn new(runner: impl SubagentRunner, tools: Registry) -> SubagentTool {
        SubagentTool {
            name: "run_subagents".to_owned(),
            runner: Arc::new(runner),
            tools,
            depth: 0,
            max_depth: DEFAULT_MAX_DEPTH,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
        }
    }

    /// Its name. By default, `run_subagents`.
    #[must_use]
    pub fn named(mut self, name: &str) -> SubagentTool {
        self.name = name.to_owned();
        self
    }

    /// How deep sub-agents may nest. By default, [`DEFAULT_MAX_DEPTH`] (1).
    #[must_use]
    pub fn max_depth(mut self, depth: u32) -> SubagentTool {
        self.max_depth = depth;
        self
    }

    /// Tasks running at once when the call does not say. By default,
    /// [`DEFAULT_MAX_CONCURRENT`] (5).
    #[must_use]
    pub fn max_concurrent(mut self, tasks: usize) -> SubagentTool {
        self.max_concurrent = tasks.max(1);
        self
    }

    /// The registry a task gets: the sub-agent tools, restricted to its `allowed_tools`, never
    /// this tool itself, except one level deeper while under the depth limit.
    pub fn registry_for(&self, task: &SubagentTask) -> Registry {
        let base = self.tools.without(&self.name);
        let mut tools = match &task.allowed_tools {
            Some(allowed) => base.filtered(allowed),
            None => base,
        };
        let allowed_here = task
            .allowed_tools
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&self.name));
        if self.depth + 1 < self.max_depth && allowed_here {
            let mut deeper = self.clone();
            deeper.depth += 1;
            // The name is valid (it was registered) and was removed above: this cannot fail.
            let _ = tools.register(deeper);
        }
        tools
    }

    async fn run_one(&self, task: SubagentTask, ctx: ToolContext) -> SubagentResult {
        let label = task.label.clone();
        let tools = self.registry_for(&task);
        let start = Instant::now();
        let run = AssertUnwindSafe(self.runner.run(task, tools, ctx)).catch_unwind();
        let result = run.await;
        let duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (output, error) = match result {
            Ok(Ok(output)) => (Some(output), None),
            Ok(Err(error)) => (None, Some(error.to_string())),
            Err(_) => (None, Some("the sub-agent panicked".to_owned())),
        };
        SubagentResult {
            label,
            ok: error.is_none(),
            output,
            error,
            duration_ms,
        }
    }
}

#[async_trait]
impl Tool for SubagentTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        "Runs several sub-agents in parallel, each on its own task with its own tools, and \
         returns their answers in the order given."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "tasks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "label": {"type": "string", "minLength": 1},
                            "input": {"type": "string"},
                            "allowed_tools": {"type": "array", "items": {"type": "string"}},
                            "max_turns": {"type": "integer", "minimum": 1}
                        },
                        "required": ["label", "input"],
                        "additionalProperties": false
                    }
                },
                "max_concurrent": {"type": "integer", "minimum": 1},
                "fail_fast": {"type": "boolean"}
            },
            "required": ["tasks"],
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, ctx: ToolContext) -> Result<Value, ToolError> {
        let input: Input = serde_json::from_value(args)
            .map_err(|e| ToolError::invalid_arguments(e.to_string()))?;
        let limit = input.max_concurrent.unwrap_or(self.max_concurrent).max(1);
        let group = ctx.cancellation().child_token();
        let mut results: Vec<Option<SubagentResult>> = vec![None; input.tasks.len()];
        let mut waiting = input.tasks.into_iter().enumerate();
        let mut running = FuturesUnordered::new();
        let mut failed_first: Option<String> = None;
        loop {
            while running.len() < limit && failed_first.is_none() && !group.is_cancelled() {
                let Some((i, task)) = waiting.next() else {
                    break;
                };
                let sub = ToolContext::new(format!("{}/{}", ctx.call_id(), task.label))
                    .with_cancellation(group.child_token());
                let sub = match ctx.deadline() {
                    Some(deadline) => sub.with_deadline(deadline),
                    None => sub,
                };
                running.push(self.run_one(task, sub).map(move |r| (i, r)));
            }
            let Some((i, result)) = running.next().await else {
                break;
            };
            if input.fail_fast && !result.ok && failed_first.is_none() {
                failed_first = Some(result.label.clone());
                group.cancel();
            }
            results[i] = Some(result);
        }
        let why = match &failed_first {
            Some(label) => format!("not started: the task `{label}` failed (fail_fast)"),
            None => "not started: the call was cancelled".to_owned(),
        };
        for (i, task) in waiting {
            results[i] = Some(SubagentResult {
                label: task.label,
                ok: false,
                output: None,
                error: Some(why.clone()),
                duration_ms: 0,
            });
        }
        let results: Vec<SubagentResult> = results.into_iter().flatten().collect();
        let succeeded = results.iter().filter(|r| r.ok).count();
        Ok(json!({
            "results": results,
            "succeeded": succeeded,
            "failed": results.len() - succeeded,
        }))
    }
}
