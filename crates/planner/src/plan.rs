//! The plan and its calls, as data.

use std::fmt;
use std::str::FromStr;

use rustc_hash::FxHashMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::reference::Condition;

/// A batch of tool calls to run, with the batch's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// The calls, in the order the model emitted them.
    pub calls: Vec<Call>,
    /// The most calls running at once (overrides the engine's configuration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    /// A deadline for the whole batch, in milliseconds from its start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// How the executor orders and spreads the calls.
    #[serde(skip_serializing_if = "Strategy::is_default")]
    pub strategy: Strategy,
    /// Whether the first failure cancels the rest.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fail_fast: bool,
    /// Where the plan came from (a Volley plan or a provider's response).
    #[serde(skip)]
    pub source: Source,
}

impl Plan {
    /// A plan of these calls with default settings. Calls without an id get the default one:
    /// the tool's name when that tool appears once in the plan, otherwise `tool#1`, `tool#2`…
    pub fn new(calls: Vec<Call>) -> Plan {
        let mut plan = Plan {
            calls,
            ..Plan::default()
        };
        plan.assign_default_ids();
        plan
    }

    /// Gives every call with an empty id its default id (see [`Plan::new`]).
    pub fn assign_default_ids(&mut self) {
        let mut counts: FxHashMap<&str, usize> = FxHashMap::default();
        for call in &self.calls {
            *counts.entry(call.tool.as_str()).or_default() += 1;
        }
        let mut seen: FxHashMap<String, usize> = FxHashMap::default();
        let defaults: Vec<String> = self
            .calls
            .iter()
            .map(|call| {
                let occurrence = seen.entry(call.tool.clone()).or_default();
                *occurrence += 1;
                if counts.get(call.tool.as_str()) == Some(&1) {
                    call.tool.clone()
                } else {
                    format!("{}#{}", call.tool, occurrence)
                }
            })
            .collect();
        for (call, default) in self.calls.iter_mut().zip(defaults) {
            if call.id.is_empty() {
                call.id = default;
            }
        }
    }

    /// The position of the call with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.calls.iter().position(|c| c.id == id)
    }
}

/// Where a plan came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A Volley plan (`{"calls": […]}`), or one built in code.
    #[default]
    Volley,
    /// An Anthropic Messages response or its `content` array.
    Anthropic,
    /// A Bedrock Converse response or message.
    Bedrock,
    /// An OpenAI chat completion or its message.
    OpenAi,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Volley => "volley",
            Source::Anthropic => "anthropic",
            Source::Bedrock => "bedrock",
            Source::OpenAi => "openai",
        })
    }
}

/// One tool call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Call {
    /// Unique within the plan; `$ID` references read this call's output.
    pub id: String,
    /// The tool to call.
    pub tool: String,
    /// The arguments, a JSON object that may hold `$` references.
    pub args: Value,
    /// Calls that must finish first, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Scheduling priority.
    #[serde(skip_serializing_if = "Priority::is_default")]
    pub priority: Priority,
    /// How long one attempt may run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// How long the call is expected to take (for the critical path and the ETA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_ms: Option<u64>,
    /// How to retry transient failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Resources the call reads or writes; conflicting calls run in plan order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<AccessKey>,
    /// Run only if this condition holds; skipped otherwise.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_display_opt"
    )]
    pub when: Option<Condition>,
    /// What to do when a call this one depends on did not succeed.
    #[serde(skip_serializing_if = "OnDependencyFailure::is_default")]
    pub on_dependency_failure: OnDependencyFailure,
    /// Whether progress events may carry this call's arguments and output (they are shown to
    /// people, so by default they carry neither).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub progress_detail: bool,
    /// Why the model's arguments for this call could not be read, when a provider answer was
    /// read leniently ([`crate::ParseOptions`]): the call then fails alone with
    /// `invalid_arguments` and this message, and the rest of the batch runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_error: Option<String>,
}

impl Call {
    /// A call of `tool` with these arguments, a default id and default settings.
    pub fn new(tool: impl Into<String>, args: Value) -> Call {
        Call {
            tool: tool.into(),
            args,
            ..Call::default()
        }
    }

    /// Sets the id.
    pub fn with_id(mut self, id: impl Into<String>) -> Call {
        self.id = id.into();
        self
    }

    /// Adds an explicit dependency.
    pub fn after(mut self, id: impl Into<String>) -> Call {
        self.depends_on.push(id.into());
        self
    }

    /// Sets the expected duration.
    pub fn estimated_ms(mut self, ms: u64) -> Call {
        self.estimated_ms = Some(ms);
        self
    }

    /// Adds an access key such as `read:config.json`.
    pub fn access(mut self, key: AccessKey) -> Call {
        self.access.push(key);
        self
    }
}

