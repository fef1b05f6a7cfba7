//! The registry: the tools a batch may call, their compiled schemas and cached metadata.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde_json::Value;
use volley_planner::{Priority, RetryPolicy, closest_names};

use crate::error::RegistryError;
use crate::tool::{Resources, Tool, ToolSpec};

/// The most schema errors named in one `invalid_arguments` message.
const MAX_SCHEMA_ERRORS: usize = 5;

/// A registered tool: the tool, its compiled schema and its metadata, read once.
pub(crate) struct Entry {
    pub(crate) tool: Arc<dyn Tool>,
    pub(crate) name: Arc<str>,
    validator: Validation,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) priority: Priority,
    pub(crate) resources: Resources,
    pub(crate) concurrency_safe: bool,
    pub(crate) spawn: bool,
    pub(crate) redact: Vec<String>,
    pub(crate) estimate_ms: Option<u64>,
}

enum Validation {
    /// `{}` or `{"type": "object"}`: any object passes, no validator call.
    AnyObject,
    Schema(Box<jsonschema::Validator>),
}

impl Entry {
    /// Checks arguments against the schema; the error names every mismatch (up to five).
    pub(crate) fn validate(&self, args: &Value) -> Result<(), String> {
        match &self.validator {
            Validation::AnyObject if args.is_object() => Ok(()),
            Validation::AnyObject => Err(format!(
                "the arguments must be a JSON object, not {}",
                volley_planner::type_name(args)
            )),
            Validation::Schema(v) if v.is_valid(args) => Ok(()),
            Validation::Schema(v) => {
                let problems: Vec<String> = v
                    .iter_errors(args)
                    .take(MAX_SCHEMA_ERRORS)
                    .map(|e| {
                        let at = e.instance_path().as_str();
                        if at.is_empty() {
                            e.to_string()
                        } else {
                            format!("{at}: {e}")
                        }
                    })
                    .collect();
                Err(format!(
                    "the arguments do not match the schema of `{}`: {}",
                    self.name,
                    problems.join("; ")
                ))
            }
        }
    }
}

/// The tools a batch may call: register, look up, list, restrict.
///
/// Schemas are compiled and metadata is read once, at registration. Cheap to clone.
///
/// ```
/// # use async_trait::async_trait;
/// # use serde_json::{json, Value};
/// # use volley_executor::{Tool, ToolContext, ToolError};
/// use volley_executor::Registry;
/// # struct Named(&'static str);
/// # #[async_trait]
/// # impl Tool for Named {
/// #     fn name(&self) -> &str { self.0 }
/// #     fn description(&self) -> &str { "a tool" }
/// #     fn input_schema(&self) -> Value { json!({"type": "object"}) }
/// #     async fn call(&self, _: Value, _: ToolContext) -> Result<Value, ToolError> { Ok(Value::Null) }
/// # }
///
/// let mut registry = Registry::new();
/// registry.register(Named("read_file"))?.register(Named("write_file"))?;
/// let read_only = registry.without("write_file");
/// assert_eq!(read_only.names(), ["read_file"]);
/// assert_eq!(registry.closest("read_fil"), ["read_file"]);
/// # Ok::<(), volley_executor::RegistryError>(())
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    by_name: FxHashMap<Arc<str>, Arc<Entry>>,
    /// Registration order, for listing.
    order: Vec<Arc<Entry>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers a tool.
    ///
    /// # Errors
    /// [`RegistryError`] for a taken or invalid name, or a schema that does not compile.
    pub fn register(&mut self, tool: impl Tool) -> Result<&mut Registry, RegistryError> {
        self.register_arc(Arc::new(tool))
    }

    /// Registers a shared tool.
    ///
    /// # Errors
    /// As [`Registry::register`].
    pub fn register_arc(&mut self, tool: Arc<dyn Tool>) -> Result<&mut Registry, RegistryError> {
        let name = tool.name().to_owned();
        if !valid_name(&name) {
            return Err(RegistryError::InvalidName { name });
        }
        if self.by_name.contains_key(name.as_str()) {
            return Err(RegistryError::Duplicate { name });
        }
        let schema = tool.input_schema();
        let validator = if is_any_object(&schema) {
            Validation::AnyObject
        } else {
            let compiled =
                jsonschema::validator_for(&schema).map_err(|e| RegistryError::InvalidSchema {
                    name: name.clone(),
                    problem: e.to_string(),
                })?;
            Validation::Schema(Box::new(compiled))
        };
        let entry = Arc::new(Entry {
            name: Arc::from(name.as_str()),
            validator,
            timeout: tool.timeout(),
            retry: tool.retry_policy(),
            priority: tool.priority(),
            resources: tool.resources(),
            concurrency_safe: tool.concurrency_safe(),
            spawn: tool.spawn(),
            redact: tool.redact().iter().map(|s| (*s).to_owned()).collect(),
            estimate_ms: tool
                .estimated_duration()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            tool,
        });
        self.by_name.insert(entry.name.clone(), entry.clone());
        self.order.push(entry);
        Ok(self)
    }

    /// The tool with this name.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.by_name.get(name).map(|e| e.tool.clone())
    }

    pub(crate) fn entry(&self, name: &str) -> Option<&Arc<Entry>> {
        self.by_name.get(name)
    }

    /// Whether a tool has this name.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// How many tools are registered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no tool is registered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The names, in registration order.
    pub fn names(&self) -> Vec<&str> {
        self.order.iter().map(|e| &*e.name).collect()
    }

    /// Name, description and schema of every tool, in registration order: a model's tool list.
    pub fn list(&self) -> Vec<ToolSpec> {
        self.order
            .iter()
            .map(|e| ToolSpec {
                name: e.name.to_string(),
                description: e.tool.description().to_owned(),
                input_schema: e.tool.input_schema(),
            })
            .collect()
    }

    /// The registered names closest to `name` (for "did you mean" on an unknown tool).
    pub fn closest(&self, name: &str) -> Vec<&str> {
        closest_names(name, self.order.iter().map(|e| &*e.name), 3)
    }

    /// A registry of only the tools named in `allowed` (names not registered are ignored).
    pub fn filtered<S: AsRef<str>>(&self, allowed: &[S]) -> Registry {
        let keep: Vec<&str> = allowed.iter().map(AsRef::as_ref).collect();
        self.retain(|name| keep.contains(&name))
    }

    /// A registry without the tool named `name`.
    pub fn without(&self, name: &str) -> Registry {
        self.retain(|other| other != name)
    }

    fn retain(&self, keep: impl Fn(&str) -> bool) -> Registry {
        let order: Vec<Arc<Entry>> = self
            .order
            .iter()
            .filter(|e| keep(&e.name))
            .cloned()
            .collect();
        let by_name = order.iter().map(|e| (e.name.clone(), e.clone())).collect();
        Registry { by_name, order }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("tools", &self.names())
            .finish()
    }
}

/// Anthropic's and OpenAI's rule for tool names: `^[a-zA-Z0-9_-]{1,64}$`.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_any_object(schema: &Value) -> bool {
    match schema.as_object() {
        Some(map) if map.is_empty() => true,
        Some(map) => map.len() == 1 && map.get("type").and_then(Value::as_str) == Some("object"),
        None => false,
    }
}
