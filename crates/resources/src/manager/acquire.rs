//! The `acquire` future: event-driven waiting, cancel-safe on drop.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

use super::ResourceManager;
use super::state::{Admission, WaitStatus};
use crate::error::AcquireError;
use crate::permit::Permit;
use crate::request::Request;
use crate::wake::WakeList;

/// Waits for a whole request to be granted; returned by [`ResourceManager::acquire`].
///
/// Woken by releases (and, when parked on its tool's rate limit, by one timer of its own),
/// never by polling. Dropping it before it completes leaves nothing held: a queued request
/// leaves the queue, and one granted but not yet returned is released.
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    manager: &'a ResourceManager,
    request: &'a Request,
    state: Step,
}

enum Step {
    Start,
    Waiting {
        slot: u32,
        timer: Option<(Instant, Pin<Box<Sleep>>)>,
    },
    Done,
}

impl<'a> Acquire<'a> {
    pub(crate) fn new(manager: &'a ResourceManager, request: &'a Request) -> Self {
        Self {
            manager,
            request,
            state: Step::Start,
        }
    }
}

impl Future for Acquire<'_> {
    type Output = Result<Permit, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let shared = &this.manager.shared;
        loop {
            match &mut this.state {
                Step::Start => {
                    let admitted = shared
                        .caps
                        .validate(this.request)
                        .and_then(|needs| shared.lock().admit(needs, this.request, cx.waker()));
                    match admitted {
                        Err(e) => {
                            this.state = Step::Done;
                            return Poll::Ready(Err(e));
                        }
                        Ok(Admission::Granted { slot, id }) => {
                            this.state = Step::Done;
                            return Poll::Ready(Ok(Permit::local(Arc::clone(shared), slot, id)));
                        }
                        Ok(Admission::Queued { slot }) => {
                            this.state = Step::Waiting { slot, timer: None };
                        }
                    }
                }
                Step::Waiting { slot, timer } => {
                    let slot = *slot;
                    let status = shared.lock().wait_status(slot, cx.waker());
                    match status {
                        WaitStatus::Granted(id) => {
                            this.state = Step::Done;
                            return Poll::Ready(Ok(Permit::local(Arc::clone(shared), slot, id)));
                        }
                        WaitStatus::Queued => {
                            *timer = None;
                            return Poll::Pending;
                        }
                        WaitStatus::RateWait(at) => {
                            let sleep = match timer {
                                Some((deadline, sleep)) if *deadline == at => sleep,
                                _ => {
                                    let sleep = Box::pin(tokio::time::sleep_until(at));
                                    &mut timer.insert((at, sleep)).1
                                }
                            };
                            if sleep.as_mut().poll(cx).is_pending() {
                                return Poll::Pending;
                            }
                            *timer = None;
                            let mut wakers = WakeList::new();
                            shared.lock().rate_timer_fired(slot, &mut wakers);
                            wakers.wake_all();
                            // Look again: the dispatch may have granted this request.
                        }
                    }
                }
                Step::Done => panic!("`Acquire` polled after it completed"),
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let Step::Waiting { slot, .. } = self.state {
            let mut wakers = WakeList::new();
            self.manager.shared.lock().cancel(slot, &mut wakers);
            wakers.wake_all();
        }
    }
}

impl std::fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            Step::Start => "start",
            Step::Waiting { .. } => "waiting",
            Step::Done => "done",
        };
        f.debug_struct("Acquire")
            .field("request", self.request)
            .field("state", &state)
            .finish()
    }
}
