//! Errors: each names the dimension, key, tool or setting at fault.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One thing a request can wait for or exceed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "dimension")]
#[non_exhaustive]
pub enum Dimension {
    /// The global concurrency limit.
    Global,
    /// The CPU budget, in cores.
    Cpu,
    /// The memory budget, in megabytes.
    Memory,
    /// The I/O slots.
    Io,
    /// One tool's concurrency cap.
    Tool {
        /// The tool's name.
        tool: String,
    },
    /// One named lock.
    Lock {
        /// The lock's key.
        key: String,
    },
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dimension::Global => f.write_str("global concurrency"),
            Dimension::Cpu => f.write_str("cpu (cores)"),
            Dimension::Memory => f.write_str("memory (MB)"),
            Dimension::Io => f.write_str("io slots"),
            Dimension::Tool { tool } => write!(f, "concurrency of tool `{tool}`"),
            Dimension::Lock { key } => write!(f, "lock `{key}`"),
        }
    }
}

/// Why [`acquire`](crate::ResourceBackend::acquire) refused a request outright.
///
/// Waiting is not an error: `acquire` waits for busy resources and rate limits.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum AcquireError {
    /// The request needs more than the whole capacity, so it could never be granted.
    #[error("request needs {requested} of {dimension} but the capacity is {capacity}")]
    ExceedsCapacity {
        /// What it exceeds.
        dimension: Dimension,
        /// How much it asked for.
        requested: f64,
        /// The total capacity.
        capacity: f64,
    },
    /// An amount is negative, infinite or NaN.
    #[error("request asks for {value} of {dimension}: amounts must be finite and not negative")]
    InvalidAmount {
        /// Which amount.
        dimension: Dimension,
        /// The value given.
        value: f64,
    },
}

/// Why [`try_acquire`](crate::ResourceBackend::try_acquire) could not grant a request now.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// A dimension is in use, or held back for an earlier waiter that has been overtaken
    /// as often as the bypass limit allows.
    #[error("{dimension} is busy")]
    Busy {
        /// The first busy dimension found.
        dimension: Dimension,
    },
    /// The tool's rate limit allows no call now.
    #[error("tool `{tool}` is rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// The tool.
        tool: String,
        /// How long until the next call may conform.
        retry_after: Duration,
    },
    /// The request needs more than the whole capacity, so it could never be granted.
    #[error("request needs {requested} of {dimension} but the capacity is {capacity}")]
    ExceedsCapacity {
        /// What it exceeds.
        dimension: Dimension,
        /// How much it asked for.
        requested: f64,
        /// The total capacity.
        capacity: f64,
    },
    /// An amount is negative, infinite or NaN.
    #[error("request asks for {value} of {dimension}: amounts must be finite and not negative")]
    InvalidAmount {
        /// Which amount.
        dimension: Dimension,
        /// The value given.
        value: f64,
    },
}

impl From<AcquireError> for TryAcquireError {
    fn from(e: AcquireError) -> Self {
        match e {
            AcquireError::ExceedsCapacity {
                dimension,
                requested,
                capacity,
            } => TryAcquireError::ExceedsCapacity {
                dimension,
                requested,
                capacity,
            },
            AcquireError::InvalidAmount { dimension, value } => {
                TryAcquireError::InvalidAmount { dimension, value }
            }
        }
    }
}

/// A setting given to [`ResourceManagerBuilder`](crate::ResourceManagerBuilder) that cannot work.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The CPU budget is negative, infinite or NaN.
    #[error("cpu_cores is {value}: it must be finite and not negative")]
    InvalidCpuCores {
        /// The value given.
        value: f64,
    },
    /// A tool name is empty.
    #[error("a tool name is empty")]
    EmptyToolName,
    /// A rate limit cannot be enforced.
    #[error("rate limit of tool `{tool}`: {problem}")]
    InvalidRateLimit {
        /// The tool.
        tool: String,
        /// What is wrong, such as "calls is 0".
        problem: String,
    },
}

/// An access key that cannot name a lock.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AccessKeyError {
    /// The key is empty, as in `""` or `"read:"`.
    #[error("access key `{input}` names no key")]
    EmptyKey {
        /// The whole input.
        input: String,
    },
    /// The key starts or ends with whitespace, which would never match the planner's keys.
    #[error("access key `{input}` has whitespace around its key")]
    SurroundingWhitespace {
        /// The whole input.
        input: String,
    },
}

impl AccessKeyError {
    /// Replaces the reported input with the whole access key (prefix included).
    pub(crate) fn with_input(self, whole: &str) -> Self {
        match self {
            AccessKeyError::EmptyKey { .. } => AccessKeyError::EmptyKey {
                input: whole.to_owned(),
            },
            AccessKeyError::SurroundingWhitespace { .. } => AccessKeyError::SurroundingWhitespace {
                input: whole.to_owned(),
            },
        }
    }
}

/// A priority name that is not one of `critical`, `high`, `normal`, `low`, `background`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown priority `{input}`: expected critical, high, normal, low or background")]
pub struct ParsePriorityError {
    /// The text given.
    pub input: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_dimension_and_the_numbers() {
        let e = AcquireError::ExceedsCapacity {
            dimension: Dimension::Memory,
            requested: 9000.0,
            capacity: 8192.0,
        };
        assert_eq!(
            e.to_string(),
            "request needs 9000 of memory (MB) but the capacity is 8192"
        );
        let e = TryAcquireError::Busy {
            dimension: Dimension::Lock { key: "db".into() },
        };
        assert_eq!(e.to_string(), "lock `db` is busy");
        let e = TryAcquireError::RateLimited {
            tool: "crm".into(),
            retry_after: Duration::from_millis(200),
        };
        assert_eq!(
            e.to_string(),
            "tool `crm` is rate limited; retry after 200ms"
        );
    }

    #[test]
    fn dimensions_serialize_with_their_names() {
        let json = serde_json::to_string(&Dimension::Tool { tool: "crm".into() }).unwrap();
        assert_eq!(json, r#"{"dimension":"tool","tool":"crm"}"#);
        assert_eq!(
            serde_json::to_string(&Dimension::Cpu).unwrap(),
            r#"{"dimension":"cpu"}"#
        );
    }
}
