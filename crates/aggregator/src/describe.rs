//! What happened to a call that did not succeed, in words a model (or a person) can act on.
//!
//! The sentence starts with the tool's name and says what happened and why:
//!
//! | status | example |
//! |---|---|
//! | `timeout` | `get_weather timed out after 3000 ms` |
//! | `timeout` (deadline) | `get_weather timed out: the batch deadline of 5000 ms passed while it ran` |
//! | `error` | `check_crm failed after 3 attempts: HTTP 503` |
//! | `cancelled` | `get_weather was cancelled by the user` / `…by the batch deadline` / `…by fail-fast: check_crm failed` |
//! | `skipped` | `send_invite was skipped because find_contact failed` / `…because its condition `$check.free` was false` |
//!
//! The executor's `CallError` carries a kind, a message and the upstream call; the cause of a
//! cancellation is read from the executor's wording (it has no field for it), and tests run
//! the real engine to keep the two in step.

use std::fmt::Write as _;

use volley_executor::{ErrorKind, Outcome, Status};

use crate::batch::Batch;
use crate::human::{Units, cap, duration};

/// Why a call was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancel<'o> {
    /// The batch was fail-fast and this call failed first.
    FailFast(&'o str),
    /// The batch deadline passed.
    Deadline,
    /// The whole batch was cancelled.
    Batch,
    /// This call was cancelled on request.
    Call,
    /// The engine's runtime shut down.
    Shutdown,
    /// The executor reported no outcome for the call.
    NoOutcome,
    /// Something else (the tool stopped by itself): the message says.
    Other,
}

impl<'o> Cancel<'o> {
    pub(crate) fn of(batch: &Batch<'_>, row: usize, outcome: &'o Outcome) -> Cancel<'o> {
        if batch.is_stand_in(row) {
            return Cancel::NoOutcome;
        }
        let Some(error) = outcome.error.as_deref() else {
            return Cancel::Other;
        };
        let message = error.message.as_str();
        match &error.upstream {
            Some(upstream) if message.contains("fail_fast") => Cancel::FailFast(upstream),
            _ if message.contains("deadline") => Cancel::Deadline,
            _ if message.starts_with("cancelled: the batch was cancelled") => Cancel::Batch,
            _ if message.starts_with("cancelled on request") => Cancel::Call,
            _ if message.contains("engine stopped") => Cancel::Shutdown,
            _ => Cancel::Other,
        }
    }
}

/// Why a call was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// A call it depends on did not succeed.
    Dependency,
    /// Its `when` condition was false.
    Condition,
    /// The batch deadline passed before it started.
    Deadline,
    /// Something else: the message says.
    Other,
}

impl Skip {
    pub(crate) fn of(outcome: &Outcome) -> Skip {
        match outcome.error_kind() {
            Some(ErrorKind::DependencyFailed) => Skip::Dependency,
            Some(ErrorKind::ConditionFalse) => Skip::Condition,
            Some(ErrorKind::DeadlineExceeded) => Skip::Deadline,
            _ => Skip::Other,
        }
    }
}

/// The sentence for a call that did not succeed (`None` for a success).
pub(crate) fn explain(batch: &Batch<'_>, row: usize, units: Units) -> Option<String> {
    let outcome = batch.outcome(row);
    let tool = &*outcome.tool;
    let message = outcome.message().unwrap_or("no reason was given");
    let mut out = String::with_capacity(tool.len() + message.len() + 48);
    out.push_str(tool);
    match outcome.status {
        Status::Ok => return None,
        Status::Timeout => timed_out(&mut out, outcome, message, units),
        Status::Error => failed(&mut out, outcome, message, units),
        Status::Cancelled => cancelled(&mut out, batch, row, outcome, message, units),
        Status::Skipped => skipped(&mut out, batch, row, outcome, message, units),
    }
    Some(out)
}

fn timed_out(out: &mut String, outcome: &Outcome, message: &str, units: Units) {
    if outcome.error_kind() == Some(ErrorKind::DeadlineExceeded) {
        let _ = write!(out, " timed out: {}", cap(message, units));
        return;
    }
    let took = duration(outcome.duration_ms, units);
    if outcome.attempts > 1 {
        let _ = write!(
            out,
            " timed out after {} attempts ({took})",
            outcome.attempts
        );
    } else {
        let _ = write!(out, " timed out after {took}");
    }
    // The engine's own timeout says nothing more; a tool's own timeout says what timed out.
    if !message.starts_with("the attempt ran past its timeout") {
        let _ = write!(out, ": {}", cap(message, units));
    }
}

fn failed(out: &mut String, outcome: &Outcome, message: &str, units: Units) {
    let verb = match outcome.error_kind() {
        Some(ErrorKind::InvalidArguments) => " was called with invalid arguments",
        Some(ErrorKind::ResourceUnavailable) => " could not run",
        _ => " failed",
    };
    out.push_str(verb);
    if outcome.attempts > 1 {
        let _ = write!(out, " after {} attempts", outcome.attempts);
    }
    let _ = write!(out, ": {}", cap(message, units));
}

