//! Anthropic Messages: one `user` message of `tool_result` blocks.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;

use crate::batch::Batch;

/// The `user` message answering an assistant turn's `tool_use` blocks: one `tool_result` per
/// call of the plan, in plan order, and nothing before them.
///
/// Serializes to `{"role": "user", "content": [{"type": "tool_result", "tool_use_id",
/// "content", "is_error"?: true}…]}`; `is_error` appears on every call that did not succeed.
/// To add text for the model, append blocks after the results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnthropicMessage {
    /// The `tool_result` blocks, in plan order.
    pub content: Vec<AnthropicToolResult>,
}

/// One `tool_result` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnthropicToolResult {
    /// The `tool_use` block's id (the call's id).
    pub tool_use_id: Arc<str>,
    /// The output as text (JSON as text), or what happened to the call.
    pub content: String,
    /// Whether the call did not succeed.
    pub is_error: bool,
}

impl AnthropicMessage {
    pub(crate) fn of(batch: &Batch<'_>) -> AnthropicMessage {
        let content = (0..batch.plan_len())
            .map(|row| {
                let (content, is_error) = super::text(batch, row);
                AnthropicToolResult {
                    tool_use_id: Arc::clone(&batch.outcome(row).id),
                    content,
                    is_error,
                }
            })
            .collect();
        AnthropicMessage { content }
    }

    /// The message as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The message as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for AnthropicMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut message = serializer.serialize_struct("AnthropicMessage", 2)?;
        message.serialize_field("role", "user")?;
        message.serialize_field("content", &self.content)?;
        message.end()
    }
}

impl Serialize for AnthropicToolResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut block = serializer.serialize_struct("AnthropicToolResult", 4)?;
        block.serialize_field("type", "tool_result")?;
        block.serialize_field("tool_use_id", &*self.tool_use_id)?;
        block.serialize_field("content", &self.content)?;
        if self.is_error {
            block.serialize_field("is_error", &true)?;
        }
        block.end()
    }
}
