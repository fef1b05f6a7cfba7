//! The `Tool` trait: what the engine calls, with metadata that has defaults.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use volley_planner::{AccessKey, Priority, RetryPolicy};

use crate::context::ToolContext;
use crate::error::ToolError;

/// A tool the model can call. Object safe: the registry holds `Arc<dyn Tool>`.
///
/// Only `name`, `description`, `input_schema` and `call` are required; every other method is
/// metadata with a default the engine documents.
///
/// ```
/// use async_trait::async_trait;
/// use serde_json::{json, Value};
/// use volley_executor::{Tool, ToolContext, ToolError};
///
/// struct Weather;
///
/// #[async_trait]
/// impl Tool for Weather {
///     fn name(&self) -> &str { "get_weather" }
///     fn description(&self) -> &str { "The weather in a city now." }
///     fn input_schema(&self) -> Value {
///         json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
///     }
///     async fn call(&self, args: Value, _ctx: ToolContext) -> Result<Value, ToolError> {
///         let city = args["city"].as_str().ok_or_else(|| ToolError::invalid_arguments("no city"))?;
///         Ok(json!({"city": city, "sky": "clear"}))
///     }
/// }
/// ```
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    /// The name models call it by (letters, digits, `_`, `-`; at most 64).
    fn name(&self) -> &str;

    /// What it does, for the model's tool list.
    fn description(&self) -> &str;

    /// The JSON Schema of its arguments; calls whose arguments do not match fail with
    /// `invalid_arguments` and the tool never runs.
    fn input_schema(&self) -> Value;

    /// Runs one attempt. Watch `ctx.cancellation()` in long work: a cancelled call that does not
    /// return within the engine's grace period is dropped.
    async fn call(&self, args: Value, ctx: ToolContext) -> Result<Value, ToolError>;

    /// The phrase a narrator speaks for it ("check your calendar"). By default, none: the
    /// narrator derives one from the name.
    fn spoken(&self) -> Option<&str> {
        None
    }

    /// How long a call usually takes, for the critical path and the ETA. By default, unknown
    /// (the planner's default estimate).
    fn estimated_duration(&self) -> Option<Duration> {
        None
    }

    /// How long one attempt may run when the call gives no `timeout_ms`. By default, the
    /// engine's default timeout.
    fn timeout(&self) -> Option<Duration> {
        None
    }

    /// How to retry transient failures when the call gives no `retry`. By default, the
    /// engine's default (no retry unless configured).
    fn retry_policy(&self) -> Option<RetryPolicy> {
        None
    }

    /// The priority of its calls when the call leaves the default (`normal`). By default,
    /// `normal`.
    fn priority(&self) -> Priority {
        Priority::Normal
    }

    /// What one call needs from the resource backend (CPU, memory, I/O, locks). By default,
    /// nothing beyond a slot.
    fn resources(&self) -> Resources {
        Resources::default()
    }

    /// The resources a call with these arguments reads or writes (a file tool says
    /// `read:<path>`); the planner orders conflicting calls of a batch in plan order. By
    /// default, none.
    fn access_keys(&self, _args: &Value) -> Vec<AccessKey> {
        Vec::new()
    }

    /// Whether its calls may run beside other calls. `false` makes each of its calls run
    /// alone, in plan order with the rest of the batch (see `docs/executor.md`). By default,
    /// `true`.
    fn concurrency_safe(&self) -> bool {
        true
    }

    /// Argument fields (at any depth) written as `"[redacted]"` in the audit log. By default,
    /// none.
    fn redact(&self) -> &[&str] {
        &[]
    }

    /// Whether its calls run on their own tokio task rather than inside the batch's driver:
    /// for tools that do CPU work between awaits, so they cannot stall the batch, and whose
    /// forced cancellation then aborts the task. By default, `false`.
    fn spawn(&self) -> bool {
        false
    }
}

/// What one call of a tool needs from the resource backend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    /// CPU in cores (fractions allowed).
    pub cpu: f64,
    /// Memory in megabytes.
    pub memory_mb: u64,
    /// I/O slots.
    pub io: u32,
    /// Named locks held while it runs, beyond the call's access keys.
    pub locks: Vec<AccessKey>,
}

impl Resources {
    /// Whether it asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.cpu == 0.0 && self.memory_mb == 0 && self.io == 0 && self.locks.is_empty()
    }
}

/// A tool as a model's tool list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    /// The name.
    pub name: String,
    /// The description.
    pub description: String,
    /// The JSON Schema of its arguments.
    pub input_schema: Value,
}
