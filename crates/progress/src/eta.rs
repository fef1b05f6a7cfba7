//! The batch ETA: the remaining critical path given what runs, for how long, and what waits.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::snapshot::CallStatus;
use crate::tracker::{CallState, Tracker};

/// The least time a running call is still given, in ms: it has not finished, so it needs some.
const FLOOR_MS: u64 = 10;

/// When the batch is expected to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eta {
    /// Milliseconds from `now` until the last call ends.
    pub remaining_ms: u64,
    /// The same, as milliseconds since the batch started.
    pub finish_at_ms: u64,
    /// The unfinished calls on the longest remaining chain, in order: what the batch waits for.
    pub path: Vec<Arc<str>>,
}

impl Tracker {
    /// The batch's ETA at `now_ms`.
    ///
    /// Each unfinished call is given an expected finish time, dependencies first:
    /// - a running call: now + what remains of its estimate, `max(estimate − elapsed,
    ///   elapsed / 10, 10 ms)` (a call past its estimate is not done, and the longer it overruns
    ///   the longer it is likely to take); when the tool reported a fraction `f`, that is blended
    ///   with the rate it shows, `elapsed · (1 − f) / f`, trusted in proportion to `f`;
    /// - a call between attempts: the rest of its delay + its estimate;
    /// - a waiting or queued call: the latest finish of its dependencies (or now) + its estimate,
    ///   or + 0 when a dependency it needs already failed and it will be skipped.
    ///
    /// The ETA is the latest finish. When the plan sets `max_concurrency`, it is at least the
    /// remaining work divided by that many slots. Estimates are the tracker's: learned from
    /// earlier runs and from the calls of this batch that completed.
    pub fn eta(&self, now_ms: u64) -> Eta {
        let now = now_ms.max(self.last_at_ms());
        let n = self.calls.len();
        let mut finish = vec![now; n];
        // Whether a call ends (or will end) without success, which skips dependents that need it.
        let mut doomed = vec![false; n];
        let mut pred = vec![u32::MAX; n];
        let mut open = vec![false; n];
        let mut work: u64 = 0;
        for &u in self.roster.order() {
            let u = u as usize;
            let (Some(state), Some(info)) = (self.calls.get(u), self.roster.call(u)) else {
                continue;
            };
            if state.status.is_terminal() {
                finish[u] = state.ended_ms.unwrap_or(now).min(now);
                doomed[u] = state.status.is_unsuccessful();
                continue;
            }
            open[u] = true;
            let estimate = self.estimate_ms(u);
            let (finish_u, own) = match state.status {
                CallStatus::Running => {
                    let remaining = running_remaining(state, estimate, now);
                    (now.saturating_add(remaining), remaining)
                }
                CallStatus::Retrying => {
                    let remaining = state
                        .retry_at_ms
                        .saturating_sub(now)
                        .saturating_add(estimate);
                    (now.saturating_add(remaining), remaining)
                }
                _ => {
                    let mut start = now;
                    let mut skipped = false;
                    for &(d, needs_success) in self.roster.dependencies(u) {
                        let d = d as usize;
                        if finish[d] > start {
                            start = finish[d];
                            pred[u] = d as u32;
                        }
                        skipped |= needs_success && doomed[d] && info.skips_on_failure;
                    }
                    if skipped {
                        doomed[u] = true;
                        (start, 0)
                    } else {
                        (start.saturating_add(estimate), estimate)
                    }
                }
            };
            finish[u] = finish_u;
            work = work.saturating_add(own);
        }
        // The last open call to finish (earliest in the plan on ties) ends the path.
        let mut end: Option<usize> = None;
        for u in 0..n {
            if open[u] && end.is_none_or(|e| finish[u] > finish[e]) {
                end = Some(u);
            }
        }
        let mut finish_at = end.map_or(now, |e| finish[e]);
        if let Some(slots) = self.roster.max_concurrency().filter(|&s| s > 0) {
            finish_at = finish_at.max(now.saturating_add(work.div_ceil(slots as u64)));
        }
        let mut path = Vec::new();
        let mut at = end;
        while let Some(u) = at {
            if !open[u] {
                break;
            }
            if let Some(id) = self.roster.id(u) {
                path.push(id.clone());
            }
            at = (pred[u] != u32::MAX).then_some(pred[u] as usize);
        }
        path.reverse();
        Eta {
            remaining_ms: finish_at - now,
            finish_at_ms: finish_at,
            path,
        }
    }
}

/// What remains of a running call, in ms.
fn running_remaining(state: &CallState, estimate: u64, now: u64) -> u64 {
    let elapsed = now.saturating_sub(state.started_ms.unwrap_or(now));
    let by_estimate = estimate
        .saturating_sub(elapsed)
        .max(elapsed / 10)
        .max(FLOOR_MS) as f64;
    let f = state.fraction;
    let remaining = if state.reported && f > 0.0 && f < 1.0 {
        let attempt_elapsed = now.saturating_sub(state.attempt_started_ms) as f64;
        let by_rate = attempt_elapsed * (1.0 - f) / f;
        f * by_rate + (1.0 - f) * by_estimate
    } else {
        by_estimate
    };
    (remaining.round() as u64).max(FLOOR_MS)
}
