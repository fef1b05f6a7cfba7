//! Subscribers: lossless ones read the bus's shared log; display ones each have a bounded
//! channel. Neither holds a lock the engine waits for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, error::TryRecvError as ChannelEmpty};

use crate::bus::Shared;
use crate::event::Event;
use crate::log::Cursor;
use crate::snapshot::BatchSnapshot;

/// What travels to a subscriber.
#[derive(Debug)]
enum Item {
    Event(Arc<Event>),
    /// A display subscriber's queue was full for this many events, here.
    Lagged(u64),
}

/// The bus's end of one display subscriber: its channel and how full the bus believes it is.
///
/// A channel, not a queue under a lock: a subscriber that is descheduled while it reads holds
/// nothing the engine needs.
#[derive(Debug)]
pub(crate) struct Outlet {
    pub(crate) id: u64,
    sender: UnboundedSender<Item>,
    /// Events the subscriber took; written by it, read here only when its queue may be full.
    received: Arc<AtomicU64>,
    /// Events sent.
    sent: u64,
    /// The last value of `received` read: `sent - known_received` bounds the queue's length.
    known_received: u64,
    /// The most events the queue holds.
    capacity: u64,
    /// Events dropped and not yet reported. Whoever takes it reports it: the bus, in a lag
    /// notice before the next event it sends; or the subscriber, when it finds its queue empty
    /// (no event follows the gap yet).
    missed: Arc<AtomicU64>,
    /// Whether this side dropped events since it last took `missed`.
    dropped: bool,
}

impl Outlet {
    /// A channel for a subscriber: the bus's end and the subscriber's.
    pub(crate) fn new(id: u64, capacity: usize) -> (Outlet, Reader) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let received = Arc::new(AtomicU64::new(0));
        let missed = Arc::new(AtomicU64::new(0));
        let outlet = Outlet {
            id,
            sender,
            received: received.clone(),
            sent: 0,
            known_received: 0,
            capacity: capacity.max(1) as u64,
            missed: missed.clone(),
            dropped: false,
        };
        let reader = Reader {
            id,
            receiver,
            received,
            missed,
        };
        (outlet, reader)
    }

    /// Sends an event; a full display queue drops it and counts it as missed. Returns false when
    /// the subscriber is gone.
    pub(crate) fn send(&mut self, event: &Arc<Event>) -> bool {
        if self.sent - self.known_received >= self.capacity {
            self.known_received = self.received.load(Ordering::Acquire);
            if self.sent - self.known_received >= self.capacity {
                self.missed(1);
                return !self.sender.is_closed();
            }
        }
        if self.dropped {
            self.dropped = false;
            let missed = self.missed.swap(0, Ordering::AcqRel);
            if missed > 0 && self.sender.send(Item::Lagged(missed)).is_err() {
                return false;
            }
        }
        self.sent += 1;
        self.sender.send(Item::Event(event.clone())).is_ok()
    }

    /// Counts `n` events this subscriber will never see, before what is sent next.
    pub(crate) fn missed(&mut self, n: u64) {
        if n > 0 {
            self.missed.fetch_add(n, Ordering::AcqRel);
            self.dropped = true;
        }
    }

    /// Events sent and not yet received.
    pub(crate) fn backlog(&self) -> u64 {
        self.sent
            .saturating_sub(self.received.load(Ordering::Acquire))
    }

    /// Forgets what was missed (the subscriber resynchronised and emptied its queue).
    fn reset(&mut self) {
        self.missed.store(0, Ordering::Release);
        self.dropped = false;
        self.known_received = self.received.load(Ordering::Acquire);
    }
}

/// The subscriber's end of its channel.
#[derive(Debug)]
pub(crate) struct Reader {
    id: u64,
    receiver: UnboundedReceiver<Item>,
    received: Arc<AtomicU64>,
    missed: Arc<AtomicU64>,
}

