//! OpenAI chat completions: one `tool` message per call.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;

use crate::batch::Batch;

/// One `{"role": "tool", "tool_call_id", "content"}` message. OpenAI has no error flag: a call
/// that did not succeed has content `Error: ` and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiToolMessage {
    /// The `tool_calls` entry's id (the call's id).
    pub tool_call_id: Arc<str>,
    /// The output as text (JSON as text), or `Error: ` and what happened.
    pub content: String,
}

impl OpenAiToolMessage {
    /// One message per call of the plan, in plan order.
    pub(crate) fn all(batch: &Batch<'_>) -> Vec<OpenAiToolMessage> {
        (0..batch.plan_len())
            .map(|row| {
                let (text, is_error) = super::text(batch, row);
                OpenAiToolMessage {
                    tool_call_id: Arc::clone(&batch.outcome(row).id),
                    content: if is_error {
                        format!("Error: {text}")
                    } else {
                        text
                    },
                }
            })
            .collect()
    }

    /// The message as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for OpenAiToolMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut message = serializer.serialize_struct("OpenAiToolMessage", 3)?;
        message.serialize_field("role", "tool")?;
        message.serialize_field("tool_call_id", &*self.tool_call_id)?;
        message.serialize_field("content", &self.content)?;
        message.end()
    }
}
