//! Cancellation: cooperative first (the call's token fires), then forced once a grace period
//! has passed (the attempt's future is dropped, or its task aborted).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// How long a cancelled call may take to stop by itself before it is dropped: 1 s.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(1);

/// Watches one call's token. Its listener and timer are made on the first poll that needs
/// them, so a call that finishes in its first poll pays for neither.
#[derive(Debug)]
pub(crate) struct CancelWatch {
    token: CancellationToken,
    grace: Duration,
    listener: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl CancelWatch {
    pub(crate) fn new(token: CancellationToken, grace: Duration) -> CancelWatch {
        CancelWatch {
            token,
            grace,
            listener: None,
            timer: None,
        }
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    pub(crate) fn grace(&self) -> Duration {
        self.grace
    }

    /// Ready once the token has fired.
    pub(crate) fn poll_cancelled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.token.is_cancelled() {
            return Poll::Ready(());
        }
        let token = &self.token;
        self.listener
            .get_or_insert_with(|| Box::pin(token.clone().cancelled_owned()))
            .as_mut()
            .poll(cx)
    }

    /// Ready once the token has fired and the grace period since has passed.
    pub(crate) fn poll_forced(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.timer.is_none() {
            if self.poll_cancelled(cx).is_pending() {
                return Poll::Pending;
            }
            self.listener = None;
            self.timer = Some(Box::pin(tokio::time::sleep(self.grace)));
        }
        match &mut self.timer {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}