impl Reader {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        match self.receiver.poll_recv(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(self.count(item))),
            // Empty or closed: a gap with no event after it yet is reported now. (While the
            // queue is empty the bus drops nothing, so no wake-up is needed for it.)
            other => match self.take_missed() {
                Some(item) => Poll::Ready(Some(item)),
                None => other,
            },
        }
    }

    fn try_take(&mut self) -> Result<Item, TryRecvError> {
        match self.receiver.try_recv() {
            Ok(item) => Ok(self.count(item)),
            Err(why) => match self.take_missed() {
                Some(item) => Ok(item),
                None if why == ChannelEmpty::Empty => Err(TryRecvError::Empty),
                None => Err(TryRecvError::Closed),
            },
        }
    }

    /// Counts a received event, so that the bus knows the queue has room.
    fn count(&self, item: Item) -> Item {
        if let Item::Event(_) = item {
            self.received.fetch_add(1, Ordering::Release);
        }
        item
    }

    fn take_missed(&self) -> Option<Item> {
        if self.missed.load(Ordering::Acquire) == 0 {
            return None;
        }
        match self.missed.swap(0, Ordering::AcqRel) {
            0 => None,
            missed => Some(Item::Lagged(missed)),
        }
    }

    /// Throws away everything queued (for a resync, under the bus lock).
    fn drain(&mut self) {
        while let Ok(item) = self.receiver.try_recv() {
            self.count(item);
        }
    }
}

/// Detaches a subscriber from the bus when it is dropped.
#[derive(Debug)]
struct Attachment {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.shared.unsubscribe(self.id);
    }
}

/// Why a `try_recv` returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing yet.
    #[error("no event yet")]
    Empty,
    /// The bus is closed and everything was received.
    #[error("the bus is closed")]
    Closed,
}

/// Receives every event of the bus from its subscription on, in order, none dropped.
///
/// For the paths that must not lose anything: results, the audit log. It reads the bus's shared
/// log, which keeps what it has not read (memory grows while it does not keep up); the executor
/// watches [`Bus::backlog`](crate::Bus::backlog) if it worries.
#[derive(Debug)]
pub struct LosslessSubscriber {
    cursor: Cursor,
    _attachment: Attachment,
}

impl LosslessSubscriber {
    pub(crate) fn new(shared: Arc<Shared>, cursor: Cursor) -> LosslessSubscriber {
        let id = cursor.id();
        LosslessSubscriber {
            cursor,
            _attachment: Attachment { shared, id },
        }
    }

    /// The next event; `None` once the bus is closed and every event was received.
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next event (for hand-written futures and streams).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Arc<Event>>> {
        self.cursor.poll_next(cx)
    }

    /// The next event if one is there.
    pub fn try_recv(&mut self) -> Result<Arc<Event>, TryRecvError> {
        self.cursor.try_next()
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
        let mut n = 1;
        while n < limit {
            let Ok(event) = self.try_recv() else {
                break;
            };
            buffer.push(event);
            n += 1;
        }
        n
    }
}

/// What a display subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The next event.
    Event(Arc<Event>),
    /// The subscriber fell behind: `missed` events were dropped here, between the event it
    /// received last and the next one. It can carry on, or [`resync`](Subscriber::resync) from
    /// a snapshot.
    Lagged {
        /// How many events it will never see.
        missed: u64,
    },
}

/// Receives the bus's events for a display: a bounded queue that never slows the engine.
///
/// When its queue is full, the bus drops the events that do not fit and tells it how many with
/// [`Received::Lagged`], where they were. Then [`resync`](Subscriber::resync) gives the current
/// snapshot and continues right after it.
#[derive(Debug)]
pub struct Subscriber {
    reader: Reader,
    attachment: Attachment,
}

impl Subscriber {
    pub(crate) fn new(shared: Arc<Shared>, reader: Reader) -> Subscriber {
        let id = reader.id;
        Subscriber {
            reader,
            attachment: Attachment { shared, id },
        }
    }

    /// The next event or lag notice; `None` once the bus is closed and the queue is empty.
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Option<Received> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next event or lag notice.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Received>> {
        self.reader.poll(cx).map(|item| item.map(received))
    }

    /// The next event or lag notice if one is queued; [`TryRecvError::Empty`] if none is,
    /// [`TryRecvError::Closed`] once the bus is closed and the queue is empty.
    pub fn try_recv(&mut self) -> Result<Received, TryRecvError> {
        self.reader.try_take().map(received)
    }

    /// The batch as it stands now; the subscriber then receives exactly the events after it
    /// (anything queued or missed before is forgotten).
    pub fn resync(&mut self) -> BatchSnapshot {
        let shared = self.attachment.shared.clone();
        // Under the bus lock no event is sent: the snapshot and the emptied queue agree.
        let mut state = shared.lock();
        self.reader.drain();
        if let Some(outlet) = state.outlet(self.reader.id) {
            outlet.reset();
        }
        shared.snapshot_locked(&state)
    }
}

fn received(item: Item) -> Received {
    match item {
        Item::Event(event) => Received::Event(event),
        Item::Lagged(missed) => Received::Lagged { missed },
    }
}
