//! Subscribers: each has its own queue (an inbox) that the bus fills in O(1) under a short lock.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::bus::Shared;
use crate::event::Event;
use crate::snapshot::BatchSnapshot;

/// One subscriber's queue.
#[derive(Debug)]
pub(crate) struct Inbox {
    queue: Mutex<Queue>,
}

#[derive(Debug)]
struct Queue {
    events: VecDeque<Arc<Event>>,
    /// `None`: lossless (unbounded). `Some(n)`: a display queue of at most `n` events.
    capacity: Option<usize>,
    /// Events dropped since the subscriber last heard of it.
    missed: u64,
    waker: Option<Waker>,
    closed: bool,
}

impl Inbox {
    pub(crate) fn new(capacity: Option<usize>, closed: bool) -> Inbox {
        Inbox {
            queue: Mutex::new(Queue {
                events: VecDeque::new(),
                capacity,
                missed: 0,
                waker: None,
                closed,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues an event (dropping the oldest when a display queue is full). Returns the waker
    /// of a subscriber that waits, for the caller to wake once it released its locks.
    #[must_use]
    pub(crate) fn push(&self, event: &Arc<Event>) -> Option<Waker> {
        let mut queue = self.lock();
        if let Some(capacity) = queue.capacity
            && queue.events.len() >= capacity
        {
            queue.events.pop_front();
            queue.missed += 1;
        }
        queue.events.push_back(event.clone());
        queue.waker.take()
    }

    /// Starts a resuming subscriber: `missed` events it will never see, then these.
    pub(crate) fn prefill(&self, missed: u64, events: impl Iterator<Item = Arc<Event>>) {
        let mut queue = self.lock();
        queue.missed = missed;
        for event in events {
            if let Some(capacity) = queue.capacity
                && queue.events.len() >= capacity
            {
                queue.events.pop_front();
                queue.missed += 1;
            }
            queue.events.push_back(event);
        }
    }

    pub(crate) fn close(&self) {
        let waker = {
            let mut queue = self.lock();
            queue.closed = true;
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Forgets what is queued and missed (the subscriber resynchronised).
    fn clear(&self) {
        let mut queue = self.lock();
        queue.events.clear();
        queue.missed = 0;
    }
}

/// What a subscriber's local buffer holds and how it refills from its inbox.
#[derive(Debug)]
struct Reader {
    shared: Arc<Shared>,
    inbox: Arc<Inbox>,
    /// Events taken from the inbox in one swap, handed out one by one without a lock.
    local: VecDeque<Arc<Event>>,
    closed: bool,
}

enum Fill {
    /// `missed` events were dropped before those now in `local`.
    Got {
        missed: u64,
    },
    Closed,
    Pending,
}

impl Reader {
    fn new(shared: Arc<Shared>, inbox: Arc<Inbox>) -> Reader {
        Reader {
            shared,
            inbox,
            local: VecDeque::new(),
            closed: false,
        }
    }

    /// Swaps the inbox's queue with the (empty) local buffer.
    fn fill(&mut self, cx: Option<&mut Context<'_>>) -> Fill {
        debug_assert!(self.local.is_empty());
        if self.closed {
            return Fill::Closed;
        }
        let mut queue = self.inbox.lock();
        let missed = std::mem::take(&mut queue.missed);
        if queue.events.is_empty() && missed == 0 {
            if queue.closed {
                self.closed = true;
                return Fill::Closed;
            }
            if let Some(cx) = cx {
                let waker = cx.waker();
                if !queue.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    queue.waker = Some(waker.clone());
                }
            }
            return Fill::Pending;
        }
        std::mem::swap(&mut queue.events, &mut self.local);
        Fill::Got { missed }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.shared.unsubscribe(&self.inbox);
    }
}

/// Why [`LosslessSubscriber::try_recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// No event yet.
    #[error("no event yet")]
    Empty,
    /// The bus is closed and every event was received.
    #[error("the bus is closed")]
    Closed,
}

/// Receives every event of the bus from its subscription on, in order, none dropped.
///
/// For the paths that must not lose anything: results, the audit log. Its queue is unbounded;
/// the executor watches [`Bus::backlog`](crate::Bus::backlog) if it worries.
#[derive(Debug)]
pub struct LosslessSubscriber {
    reader: Reader,
}

impl LosslessSubscriber {
    pub(crate) fn new(shared: Arc<Shared>, inbox: Arc<Inbox>) -> LosslessSubscriber {
        LosslessSubscriber {
            reader: Reader::new(shared, inbox),
        }
    }

    /// The next event; `None` once the bus is closed and every event was received.
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next event (for hand-written futures and streams).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Arc<Event>>> {
        if let Some(event) = self.reader.local.pop_front() {
            return Poll::Ready(Some(event));
        }
        match self.reader.fill(Some(cx)) {
            Fill::Got { .. } => Poll::Ready(self.reader.local.pop_front()),
            Fill::Closed => Poll::Ready(None),
            Fill::Pending => Poll::Pending,
        }
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Result<Arc<Event>, TryRecvError> {
        if let Some(event) = self.reader.local.pop_front() {
            return Ok(event);
        }
        match self.reader.fill(None) {
            Fill::Got { .. } => self.reader.local.pop_front().ok_or(TryRecvError::Empty),
            Fill::Closed => Err(TryRecvError::Closed),
            Fill::Pending => Err(TryRecvError::Empty),
        }
    }

    /// Waits for events and moves up to `limit` of them into `buffer`. Returns how many; 0 once
    /// the bus is closed and every event was received (or when `limit` is 0).
    pub async fn recv_many(&mut self, buffer: &mut Vec<Arc<Event>>, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        let Some(first) = self.recv().await else {
            return 0;
        };
        buffer.push(first);
        let more = self.reader.local.len().min(limit - 1);
        buffer.extend(self.reader.local.drain(..more));
        more + 1
    }
}

/// What a display subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The next event.
    Event(Arc<Event>),
    /// The subscriber fell behind and `missed` events were dropped here, before the next one it
    /// receives. It can carry on, or [`resync`](Subscriber::resync) from a snapshot.
    Lagged {
        /// How many events it will never see.
        missed: u64,
    },
}

/// Receives the bus's events for a display: a bounded queue that never slows the engine.
///
/// When it falls more than its capacity behind, the oldest events are dropped and it receives
/// [`Received::Lagged`] where they were. Then [`resync`](Subscriber::resync) gives the current
/// snapshot and continues right after it.
#[derive(Debug)]
pub struct Subscriber {
    reader: Reader,
}

impl Subscriber {
    pub(crate) fn new(shared: Arc<Shared>, inbox: Arc<Inbox>) -> Subscriber {
        Subscriber {
            reader: Reader::new(shared, inbox),
        }
    }

    /// The next event or lag notice; `None` once the bus is closed and the queue is empty.
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Option<Received> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next event or lag notice.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Received>> {
        if let Some(event) = self.reader.local.pop_front() {
            return Poll::Ready(Some(Received::Event(event)));
        }
        let fill = self.reader.fill(Some(cx));
        self.after_fill(fill)
    }

    /// The next event or lag notice if one is queued; [`TryRecvError::Empty`] if none is,
    /// [`TryRecvError::Closed`] once the bus is closed and the queue is empty.
    pub fn try_recv(&mut self) -> Result<Received, TryRecvError> {
        if let Some(event) = self.reader.local.pop_front() {
            return Ok(Received::Event(event));
        }
        let fill = self.reader.fill(None);
        match self.after_fill(fill) {
            Poll::Ready(Some(received)) => Ok(received),
            Poll::Ready(None) => Err(TryRecvError::Closed),
            Poll::Pending => Err(TryRecvError::Empty),
        }
    }

    fn after_fill(&mut self, fill: Fill) -> Poll<Option<Received>> {
        match fill {
            Fill::Got { missed: 0 } => {
                Poll::Ready(self.reader.local.pop_front().map(Received::Event))
            }
            Fill::Got { missed } => Poll::Ready(Some(Received::Lagged { missed })),
            Fill::Closed => Poll::Ready(None),
            Fill::Pending => Poll::Pending,
        }
    }

    /// The batch as it stands now; the subscriber then receives exactly the events after it
    /// (anything queued or missed before is forgotten).
    pub fn resync(&mut self) -> BatchSnapshot {
        let shared = self.reader.shared.clone();
        // Under the bus lock no event is emitted: the snapshot and the emptied queue agree.
        let state = shared.lock();
        self.reader.local.clear();
        self.reader.inbox.clear();
        shared.snapshot_locked(&state)
    }
}
