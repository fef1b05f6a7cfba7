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

/// Watches one waiting call's token (a call waiting for its resource permit). The listener is
/// made on the first poll that needs it.
#[derive(Debug)]
pub(crate) struct CancelWatch {
    token: CancellationToken,
    listener: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
}

impl CancelWatch {
    pub(crate) fn new(token: CancellationToken) -> CancelWatch {
        CancelWatch {
            token,
            listener: None,
        }
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
}

/// The forced half of cancellation for a running attempt. The driver, which is the one that
/// cancels calls, marks the attempt and wakes it ([`Grace::request`]); the attempt then starts
/// its grace timer. No per-call listener on the token: a call that is never cancelled pays for
/// nothing but a stored waker.
#[derive(Debug)]
pub(crate) struct Grace {
    grace: Duration,
    requested: bool,
    waker: Option<std::task::Waker>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Grace {
    pub(crate) fn new(grace: Duration) -> Grace {
        Grace {
            grace,
            requested: false,
            waker: None,
            timer: None,
        }
    }

    pub(crate) fn grace(&self) -> Duration {
        self.grace
    }

    /// Cancellation was requested (the token has fired): start counting the grace period at
    /// the attempt's next poll, which this wakes.
    pub(crate) fn request(&mut self) {
        self.requested = true;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Ready once cancellation was requested and the grace period since has passed.
    pub(crate) fn poll_forced(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.requested {
            if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                self.waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        let grace = self.grace;
        self.timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(grace)))
            .as_mut()
            .poll(cx)
    }
}
