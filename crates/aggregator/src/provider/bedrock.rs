//! Bedrock Converse: one `user` message of `toolResult` blocks.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};
use serde_json::Value;
use volley_executor::Status;

use crate::batch::Batch;
use crate::truncate::{json_len_within, json_text};

/// The `user` message answering an assistant turn's `toolUse` blocks: one `toolResult` per
/// call of the plan, in plan order.
///
/// Serializes to `{"role": "user", "content": [{"toolResult": {"toolUseId", "content":
/// [{"json": …} | {"text": …}], "status"?: "error"}}…]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct BedrockMessage {
    /// The `toolResult` blocks, in plan order.
    pub content: Vec<BedrockToolResult>,
}

/// One `toolResult` block.
#[derive(Debug, Clone, PartialEq)]
pub struct BedrockToolResult {
    /// The `toolUse` block's id: the call's id, made valid by [`bedrock_tool_use_id`].
    pub tool_use_id: String,
    /// The output, or what happened to the call.
    pub content: BedrockContent,
    /// Whether the call did not succeed (`"status": "error"`).
    pub is_error: bool,
}

/// The content of a `toolResult`.
#[derive(Debug, Clone, PartialEq)]
pub enum BedrockContent {
    /// A JSON object output that fits the size limit: `{"json": {…}}`.
    Json(Value),
    /// Any other output (strings as themselves, other values and cut objects as JSON text), or
    /// what happened to the call: `{"text": "…"}`.
    Text(String),
}

/// A call id as a Bedrock `toolUseId`: 1 to 64 characters of `[a-zA-Z0-9_-]`.
///
/// Ids from a Bedrock answer are valid and returned as they are. Any other id (a Volley plan's
/// `search#2`, an empty or a longer id) is mapped deterministically: characters outside the
/// set become `_`, the first 47 are kept, and `_` plus 16 hex digits of the id's FNV-1a hash
/// are appended, so distinct ids stay distinct. Use the same function for the `toolUse`
/// blocks of a conversation you build yourself.
///
/// ```
/// use volley_aggregator::bedrock_tool_use_id;
///
/// assert_eq!(bedrock_tool_use_id("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"), "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
/// let mapped = bedrock_tool_use_id("search#2");
/// assert!(mapped.starts_with("search_2_") && mapped.len() == 9 + 16);
/// ```
pub fn bedrock_tool_use_id(id: &str) -> Cow<'_, str> {
    const MAX: usize = 64;
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !id.is_empty() && id.len() <= MAX && id.chars().all(allowed) {
        return Cow::Borrowed(id);
    }
    let mut out: String = id
        .chars()
        .take(MAX - 17)
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    out.push('_');
    out.push_str(&format!("{:016x}", fnv1a(id.as_bytes())));
    Cow::Owned(out)
}

/// FNV-1a, 64 bits: stable across versions and machines, unlike `std`'s hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl BedrockMessage {
    pub(crate) fn of(batch: &Batch<'_>) -> BedrockMessage {
        let max = batch.config.max_output_bytes;
        let content = (0..batch.plan_len())
            .map(|row| {
                let outcome = batch.outcome(row);
                let content = match &outcome.output {
                    Some(output @ Value::Object(_))
                        if outcome.status == Status::Ok && json_len_within(output, max) <= max =>
                    {
                        BedrockContent::Json(output.clone())
                    }
                    Some(output) if outcome.status == Status::Ok => {
                        BedrockContent::Text(json_text(output, max))
                    }
                    _ => BedrockContent::Text(super::text(batch, row).0),
                };
                BedrockToolResult {
                    tool_use_id: bedrock_tool_use_id(&outcome.id).into_owned(),
                    content,
                    is_error: outcome.status != Status::Ok,
                }
            })
            .collect();
        BedrockMessage { content }
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

impl Serialize for BedrockMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut message = serializer.serialize_struct("BedrockMessage", 2)?;
        message.serialize_field("role", "user")?;
        message.serialize_field("content", &self.content)?;
        message.end()
    }
}

impl Serialize for BedrockToolResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Inner<'r>(&'r BedrockToolResult);
        impl Serialize for Inner<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let result = self.0;
                let mut inner = serializer.serialize_struct("toolResult", 3)?;
                inner.serialize_field("toolUseId", &result.tool_use_id)?;
                inner.serialize_field("content", std::slice::from_ref(&result.content))?;
                if result.is_error {
                    inner.serialize_field("status", "error")?;
                }
                inner.end()
            }
        }
        let mut block = serializer.serialize_map(Some(1))?;
        block.serialize_entry("toolResult", &Inner(self))?;
        block.end()
    }
}

impl Serialize for BedrockContent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut block = serializer.serialize_map(Some(1))?;
        match self {
            BedrockContent::Json(value) => block.serialize_entry("json", value)?,
            BedrockContent::Text(text) => block.serialize_entry("text", text)?,
        }
        block.end()
    }
}
