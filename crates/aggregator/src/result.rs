//! The batch result: one entry per call in plan order, and a summary. Its JSON is the
//! `volley run` output contract (`docs/results.md`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use volley_executor::{ErrorKind, Status};

use crate::batch::Batch;
use crate::describe::explain;
use crate::human::{Units, ratio};
use crate::truncate::{json_len_within, json_text};

/// Every call's result, in plan order (then calls added while the batch ran), and a summary.
///
/// Serializes to exactly
/// `{"results": [{"id", "tool", "status", "output"?, "error"?: {"kind", "message"}, "attempts",
/// "started_ms", "duration_ms"}…], "summary": {"total", "ok", "failed", "timed_out",
/// "cancelled", "skipped", "wall_ms", "sequential_ms", "speedup", "critical_path_ms",
/// "peak_concurrency"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    /// One per call, in plan order.
    pub results: Vec<CallResult>,
    /// Counts and timings.
    pub summary: Summary,
}

/// What happened to one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallResult {
    /// The call's id (a provider's tool-use id when the plan came from a model's answer).
    pub id: Arc<str>,
    /// The tool it called.
    pub tool: Arc<str>,
    /// `ok`, `error`, `timeout`, `cancelled` or `skipped`.
    pub status: Status,
    /// The tool's output (status `ok` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// What went wrong (every status but `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ResultError>,
    /// Attempts started (0 when it never ran).
    pub attempts: u32,
    /// When its first attempt started, in ms from the batch's start; `null` if it never did.
    pub started_ms: Option<u64>,
    /// From its first attempt's start to its end, retries included; 0 if it never started.
    pub duration_ms: u64,
}

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultError {
    /// The machine-readable kind (`timeout`, `dependency_failed`, `transient`…).
    pub kind: ErrorKind,
    /// The same sentence the model gets: `get_weather timed out after 3000 ms`.
    pub message: String,
}

/// Counts by status and the run's timings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Calls in all: `ok + failed + timed_out + cancelled + skipped`.
    pub total: usize,
    /// Status `ok`.
    pub ok: usize,
    /// Status `error` (only: timeouts, cancellations and skips have their own counts).
    pub failed: usize,
    /// Status `timeout`.
    pub timed_out: usize,
    /// Status `cancelled`.
    pub cancelled: usize,
    /// Status `skipped`.
    pub skipped: usize,
    /// From the batch's start to its last outcome.
    pub wall_ms: u64,
    /// The sum of the calls' durations: running them one after another.
    pub sequential_ms: u64,
    /// `sequential_ms / wall_ms`, to 3 decimals (1 when nothing ran).
    pub speedup: f64,
    /// The measured critical path's length (see `docs/results.md`).
    pub critical_path_ms: u64,
    /// The most calls running at once.
    pub peak_concurrency: usize,
}

impl Summary {
    pub(crate) fn of(batch: &Batch<'_>) -> Summary {
        let mut counts = [0usize; 5];
        for outcome in batch.iter() {
            counts[slot(outcome.status)] += 1;
        }
        let measure = batch.measure();
        Summary {
            total: batch.len(),
            ok: counts[slot(Status::Ok)],
            failed: counts[slot(Status::Error)],
            timed_out: counts[slot(Status::Timeout)],
            cancelled: counts[slot(Status::Cancelled)],
            skipped: counts[slot(Status::Skipped)],
            wall_ms: measure.wall_ms,
            sequential_ms: measure.sequential_ms,
            speedup: ratio(measure.sequential_ms as f64, measure.wall_ms as f64, 1.0),
            critical_path_ms: measure.critical_path_ms,
            peak_concurrency: measure.peak_concurrency,
        }
    }

    /// How many calls ended with this status.
    pub fn count(&self, status: Status) -> usize {
        match status {
            Status::Ok => self.ok,
            Status::Error => self.failed,
            Status::Timeout => self.timed_out,
            Status::Cancelled => self.cancelled,
            Status::Skipped => self.skipped,
        }
    }

    /// The share of calls that succeeded, from 0 to 1 (1 for an empty batch: nothing failed).
    pub fn success_rate(&self) -> f64 {
        ratio(self.ok as f64, self.total as f64, 1.0)
    }
}

impl BatchResult {
    pub(crate) fn of(batch: &Batch<'_>) -> BatchResult {
        let config = batch.config;
        let results = (0..batch.len())
            .map(|row| {
                let outcome = batch.outcome(row);
                let output = match (&outcome.output, outcome.status) {
                    (Some(output), Status::Ok) => Some(
                        if config.truncate_results
                            && json_len_within(output, config.max_output_bytes)
                                > config.max_output_bytes
                        {
                            Value::String(json_text(output, config.max_output_bytes))
                        } else {
                            output.clone()
                        },
                    ),
                    (None, Status::Ok) => Some(Value::Null),
                    _ => None,
                };
                let error = explain(batch, row, Units::Model).map(|message| ResultError {
                    kind: outcome
                        .error_kind()
                        .unwrap_or(fallback_kind(outcome.status)),
                    message,
                });
                CallResult {
                    id: Arc::clone(&outcome.id),
                    tool: Arc::clone(&outcome.tool),
                    status: outcome.status,
                    output,
                    error,
                    attempts: outcome.attempts,
                    started_ms: outcome.started_at_ms,
                    duration_ms: outcome.duration_ms,
                }
            })
            .collect();
        BatchResult {
            results,
            summary: Summary::of(batch),
        }
    }

    /// The result as one line of JSON (the `volley run` output).
    pub fn to_json(&self) -> String {
        // Plain data with string keys and finite numbers: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// The result as indented JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| String::from("{}"))
    }
}

fn slot(status: Status) -> usize {
    match status {
        Status::Ok => 0,
        Status::Error => 1,
        Status::Timeout => 2,
        Status::Cancelled => 3,
        Status::Skipped => 4,
    }
}

/// The kind reported for a failed call whose outcome carries no error (inconsistent input).
fn fallback_kind(status: Status) -> ErrorKind {
    match status {
        Status::Timeout => ErrorKind::Timeout,
        Status::Cancelled => ErrorKind::Cancelled,
        Status::Skipped => ErrorKind::DependencyFailed,
        Status::Ok | Status::Error => ErrorKind::Permanent,
    }
}
