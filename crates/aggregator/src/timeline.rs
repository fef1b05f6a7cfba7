//! The timeline: the data of a Gantt chart of the run.
//!
//! Each call that started gets a lane: calls that ran at the same time never share one, and
//! the run uses exactly as many lanes as its peak concurrency (lanes are given in order of
//! start, each call taking the lowest free lane). A lane is free again the millisecond its call
//! ends. Calls that never started (skipped, or cancelled while waiting) have no lane: draw them
//! apart, at the time they got their outcome.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use serde::Serialize;
use volley_executor::Status;

use crate::batch::Batch;
use crate::measure::running;

/// Everything a Gantt chart of the run needs, serializable as JSON for the CLI's HTML page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// From the batch's start to its last outcome.
    pub wall_ms: u64,
    /// How many lanes the calls use (the peak concurrency).
    pub lanes: usize,
    /// How many waves the plan has.
    pub waves: usize,
    /// The measured critical path's ids, first to last.
    pub critical_path: Vec<Arc<str>>,
    /// One bar per call, in plan order (then calls added while the batch ran).
    pub calls: Vec<Bar>,
}

/// One call on the chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    /// The call's id.
    pub id: Arc<str>,
    /// Its tool.
    pub tool: Arc<str>,
    /// How it ended.
    pub status: Status,
    /// Its lane, from 0; `null` if it never started.
    pub lane: Option<usize>,
    /// Its 1-based wave in the plan's DAG; `null` for a call added while the batch ran.
    pub wave: Option<usize>,
    /// When its dependencies were done and it entered the ready queue; `null` if it never did.
    pub queued_ms: Option<u64>,
    /// When its first attempt started; `null` if it never started.
    pub start_ms: Option<u64>,
    /// When it got its outcome.
    pub end_ms: u64,
    /// Attempts started.
    pub attempts: u32,
    /// Whether it lies on the measured critical path.
    pub critical: bool,
}

impl Timeline {
    pub(crate) fn of(batch: &Batch<'_>) -> Timeline {
        let measure = batch.measure();
        let dag = batch.dag();
        let (lanes, count) = assign_lanes(batch);
        let mut critical = vec![false; batch.len()];
        for &row in &measure.critical_path {
            critical[row] = true;
        }
        let calls = (0..batch.len())
            .map(|row| {
                let outcome = batch.outcome(row);
                Bar {
                    id: Arc::clone(&outcome.id),
                    tool: Arc::clone(&outcome.tool),
                    status: outcome.status,
                    lane: lanes[row],
                    wave: match dag {
                        Some(dag) if row < dag.len() => Some(dag.wave_of(row)),
                        _ => None,
                    },
                    queued_ms: outcome.queued_at_ms,
                    start_ms: outcome.started_at_ms,
                    end_ms: outcome.ended_at_ms,
                    attempts: outcome.attempts,
                    critical: critical[row],
                }
            })
            .collect();
        Timeline {
            wall_ms: measure.wall_ms,
            lanes: count,
            waves: dag.map_or(0, |d| d.waves().len()),
            critical_path: measure
                .critical_path
                .iter()
                .map(|&row| Arc::clone(&batch.outcome(row).id))
                .collect(),
            calls,
        }
    }

    /// The timeline as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Each started call's lane, and how many lanes: interval partitioning, by start.
fn assign_lanes(batch: &Batch<'_>) -> (Vec<Option<usize>>, usize) {
    let mut lanes = vec![None; batch.len()];
    let mut starts: Vec<(u64, u64, usize)> = batch
        .iter()
        .enumerate()
        .filter_map(|(row, o)| running(o).map(|(start, end)| (start, end, row)))
        .collect();
    starts.sort_unstable();
    let mut busy: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut free: BinaryHeap<Reverse<usize>> = BinaryHeap::new();
    let mut count = 0;
    for (start, end, row) in starts {
        while let Some(&Reverse((until, lane))) = busy.peek() {
            if until > start {
                break;
            }
            busy.pop();
            free.push(Reverse(lane));
        }
        let lane = match free.pop() {
            Some(Reverse(lane)) => lane,
            None => {
                count += 1;
                count - 1
            }
        };
        lanes[row] = Some(lane);
        busy.push(Reverse((end, lane)));
    }
    (lanes, count)
}
