//! `echo` (returns its arguments, for trying references) and `sleep`.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use volley::executor::{Tool, ToolContext, ToolError};

use super::parse_args;

/// Returns its arguments as they are (after reference substitution).
#[derive(Debug, Clone, Default)]
pub struct Echo;

#[async_trait]
impl Tool for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn description(&self) -> &str {
        "Return the arguments as they are: useful to see what `$` references resolve to."
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object"})
    }
    fn estimated_duration(&self) -> Option<Duration> {
        Some(Duration::from_millis(1))
    }
    async fn call(&self, args: Value, _ctx: ToolContext) -> Result<Value, ToolError> {
        Ok(args)
    }
}

/// Waits, then returns how long it slept; cancellable.
#[derive(Debug, Clone, Default)]
pub struct Sleep;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepArgs {
    ms: u64,
}

#[async_trait]
impl Tool for Sleep {
    fn name(&self) -> &str {
        "sleep"
    }
    fn description(&self) -> &str {
        "Wait `ms` milliseconds, then return {slept_ms}. For demonstrations and benchmarks."
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {"ms": {"type": "integer", "minimum": 0}},
               "required": ["ms"], "additionalProperties": false})
    }
    fn spoken(&self) -> Option<&str> {
        Some("wait a moment")
    }
    async fn call(&self, args: Value, ctx: ToolContext) -> Result<Value, ToolError> {
        let SleepArgs { ms } = parse_args(args)?;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(ms)) => Ok(json!({"slept_ms": ms})),
            () = ctx.cancelled() => Err(ToolError::Cancelled),
        }
    }
}
