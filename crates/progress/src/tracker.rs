//! The tracker: folds events into the state of every call, for snapshots, statistics and the ETA.

use std::collections::HashMap;
use std::sync::Arc;

use crate::estimate::Estimator;
use crate::event::{Event, EventKind, clamp_fraction};
use crate::roster::Roster;
use crate::snapshot::{BatchSnapshot, CallSnapshot, CallStatus, StatusCounts};
use crate::stats::ToolStats;

/// The state of one call.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallState {
    pub(crate) status: CallStatus,
    pub(crate) started_ms: Option<u64>,
    pub(crate) attempt_started_ms: u64,
    pub(crate) ended_ms: Option<u64>,
    pub(crate) fraction: f64,
    /// Whether the current attempt reported a fraction.
    pub(crate) reported: bool,
    /// When it last did.
    pub(crate) reported_at_ms: u64,
    pub(crate) step: Option<Arc<str>>,
    pub(crate) attempts: u32,
    pub(crate) retry_at_ms: u64,
    pub(crate) error: Option<Arc<str>>,
    pub(crate) message: Option<Arc<str>>,
}

/// Folds a batch's events into where every call stands.
///
/// The [`Bus`](crate::Bus) keeps one, updated as it emits, so that snapshots agree with the
/// event stream. A consumer that only sees events (a remote CLI reading the HTTP stream) can keep
/// its own and [`apply`](Tracker::apply) them.
///
/// The tracker is pure: it reads no clock. Times come from the events (`at_ms`) and from the
/// caller (`now_ms` of [`snapshot`](Tracker::snapshot) and [`eta`](Tracker::eta)).
///
/// Events that make no sense for a call's state are ignored rather than trusted: anything after
/// a call is over (the first outcome wins), progress while it is not running.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub(crate) roster: Roster,
    pub(crate) calls: Vec<CallState>,
    counts: StatusCounts,
    pub(crate) estimator: Estimator,
    seq: u64,
    last_at_ms: u64,
}

impl Tracker {
    /// A tracker of the roster's calls, all waiting, estimated from the plan.
    pub fn new(roster: Roster) -> Tracker {
        Tracker::with_estimator(roster, Estimator::new())
    }

    /// A tracker whose estimates start from what `estimator` learned; it keeps learning as calls
    /// complete, so later calls of a tool are estimated from earlier ones of the same batch.
    pub fn with_estimator(roster: Roster, mut estimator: Estimator) -> Tracker {
        for call in roster.calls() {
            if let Some(ms) = call.estimated_ms {
                estimator.seed_if_unknown(&call.tool, ms);
            }
        }
        let n = roster.len();
        Tracker {
            roster,
            calls: vec![CallState::default(); n],
            counts: StatusCounts {
                waiting: n as u32,
                ..StatusCounts::default()
            },
            estimator,
            seq: 0,
            last_at_ms: 0,
        }
    }

    /// Folds an event in, finding its call by id. Returns whether the event named a call of the
    /// batch.
    pub fn apply(&mut self, event: &Event) -> bool {
        match self.roster.position(&event.call) {
            Some(i) => {
                self.apply_at(i, event.seq, event.at_ms, &event.kind);
                true
            }
            None => false,
        }
    }

    /// Folds an event of call `i` in.
    pub(crate) fn apply_at(&mut self, i: usize, seq: u64, at_ms: u64, kind: &EventKind) {
        self.seq = self.seq.max(seq);
        self.last_at_ms = self.last_at_ms.max(at_ms);
        let Some(state) = self.calls.get_mut(i) else {
            return;
        };
        let old = state.status;
        if old.is_terminal() {
            return;
        }
        let new = match kind {
            EventKind::Queued => {
                if old == CallStatus::Waiting {
                    CallStatus::Queued
                } else {
                    old
                }
            }
            EventKind::Started { attempt } => {
                state.attempts = (*attempt).max(state.attempts.saturating_add(1));
                state.started_ms.get_or_insert(at_ms);
                state.attempt_started_ms = at_ms;
                state.fraction = 0.0;
                state.reported = false;
                state.step = None;
                CallStatus::Running
            }
            EventKind::Progress { fraction, step } => {
                if old != CallStatus::Running {
                    return;
                }
                state.fraction = clamp_fraction(*fraction);
                state.reported = true;
                state.reported_at_ms = at_ms;
                if step.is_some() {
                    state.step.clone_from(step);
                }
                old
            }
            EventKind::Retrying { delay_ms, .. } => {
                state.retry_at_ms = at_ms.saturating_add(*delay_ms);
                state.fraction = 0.0;
                state.reported = false;
                state.step = None;
                CallStatus::Retrying
            }
            EventKind::Completed => {
                state.fraction = 1.0;
                CallStatus::Completed
            }
            EventKind::Failed { error, message } => {
                state.error = Some(error.clone());
                state.message = Some(message.clone());
                CallStatus::Failed
            }
            EventKind::TimedOut { after_ms } => {
                state.error = Some(Arc::from("timed_out"));
                state.message = Some(Arc::from(format!("timed out after {after_ms} ms")));
                CallStatus::TimedOut
            }
            EventKind::Cancelled { reason } => {
                state.message.clone_from(reason);
                CallStatus::Cancelled
            }
            EventKind::Skipped { reason } => {
                state.message = Some(reason.clone());
                CallStatus::Skipped
            }
        };
        state.status = new;
        if new.is_terminal() {
            state.ended_ms = Some(at_ms);
            state.step = None;
            let started_ms = state.started_ms;
            let tool = &self.roster.calls()[i].tool;
            match new {
                CallStatus::Completed => {
                    if let Some(start) = started_ms {
                        self.estimator.observe(tool, at_ms.saturating_sub(start));
                    }
                }
                CallStatus::Failed | CallStatus::TimedOut => self.estimator.observe_failure(tool),
                _ => {}
            }
        }
        if new != old {
            *self.counts.slot(old) -= 1;
            *self.counts.slot(new) += 1;
        }
    }

