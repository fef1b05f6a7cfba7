//! `GET /v1/tools`: the registry as a model's tool list, in each provider's shape.

use serde::Deserialize;
use serde_json::{Value, json};
use volley::executor::Registry;

/// `?format=`: whose tool-list shape to answer in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ToolFormat {
    /// `{"name", "description", "input_schema"}` (Anthropic Messages).
    #[default]
    Anthropic,
    /// `{"type": "function", "function": {"name", "description", "parameters"}}`.
    Openai,
    /// `{"toolSpec": {"name", "description", "inputSchema": {"json"}}}` (Bedrock Converse).
    Bedrock,
}

/// The answer for each format, `{"tools": […]}`, made once: the registry does not change.
#[derive(Debug)]
pub(crate) struct ToolLists {
    anthropic: Value,
    openai: Value,
    bedrock: Value,
}

impl ToolLists {
    pub(crate) fn new(registry: &Registry) -> ToolLists {
        let specs = registry.list();
        let list = |shape: fn(&volley::executor::ToolSpec) -> Value| json!({"tools": specs.iter().map(shape).collect::<Vec<_>>()});
        ToolLists {
            anthropic: list(
                |t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}),
            ),
            openai: list(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.input_schema
                }})
            }),
            bedrock: list(|t| {
                json!({"toolSpec": {
                    "name": t.name, "description": t.description,
                    "inputSchema": {"json": t.input_schema}
                }})
            }),
        }
    }

    pub(crate) fn get(&self, format: ToolFormat) -> &Value {
        match format {
            ToolFormat::Anthropic => &self.anthropic,
            ToolFormat::Openai => &self.openai,
            ToolFormat::Bedrock => &self.bedrock,
        }
    }
}
