//! Per-tool rate limits: N calls per period with a burst, enforced by governor's GCRA.
//!
//! Why governor serves here: a rate token must only be spent when the whole request is
//! granted. The manager checks every other dimension first, under the same lock, and calls
//! [`governor`]'s `check` last; `check` spends a token only when it succeeds, and nothing
//! can change between that check and the grant. So no peek or refund is needed.
//!
//! governor's default clock does not follow tokio's paused time, so the limiter reads
//! [`tokio::time::Instant`] through [`TokioClock`]: tests with `start_paused = true` are exact.

use std::num::NonZeroU32;
use std::ops::Add;
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};

/// At most `calls` calls per `period`, with bursts of up to `burst` calls.
///
/// Calls are spread evenly (GCRA): one more conforms every `period / calls`, and an idle
/// tool saves up at most `burst` of them.
///
/// ```
/// use std::time::Duration;
/// use volley_resources::RateLimit;
///
/// let crm = RateLimit::per_second(5).burst(2);
/// assert_eq!((crm.calls(), crm.period(), crm.burst_size()), (5, Duration::from_secs(1), 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateLimit {
    calls: u32,
    period: Duration,
    burst: Option<u32>,
}

impl RateLimit {
    /// `calls` per `period`; the burst defaults to `calls`.
    pub const fn new(calls: u32, period: Duration) -> Self {
        Self {
            calls,
            period,
            burst: None,
        }
    }

    /// `calls` per second.
    pub const fn per_second(calls: u32) -> Self {
        Self::new(calls, Duration::from_secs(1))
    }

    /// `calls` per minute.
    pub const fn per_minute(calls: u32) -> Self {
        Self::new(calls, Duration::from_secs(60))
    }

    /// How many calls an idle tool may make at once. By default, `calls`.
    #[must_use]
    pub const fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Calls per period.
    pub const fn calls(&self) -> u32 {
        self.calls
    }

    /// The period.
    pub const fn period(&self) -> Duration {
        self.period
    }

    /// The burst size.
    pub const fn burst_size(&self) -> u32 {
        match self.burst {
            Some(burst) => burst,
            None => self.calls,
        }
    }

    /// governor's quota, or what is wrong with this limit.
    pub(crate) fn quota(&self) -> Result<Quota, String> {
        if self.calls == 0 {
            return Err("calls is 0".into());
        }
        let Some(burst) = NonZeroU32::new(self.burst_size()) else {
            return Err("burst is 0".into());
        };
        let interval = self.period / self.calls;
        Quota::with_period(interval)
            .map(|q| q.allow_burst(burst))
            .ok_or_else(|| {
                format!(
                    "period {:?} / {} calls is under a nanosecond",
                    self.period, self.calls
                )
            })
    }
}

/// A governor clock on [`tokio::time::Instant`], so limits follow `tokio::time::pause()`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TokioClock;

/// A [`tokio::time::Instant`] as governor's clock reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TokioInstant(pub(crate) tokio::time::Instant);

impl Add<Nanos> for TokioInstant {
    type Output = TokioInstant;

    fn add(self, rhs: Nanos) -> TokioInstant {
        TokioInstant(self.0 + Duration::from(rhs))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        Nanos::from(self.0.saturating_duration_since(earlier.0))
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        self.0
            .checked_sub(Duration::from(duration))
            .map_or(*self, TokioInstant)
    }
}

impl Clock for TokioClock {
    type Instant = TokioInstant;

    fn now(&self) -> TokioInstant {
        TokioInstant(tokio::time::Instant::now())
    }
}

/// One tool's GCRA limiter.
pub(crate) struct Limiter {
    limit: RateLimit,
    gcra: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Result<Self, String> {
        Ok(Self {
            limit,
            gcra: RateLimiter::direct_with_clock(limit.quota()?, TokioClock),
        })
    }

    pub(crate) fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Spends one call if one conforms now; otherwise the instant one will.
    pub(crate) fn check(&self) -> Result<(), tokio::time::Instant> {
        self.gcra
            .check()
            .map_err(|not_until| not_until.earliest_possible().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_limits_say_what_is_wrong() {
        assert_eq!(RateLimit::per_second(0).quota().unwrap_err(), "calls is 0");
        assert_eq!(
            RateLimit::per_second(3).burst(0).quota().unwrap_err(),
            "burst is 0"
        );
        assert!(
            RateLimit::new(1, Duration::ZERO)
                .quota()
                .unwrap_err()
                .contains("under a nanosecond")
        );
        let q = RateLimit::per_second(4).burst(2).quota().unwrap();
        assert_eq!(q.replenish_interval(), Duration::from_millis(250));
        assert_eq!(q.burst_size().get(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_follows_paused_tokio_time() {
        let limiter = Limiter::new(RateLimit::per_second(10).burst(1)).unwrap();
        let start = tokio::time::Instant::now();
        assert!(limiter.check().is_ok());
        let next = limiter.check().unwrap_err();
        assert_eq!(next - start, Duration::from_millis(100));
        tokio::time::advance(Duration::from_millis(99)).await;
        assert!(limiter.check().is_err());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(limiter.check().is_ok());
    }

    #[test]
    fn serializes_as_calls_period_and_burst() {
        let json = serde_json::to_value(RateLimit::per_second(5).burst(2)).unwrap();
        assert_eq!(json["calls"], 5);
        assert_eq!(json["burst"], 2);
        assert_eq!(json["period"]["secs"], 1);
    }
}
