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
    ///   with the end the rate it showed predicts (`elapsed at the report / f` after the
    ///   attempt started), trusted in proportion to `f`;
    /// - a call between attempts: the rest of its delay + its estimate;
    /// - a waiting or queued call: the latest finish of its dependencies (or now) + its estimate,
    ///   or + 0 when a dependency it needs already failed and it will be skipped.
    ///
    /// The ETA is the latest finish. Estimates are the tracker's: learned from earlier runs and
    /// from the calls of this batch that completed. Where tools have a known spread
    /// ([`Estimator::spread`](crate::Estimator::spread)), finish times carry a variance and
    /// "the latest of several" is the expected maximum (Clark's approximation), not the maximum
    /// of the expectations: three parallel calls of 1 ± 0.2 s end after about 1.17 s, not 1 s.
    /// When the plan sets `max_concurrency`, the ETA is at least the remaining work divided by
    /// that many slots.
    pub fn eta(&self, now_ms: u64) -> Eta {
        let now = now_ms.max(self.last_at_ms());
        let now_f = now as f64;
        let n = self.calls.len();
        // Expected finish time and its variance.
        let mut finish: Vec<(f64, f64)> = vec![(now_f, 0.0); n];
        // Whether a call ends (or will end) without success, which skips dependents that need it.
        let mut doomed = vec![false; n];
        let mut pred = vec![u32::MAX; n];
        let mut open = vec![false; n];
        let mut work = 0.0;
        for &u in self.roster.order() {
            let u = u as usize;
            let (Some(state), Some(info)) = (self.calls.get(u), self.roster.call(u)) else {
                continue;
            };
            if state.status.is_terminal() {
                finish[u] = (state.ended_ms.unwrap_or(now).min(now) as f64, 0.0);
                doomed[u] = state.status.is_unsuccessful();
                continue;
            }
            open[u] = true;
            let estimate = self.estimate_ms(u);
            let spread = self.spread_ms(u);
            let variance = spread * spread;
            let (finish_u, own) = match state.status {
                CallStatus::Running => {
                    // Its end is as uncertain as it was at its start: the spread lies at the end.
                    let remaining = running_remaining(state, estimate, now);
                    ((now_f + remaining, variance), remaining)
                }
                CallStatus::Retrying => {
                    let remaining = state
                        .retry_at_ms
                        .saturating_sub(now)
                        .saturating_add(estimate);
                    ((now_f + remaining as f64, variance), remaining as f64)
                }
                _ => {
                    let mut start = (now_f, 0.0);
                    let mut latest = now_f;
                    let mut skipped = false;
                    for &(d, needs_success) in self.roster.dependencies(u) {
                        let d = d as usize;
                        if open[d] {
                            start = expected_max(start, finish[d]);
                            if finish[d].0 > latest {
                                latest = finish[d].0;
                                pred[u] = d as u32;
                            }
                        }
                        skipped |= needs_success && doomed[d] && info.skips_on_failure;
                    }
                    if skipped {
                        doomed[u] = true;
                        (start, 0.0)
                    } else {
                        (
                            (start.0 + estimate as f64, start.1 + variance),
                            estimate as f64,
                        )
                    }
                }
            };
            finish[u] = finish_u;
            work += own;
        }
        // The batch ends with the last of its open sinks (open calls no open call waits for).
        let mut waited_for = vec![false; n];
        for u in 0..n {
            if open[u] && pred[u] != u32::MAX {
                waited_for[pred[u] as usize] = true;
            }
            if open[u] {
                for &(d, _) in self.roster.dependencies(u) {
                    waited_for[d as usize] = true;
                }
            }
        }
        let mut end: Option<usize> = None;
        let mut last = (now_f, 0.0);
        for u in 0..n {
            if open[u] && !waited_for[u] {
                last = expected_max(last, finish[u]);
                if end.is_none_or(|e| finish[u].0 > finish[e].0) {
                    end = Some(u);
                }
            }
        }
        let mut finish_at = last.0.round().max(now_f) as u64;
        if let Some(slots) = self.roster.max_concurrency().filter(|&s| s > 0) {
            finish_at = finish_at.max(now + (work / slots as f64).ceil() as u64);
        }
        let mut path = Vec::new();
        let mut at = end;
        while let Some(u) = at {
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
fn running_remaining(state: &CallState, estimate: u64, now: u64) -> f64 {
    let elapsed = now.saturating_sub(state.started_ms.unwrap_or(now));
    let by_estimate = estimate
        .saturating_sub(elapsed)
        .max(elapsed / 10)
        .max(FLOOR_MS) as f64;
    let f = state.fraction;
    let remaining = if state.reported && f > 0.0 && f < 1.0 {
        // At the rate it showed when it reported, the attempt ends at start + elapsed / f.
        let before_report = state
            .reported_at_ms
            .saturating_sub(state.attempt_started_ms);
        let end = state.attempt_started_ms as f64 + before_report as f64 / f;
        let by_rate = (end - now as f64).max(FLOOR_MS as f64);
        f * by_rate + (1.0 - f) * by_estimate
    } else {
        by_estimate
    };
    remaining.max(FLOOR_MS as f64)
}

/// The mean and variance of the later of two independent normal times (Clark, 1961); the plain
/// maximum when neither varies.
fn expected_max((m1, v1): (f64, f64), (m2, v2): (f64, f64)) -> (f64, f64) {
    let theta2 = v1 + v2;
    if theta2 < 1e-6 {
        return if m1 >= m2 { (m1, v1) } else { (m2, v2) };
    }
    let theta = theta2.sqrt();
    let a = (m1 - m2) / theta;
    let (p, q, d) = (normal_cdf(a), normal_cdf(-a), normal_pdf(a));
    let mean = m1 * p + m2 * q + theta * d;
    let second = (m1 * m1 + v1) * p + (m2 * m2 + v2) * q + (m1 + m2) * theta * d;
    (mean, (second - mean * mean).max(0.0))
}

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal distribution function, from erf (Abramowitz and Stegun 7.1.26, error
/// below 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_maximum_of_two_times() {
        for (a, b, mean, sd) in [
            // No spread: the plain maximum.
            ((100.0, 0.0), (80.0, 0.0), 100.0, 0.0),
            ((80.0, 0.0), (100.0, 0.0), 100.0, 0.0),
            // Two equal N(0, 1): E[max] = 1/sqrt(pi) = 0.5642, sd = sqrt(1 - 1/pi) = 0.8256.
            ((0.0, 1.0), (0.0, 1.0), 0.5642, 0.8256),
            // Far apart: the later one.
            ((1_000.0, 100.0), (0.0, 100.0), 1_000.0, 10.0),
        ] {
            let (m, v) = expected_max(a, b);
            assert!((m - mean).abs() < 1e-3, "{a:?} {b:?}: mean {m}");
            assert!((v.sqrt() - sd).abs() < 1e-3, "{a:?} {b:?}: sd {}", v.sqrt());
        }
        for (x, cdf) in [
            (0.0, 0.5),
            (1.0, 0.841_344_7),
            (-1.96, 0.024_997_9),
            (5.0, 0.999_999_7),
        ] {
            assert!((normal_cdf(x) - cdf).abs() < 1e-6, "{x}");
        }
    }
}
