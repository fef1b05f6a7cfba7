//! Retries: which policy applies, and the delay before each retry (exponential, capped,
//! jittered by a seedable generator).

use std::time::Duration;

use volley_planner::RetryPolicy;

/// How retry delays are spread around the exponential curve.
///
/// With `base = min(max_backoff_ms, backoff_ms × 2^(n−1))` before retry `n` (n = 1 for the
/// first retry), the delay is:
/// - `None`: `base`;
/// - `Equal`: `base/2 + uniform(0, base − base/2)`: never less than half the curve;
/// - `Full`: `uniform(0, base)` (AWS's "full jitter": the least contention, possibly no wait).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Jitter {
    /// No jitter: exactly the exponential curve.
    None,
    /// Half the curve, plus up to the other half at random.
    #[default]
    Equal,
    /// Anywhere from zero to the curve.
    Full,
}

/// The policy of a call: its own, else its tool's, else the engine's default.
pub(crate) fn policy(
    call: Option<RetryPolicy>,
    tool: Option<RetryPolicy>,
    default: Option<RetryPolicy>,
) -> Option<RetryPolicy> {
    call.or(tool).or(default)
}

/// Attempts allowed in all by a policy (at least 1).
pub(crate) fn max_attempts(policy: Option<RetryPolicy>) -> u32 {
    policy.map_or(1, |p| p.max_attempts.max(1))
}

/// The delay before retry `retry` (1 for the first retry), before jitter.
pub(crate) fn base_delay(policy: &RetryPolicy, retry: u32) -> Duration {
    let doublings = retry.saturating_sub(1).min(63);
    let ms = policy
        .backoff_ms
        .saturating_mul(1u64 << doublings)
        .min(policy.max_backoff_ms);
    Duration::from_millis(ms)
}

/// The delay before retry `retry`, jittered.
pub(crate) fn delay(policy: &RetryPolicy, retry: u32, jitter: Jitter, rng: &mut Rng) -> Duration {
    let base = u64::try_from(base_delay(policy, retry).as_millis()).unwrap_or(u64::MAX);
    let ms = match jitter {
        Jitter::None => base,
        Jitter::Equal => {
            let half = base / 2;
            half + rng.below_inclusive(base - half)
        }
        Jitter::Full => rng.below_inclusive(base),
    };
    Duration::from_millis(ms)
}

/// splitmix64: small, fast and good enough for jitter; seeded, so tests are deterministic.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max` (the modulo bias is negligible for millisecond delays).
    pub(crate) fn below_inclusive(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(backoff_ms: u64, max_backoff_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            backoff_ms,
            max_backoff_ms,
        }
    }

    #[test]
    fn the_curve_doubles_and_caps() {
        let p = policy(100, 1_000);
        let delays: Vec<u64> = (1..=6)
            .map(|n| base_delay(&p, n).as_millis() as u64)
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
        // No overflow far along the curve.
        assert_eq!(base_delay(&p, u32::MAX).as_millis(), 1_000);
    }

    #[test]
    fn jitter_stays_in_its_band_and_is_reproducible() {
        let p = policy(100, 10_000);
        for (jitter, low, high) in [
            (Jitter::None, 400, 400),
            (Jitter::Equal, 200, 400),
            (Jitter::Full, 0, 400),
        ] {
            let mut rng = Rng::new(7);
            let first: Vec<u64> = (0..50)
                .map(|_| delay(&p, 3, jitter, &mut rng).as_millis() as u64)
                .collect();
            assert!(
                first.iter().all(|&d| (low..=high).contains(&d)),
                "{jitter:?}: {first:?}"
            );
            let mut again = Rng::new(7);
            let second: Vec<u64> = (0..50)
                .map(|_| delay(&p, 3, jitter, &mut again).as_millis() as u64)
                .collect();
            assert_eq!(first, second, "same seed, same delays");
        }
    }

    #[test]
    fn the_call_policy_wins_then_the_tool_then_the_default() {
        let call = policy(1, 1);
        let tool = policy(2, 2);
        let default = policy(3, 3);
        assert_eq!(
            super::policy(Some(call), Some(tool), Some(default)),
            Some(call)
        );
        assert_eq!(super::policy(None, Some(tool), Some(default)), Some(tool));
        assert_eq!(super::policy(None, None, Some(default)), Some(default));
        assert_eq!(max_attempts(None), 1);
        let zero = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(max_attempts(Some(zero)), 1);
    }
}