fn cancelled(
    out: &mut String,
    batch: &Batch<'_>,
    row: usize,
    outcome: &Outcome,
    message: &str,
    units: Units,
) {
    match Cancel::of(batch, row, outcome) {
        Cancel::FailFast(upstream) => {
            let _ = write!(
                out,
                " was cancelled by fail-fast: {} {}, and the batch stops at its first failure",
                call_name(batch, upstream),
                what_happened(batch, upstream)
            );
        }
        Cancel::Deadline => match batch.plan.deadline_ms {
            Some(ms) => {
                let _ = write!(
                    out,
                    " was cancelled by the batch deadline ({})",
                    duration(ms, units)
                );
            }
            None => out.push_str(" was cancelled by the batch deadline"),
        },
        Cancel::Batch => out.push_str(" was cancelled by the user (the whole batch was cancelled)"),
        Cancel::Call => out.push_str(" was cancelled by the user"),
        Cancel::Shutdown => {
            out.push_str(" was cancelled: the engine shut down before it finished");
        }
        Cancel::NoOutcome => {
            out.push_str(" has no result: the executor reported none, so it may not have run");
        }
        Cancel::Other => {
            let reason = message
                .strip_prefix("cancelled: ")
                .or_else(|| message.strip_prefix("cancelled "))
                .unwrap_or(message);
            let _ = write!(out, " was cancelled: {}", cap(reason, units));
        }
    }
}

fn skipped(
    out: &mut String,
    batch: &Batch<'_>,
    row: usize,
    outcome: &Outcome,
    message: &str,
    units: Units,
) {
    let upstream = outcome.error.as_ref().and_then(|e| e.upstream.as_deref());
    match (Skip::of(outcome), upstream) {
        (Skip::Dependency, Some(upstream)) => {
            let root = root_cause(batch, upstream);
            let _ = write!(
                out,
                " was skipped because {} {}",
                call_name(batch, root),
                what_happened(batch, root)
            );
            if root != upstream {
                let _ = write!(
                    out,
                    " (so {}, which it needs, {})",
                    call_name(batch, upstream),
                    what_happened(batch, upstream)
                );
            }
        }
        (Skip::Condition, _) => match batch.call(row).and_then(|c| c.when.as_ref()) {
            Some(when) => {
                let _ = write!(out, " was skipped because its condition `{when}` was false");
            }
            None => out.push_str(" was skipped because its condition was false"),
        },
        (Skip::Deadline, _) => match batch.plan.deadline_ms {
            Some(ms) => {
                let _ = write!(
                    out,
                    " was skipped because the batch deadline ({}) passed before it could start",
                    duration(ms, units)
                );
            }
            None => {
                out.push_str(" was skipped because the batch deadline passed before it could start")
            }
        },
        _ => {
            let reason = message.strip_prefix("not run: ").unwrap_or(message);
            let _ = write!(out, " was skipped: {}", cap(reason, units));
        }
    }
}

/// The call at the start of a chain of skips: follows `upstream` while that call was itself
/// skipped for a dependency.
pub(crate) fn root_cause<'b>(batch: &'b Batch<'_>, id: &'b str) -> &'b str {
    let mut id = id;
    // Bounded: a chain cannot be longer than the batch (guards against inconsistent input).
    for _ in 0..batch.len() {
        let Some(row) = batch.row_of(id) else { break };
        let outcome = batch.outcome(row);
        let next = match (&outcome.status, outcome.error.as_deref()) {
            (Status::Skipped, Some(e)) if e.kind == ErrorKind::DependencyFailed => {
                e.upstream.as_deref()
            }
            _ => None,
        };
        match next {
            Some(next) if next != id => id = next,
            _ => break,
        }
    }
    id
}

/// How a call is named in another call's sentence: its tool, and its id too when the plan
/// calls that tool more than once.
pub(crate) fn call_name(batch: &Batch<'_>, id: &str) -> String {
    match batch.row_of(id).map(|row| batch.outcome(row)) {
        Some(outcome) if batch.tool_is_shared(&outcome.tool) && *outcome.tool != *id => {
            format!("{} (call `{id}`)", outcome.tool)
        }
        Some(outcome) => outcome.tool.to_string(),
        None => format!("`{id}`"),
    }
}

/// `failed`, `timed out`, `was cancelled`, `was skipped`: what happened to the call with this id.
pub(crate) fn what_happened(batch: &Batch<'_>, id: &str) -> &'static str {
    match batch.row_of(id).map(|row| batch.outcome(row).status) {
        Some(Status::Error) => "failed",
        Some(Status::Timeout) => "timed out",
        Some(Status::Cancelled) => "was cancelled",
        Some(Status::Skipped) => "was skipped",
        Some(Status::Ok) | None => "did not succeed",
    }
}

#[cfg(test)]
mod tests;
