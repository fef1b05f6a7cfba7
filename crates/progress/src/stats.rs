//! Statistics by tool: how often it ran, how long it took, how often it failed.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What one tool's calls did.
///
/// Durations are those of successful calls (first start to end, retries included); failures
/// are `failed` and `timed_out` calls (cancelled and skipped calls count for neither).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolStats {
    /// The tool.
    pub tool: Arc<str>,
    /// Calls that ended after starting: `completed + failed`.
    pub count: u32,
    /// Calls that succeeded.
    pub completed: u32,
    /// Calls that failed or timed out.
    pub failed: u32,
    /// Mean duration of the successful calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ms: Option<u64>,
    /// Median duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<u64>,
    /// 90th percentile duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_ms: Option<u64>,
    /// 99th percentile duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<u64>,
    /// `failed / count`, 0 when nothing ended.
    pub failure_rate: f64,
}

impl ToolStats {
    /// Statistics from the durations of successful calls and the number of failures.
    /// `durations` is sorted in place.
    pub fn from_durations(tool: Arc<str>, durations: &mut [u64], failed: u32) -> ToolStats {
        durations.sort_unstable();
        let completed = durations.len() as u32;
        let count = completed + failed;
        let mean_ms = (!durations.is_empty()).then(|| {
            let sum: u128 = durations.iter().map(|&d| u128::from(d)).sum();
            let n = durations.len() as u128;
            ((sum + n / 2) / n) as u64
        });
        ToolStats {
            tool,
            count,
            completed,
            failed,
            mean_ms,
            p50_ms: percentile(durations, 50.0),
            p90_ms: percentile(durations, 90.0),
            p99_ms: percentile(durations, 99.0),
            failure_rate: if count == 0 {
                0.0
            } else {
                f64::from(failed) / f64::from(count)
            },
        }
    }
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `p`% of the
/// values at or below it. `None` when there are no values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let hundred: Vec<u64> = (1..=100).collect();
        for (values, p, expected) in [
            (&[][..], 50.0, None),
            (&[7][..], 50.0, Some(7)),
            (&[7][..], 99.0, Some(7)),
            (&[1, 2][..], 50.0, Some(1)),
            (&[1, 2][..], 51.0, Some(2)),
            (&[1, 2, 3, 4][..], 90.0, Some(4)),
            (&hundred[..], 50.0, Some(50)),
            (&hundred[..], 90.0, Some(90)),
            (&hundred[..], 99.0, Some(99)),
            (&hundred[..], 0.0, Some(1)),
            (&hundred[..], 100.0, Some(100)),
        ] {
            assert_eq!(percentile(values, p), expected, "p{p} of {values:?}");
        }
    }

    #[test]
    fn stats_from_durations_and_failures() {
        for (mut durations, failed, count, mean, p50, p99, rate) in [
            (vec![], 0, 0, None, None, None, 0.0),
            (vec![], 2, 2, None, None, None, 1.0),
            (
                vec![300, 100, 200],
                1,
                4,
                Some(200),
                Some(200),
                Some(300),
                0.25,
            ),
            (vec![1, 2], 0, 2, Some(2), Some(1), Some(2), 0.0), // mean 1.5 rounds half up
        ] {
            let stats = ToolStats::from_durations(Arc::from("t"), &mut durations, failed);
            assert_eq!(stats.count, count);
            assert_eq!(stats.failed, failed);
            assert_eq!(
                (stats.mean_ms, stats.p50_ms, stats.p99_ms),
                (mean, p50, p99)
            );
            assert_eq!(stats.failure_rate, rate);
        }
    }
}