fn serialize_display_opt<S: Serializer, T: fmt::Display>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in plans.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            fn is_default(&self) -> bool {
                *self == $name::default()
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => {
                        let names: Vec<String> = $name::ALL.iter().map(|v| format!("`{}`", v.as_str())).collect();
                        Err(format!("`{other}` is not one of {}", names.join(", ")))
                    }
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// How urgent a call is; the scheduler starts more urgent calls first.
    Priority {
        /// Before everything else.
        Critical = "critical",
        /// Before normal calls.
        High = "high",
        /// The default.
        #[default]
        Normal = "normal",
        /// After normal calls.
        Low = "low",
        /// Only when nothing else waits.
        Background = "background",
    }
}

string_enum! {
    /// How the executor spreads the calls over time.
    Strategy {
        /// As many at once as dependencies and limits allow (the default).
        #[default]
        Parallel = "parallel",
        /// One at a time, in the sequential fallback order.
        Sequential = "sequential",
        /// Parallel, then the failed calls retried one at a time.
        Hybrid = "hybrid",
        /// Calls on the longest remaining path first.
        Latency = "latency",
        /// Strictly by priority.
        Priority = "priority",
    }
}

string_enum! {
    /// What a call does when one of its dependencies failed, timed out, was cancelled or skipped.
    OnDependencyFailure {
        /// Skip this call, naming the upstream call (the default).
        #[default]
        Skip = "skip",
        /// Run anyway; the failure is visible in place of the missing value.
        Run = "run",
    }
}

/// How to retry a call's transient failures and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 means no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles each time, with jitter.
    pub backoff_ms: u64,
    /// The longest delay between attempts.
    pub max_backoff_ms: u64,
}

impl Default for RetryPolicy {
    /// Three attempts, 100 ms doubling up to 5 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff_ms: 100,
            max_backoff_ms: 5_000,
        }
    }
}

/// Whether an access key reads or writes its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessMode {
    /// Shared: readers of a key run together.
    Read,
    /// Exclusive: ordered against every other access to the key.
    Write,
}

/// A resource a call touches: `read:KEY`, `write:KEY`, or `KEY` (which means write).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessKey {
    /// Read or write.
    pub mode: AccessMode,
    /// The resource, such as `config.json` or `db/users`.
    pub key: String,
}

impl AccessKey {
    /// A shared access.
    pub fn read(key: impl Into<String>) -> AccessKey {
        AccessKey {
            mode: AccessMode::Read,
            key: key.into(),
        }
    }

    /// An exclusive access.
    pub fn write(key: impl Into<String>) -> AccessKey {
        AccessKey {
            mode: AccessMode::Write,
            key: key.into(),
        }
    }
}

impl FromStr for AccessKey {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (mode, key) = if let Some(key) = text.strip_prefix("read:") {
            (AccessMode::Read, key)
        } else if let Some(key) = text.strip_prefix("write:") {
            (AccessMode::Write, key)
        } else {
            (AccessMode::Write, text)
        };
        if key.is_empty() {
            return Err(format!("access key `{text}` names no resource"));
        }
        Ok(AccessKey {
            mode,
            key: key.to_owned(),
        })
    }
}

impl fmt::Display for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            AccessMode::Read => write!(f, "read:{}", self.key),
            AccessMode::Write => write!(f, "write:{}", self.key),
        }
    }
}

impl Serialize for AccessKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An empty JSON object, the default arguments.
pub(crate) fn empty_args() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_ids_follow_tool_names_and_occurrences() {
        let plan = Plan::new(vec![
            Call::new("search", json!({})),
            Call::new("weather", json!({})),
            Call::new("search", json!({})).with_id("mine"),
            Call::new("search", json!({})),
        ]);
        let ids: Vec<&str> = plan.calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["search#1", "weather", "mine", "search#3"]);
        assert_eq!(plan.position("mine"), Some(2));
    }

    #[test]
    fn access_keys_parse_and_print() {
        for (text, mode, key, printed) in [
            (
                "read:config.json",
                AccessMode::Read,
                "config.json",
                "read:config.json",
            ),
            (
                "write:db/users",
                AccessMode::Write,
                "db/users",
                "write:db/users",
            ),
            ("db/users", AccessMode::Write, "db/users", "write:db/users"),
            ("read:a:b", AccessMode::Read, "a:b", "read:a:b"),
        ] {
            let parsed: AccessKey = text.parse().unwrap();
            assert_eq!((parsed.mode, parsed.key.as_str()), (mode, key));
            assert_eq!(parsed.to_string(), printed);
        }
        assert!(
            "read:"
                .parse::<AccessKey>()
                .unwrap_err()
                .contains("names no resource")
        );
        assert!("".parse::<AccessKey>().is_err());
    }

    #[test]
    fn enums_parse_their_names_and_list_them_on_error() {
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), *p);
        }
        assert!(Priority::Critical < Priority::Background);
        let err = "urgent".parse::<Priority>().unwrap_err();
        assert_eq!(
            err,
            "`urgent` is not one of `critical`, `high`, `normal`, `low`, `background`"
        );
        assert_eq!(Strategy::default(), Strategy::Parallel);
        assert_eq!(OnDependencyFailure::default(), OnDependencyFailure::Skip);
    }
}
