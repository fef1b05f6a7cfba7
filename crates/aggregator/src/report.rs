//! The run report: how long the batch took, how much parallelism bought, where time went.
//!
//! Definitions (see also [`measure`](crate::measure) and `docs/results.md`):
//! - `speedup = sequential_ms / wall_ms`;
//! - `efficiency = critical_path_ms / wall_ms`: 1 when the batch took no longer than its
//!   measured critical path, the chain of calls that waited for each other; less when calls of
//!   that chain waited for a slot, resources or a scheduler after their dependencies were done;
//! - a tool's `utilization = active_ms / wall_ms`, `active_ms` being the time at least one of
//!   its calls was running; `busy_ms` is the sum of its calls' durations;
//! - `retries` counts attempts after the first (`attempts - 1` per call). Durations run from
//!   the first attempt's start to the end, so retries and their backoff are in `sequential_ms`,
//!   in the critical path and in a tool's `busy_ms`;
//! - the Amdahl bound: with work `W` and span `S`, serial fraction `s = S / W` and concurrency
//!   `p`, `speedup_bound = 1 / (s + (1 - s) / p)`. Treating the span as the serial part, this
//!   is Amdahl's law; it is also the speedup a greedy scheduler is guaranteed on any DAG
//!   (Graham: `T_p <= (W - S) / p + S`). `ceiling = min(p, W / S)` is what no scheduler can
//!   beat. Computed from measured durations (`S` the longest path by them) and from the plan's
//!   estimates (`S` the planner's critical path).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;
use volley_executor::{Outcome, Status};

use crate::batch::Batch;
use crate::human::{human_ms, percent, ratio, round3, times};
use crate::result::Summary;

/// The ids of the critical path the text shows before `… and N more`.
const TEXT_PATH_IDS: usize = 8;

/// How a batch ran. `text()` for a terminal; serialize it for programs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// Calls in all.
    pub total: usize,
    /// Status `ok`.
    pub ok: usize,
    /// Status `error`.
    pub failed: usize,
    /// Status `timeout`.
    pub timed_out: usize,
    /// Status `cancelled`.
    pub cancelled: usize,
    /// Status `skipped`.
    pub skipped: usize,
    /// `ok / total`, to 3 decimals (1 for an empty batch).
    pub success_rate: f64,
    /// From the batch's start to its last outcome.
    pub wall_ms: u64,
    /// The sum of the calls' durations: running them one after another.
    pub sequential_ms: u64,
    /// `sequential_ms / wall_ms` (1 when nothing ran).
    pub speedup: f64,
    /// The measured critical path's call ids, first to last.
    pub critical_path: Vec<Arc<str>>,
    /// The sum of their durations.
    pub critical_path_ms: u64,
    /// `critical_path_ms / wall_ms` (1 when nothing ran).
    pub efficiency: f64,
    /// The most calls running at once.
    pub peak_concurrency: usize,
    /// Attempts after the first, over all calls.
    pub retries: u64,
    /// Calls that took more than one attempt.
    pub retried_calls: usize,
    /// Per tool, in plan order of first use.
    pub tools: Vec<ToolStats>,
    /// What the plan's shape allows.
    pub amdahl: Amdahl,
}

/// One tool's share of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolStats {
    /// The tool.
    pub tool: Arc<str>,
    /// Its calls.
    pub calls: usize,
    /// Those with status `ok`.
    pub ok: usize,
    /// Attempts after the first.
    pub retries: u64,
    /// The sum of its calls' durations.
    pub busy_ms: u64,
    /// How long at least one of its calls was running.
    pub active_ms: u64,
    /// Its longest call.
    pub max_ms: u64,
    /// `active_ms / wall_ms`, to 3 decimals.
    pub utilization: f64,
}

/// The Amdahl bound for the plan's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Amdahl {
    /// The concurrency `p` the bounds are for: the aggregator's setting, else the plan's
    /// `max_concurrency`, else the peak the run reached (at least 1).
    pub concurrency: usize,
    /// From measured durations.
    pub measured: Shape,
    /// From the plan's estimates (absent when the plan could not be planned).
    pub estimated: Option<Shape>,
}

/// Work, span and the speedups they allow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shape {
    /// `W`: the sum of the calls' durations.
    pub work_ms: u64,
    /// `S`: the longest dependency chain.
    pub span_ms: u64,
    /// `W / S`: the speedup with unlimited concurrency (1 when `S` is 0).
    pub parallelism: f64,
    /// `s = S / W` (1 when `W` is 0).
    pub serial_fraction: f64,
    /// `1 / (s + (1 - s) / p)`.
    pub speedup_bound: f64,
    /// `min(p, W / S)`.
    pub ceiling: f64,
}

