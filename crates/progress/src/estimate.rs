//! Per-tool duration estimates learned online.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::snapshot::{BatchSnapshot, CallStatus};
use crate::stats::ToolStats;

/// How many recent durations a tool keeps for its percentiles.
const RECENT: usize = 1_024;

/// What is known of one tool.
#[derive(Debug, Clone, Default)]
struct ToolModel {
    /// The tool's own hint (or the first estimate a plan gave), the prior before any run.
    seed: Option<u64>,
    /// The smoothed duration, once observed.
    value: f64,
    /// The smoothed squared deviation from it.
    variance: f64,
    /// Successful runs observed.
    observations: u64,
    /// Failed or timed-out runs observed.
    failures: u64,
    /// The latest durations, oldest first.
    recent: VecDeque<u64>,
}

/// Per-tool duration estimates, learned online from observed runs.
///
/// A tool starts from a seed (its own hint, or the first `estimated_ms` a plan gave for it).
/// Each successful run moves the estimate toward what was observed: the first runs are
/// averaged with the seed (weight `1/(n+2)` for the n-th run after a seed), then an
/// exponentially weighted moving average takes over (weight `smoothing`, 0.2 by default), so
/// the estimate follows a tool that gets slower without jumping on one outlier.
///
/// One estimator can serve many batches: the executor keeps it, hands a copy to each batch's
/// [`Bus`](crate::Bus) (which refines it as calls finish, so later calls of a tool benefit),
/// and feeds each finished batch back with [`Estimator::observe_snapshot`].
///
/// ```
/// use volley_progress::Estimator;
///
/// let mut estimator = Estimator::new();
/// estimator.seed("get_weather", 400);
/// assert_eq!(estimator.estimate("get_weather"), Some(400));
/// estimator.observe("get_weather", 600);
/// assert_eq!(estimator.estimate("get_weather"), Some(500)); // the seed and one run, averaged
/// ```
#[derive(Debug, Clone)]
pub struct Estimator {
    tools: HashMap<Arc<str>, ToolModel>,
    smoothing: f64,
}

impl Default for Estimator {
    fn default() -> Self {
        Estimator::new()
    }
}

impl Estimator {
    /// An estimator that knows nothing yet.
    pub fn new() -> Estimator {
        Estimator {
            tools: HashMap::new(),
            smoothing: 0.2,
        }
    }

    /// The weight of the latest run once a tool has a few (0 < weight ≤ 1; other values are
    /// clamped). Higher follows changes faster; lower resists outliers.
    ///
    /// By default, this is 0.2.
    pub fn smoothing(&mut self, weight: f64) -> &mut Estimator {
        self.smoothing = if weight.is_nan() {
            0.2
        } else {
            weight.clamp(0.01, 1.0)
        };
        self
    }

    /// Sets a tool's prior estimate (its own hint). Once a tool has observed runs, the
    /// observations rule and a seed changes nothing.
    pub fn seed(&mut self, tool: &str, ms: u64) -> &mut Estimator {
        let model = self.model(tool);
        if model.observations == 0 {
            model.seed = Some(ms);
        }
        self
    }

    /// Seeds a tool that has neither seed nor observations.
    pub(crate) fn seed_if_unknown(&mut self, tool: &str, ms: u64) {
        let model = self.model(tool);
        if model.observations == 0 && model.seed.is_none() {
            model.seed = Some(ms);
        }
    }

    /// Records a successful run of `tool` that took `duration_ms`.
    pub fn observe(&mut self, tool: &str, duration_ms: u64) {
        let smoothing = self.smoothing;
        let model = self.model(tool);
        let prior = u64::from(model.seed.is_some());
        if model.observations == 0 {
            model.value = model.seed.unwrap_or(duration_ms) as f64;
        }
        let weight = (1.0 / (model.observations + 1 + prior) as f64).max(smoothing);
        let deviation = duration_ms as f64 - model.value;
        model.value += deviation * weight;
        // The exponentially weighted variance that goes with the weighted mean.
        model.variance = (1.0 - weight) * (model.variance + weight * deviation * deviation);
        model.observations += 1;
        if model.recent.len() == RECENT {
            model.recent.pop_front();
        }
        model.recent.push_back(duration_ms);
    }

    /// Records a failed or timed-out run of `tool` (for its failure rate; its duration says
    /// little about a successful run's, so the estimate does not move).
    pub fn observe_failure(&mut self, tool: &str) {
        self.model(tool).failures += 1;
    }

    /// Learns from every call of a batch that is over: durations of completed calls, and
    /// failures of failed or timed-out ones.
    pub fn observe_snapshot(&mut self, snapshot: &BatchSnapshot) {
        for call in &snapshot.calls {
            match call.status {
                CallStatus::Completed => {
                    if let (Some(start), Some(end)) = (call.started_ms, call.ended_ms) {
                        self.observe(&call.tool, end.saturating_sub(start));
                    }
                }
                CallStatus::Failed | CallStatus::TimedOut => self.observe_failure(&call.tool),
                _ => {}
            }
        }
    }

    /// The tool's estimate: learned when it has observed runs, else its seed.
    pub fn estimate(&self, tool: &str) -> Option<u64> {
        let model = self.tools.get(tool)?;
        if model.observations > 0 {
            Some(model.value.round() as u64)
        } else {
            model.seed
        }
    }

