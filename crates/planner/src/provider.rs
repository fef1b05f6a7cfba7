//! Reading a model's answer (Anthropic, Bedrock Converse, OpenAI) as a plan.
//!
//! Call ids are the provider's ids; arguments are the model's input. The model's tool calls may
//! use `$` references like any plan (a tool name used once also works as an id).

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::error::{ErrorKind, PlanError};
use crate::parse::wrong_type;
use crate::plan::{Call, Plan, Source, empty_args};

/// Which shape the input has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// Detect the shape (the default).
    #[default]
    Auto,
    /// A Volley plan: `{"calls": […]}`.
    Volley,
    /// An Anthropic Messages response, or its `content` array, with `tool_use` blocks.
    Anthropic,
    /// A Bedrock Converse response (or its message, or content array) with `toolUse` blocks.
    Bedrock,
    /// An OpenAI chat completion (or its message) with `tool_calls`.
    OpenAi,
}

impl InputFormat {
    /// Every format, `Auto` first.
    pub const ALL: &'static [InputFormat] = &[
        InputFormat::Auto,
        InputFormat::Volley,
        InputFormat::Anthropic,
        InputFormat::Bedrock,
        InputFormat::OpenAi,
    ];

    /// The name used on the command line and in the HTTP API.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Auto => "auto",
            InputFormat::Volley => "volley",
            InputFormat::Anthropic => "anthropic",
            InputFormat::Bedrock => "bedrock",
            InputFormat::OpenAi => "openai",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for InputFormat {
    /// From its name (`auto`, `volley`, `anthropic`, `bedrock`, `openai`), as on the command line.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for InputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        InputFormat::ALL
            .iter()
            .copied()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown input format `{s}`: expected auto, volley, anthropic, bedrock or openai"))
    }
}

/// Guesses the format of a parsed document.
pub fn detect(value: &Value) -> Option<InputFormat> {
    match value {
        Value::Object(o) if o.contains_key("calls") => Some(InputFormat::Volley),
        Value::Object(o) if o.contains_key("choices") || o.contains_key("tool_calls") => {
            Some(InputFormat::OpenAi)
        }
        Value::Object(o)
            if o.get("output")
                .is_some_and(|out| out.get("message").is_some()) =>
        {
            Some(InputFormat::Bedrock)
        }
        Value::Object(o) => o.get("content").and_then(detect_blocks),
        Value::Array(_) => detect_blocks(value),
        _ => None,
    }
}

fn detect_blocks(content: &Value) -> Option<InputFormat> {
    let blocks = content.as_array()?;
    if blocks.iter().any(|b| b.get("toolUse").is_some()) {
        Some(InputFormat::Bedrock)
    } else if blocks.iter().any(|b| b.get("type").is_some()) || blocks.is_empty() {
        Some(InputFormat::Anthropic)
    } else {
        None
    }
}

/// Reads a provider document as a plan; `format` must not be `Auto` or `Volley`.
pub(crate) fn plan_from_provider(
    value: &Value,
    format: InputFormat,
    lenient: bool,
    errors: &mut Vec<PlanError>,
) -> Plan {
    let calls = match format {
        InputFormat::Anthropic => anthropic_calls(value, errors),
        InputFormat::Bedrock => bedrock_calls(value, errors),
        InputFormat::OpenAi => openai_calls(value, lenient, errors),
        InputFormat::Auto | InputFormat::Volley => Vec::new(),
    };
    let source = match format {
        InputFormat::Bedrock => Source::Bedrock,
        InputFormat::OpenAi => Source::OpenAi,
        _ => Source::Anthropic,
    };
    Plan {
        calls,
        source,
        ..Plan::default()
    }
}

fn anthropic_calls(value: &Value, errors: &mut Vec<PlanError>) -> Vec<Call> {
    let (content, base) = match value {
        Value::Array(_) => (value, String::new()),
        Value::Object(o) => match o.get("content") {
            Some(content @ Value::Array(_)) => (content, "content".to_owned()),
            _ => {
                errors.push(format_error(
                    "an Anthropic message has a `content` array of blocks",
                ));
                return Vec::new();
            }
        },
        other => {
            errors.push(wrong_type(
                "",
                "an Anthropic message or its content array",
                other,
            ));
            return Vec::new();
        }
    };
    let mut calls = Vec::new();
    for (i, block) in content.as_array().into_iter().flatten().enumerate() {
        if block.get("type").and_then(Value::as_str) != Some("tool_use") {
            continue;
        }
        let path = format!("{base}[{i}]");
        let index = calls.len();
        if let Some(call) = provider_call(index, &path, block, "id", "name", "input", errors) {
            calls.push(call);
        }
    }
    calls
}

