//! Outcomes: exactly one per call, whatever happened.

use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CallError, ErrorKind};

/// How a call ended. Serialized in `snake_case` (`ok`, `error`, `timeout`, `cancelled`,
/// `skipped`): a contract with the aggregator and the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The tool returned a value.
    Ok,
    /// It failed (the error says how).
    Error,
    /// Its last attempt ran past its timeout, or the batch deadline passed while it ran.
    Timeout,
    /// It was cancelled while waiting or running.
    Cancelled,
    /// It never ran: a dependency failed, its condition was false, or the deadline passed.
    Skipped,
}

impl Status {
    /// The `snake_case` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
        }
    }

    /// The status an error of this kind ends a call with.
    pub(crate) fn of_kind(kind: ErrorKind) -> Status {
        match kind {
            ErrorKind::Timeout | ErrorKind::DeadlineExceeded => Status::Timeout,
            ErrorKind::Cancelled => Status::Cancelled,
            ErrorKind::DependencyFailed | ErrorKind::ConditionFalse => Status::Skipped,
            _ => Status::Error,
        }
    }
}

/// What happened to one call. Times are milliseconds since the batch started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The call's position in the batch (plan order, then the order calls were added).
    pub index: usize,
    /// The call's id.
    pub id: Arc<str>,
    /// The tool it named.
    pub tool: Arc<str>,
    /// How it ended.
    pub status: Status,
    /// The tool's output (status `ok` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Why it did not succeed (every status but `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Box<CallError>>,
    /// Attempts started (0 when it never ran).
    pub attempts: u32,
    /// When its dependencies were done and it entered the ready queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at_ms: Option<u64>,
    /// When its first attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// When it got this outcome.
    pub ended_at_ms: u64,
    /// `ended_at_ms - started_at_ms` (0 when it never started).
    pub duration_ms: u64,
}

impl Outcome {
    /// Whether the call succeeded.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The error kind, if it did not succeed.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.error.as_ref().map(|e| e.kind)
    }

    /// The error message, if it did not succeed.
    pub fn message(&self) -> Option<&str> {
        self.error.as_ref().map(|e| e.message.as_str())
    }

    /// The outcome as one line of JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Every outcome of a batch, in call order; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outcomes {
    outcomes: Arc<Vec<Outcome>>,
    elapsed_ms: u64,
}

impl Outcomes {
    pub(crate) fn new(outcomes: Vec<Outcome>, elapsed_ms: u64) -> Outcomes {
        Outcomes {
            outcomes: Arc::new(outcomes),
            elapsed_ms,
        }
    }

    /// The outcome of the call with this id.
    pub fn get(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| &*o.id == id)
    }

    /// How many calls ended with this status.
    pub fn count(&self, status: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }

    /// Milliseconds from the batch's start to its last outcome.
    pub fn elapsed_ms(&self) -> u64 {
        self.elapsed_ms
    }

    /// The outcomes, without copying them when this is the only handle to them.
    pub fn into_vec(self) -> Vec<Outcome> {
        Arc::try_unwrap(self.outcomes).unwrap_or_else(|shared| (*shared).clone())
    }
}

impl Deref for Outcomes {
    type Target = [Outcome];

    fn deref(&self) -> &[Outcome] {
        &self.outcomes
    }
}