    /// The estimate of one call of `tool`: learned when the tool has observed runs, else the
    /// call's own `estimated_ms`, else the tool's seed, else `planned_ms` (the planner's).
    pub fn estimate_call(&self, tool: &str, estimated_ms: Option<u64>, planned_ms: u64) -> u64 {
        match self.tools.get(tool) {
            Some(model) if model.observations > 0 => model.value.round() as u64,
            Some(model) => estimated_ms.or(model.seed).unwrap_or(planned_ms),
            None => estimated_ms.unwrap_or(planned_ms),
        }
    }

    /// How much the tool's durations spread around its estimate (a smoothed standard
    /// deviation, in ms), once it has two observed runs; the ETA uses it for calls that run in
    /// parallel, whose slowest usually takes longer than the estimate.
    pub fn spread(&self, tool: &str) -> Option<f64> {
        let model = self.tools.get(tool)?;
        (model.observations >= 2).then(|| model.variance.sqrt())
    }

    /// Successful runs observed for `tool`.
    pub fn observations(&self, tool: &str) -> u64 {
        self.tools.get(tool).map_or(0, |m| m.observations)
    }

    /// Statistics of every run observed for `tool` (percentiles over the latest 1,024
    /// successful runs), or `None` when it has none.
    pub fn stats(&self, tool: &str) -> Option<ToolStats> {
        let (name, model) = self.tools.get_key_value(tool)?;
        if model.observations == 0 && model.failures == 0 {
            return None;
        }
        let mut recent: Vec<u64> = model.recent.iter().copied().collect();
        let mut stats = ToolStats::from_durations(name.clone(), &mut recent, 0);
        // Counts over every run, not only the recent window.
        stats.completed = model.observations.min(u64::from(u32::MAX)) as u32;
        stats.failed = model.failures.min(u64::from(u32::MAX)) as u32;
        stats.count = stats.completed.saturating_add(stats.failed);
        stats.failure_rate = if stats.count == 0 {
            0.0
        } else {
            f64::from(stats.failed) / f64::from(stats.count)
        };
        Some(stats)
    }

    /// Every tool with an estimate and that estimate, sorted by name: what to hand the planner
    /// (`Planner::tool_estimate`) so the next plan's critical path uses what was learned.
    pub fn estimates(&self) -> Vec<(Arc<str>, u64)> {
        let mut all: Vec<(Arc<str>, u64)> = self
            .tools
            .keys()
            .filter_map(|tool| Some((tool.clone(), self.estimate(tool)?)))
            .collect();
        all.sort();
        all
    }

    fn model(&mut self, tool: &str) -> &mut ToolModel {
        // Called once per finished call, not per event: the allocation of the key is fine.
        self.tools.entry(Arc::from(tool)).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_from_a_seed_then_follows_with_smoothing() {
        // (seed, observations, estimate after each)
        for (seed, runs, expected) in [
            (None, &[100u64][..], &[100u64][..]),
            (None, &[100, 200], &[100, 150]),
            (Some(400), &[600], &[500]),
            (Some(400), &[600, 600, 600], &[500, 533, 550]),
            // After four runs the weight stays at 0.2: 100 -> 100 + (1100 - 100) * 0.2.
            (
                None,
                &[100, 100, 100, 100, 100, 1_100],
                &[100, 100, 100, 100, 100, 300],
            ),
        ] {
            let mut estimator = Estimator::new();
            if let Some(seed) = seed {
                estimator.seed("t", seed);
            }
            let got: Vec<u64> = runs
                .iter()
                .map(|&d| {
                    estimator.observe("t", d);
                    estimator.estimate("t").unwrap()
                })
                .collect();
            assert_eq!(got, expected, "seed {seed:?}, runs {runs:?}");
        }
    }

    #[test]
    fn call_estimates_prefer_learned_then_the_call_then_the_seed_then_the_plan() {
        let mut estimator = Estimator::new();
        assert_eq!(estimator.estimate_call("t", Some(300), 1_000), 300);
        assert_eq!(estimator.estimate_call("t", None, 1_000), 1_000);
        estimator.seed("t", 700);
        assert_eq!(estimator.estimate_call("t", Some(300), 1_000), 300);
        assert_eq!(estimator.estimate_call("t", None, 1_000), 700);
        estimator.observe("t", 900);
        assert_eq!(estimator.estimate_call("t", Some(300), 1_000), 800);
        estimator.seed("t", 5); // ignored once learned
        assert_eq!(estimator.estimate("t"), Some(800));
    }

    #[test]
    fn spread_follows_the_deviation_of_runs() {
        let mut estimator = Estimator::new();
        estimator.observe("steady", 100);
        assert_eq!(
            estimator.spread("steady"),
            None,
            "one run says nothing of the spread"
        );
        for _ in 0..20 {
            estimator.observe("steady", 100);
        }
        assert_eq!(estimator.spread("steady"), Some(0.0));
        for d in [80, 120].repeat(20) {
            estimator.observe("noisy", d);
        }
        let spread = estimator.spread("noisy").unwrap();
        assert!((15.0..25.0).contains(&spread), "{spread}");
    }

    #[test]
    fn stats_count_every_run_and_failures() {
        let mut estimator = Estimator::new();
        assert_eq!(estimator.stats("t"), None);
        for d in [100, 200, 300] {
            estimator.observe("t", d);
        }
        estimator.observe_failure("t");
        let stats = estimator.stats("t").unwrap();
        assert_eq!((stats.count, stats.completed, stats.failed), (4, 3, 1));
        assert_eq!((stats.mean_ms, stats.p50_ms), (Some(200), Some(200)));
        assert_eq!(stats.failure_rate, 0.25);
        assert_eq!(estimator.estimates(), vec![(Arc::from("t"), 200)]);
    }
}
