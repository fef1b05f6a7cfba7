//! Errors: what a tool returns, what an outcome carries, what the engine refuses.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a call did not succeed: the machine-readable part of an outcome. Serialized in
/// `snake_case`; the aggregator and the CLI rely on these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The call names a tool that is not registered.
    UnknownTool,
    /// The arguments do not match the tool's schema, a `$` reference could not be resolved,
    /// or the tool refused them.
    InvalidArguments,
    /// A failure that may go away on retry (a 503, a dropped connection).
    Transient,
    /// A failure that will not go away on retry.
    Permanent,
    /// An attempt ran past its timeout.
    Timeout,
    /// The call was cancelled (by the user, `fail_fast`, or the tool itself).
    Cancelled,
    /// The tool panicked.
    Panic,
    /// A call it depends on failed, timed out, was cancelled or skipped.
    DependencyFailed,
    /// The batch deadline passed before the call finished.
    DeadlineExceeded,
    /// Its `when` condition was false.
    ConditionFalse,
    /// Its resource request can never be granted (it exceeds a capacity).
    ResourceUnavailable,
}

impl ErrorKind {
    /// The `snake_case` name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UnknownTool => "unknown_tool",
            ErrorKind::InvalidArguments => "invalid_arguments",
            ErrorKind::Transient => "transient",
            ErrorKind::Permanent => "permanent",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Panic => "panic",
            ErrorKind::DependencyFailed => "dependency_failed",
            ErrorKind::DeadlineExceeded => "deadline_exceeded",
            ErrorKind::ConditionFalse => "condition_false",
            ErrorKind::ResourceUnavailable => "resource_unavailable",
        }
    }

    /// Whether another attempt may succeed: transient failures and timeouts.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::Timeout)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a tool returns when it fails. The message is shown to the model: say what went wrong
/// and, where possible, what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The arguments are wrong; retrying with the same ones cannot help.
    #[error("invalid arguments: {message}")]
    InvalidArguments {
        /// What is wrong with them.
        message: String,
    },
    /// A failure that may go away: the engine retries it when the call's policy allows.
    #[error("{message}")]
    Transient {
        /// What failed.
        message: String,
        /// The earliest the service allows a retry (a `Retry-After` header), if it said.
        retry_after: Option<Duration>,
    },
    /// A failure that will not go away on retry.
    #[error("{message}")]
    Permanent {
        /// What failed.
        message: String,
    },
    /// Something the tool waited for timed out (retried like the engine's own timeouts).
    #[error("timed out: {message}")]
    Timeout {
        /// What timed out.
        message: String,
    },
    /// The tool stopped because its cancellation token fired.
    #[error("cancelled")]
    Cancelled,
}

impl ToolError {
    /// Invalid arguments.
    pub fn invalid_arguments(message: impl Into<String>) -> ToolError {
        ToolError::InvalidArguments {
            message: message.into(),
        }
    }

    /// A transient failure.
    pub fn transient(message: impl Into<String>) -> ToolError {
        ToolError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A transient failure whose service asked to wait `retry_after` before trying again.
    pub fn transient_after(message: impl Into<String>, retry_after: Duration) -> ToolError {
        ToolError::Transient {
            message: message.into(),
            retry_after: Some(retry_after),
        }
    }

    /// A permanent failure.
    pub fn permanent(message: impl Into<String>) -> ToolError {
        ToolError::Permanent {
            message: message.into(),
        }
    }

    /// A timeout inside the tool.
    pub fn timeout(message: impl Into<String>) -> ToolError {
        ToolError::Timeout {
            message: message.into(),
        }
    }

    /// The kind an outcome reports for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ToolError::InvalidArguments { .. } => ErrorKind::InvalidArguments,
            ToolError::Transient { .. } => ErrorKind::Transient,
            ToolError::Permanent { .. } => ErrorKind::Permanent,
            ToolError::Timeout { .. } => ErrorKind::Timeout,
            ToolError::Cancelled => ErrorKind::Cancelled,
        }
    }
}

/// The error part of an outcome: a kind, a message for the model, and the upstream call when
/// another call's failure is the cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What went wrong, for the model and for people.
    pub message: String,
    /// The call whose failure caused this one (`dependency_failed`, `fail_fast`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

impl CallError {
    /// An error of this kind with this message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> CallError {
        CallError {
            kind,
            message: message.into(),
            upstream: None,
        }
    }

    /// Names the upstream call that caused it.
    #[must_use]
    pub fn caused_by(mut self, upstream: impl Into<String>) -> CallError {
        self.upstream = Some(upstream.into());
        self
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for CallError {}

/// Why a tool could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Another tool already has this name.
    #[error("a tool named `{name}` is already registered")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// The name is empty or contains characters a model's API refuses.
    #[error("tool name `{name}` is invalid: use 1 to 64 letters, digits, `_` or `-`")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// The input schema is not a valid JSON Schema.
    #[error("the input schema of tool `{name}` is invalid: {problem}")]
    InvalidSchema {
        /// The tool.
        name: String,
        /// What the schema compiler said.
        problem: String,
    },
}

/// Why a batch could not start.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The plan is invalid (duplicate ids, unknown references, cycles…), every problem listed.
    #[error("the plan is invalid: {0}")]
    Plan(#[from] volley_planner::PlanErrors),
    /// `run` was called outside a tokio runtime.
    #[error("the engine needs a tokio runtime: call it from inside one")]
    NoRuntime,
}

/// Why a call could not be added to a running batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    /// The id is empty or contains a reserved character.
    #[error("call `{id}`: {problem}")]
    InvalidId {
        /// The id.
        id: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A call of the batch already has this id.
    #[error("a call with the id `{id}` is already in the batch")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// An argument template cannot be parsed.
    #[error("call `{id}`: args{location}: {problem}")]
    MalformedReference {
        /// The call.
        id: String,
        /// Where in the arguments.
        location: String,
        /// What is wrong.
        problem: String,
    },
    /// A reference, condition or `depends_on` names no earlier call of the batch.
    #[error("call `{id}` refers to `{target}`, which is no call of the batch{hint}")]
    UnknownCall {
        /// The call.
        id: String,
        /// The name it refers to.
        target: String,
        /// A "did you mean" suffix, or nothing.
        hint: String,
    },
    /// The batch no longer takes calls (closed, cancelled or finished).
    #[error("the batch no longer takes calls: {reason}")]
    Closed {
        /// Why.
        reason: &'static str,
    },
}

/// Why a call could not be cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CancelError {
    /// No call of the batch has this id.
    #[error("no call of the batch has the id `{id}`")]
    UnknownCall {
        /// The id.
        id: String,
    },
    /// The call already has its outcome.
    #[error("call `{id}` already finished")]
    AlreadyFinished {
        /// The id.
        id: String,
    },
    /// The batch is over.
    #[error("the batch is over")]
    BatchFinished,
}