fn bedrock_calls(value: &Value, errors: &mut Vec<PlanError>) -> Vec<Call> {
    let (content, base) = if let Some(content) = value.pointer("/output/message/content") {
        (content, "output.message.content")
    } else if let Some(content) = value.get("content") {
        (content, "content")
    } else {
        (value, "")
    };
    let Some(blocks) = content.as_array() else {
        errors.push(format_error(
            "a Bedrock Converse response has `output.message.content`, an array of blocks",
        ));
        return Vec::new();
    };
    let mut calls = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let Some(tool_use) = block.get("toolUse") else {
            continue;
        };
        let path = format!("{base}[{i}].toolUse");
        let index = calls.len();
        if let Some(call) =
            provider_call(index, &path, tool_use, "toolUseId", "name", "input", errors)
        {
            calls.push(call);
        }
    }
    calls
}

fn openai_calls(value: &Value, lenient: bool, errors: &mut Vec<PlanError>) -> Vec<Call> {
    let (message, base) = match value.get("choices") {
        Some(Value::Array(choices)) => match choices.first().and_then(|c| c.get("message")) {
            Some(message) => (message, "choices[0].message"),
            None => {
                errors.push(format_error(
                    "an OpenAI chat completion needs `choices[0].message`",
                ));
                return Vec::new();
            }
        },
        Some(other) => {
            errors.push(wrong_type("choices", "an array", other));
            return Vec::new();
        }
        None => (value, ""),
    };
    let tool_calls = match message.get("tool_calls") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            errors.push(wrong_type(&join(base, "tool_calls"), "an array", other));
            return Vec::new();
        }
    };
    let mut calls = Vec::new();
    for (i, item) in tool_calls.iter().enumerate() {
        let path = format!("{}[{i}]", join(base, "tool_calls"));
        let Some(function) = item.get("function") else {
            errors.push(PlanError::new(
                ErrorKind::MissingField,
                format!("{path}.function"),
                "a tool call needs `function`",
            ));
            continue;
        };
        // OpenAI sends the arguments as a JSON string; parse it here, naming the call if it fails.
        let id = item.get("id").and_then(Value::as_str);
        let mut normalized = function.clone();
        if let (Some(id), Some(object)) = (id, normalized.as_object_mut()) {
            object.insert("id".into(), Value::String(id.to_owned()));
        }
        let arguments_path = format!("{path}.function.arguments");
        let index = calls.len();
        let mut input_error = None;
        match function.get("arguments") {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) if text.trim().is_empty() => {}
            Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(args) => {
                    if let Some(object) = normalized.as_object_mut() {
                        object.insert("arguments".into(), args);
                    }
                }
                Err(e) => {
                    let error = PlanError::new(
                        ErrorKind::Json,
                        arguments_path,
                        format!(
                            "the arguments are not valid JSON (column {}: {})",
                            e.column(),
                            short(&e)
                        ),
                    )
                    .at_call(index, id);
                    if !lenient {
                        errors.push(error);
                        continue;
                    }
                    input_error = Some(error.message);
                }
            },
            // Some clients pass arguments already parsed.
            Some(Value::Object(_)) => {}
            Some(other) => {
                let error = wrong_type(&arguments_path, "a JSON string", other).at_call(index, id);
                if !lenient {
                    errors.push(error);
                    continue;
                }
                input_error = Some(error.message);
            }
        }
        if input_error.is_some()
            && let Some(object) = normalized.as_object_mut()
        {
            // The call stays in the plan, with no arguments, to fail alone when it runs.
            object.remove("arguments");
        }
        if let Some(call) = provider_call(
            index,
            &format!("{path}.function"),
            &normalized,
            "id",
            "name",
            "arguments",
            errors,
        ) {
            calls.push(Call {
                input_error,
                ..call
            });
        }
    }
    calls
}

/// Builds one call from a provider block, reporting missing or mistyped fields.
fn provider_call(
    index: usize,
    path: &str,
    block: &Value,
    id_field: &str,
    name_field: &str,
    input_field: &str,
    errors: &mut Vec<PlanError>,
) -> Option<Call> {
    let id = block.get(id_field).and_then(Value::as_str);
    let Some(id) = id.filter(|id| !id.is_empty()) else {
        errors.push(
            PlanError::new(
                ErrorKind::MissingField,
                join(path, id_field),
                format!("a tool call needs `{id_field}`"),
            )
            .at_call(index, None),
        );
        return None;
    };
    let Some(name) = block
        .get(name_field)
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        errors.push(
            PlanError::new(
                ErrorKind::MissingField,
                join(path, name_field),
                format!("a tool call needs `{name_field}`"),
            )
            .at_call(index, Some(id)),
        );
        return None;
    };
    let args = match block.get(input_field) {
        None | Some(Value::Null) => empty_args(),
        Some(args @ Value::Object(_)) => args.clone(),
        Some(other) => {
            errors.push(
                wrong_type(&join(path, input_field), "an object", other).at_call(index, Some(id)),
            );
            return None;
        }
    };
    Some(Call::new(name, args).with_id(id))
}

fn join(base: &str, field: &str) -> String {
    if base.is_empty() {
        field.to_owned()
    } else {
        format!("{base}.{field}")
    }
}

fn short(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.split(" at line ").next().unwrap_or(&text).to_owned()
}

fn format_error(message: &str) -> PlanError {
    PlanError::new(ErrorKind::Format, "", message)
}
