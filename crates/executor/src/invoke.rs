//! One attempt of one call: the policies composed around `Tool::call`, in one place.
//!
//! From the outside in:
//! 1. **resources**: the driver holds the call's batch slot; a backend permit (budgets,
//!    locks, tool caps, rate limits) is acquired before the attempt and held until it ends
//!    ([`Acquiring`]);
//! 2. **timeout**: [`AttemptTimer`] ends the attempt with `timeout` and fires its token;
//! 3. **cancellation**: [`Grace`] lets a cancelled tool stop by itself, then drops it once
//!    the grace period has passed (a spawned tool's task is aborted);
//! 4. **panics**: every poll of the tool's future (and `Tool::call` itself) runs under
//!    `catch_unwind`; a panic ends the attempt with `panic` and its message;
//! 5. `Tool::call`.
//!
//! Retries wrap all of this from the driver: after a failed attempt it asks [`crate::retry`]
//! for the delay, announces it, releases the slot and queues the call again when it is due.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tracing::Span;
use volley_resources::{AcquireError, Permit, Request, ResourceBackend};

use crate::cancel::{CancelWatch, Grace};
use crate::context::ToolContext;
use crate::error::{ErrorKind, ToolError};
use crate::registry::Entry;
use crate::timeout::AttemptTimer;

/// Why an attempt did not return a value.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    pub(crate) retry_after: Option<Duration>,
    /// The attempt was dropped after the grace period, rather than stopping by itself.
    pub(crate) forced: bool,
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            retry_after: None,
            forced: false,
        }
    }

    fn panic(payload: &(dyn Any + Send)) -> Failure {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic payload".to_owned());
        Failure::new(ErrorKind::Panic, format!("the tool panicked: {text}"))
    }
}

impl From<ToolError> for Failure {
    fn from(error: ToolError) -> Failure {
        let kind = error.kind();
        match error {
            ToolError::Transient {
                message,
                retry_after,
            } => Failure {
                kind,
                message,
                retry_after,
                forced: false,
            },
            ToolError::InvalidArguments { message }
            | ToolError::Permanent { message }
            | ToolError::Timeout { message } => Failure::new(kind, message),
            ToolError::Cancelled => Failure::new(kind, "the tool stopped on cancellation"),
        }
    }
}

/// What an attempt ends with.
pub(crate) type AttemptResult = Result<Value, Failure>;

type ToolFuture = Pin<Box<dyn Future<Output = Result<Value, ToolError>> + Send>>;

/// The tool's work: polled inside the driver, or on a task of its own.
pub(crate) enum Work {
    Inline(ToolFuture),
    Spawned(AbortOnDrop),
}

