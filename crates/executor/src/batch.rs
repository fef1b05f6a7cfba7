//! The handle of a running batch: wait, cancel, add calls, subscribe, snapshot.

use std::sync::{Arc, OnceLock};

use tokio::sync::{Notify, mpsc, oneshot};
use volley_planner::Call;
use volley_progress::{BatchSnapshot, Bus, LosslessSubscriber, Subscriber};

use crate::error::{AddError, CancelError};
use crate::outcome::Outcomes;

/// What the driver and the handles share.
#[derive(Debug, Default)]
pub(crate) struct Completion {
    pub(crate) done: OnceLock<Outcomes>,
    pub(crate) notify: Notify,
    /// The batch's progress bus, once someone asked for it.
    pub(crate) bus: Arc<OnceLock<Bus>>,
}

/// A subscription made by the driver (so that it sees the catch-up events).
pub(crate) enum Subscription {
    Display(Subscriber),
    Lossless(LosslessSubscriber),
}

/// What a handle asks the driver.
pub(crate) enum Command {
    Cancel,
    CancelCall {
        id: String,
        reply: oneshot::Sender<Result<(), CancelError>>,
    },
    Add {
        call: Box<Call>,
        reply: oneshot::Sender<Result<usize, AddError>>,
    },
    Close,
    Subscribe {
        lossless: bool,
        reply: oneshot::Sender<Option<Subscription>>,
    },
    Snapshot {
        reply: oneshot::Sender<Option<BatchSnapshot>>,
    },
}

/// A running batch. Cheap to clone, `Send + Sync`; dropping every handle does not stop the
/// batch (only [`cancel`](BatchHandle::cancel) does), but it closes its input.
///
/// ```
/// # use volley_executor::{Engine, Registry, testing::ScriptedTool};
/// # use volley_planner::{Call, Plan};
/// # use serde_json::json;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut registry = Registry::new();
/// registry.register(ScriptedTool::new("search").latency_ms(50))?;
/// let engine = Engine::new(registry);
///
/// // A batch the model is still streaming: calls start as soon as they arrive.
/// let batch = engine.open(Plan::default())?;
/// batch.add(Call::new("search", json!({"q": "rust"})).with_id("a")).await?;
/// batch.add(Call::new("search", json!({"q": "$a.echo.q"})).with_id("b")).await?;
/// batch.close();
/// let outcomes = batch.wait().await;
/// assert!(outcomes.iter().all(|o| o.is_ok()));
/// assert_eq!(outcomes[1].started_at_ms, Some(50)); // b waited for a
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BatchHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: u64,
    commands: mpsc::UnboundedSender<Command>,
    completion: Arc<Completion>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Cancel => "Cancel",
            Command::CancelCall { .. } => "CancelCall",
            Command::Add { .. } => "Add",
            Command::Close => "Close",
            Command::Subscribe { .. } => "Subscribe",
            Command::Snapshot { .. } => "Snapshot",
        })
    }
}

impl BatchHandle {
    pub(crate) fn new(
        id: u64,
        commands: mpsc::UnboundedSender<Command>,
        completion: Arc<Completion>,
    ) -> BatchHandle {
        BatchHandle {
            inner: Arc::new(Inner {
                id,
                commands,
                completion,
            }),
        }
    }

    /// The batch's id, unique within its engine (audit records carry it).
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Waits until every call has its outcome; returns them in call order.
    ///
    /// After [`cancel`](BatchHandle::cancel) this returns within the grace period; at the
    /// batch deadline it returns at once, with the running calls marked.
    pub async fn wait(&self) -> Outcomes {
        let completion = &self.inner.completion;
        loop {
            let notified = completion.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(outcomes) = completion.done.get() {
                return outcomes.clone();
            }
            notified.await;
        }
    }

    /// The outcomes, if the batch is over.
    pub fn outcomes(&self) -> Option<Outcomes> {
        self.inner.completion.done.get().cloned()
    }

