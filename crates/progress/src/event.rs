//! Events: what happened to one call, when, in which order. Their JSON is a contract
//! (`docs/progress-events.md`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One thing that happened to one call of a batch.
///
/// Serialises flat, the kind's fields after the common ones:
/// `{"seq":3,"at_ms":120,"call":"weather","tool":"get_weather","type":"progress","fraction":0.4,"step":"fetching page 2"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Per-batch sequence number, from 1, increasing in delivery order (gaps are possible; the
    /// order is the same for every subscriber). The HTTP API uses it as the SSE event id.
    pub seq: u64,
    /// Milliseconds since the batch started; never decreases along `seq`.
    pub at_ms: u64,
    /// The call's id in the plan.
    pub call: Arc<str>,
    /// The tool it calls.
    pub tool: Arc<str>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// Arguments (on `queued`/`started`) or output (on `completed`), only for calls that opted in
    /// with [`Roster::reveal`](crate::Roster::reveal); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Arc<Value>>,
}

impl Event {
    /// An event without detail.
    pub fn new(
        seq: u64,
        at_ms: u64,
        call: impl Into<Arc<str>>,
        tool: impl Into<Arc<str>>,
        kind: EventKind,
    ) -> Event {
        Event {
            seq,
            at_ms,
            call: call.into(),
            tool: tool.into(),
            kind,
            detail: None,
        }
    }

    /// The event as one line of JSON (the stable format of `docs/progress-events.md`).
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail; an empty object is a safe answer.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// What happened to a call. The `type` field of the JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// Its dependencies are done; it waits for a free slot.
    Queued,
    /// An attempt started.
    Started {
        /// 1 for the first attempt, 2 for the first retry…
        attempt: u32,
    },
    /// The tool reported how far it got.
    Progress {
        /// From 0 to 1.
        fraction: f64,
        /// What it is doing now, for people ("fetching page 2").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<Arc<str>>,
    },
    /// An attempt failed or timed out; another starts after a delay.
    Retrying {
        /// The attempt that comes next (2 for the first retry).
        attempt: u32,
        /// How long the engine waits before it.
        delay_ms: u64,
    },
    /// The call succeeded.
    Completed,
    /// The call failed for good.
    Failed {
        /// A short machine-readable kind, such as `unavailable` or `invalid_input`.
        error: Arc<str>,
        /// What went wrong, for people. Must not hold secrets.
        message: Arc<str>,
    },
    /// The last attempt ran past its timeout.
    TimedOut {
        /// The timeout it ran past.
        after_ms: u64,
    },
    /// The engine stopped the call (fail-fast, deadline, user).
    Cancelled {
        /// Why, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Arc<str>>,
    },
    /// The call did not run (a dependency failed, a condition was false).
    Skipped {
        /// Why.
        reason: Arc<str>,
    },
}

impl EventKind {
    /// A progress report; the fraction is clamped to 0–1 (NaN reads as 0).
    pub fn progress(fraction: f64, step: Option<&str>) -> EventKind {
        EventKind::Progress {
            fraction: clamp_fraction(fraction),
            step: step.filter(|s| !s.is_empty()).map(Arc::from),
        }
    }

    /// A failure of this kind with this message.
    pub fn failed(error: &str, message: &str) -> EventKind {
        EventKind::Failed {
            error: Arc::from(error),
            message: Arc::from(message),
        }
    }

    /// A skip for this reason.
    pub fn skipped(reason: &str) -> EventKind {
        EventKind::Skipped {
            reason: Arc::from(reason),
        }
    }

    /// The `type` name in the JSON, also usable as the SSE `event:` field.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Queued => "queued",
            EventKind::Started { .. } => "started",
            EventKind::Progress { .. } => "progress",
            EventKind::Retrying { .. } => "retrying",
            EventKind::Completed => "completed",
            EventKind::Failed { .. } => "failed",
            EventKind::TimedOut { .. } => "timed_out",
            EventKind::Cancelled { .. } => "cancelled",
            EventKind::Skipped { .. } => "skipped",
        }
    }

    /// Whether the call is over after this event.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventKind::Completed
                | EventKind::Failed { .. }
                | EventKind::TimedOut { .. }
                | EventKind::Cancelled { .. }
                | EventKind::Skipped { .. }
        )
    }
}

/// Clamps to 0–1; NaN reads as 0.
pub(crate) fn clamp_fraction(fraction: f64) -> f64 {
    if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests;