/// Aborts a spawned attempt's task when the attempt is dropped (forced cancellation).
pub(crate) struct AbortOnDrop(JoinHandle<Result<Value, ToolError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The tool's future for one attempt. It owns the tool (an `Arc`), so it can outlive this
/// call; `Tool::call` itself runs in its first poll, under the same `catch_unwind` as the rest.
pub(crate) fn begin(entry: Arc<Entry>, args: Value, ctx: ToolContext) -> Work {
    let spawn = entry.spawn;
    let future: ToolFuture = Box::pin(async move { entry.tool.call(args, ctx).await });
    if spawn {
        Work::Spawned(AbortOnDrop(tokio::spawn(future)))
    } else {
        Work::Inline(future)
    }
}

impl Work {
    /// Polls the tool once; a panic becomes a `panic` failure.
    pub(crate) fn poll_work(&mut self, cx: &mut Context<'_>) -> Poll<AttemptResult> {
        match self {
            Work::Inline(future) => {
                match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                    Ok(Poll::Ready(result)) => Poll::Ready(result.map_err(Failure::from)),
                    Ok(Poll::Pending) => Poll::Pending,
                    Err(payload) => Poll::Ready(Err(Failure::panic(&*payload))),
                }
            }
            Work::Spawned(handle) => match Pin::new(&mut handle.0).poll(cx) {
                Poll::Ready(Ok(result)) => Poll::Ready(result.map_err(Failure::from)),
                Poll::Ready(Err(join)) if join.is_panic() => {
                    Poll::Ready(Err(Failure::panic(&*join.into_panic())))
                }
                Poll::Ready(Err(_)) => Poll::Ready(Err(Failure::new(
                    ErrorKind::Cancelled,
                    "the tool's task was cancelled",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// An attempt in flight after its first poll returned `Pending`.
pub(crate) struct Attempt {
    pub(crate) call: u32,
    pub(crate) work: Work,
    pub(crate) timer: Option<AttemptTimer>,
    /// Fires the call's token on timeout.
    pub(crate) token: tokio_util::sync::CancellationToken,
    pub(crate) grace: Grace,
    /// Held for the resource backend until the attempt ends.
    pub(crate) _permit: Option<Permit>,
    pub(crate) span: Span,
}

impl Future for Attempt {
    type Output = (u32, AttemptResult);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        if let Poll::Ready(result) = this.work.poll_work(cx) {
            let status = match &result {
                Ok(_) => "ok",
                Err(failure) => failure.kind.as_str(),
            };
            this.span.record("status", status);
            return Poll::Ready((this.call, result));
        }
        if let Some(timer) = &mut this.timer
            && timer.poll_expired(cx).is_ready()
        {
            this.token.cancel();
            this.span.record("status", "timeout");
            let ms = timer.after().as_millis();
            let failure = Failure::new(
                ErrorKind::Timeout,
                format!("the attempt ran past its timeout of {ms} ms"),
            );
            return Poll::Ready((this.call, Err(failure)));
        }
        if this.grace.poll_forced(cx).is_ready() {
            this.span.record("status", "cancelled");
            let ms = this.grace.grace().as_millis();
            let mut failure = Failure::new(
                ErrorKind::Cancelled,
                format!("the tool did not stop within the grace period of {ms} ms; it was dropped"),
            );
            failure.forced = true;
            return Poll::Ready((this.call, Err(failure)));
        }
        Poll::Pending
    }
}

type AcquireFuture = Pin<Box<dyn Future<Output = Result<Permit, AcquireError>> + Send>>;

/// A call waiting for its resource permit; ends early when the call is cancelled.
pub(crate) struct Acquiring {
    pub(crate) call: u32,
    future: AcquireFuture,
    cancel: CancelWatch,
    /// The attempt's arguments, handed back with the permit.
    args: Option<Value>,
}

impl Acquiring {
    pub(crate) fn new(
        call: u32,
        backend: Arc<dyn ResourceBackend>,
        request: Request,
        cancel: CancelWatch,
        args: Value,
    ) -> Acquiring {
        let future = Box::pin(async move { backend.acquire(&request).await });
        Acquiring {
            call,
            future,
            cancel,
            args: Some(args),
        }
    }
}

impl Future for Acquiring {
    type Output = (u32, Result<(Permit, Value), Failure>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(result) = this.future.as_mut().poll(cx) {
            let args = this.args.take().unwrap_or(Value::Null);
            let result = result
                .map(|permit| (permit, args))
                .map_err(|e| Failure::new(ErrorKind::ResourceUnavailable, e.to_string()));
            return Poll::Ready((this.call, result));
        }
        if this.cancel.poll_cancelled(cx).is_ready() {
            let failure = Failure::new(
                ErrorKind::Cancelled,
                "cancelled while waiting for resources",
            );
            return Poll::Ready((this.call, Err(failure)));
        }
        Poll::Pending
    }
}

/// Waits out a retry's backoff.
pub(crate) struct Backoff {
    pub(crate) call: u32,
    pub(crate) sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Future for Backoff {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let this = self.get_mut();
        this.sleep.as_mut().poll(cx).map(|()| this.call)
    }
}
