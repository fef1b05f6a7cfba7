//! OpenAI chat completions: one `tool` message per call.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;

use crate::batch::Batch;

/// One `{"role": "tool", "tool_call_id", "content"}` message. OpenAI has no error flag: a call
/// that did not succeed has content `Error: ` and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiToolMessage<'a> {
    /// The `tool_calls` entry's id (the call's id), borrowed from the plan and outcomes.
    pub tool_call_id: Cow<'a, str>,
    /// The output as text (JSON as text), or `Error: ` and what happened.
    pub content: String,
}

impl<'a> OpenAiToolMessage<'a> {
    /// One message per call of the plan, in plan order.
    pub(crate) fn all(batch: &Batch<'a>) -> Vec<OpenAiToolMessage<'a>> {
        (0..batch.plan_len())
            .map(|row| {
                let (text, is_error) = super::text(batch, row);
                OpenAiToolMessage {
                    tool_call_id: Cow::Borrowed(batch.names(row).0),
                    content: if is_error {
                        format!("Error: {text}")
                    } else {
                        text
                    },
                }
            })
            .collect()
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> OpenAiToolMessage<'static> {
        OpenAiToolMessage {
            tool_call_id: Cow::Owned(self.tool_call_id.into_owned()),
            content: self.content,
        }
    }

    /// The message as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for OpenAiToolMessage<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut message = serializer.serialize_struct("OpenAiToolMessage", 3)?;
        message.serialize_field("role", "tool")?;
        message.serialize_field("tool_call_id", &self.tool_call_id)?;
        message.serialize_field("content", &self.content)?;
        message.end()
    }
}
