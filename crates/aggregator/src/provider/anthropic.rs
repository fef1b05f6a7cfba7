//! Anthropic Messages: one `user` message of `tool_result` blocks.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;

use crate::batch::Batch;

/// The `user` message answering an assistant turn's `tool_use` blocks: one `tool_result` per
/// call of the plan, in plan order, and nothing before them.
///
/// Serializes to `{"role": "user", "content": [{"type": "tool_result", "tool_use_id",
/// "content", "is_error"?: true}…]}`; `is_error` appears on every call that did not succeed.
/// To add text for the model, append blocks after the results. Ids are borrowed from the plan
/// and outcomes ([`AnthropicMessage::into_owned`] copies them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnthropicMessage<'a> {
    /// The `tool_result` blocks, in plan order.
    pub content: Vec<AnthropicToolResult<'a>>,
}

/// One `tool_result` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnthropicToolResult<'a> {
    /// The `tool_use` block's id (the call's id).
    pub tool_use_id: Cow<'a, str>,
    /// The output as text (JSON as text), or what happened to the call.
    pub content: String,
    /// Whether the call did not succeed.
    pub is_error: bool,
}

impl<'a> AnthropicMessage<'a> {
    pub(crate) fn of(batch: &Batch<'a>) -> AnthropicMessage<'a> {
        let content = (0..batch.plan_len())
            .map(|row| {
                let (content, is_error) = super::text(batch, row);
                AnthropicToolResult {
                    tool_use_id: Cow::Borrowed(batch.names(row).0),
                    content,
                    is_error,
                }
            })
            .collect();
        AnthropicMessage { content }
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> AnthropicMessage<'static> {
        AnthropicMessage {
            content: self
                .content
                .into_iter()
                .map(|r| AnthropicToolResult {
                    tool_use_id: Cow::Owned(r.tool_use_id.into_owned()),
                    content: r.content,
                    is_error: r.is_error,
                })
                .collect(),
        }
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

impl Serialize for AnthropicMessage<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut message = serializer.serialize_struct("AnthropicMessage", 2)?;
        message.serialize_field("role", "user")?;
        message.serialize_field("content", &self.content)?;
        message.end()
    }
}

impl Serialize for AnthropicToolResult<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut block = serializer.serialize_struct("AnthropicToolResult", 4)?;
        block.serialize_field("type", "tool_result")?;
        block.serialize_field("tool_use_id", &self.tool_use_id)?;
        block.serialize_field("content", &self.content)?;
        if self.is_error {
            block.serialize_field("is_error", &true)?;
        }
        block.end()
    }
}
