//! Snapshots: where every call and the whole batch stand at one moment.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::stats::ToolStats;

/// Where a call stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Waiting for its dependencies (no event yet).
    #[default]
    Waiting,
    /// Ready, waiting for a free slot.
    Queued,
    /// An attempt is running.
    Running,
    /// Between attempts.
    Retrying,
    /// Succeeded.
    Completed,
    /// Failed for good.
    Failed,
    /// Ran past its timeout.
    TimedOut,
    /// Stopped by the engine.
    Cancelled,
    /// Did not run.
    Skipped,
}

impl CallStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [CallStatus; 9] = [
        CallStatus::Waiting,
        CallStatus::Queued,
        CallStatus::Running,
        CallStatus::Retrying,
        CallStatus::Completed,
        CallStatus::Failed,
        CallStatus::TimedOut,
        CallStatus::Cancelled,
        CallStatus::Skipped,
    ];

    /// Whether the call is over.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CallStatus::Completed
                | CallStatus::Failed
                | CallStatus::TimedOut
                | CallStatus::Cancelled
                | CallStatus::Skipped
        )
    }

    /// Whether the call is over without success.
    pub fn is_unsuccessful(self) -> bool {
        self.is_terminal() && self != CallStatus::Completed
    }
}

/// How many calls are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Waiting for dependencies.
    pub waiting: u32,
    /// Ready, waiting for a slot.
    pub queued: u32,
    /// Running.
    pub running: u32,
    /// Between attempts.
    pub retrying: u32,
    /// Succeeded.
    pub completed: u32,
    /// Failed.
    pub failed: u32,
    /// Timed out.
    pub timed_out: u32,
    /// Cancelled.
    pub cancelled: u32,
    /// Skipped.
    pub skipped: u32,
}

impl StatusCounts {
    /// The count for one status.
    pub fn get(&self, status: CallStatus) -> u32 {
        match status {
            CallStatus::Waiting => self.waiting,
            CallStatus::Queued => self.queued,
            CallStatus::Running => self.running,
            CallStatus::Retrying => self.retrying,
            CallStatus::Completed => self.completed,
            CallStatus::Failed => self.failed,
            CallStatus::TimedOut => self.timed_out,
            CallStatus::Cancelled => self.cancelled,
            CallStatus::Skipped => self.skipped,
        }
    }

    pub(crate) fn slot(&mut self, status: CallStatus) -> &mut u32 {
        match status {
            CallStatus::Waiting => &mut self.waiting,
            CallStatus::Queued => &mut self.queued,
            CallStatus::Running => &mut self.running,
            CallStatus::Retrying => &mut self.retrying,
            CallStatus::Completed => &mut self.completed,
            CallStatus::Failed => &mut self.failed,
            CallStatus::TimedOut => &mut self.timed_out,
            CallStatus::Cancelled => &mut self.cancelled,
            CallStatus::Skipped => &mut self.skipped,
        }
    }

    /// Calls that are over.
    pub fn finished(&self) -> u32 {
        self.completed + self.failed + self.timed_out + self.cancelled + self.skipped
    }

    /// All calls.
    pub fn total(&self) -> u32 {
        self.waiting + self.queued + self.running + self.retrying + self.finished()
    }
}

/// One call at the moment of the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSnapshot {
    /// The call's id.
    pub id: Arc<str>,
    /// Its tool.
    pub tool: Arc<str>,
    /// Where it stands.
    pub status: CallStatus,
    /// When its first attempt started (ms since the batch started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<u64>,
    /// The last fraction it reported (1 once completed).
    pub fraction: f64,
    /// The last step it reported, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Arc<str>>,
    /// Attempts started so far.
    pub attempts: u32,
    /// How long it is expected to take (learned or planned).
    pub estimate_ms: u64,
    /// Why it did not succeed: the error kind, `timed_out`, the cancel or skip reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Arc<str>>,
    /// The failure's message, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Arc<str>>,
}

impl CallSnapshot {
    /// How long it ran, first start to end (or to `now_ms` while it runs).
    pub fn duration_ms(&self, now_ms: u64) -> Option<u64> {
        let start = self.started_ms?;
        Some(self.ended_ms.unwrap_or(now_ms).saturating_sub(start))
    }
}

/// The whole batch at one moment: what a progress bar draws and what a late subscriber
/// resynchronises from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSnapshot {
    /// The last event folded in (0 before any): events with a greater `seq` come after it.
    pub seq: u64,
    /// Milliseconds since the batch started, at the snapshot.
    pub elapsed_ms: u64,
    /// Calls by status.
    pub counts: StatusCounts,
    /// Ids of the running calls, in plan order.
    pub running: Vec<Arc<str>>,
    /// How much of the batch is done, 0–1, each call weighted by its estimate. A running call
    /// counts its reported fraction, or if it reported none, its elapsed share of its estimate
    /// (at most 0.9); finished calls count 1.
    pub fraction: f64,
    /// Estimated milliseconds until the batch ends (see [`Eta`](crate::Eta)).
    pub eta_ms: u64,
    /// Whether every call is over.
    pub finished: bool,
    /// Every call, in plan order.
    pub calls: Vec<CallSnapshot>,
    /// Statistics of this batch by tool, in order of first appearance in the plan.
    pub tools: Vec<ToolStats>,
}

impl BatchSnapshot {
    /// The call with this id.
    pub fn call(&self, id: &str) -> Option<&CallSnapshot> {
        self.calls.iter().find(|c| &*c.id == id)
    }

    /// The snapshot as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}