    /// Whether every call has its outcome.
    pub fn is_finished(&self) -> bool {
        self.inner.completion.done.get().is_some()
    }

    /// Cancels the batch (a barge-in): calls not started are cancelled at once; running ones
    /// see their token fire and are dropped if still running after the grace period. Every
    /// call still gets its outcome; [`wait`](BatchHandle::wait) for them.
    pub fn cancel(&self) {
        // The driver is gone only once every call has its outcome: nothing left to cancel.
        let _ = self.inner.commands.send(Command::Cancel);
    }

    /// Cancels one call (and skips its dependents).
    ///
    /// # Errors
    /// [`CancelError`] when no call has this id, it already finished, or the batch is over.
    pub async fn cancel_call(&self, id: &str) -> Result<(), CancelError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::CancelCall {
            id: id.to_owned(),
            reply,
        };
        if self.inner.commands.send(command).is_err() {
            return Err(CancelError::BatchFinished);
        }
        answer.await.unwrap_or(Err(CancelError::BatchFinished))
    }

    /// Adds a call to the running batch; it starts as soon as its dependencies are done (it may
    /// refer to any earlier call). Returns its position.
    ///
    /// # Errors
    /// [`AddError`] for an invalid or duplicate id, a malformed reference, a reference to no
    /// earlier call, or a batch that no longer takes calls.
    pub async fn add(&self, call: Call) -> Result<usize, AddError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Add {
            call: Box::new(call),
            reply,
        };
        let closed = AddError::Closed {
            reason: "the batch is over",
        };
        if self.inner.commands.send(command).is_err() {
            return Err(closed);
        }
        answer.await.unwrap_or(Err(closed))
    }

    /// Says no more calls will be added: the batch ends once the calls it has are done.
    pub fn close(&self) {
        let _ = self.inner.commands.send(Command::Close);
    }

    /// A display subscriber to the batch's progress events (bounded queue; see
    /// [`volley_progress::Bus::subscribe`]). The batch makes its bus on the first request; a
    /// subscriber that arrives after calls started first receives a catch-up, one event per
    /// step each call went through so far, stamped with the time of the catch-up.
    ///
    /// `None` when the batch finished without ever making a bus.
    pub async fn subscribe(&self) -> Option<Subscriber> {
        match self.request_subscription(false).await? {
            Subscription::Display(subscriber) => Some(subscriber),
            Subscription::Lossless(_) => None,
        }
    }

    /// A lossless subscriber: every event from now on (after the catch-up, as above).
    pub async fn subscribe_lossless(&self) -> Option<LosslessSubscriber> {
        match self.request_subscription(true).await? {
            Subscription::Lossless(subscriber) => Some(subscriber),
            Subscription::Display(_) => None,
        }
    }

    async fn request_subscription(&self, lossless: bool) -> Option<Subscription> {
        let (reply, answer) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Subscribe { lossless, reply })
            .is_ok()
            && let Ok(subscription) = answer.await
        {
            return subscription;
        }
        let bus = self.inner.completion.bus.get()?;
        Some(if lossless {
            Subscription::Lossless(bus.subscribe_lossless())
        } else {
            Subscription::Display(bus.subscribe_from(0))
        })
    }

    /// Where the batch stands: per call status, times, fractions, the ETA. Makes the bus as
    /// [`subscribe`](BatchHandle::subscribe) does. `None` when the batch finished without ever
    /// making one (its [`outcomes`](BatchHandle::outcomes) say it all).
    pub async fn snapshot(&self) -> Option<BatchSnapshot> {
        let (reply, answer) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Snapshot { reply })
            .is_ok()
            && let Ok(snapshot) = answer.await
        {
            return snapshot;
        }
        self.inner.completion.bus.get().map(Bus::snapshot)
    }

    /// The batch's bus, if one was made.
    pub fn bus(&self) -> Option<Bus> {
        self.inner.completion.bus.get().cloned()
    }
}