    /// The last event folded in (0 before any).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The latest `at_ms` folded in.
    pub fn last_at_ms(&self) -> u64 {
        self.last_at_ms
    }

    /// Calls by status.
    pub fn counts(&self) -> StatusCounts {
        self.counts
    }

    /// Whether every call is over.
    pub fn is_finished(&self) -> bool {
        self.counts.finished() as usize == self.calls.len()
    }

    /// The roster of the batch.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The estimates, refined by the calls completed so far.
    pub fn estimator(&self) -> &Estimator {
        &self.estimator
    }

    /// The current estimate of call `i`.
    pub fn estimate_ms(&self, i: usize) -> u64 {
        self.roster.call(i).map_or(0, |c| {
            self.estimator
                .estimate_call(&c.tool, c.estimated_ms, c.planned_ms)
        })
    }

    /// How much call `i`'s duration may spread around its estimate (ms; 0 while its tool has
    /// fewer than two observed runs).
    pub(crate) fn spread_ms(&self, i: usize) -> f64 {
        self.roster
            .call(i)
            .and_then(|c| self.estimator.spread(&c.tool))
            .unwrap_or(0.0)
    }

    /// Where call `i` stands.
    pub fn call(&self, i: usize) -> Option<CallSnapshot> {
        let info = self.roster.call(i)?;
        let state = self.calls.get(i)?;
        Some(CallSnapshot {
            id: info.id.clone(),
            tool: info.tool.clone(),
            status: state.status,
            started_ms: state.started_ms,
            ended_ms: state.ended_ms,
            fraction: state.fraction,
            step: state.step.clone(),
            attempts: state.attempts,
            estimate_ms: self.estimate_ms(i),
            error: state.error.clone(),
            message: state.message.clone(),
        })
    }

    /// The batch at `now_ms` (ms since the batch started; an earlier time than the last event
    /// reads as that event's time).
    pub fn snapshot(&self, now_ms: u64) -> BatchSnapshot {
        let now = now_ms.max(self.last_at_ms);
        let calls: Vec<CallSnapshot> = (0..self.calls.len()).filter_map(|i| self.call(i)).collect();
        let running = calls
            .iter()
            .filter(|c| c.status == CallStatus::Running)
            .map(|c| c.id.clone())
            .collect();
        let (mut done, mut total) = (0.0, 0.0);
        for (call, state) in calls.iter().zip(&self.calls) {
            // At least 1 ms of weight, so that calls estimated at 0 still count.
            let weight = call.estimate_ms.max(1) as f64;
            total += weight;
            done += weight * self.call_fraction(state, call.estimate_ms, now);
        }
        BatchSnapshot {
            seq: self.seq,
            elapsed_ms: now,
            counts: self.counts,
            running,
            fraction: if total > 0.0 { done / total } else { 1.0 },
            eta_ms: self.eta(now).remaining_ms,
            finished: self.is_finished(),
            tools: batch_tool_stats(&calls),
            calls,
        }
    }

    /// How far one call is, for the batch's fraction.
    fn call_fraction(&self, state: &CallState, estimate_ms: u64, now: u64) -> f64 {
        match state.status {
            s if s.is_terminal() => 1.0,
            CallStatus::Running if state.reported => state.fraction,
            CallStatus::Running => {
                let elapsed = now.saturating_sub(state.started_ms.unwrap_or(now));
                (elapsed as f64 / estimate_ms.max(1) as f64).min(0.9)
            }
            _ => 0.0,
        }
    }

    /// Statistics of this batch by tool, in order of first appearance in the plan.
    pub fn tool_stats(&self) -> Vec<ToolStats> {
        let calls: Vec<CallSnapshot> = (0..self.calls.len()).filter_map(|i| self.call(i)).collect();
        batch_tool_stats(&calls)
    }
}

/// Statistics by tool of the calls of one batch.
fn batch_tool_stats(calls: &[CallSnapshot]) -> Vec<ToolStats> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(Arc<str>, Vec<u64>, u32)> = Vec::new();
    for call in calls {
        let k = *index.entry(&call.tool).or_insert_with(|| {
            groups.push((call.tool.clone(), Vec::new(), 0));
            groups.len() - 1
        });
        match call.status {
            CallStatus::Completed => {
                if let Some(d) = call.duration_ms(0) {
                    groups[k].1.push(d);
                }
            }
            CallStatus::Failed | CallStatus::TimedOut => groups[k].2 += 1,
            _ => {}
        }
    }
    groups
        .into_iter()
        .map(|(tool, mut durations, failed)| {
            ToolStats::from_durations(tool, &mut durations, failed)
        })
        .collect()
}

#[cfg(test)]
mod tests;
