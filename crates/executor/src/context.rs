//! The context of one attempt: who, which attempt, cancellation, deadline, progress.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use volley_progress::Bus;

/// What a tool knows about the attempt it runs: the call's id, the attempt number, a
/// cancellation token, the deadline, and a progress reporter.
#[derive(Debug, Clone)]
pub struct ToolContext {
    call_id: Arc<str>,
    attempt: u32,
    cancel: CancellationToken,
    deadline: Option<Instant>,
    progress: Progress,
}

impl ToolContext {
    /// A context for running a tool outside a batch (tests, sub-agents): attempt 1, a fresh
    /// token, no deadline, progress going nowhere.
    pub fn new(call_id: impl Into<Arc<str>>) -> ToolContext {
        ToolContext {
            call_id: call_id.into(),
            attempt: 1,
            cancel: CancellationToken::new(),
            deadline: None,
            progress: Progress::disabled(),
        }
    }

    pub(crate) fn for_attempt(
        call_id: Arc<str>,
        attempt: u32,
        cancel: CancellationToken,
        deadline: Option<Instant>,
        progress: Progress,
    ) -> ToolContext {
        ToolContext {
            call_id,
            attempt,
            cancel,
            deadline,
            progress,
        }
    }

    /// Uses this token (a parent's child, say).
    #[must_use]
    pub fn with_cancellation(mut self, token: CancellationToken) -> ToolContext {
        self.cancel = token;
        self
    }

    /// Sets the deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> ToolContext {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the attempt number.
    #[must_use]
    pub fn with_attempt(mut self, attempt: u32) -> ToolContext {
        self.attempt = attempt;
        self
    }

    /// The call's id in its batch.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// 1 for the first attempt, 2 for the first retry…
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Fires when the call is cancelled (the user, `fail_fast`, the deadline, its timeout).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether the call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the call is cancelled: `select!` on it in long work.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// When this attempt must be over: its timeout or the batch deadline, whichever is first.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// How long until the deadline (zero once past), if there is one.
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Reports how far the call got: `ctx.progress(0.4, "fetching page 2")`. The fraction is
    /// clamped to 0–1 (NaN is ignored); the step is shown to people and must hold no secret.
    pub fn progress(&self, fraction: f64, step: impl AsRef<str>) {
        self.progress.report(fraction, step.as_ref());
    }

    /// The reporter, to hand to code that reports for this call.
    pub fn reporter(&self) -> &Progress {
        &self.progress
    }
}

/// Reports one call's progress to its batch's event bus, when the batch has one.
///
/// A batch creates its bus when someone first subscribes; until then reports cost a load and
/// go nowhere. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    target: Option<(Arc<OnceLock<Bus>>, usize)>,
}

impl Progress {
    /// A reporter that reports to nobody.
    pub fn disabled() -> Progress {
        Progress { target: None }
    }

    pub(crate) fn for_call(bus: Arc<OnceLock<Bus>>, call: usize) -> Progress {
        Progress {
            target: Some((bus, call)),
        }
    }

    /// Whether reports go anywhere now (a tool may skip building step texts otherwise).
    pub fn is_enabled(&self) -> bool {
        self.target
            .as_ref()
            .and_then(|(cell, _)| cell.get())
            .is_some_and(|bus| !bus.is_closed())
    }

    /// Reports the fraction done and the current step (see [`ToolContext::progress`]).
    pub fn report(&self, fraction: f64, step: &str) {
        if let Some((cell, call)) = &self.target
            && let Some(bus) = cell.get()
            && let Some(reporter) = bus.reporter(*call)
        {
            reporter.progress(fraction, step);
        }
    }
}
