//! What a run measured: wall time, work, the measured critical path, concurrency.
//!
//! Definitions (also in `docs/results.md`):
//! - **wall**: the latest `ended_at_ms` (times count from the batch's start).
//! - **sequential** (the work `W`): the sum of the calls' `duration_ms`, what running them one
//!   after another would have cost. A call's duration runs from its first attempt's start to
//!   its end, so retries and the backoff between them count.
//! - **measured critical path**: start from the call that ended last; step to the dependency
//!   (in the plan's DAG) that ended last, the one the call was waiting for; repeat until a call
//!   with no dependencies. Its length is the sum of those calls' durations: the running time
//!   no schedule could have overlapped on this run's chain.
//! - **span** `S`: the longest path through the DAG by measured durations (Amdahl's serial
//!   part); at least the measured critical path's length.
//! - **concurrency**: calls running at once, a call running over `[started, ended)`. A call that
//!   started and ended in the same millisecond counts as running at that instant.

use volley_executor::Outcome;

use crate::batch::Batch;

/// The measurements of one batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Measure {
    pub(crate) wall_ms: u64,
    pub(crate) sequential_ms: u64,
    /// Rows on the measured critical path, first to last.
    pub(crate) critical_path: Vec<usize>,
    pub(crate) critical_path_ms: u64,
    /// The longest path through the DAG by measured durations.
    pub(crate) span_ms: u64,
    pub(crate) peak_concurrency: usize,
}

impl Measure {
    pub(crate) fn of(batch: &Batch<'_>) -> Measure {
        let mut wall_ms = 0;
        let mut sequential_ms: u64 = 0;
        let mut last: Option<(u64, usize)> = None;
        for (row, outcome) in batch.iter().enumerate() {
            wall_ms = wall_ms.max(outcome.ended_at_ms);
            sequential_ms = sequential_ms.saturating_add(outcome.duration_ms);
            if last.is_none_or(|(end, _)| outcome.ended_at_ms > end) {
                last = Some((outcome.ended_at_ms, row));
            }
        }
        let critical_path = match last {
            Some((_, row)) => walk_back(batch, row),
            None => Vec::new(),
        };
        let critical_path_ms = critical_path
            .iter()
            .map(|&row| batch.outcome(row).duration_ms)
            .fold(0u64, u64::saturating_add);
        Measure {
            wall_ms,
            sequential_ms,
            critical_path,
            critical_path_ms,
            span_ms: span(batch),
            peak_concurrency: peak(batch.iter()),
        }
    }
}

/// From `row`, through the dependency that ended last, back to a call with none.
fn walk_back(batch: &Batch<'_>, mut row: usize) -> Vec<usize> {
    let mut path = vec![row];
    let Some(dag) = batch.dag() else {
        return path;
    };
    // A DAG has no cycle, so this ends; the bound only guards against a foreign one.
    while path.len() <= batch.len() && row < batch.plan_len() {
        let mut blocking: Option<(u64, usize)> = None;
        for (dep, _) in dag.dependencies(row) {
            let end = batch.outcome(dep).ended_at_ms;
            if blocking.is_none_or(|(latest, _)| end > latest) {
                blocking = Some((end, dep));
            }
        }
        match blocking {
            Some((_, dep)) => {
                path.push(dep);
                row = dep;
            }
            None => break,
        }
    }
    path.reverse();
    path
}

/// The longest path through the DAG by measured durations.
fn span(batch: &Batch<'_>) -> u64 {
    let n = batch.plan_len();
    let mut longest = 0;
    if let Some(dag) = batch.dag() {
        let mut ending = vec![0u64; n];
        for &call in dag.topological_order() {
            let call = call as usize;
            let before = dag
                .dependencies(call)
                .map(|(dep, _)| ending[dep])
                .max()
                .unwrap_or(0);
            ending[call] = before.saturating_add(batch.outcome(call).duration_ms);
            longest = longest.max(ending[call]);
        }
    } else {
        longest = (0..n)
            .map(|row| batch.outcome(row).duration_ms)
            .max()
            .unwrap_or(0);
    }
    // Calls added while the batch ran are not in the DAG: each is a chain of its own.
    (n..batch.len())
        .map(|row| batch.outcome(row).duration_ms)
        .fold(longest, u64::max)
}

/// The interval a call ran over, in half-milliseconds: `[2 start, 2 end)`, or
/// `[2 start, 2 start + 1)` for a call that started and ended in the same millisecond (so it
/// overlaps what runs at that instant but not what ends there).
pub(crate) fn running(outcome: &Outcome) -> Option<(u64, u64)> {
    // Clamped so that doubling cannot overflow (2^61 ms is 73 million years).
    const MAX: u64 = 1 << 61;
    let start = outcome.started_at_ms?.min(MAX);
    let end = outcome.ended_at_ms.min(MAX);
    Some(if end > start {
        (2 * start, 2 * end)
    } else {
        (2 * start, 2 * start + 1)
    })
}

/// The most calls running at once.
pub(crate) fn peak<'o>(outcomes: impl Iterator<Item = &'o Outcome>) -> usize {
    // One sorted key per event: time, then ends (0) before starts (1) at the same time.
    let mut events: Vec<u64> = Vec::new();
    for (start, end) in outcomes.filter_map(running) {
        events.push(start << 1 | 1);
        events.push(end << 1);
    }
    events.sort_unstable();
    let (mut now, mut peak) = (0usize, 0usize);
    for event in events {
        if event & 1 == 1 {
            now += 1;
            peak = peak.max(now);
        } else {
            now = now.saturating_sub(1);
        }
    }
    peak
}

#[cfg(test)]
mod tests;
