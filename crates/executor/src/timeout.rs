//! Timeouts: which one applies to an attempt, and a timer made only when it can matter.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// How long one attempt may run when neither the call nor its tool says: 120 s (the default
/// timeout of Claude Code's shell tool). A hung tool cannot hold a batch forever.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The timeout of an attempt: the call's `timeout_ms`, else its tool's, else the engine's.
pub(crate) fn attempt_timeout(
    call_ms: Option<u64>,
    tool: Option<Duration>,
    default: Option<Duration>,
) -> Option<Duration> {
    call_ms.map(Duration::from_millis).or(tool).or(default)
}

/// An attempt's timer. The tokio timer is registered on the first poll that needs it, so a
/// call that finishes in its first poll never creates one.
#[derive(Debug)]
pub(crate) struct AttemptTimer {
    deadline: Instant,
    after: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl AttemptTimer {
    pub(crate) fn new(started: Instant, after: Duration) -> AttemptTimer {
        AttemptTimer {
            deadline: started + after,
            after,
            sleep: None,
        }
    }

    pub(crate) fn after(&self) -> Duration {
        self.after
    }

    /// Ready once the deadline has passed.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        self.sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)))
            .as_mut()
            .poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_wins_then_the_tool_then_the_default() {
        let s = Duration::from_secs;
        assert_eq!(
            attempt_timeout(Some(500), Some(s(2)), Some(s(3))),
            Some(Duration::from_millis(500))
        );
        assert_eq!(attempt_timeout(None, Some(s(2)), Some(s(3))), Some(s(2)));
        assert_eq!(attempt_timeout(None, None, Some(s(3))), Some(s(3)));
        assert_eq!(attempt_timeout(None, None, None), None);
    }
}