impl Shape {
    /// The shape of work `W` and span `S` at concurrency `p`.
    pub fn new(work_ms: u64, span_ms: u64, p: usize) -> Shape {
        let (w, s, p) = (work_ms as f64, span_ms as f64, p.max(1) as f64);
        let parallelism = ratio(w, s, 1.0);
        let serial = if w > 0.0 { (s / w).min(1.0) } else { 1.0 };
        Shape {
            work_ms,
            span_ms,
            parallelism,
            serial_fraction: round3(serial),
            speedup_bound: round3(1.0 / (serial + (1.0 - serial) / p)),
            ceiling: round3(p.min(if s > 0.0 { w / s } else { 1.0 })),
        }
    }
}

impl RunReport {
    pub(crate) fn of(batch: &Batch<'_>, summary: &Summary) -> RunReport {
        let measure = batch.measure();
        let wall = measure.wall_ms as f64;
        let p = batch
            .config
            .concurrency
            .or(batch.plan.max_concurrency)
            .unwrap_or(measure.peak_concurrency)
            .max(1);
        let estimated = batch.dag().map(|dag| {
            let work = (0..dag.len())
                .map(|i| dag.estimate_ms(i))
                .fold(0u64, u64::saturating_add);
            Shape::new(work, dag.estimated_ms(), p)
        });
        let retries = batch
            .iter()
            .map(|o| u64::from(o.attempts.saturating_sub(1)))
            .sum();
        RunReport {
            total: summary.total,
            ok: summary.ok,
            failed: summary.failed,
            timed_out: summary.timed_out,
            cancelled: summary.cancelled,
            skipped: summary.skipped,
            success_rate: summary.success_rate(),
            wall_ms: measure.wall_ms,
            sequential_ms: measure.sequential_ms,
            speedup: summary.speedup,
            critical_path: measure
                .critical_path
                .iter()
                .map(|&row| Arc::clone(&batch.outcome(row).id))
                .collect(),
            critical_path_ms: measure.critical_path_ms,
            efficiency: ratio(measure.critical_path_ms as f64, wall, 1.0),
            peak_concurrency: measure.peak_concurrency,
            retries,
            retried_calls: batch.iter().filter(|o| o.attempts > 1).count(),
            tools: tool_stats(batch, measure.wall_ms),
            amdahl: Amdahl {
                concurrency: p,
                measured: Shape::new(measure.sequential_ms, measure.span_ms, p),
                estimated,
            },
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// The report for a terminal.
    ///
    /// ```text
    /// 4 calls in 1.2 s: 3 ok, 1 timed out (75% succeeded)
    /// sequential 3.1 s, speedup 2.6×
    /// critical path 1.1 s (efficiency 92%): find_contact → check_crm
    /// peak concurrency 3; 1 retry (1 call)
    /// Amdahl at p = 3: W 3.1 s, S 1.1 s, W/S 2.8, bound 2.1×, ceiling 2.8× (measured)
    ///                  W 3 s, S 1 s, W/S 3, bound 2.1×, ceiling 3× (estimated)
    /// tool            calls  ok  retries      busy    active  util   longest
    /// find_contact        1   1        0    200 ms    200 ms   17%    200 ms
    /// ```
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut statuses = vec![format!("{} ok", self.ok)];
        for (count, word) in [
            (self.failed, "failed"),
            (self.timed_out, "timed out"),
            (self.cancelled, "cancelled"),
            (self.skipped, "skipped"),
        ] {
            if count > 0 {
                statuses.push(format!("{count} {word}"));
            }
        }
        let _ = writeln!(
            out,
            "{} call{} in {}: {} ({} succeeded)",
            self.total,
            if self.total == 1 { "" } else { "s" },
            human_ms(self.wall_ms),
            statuses.join(", "),
            percent(self.success_rate)
        );
        let _ = writeln!(
            out,
            "sequential {}, speedup {}",
            human_ms(self.sequential_ms),
            times(self.speedup)
        );
        let mut path: Vec<&str> = self
            .critical_path
            .iter()
            .take(TEXT_PATH_IDS)
            .map(|id| &**id)
            .collect();
        let more = self.critical_path.len().saturating_sub(TEXT_PATH_IDS);
        let more_text = format!("… and {more} more");
        if more > 0 {
            path.push(&more_text);
        }
        let _ = writeln!(
            out,
            "critical path {} (efficiency {}): {}",
            human_ms(self.critical_path_ms),
            percent(self.efficiency),
            path.join(" → ")
        );
        let _ = writeln!(
            out,
            "peak concurrency {}; {} retr{} ({} call{})",
            self.peak_concurrency,
            self.retries,
            if self.retries == 1 { "y" } else { "ies" },
            self.retried_calls,
            if self.retried_calls == 1 { "" } else { "s" }
        );
        let lead = format!("Amdahl at p = {}: ", self.amdahl.concurrency);
        let shape = |s: &Shape, what: &str| {
            format!(
                "W {}, S {}, W/S {}, bound {}, ceiling {} ({what})",
                human_ms(s.work_ms),
                human_ms(s.span_ms),
                round1(s.parallelism),
                times(s.speedup_bound),
                times(s.ceiling)
            )
        };
        let _ = writeln!(out, "{lead}{}", shape(&self.amdahl.measured, "measured"));
        if let Some(estimated) = &self.amdahl.estimated {
            let pad = " ".repeat(lead.chars().count());
            let _ = writeln!(out, "{pad}{}", shape(estimated, "estimated"));
        }
        let width = self
            .tools
            .iter()
            .map(|t| t.tool.chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        let _ = writeln!(
            out,
            "{:<width$}  {:>5}  {:>4}  {:>7}  {:>8}  {:>8}  {:>4}  {:>8}",
            "tool", "calls", "ok", "retries", "busy", "active", "util", "longest"
        );
        for t in &self.tools {
            let _ = writeln!(
                out,
                "{:<width$}  {:>5}  {:>4}  {:>7}  {:>8}  {:>8}  {:>4}  {:>8}",
                t.tool,
                t.calls,
                t.ok,
                t.retries,
                human_ms(t.busy_ms),
                human_ms(t.active_ms),
                percent(t.utilization),
                human_ms(t.max_ms)
            );
        }
        out
    }
}

fn round1(x: f64) -> String {
    let rounded = (x * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// Per-tool figures, in plan order of each tool's first call.
fn tool_stats(batch: &Batch<'_>, wall_ms: u64) -> Vec<ToolStats> {
    let mut order: HashMap<&str, usize> = HashMap::new();
    let mut stats: Vec<(ToolStats, Vec<(u64, u64)>)> = Vec::new();
    for outcome in batch.iter() {
        let k = *order.entry(&outcome.tool).or_insert_with(|| {
            stats.push((
                ToolStats {
                    tool: Arc::clone(&outcome.tool),
                    calls: 0,
                    ok: 0,
                    retries: 0,
                    busy_ms: 0,
                    active_ms: 0,
                    max_ms: 0,
                    utilization: 0.0,
                },
                Vec::new(),
            ));
            stats.len() - 1
        });
        let (tool, spans) = &mut stats[k];
        add(tool, spans, outcome);
    }
    stats
        .into_iter()
        .map(|(mut tool, mut spans)| {
            tool.active_ms = union_ms(&mut spans);
            tool.utilization = ratio(tool.active_ms as f64, wall_ms as f64, 0.0);
            tool
        })
        .collect()
}

fn add(tool: &mut ToolStats, spans: &mut Vec<(u64, u64)>, outcome: &Outcome) {
    tool.calls += 1;
    tool.ok += usize::from(outcome.status == Status::Ok);
    tool.retries += u64::from(outcome.attempts.saturating_sub(1));
    tool.busy_ms = tool.busy_ms.saturating_add(outcome.duration_ms);
    tool.max_ms = tool.max_ms.max(outcome.duration_ms);
    if let Some(start) = outcome.started_at_ms
        && outcome.ended_at_ms > start
    {
        spans.push((start, outcome.ended_at_ms));
    }
}

/// The length of the union of `[start, end)` intervals.
fn union_ms(spans: &mut [(u64, u64)]) -> u64 {
    spans.sort_unstable();
    let mut total = 0u64;
    let mut current: Option<(u64, u64)> = None;
    for &(start, end) in spans.iter() {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    total + current.map_or(0, |(s, e)| e - s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_intervals() {
        for (mut spans, total) in [
            (vec![], 0),
            (vec![(0, 10)], 10),
            (vec![(0, 10), (5, 15)], 15),
            (vec![(20, 30), (0, 10)], 20),
            (vec![(0, 10), (10, 20)], 20),
            (vec![(0, 100), (10, 20), (30, 40)], 100),
        ] {
            assert_eq!(union_ms(&mut spans), total, "{spans:?}");
        }
    }

    #[test]
    fn shapes_bound_the_speedup() {
        // W = 3000, S = 1000: s = 1/3; p = 3 -> 1 / (1/3 + 2/9) = 1.8; ceiling min(3, 3) = 3.
        for (w, s, p, parallelism, serial, bound, ceiling) in [
            (3_000, 1_000, 3, 3.0, 0.333, 1.8, 3.0),
            (3_000, 1_000, 1, 3.0, 0.333, 1.0, 1.0),
            (3_000, 3_000, 8, 1.0, 1.0, 1.0, 1.0),
            (4_000, 1_000, 1_000, 4.0, 0.25, 3.988, 4.0),
            (0, 0, 4, 1.0, 1.0, 1.0, 1.0),
        ] {
            let shape = Shape::new(w, s, p);
            assert_eq!(
                (
                    shape.parallelism,
                    shape.serial_fraction,
                    shape.speedup_bound,
                    shape.ceiling
                ),
                (parallelism, serial, bound, ceiling),
                "W {w}, S {s}, p {p}"
            );
        }
    }
}
