//! The shared log that lossless subscribers read: the bus appends each event once, however many
//! read it; each reader follows it with its own cursor.
//!
//! The log is a chain of segments of [`SEGMENT`] write-once slots. The bus writes under its lock
//! (one writer at a time); readers take no lock: a slot is read once it is set. A reader holds
//! the segment it is in, and each segment holds the next, so what no reader has passed stays
//! alive and what every reader passed is freed, a segment at a time.
//!
//! Waking: a reader that finds nothing marks itself waiting, then looks again; the writer sets
//! the slot, then looks for waiting readers. With a sequentially consistent fence between each
//! side's write and read, one of them sees the other (Dekker's pattern): no event waits for a
//! wake-up that never comes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::event::Event;
use crate::subscriber::TryRecvError;

/// Slots per segment.
pub(crate) const SEGMENT: usize = 256;

/// A run of write-once slots, and the segment after it.
#[derive(Debug)]
struct Segment {
    /// The log position of `slots[0]`.
    first: u64,
    slots: Box<[OnceLock<Arc<Event>>]>,
    next: OnceLock<Arc<Segment>>,
}

impl Segment {
    fn new(first: u64) -> Arc<Segment> {
        Arc::new(Segment {
            first,
            slots: (0..SEGMENT).map(|_| OnceLock::new()).collect(),
            next: OnceLock::new(),
        })
    }
}

impl Drop for Segment {
    /// Frees a long chain one segment at a time, not by recursion (a reader far behind can hold
    /// millions of events).
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(segment) = next {
            next = match Arc::try_unwrap(segment) {
                Ok(mut segment) => segment.next.take(),
                Err(_) => None, // someone still reads it: it stays
            };
        }
    }
}

/// What the writer and one reader share: how to wake it, and roughly where it is.
#[derive(Debug)]
pub(crate) struct Parker {
    pub(crate) id: u64,
    waiting: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// The reader's position, updated when it waits or enters a segment (for the backlog).
    position: AtomicU64,
}

/// The writer's end, kept under the bus lock.
#[derive(Debug)]
pub(crate) struct Log {
    tail: Arc<Segment>,
    /// The position of the next event.
    next: u64,
    readers: Vec<Arc<Parker>>,
    closed: Arc<AtomicBool>,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            tail: Segment::new(0),
            next: 0,
            readers: Vec::new(),
            closed: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Log {
    /// Whether anyone reads the log.
    pub(crate) fn has_readers(&self) -> bool {
        !self.readers.is_empty()
    }

    pub(crate) fn readers(&self) -> usize {
        self.readers.len()
    }

    /// Appends an event; the wakers of readers that wait go to `wake` (to be called once the
    /// bus lock is released).
    pub(crate) fn append(&mut self, event: Arc<Event>, wake: &mut impl FnMut(Waker)) {
        let mut index = (self.next - self.tail.first) as usize;
        if index == SEGMENT {
            let segment = Segment::new(self.next);
            // Only this writer links segments: the slot is empty.
            let _ = self.tail.next.set(segment.clone());
            self.tail = segment;
            index = 0;
        }
        // Only this writer sets slots, each once: the slot is empty.
        let _ = self.tail.slots[index].set(event);
        self.next += 1;
        fence(Ordering::SeqCst);
        for reader in &self.readers {
            if reader.waiting.load(Ordering::Relaxed)
                && reader.waiting.swap(false, Ordering::AcqRel)
            {
                let waker = reader
                    .waker
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if let Some(waker) = waker {
                    wake(waker);
                }
            }
        }
    }

    /// A reader that starts at the next event.
    pub(crate) fn reader(&mut self, id: u64) -> Cursor {
        let parker = Arc::new(Parker {
            id,
            waiting: AtomicBool::new(false),
            waker: Mutex::new(None),
            position: AtomicU64::new(self.next),
        });
        // A reader of a closed log reads what is there, then the end.
        if !self.closed.load(Ordering::SeqCst) {
            self.readers.push(parker.clone());
        }
        Cursor {
            segment: self.tail.clone(),
            position: self.next,
            parker,
            closed: self.closed.clone(),
        }
    }

    /// Forgets reader `id` (it was dropped).
    pub(crate) fn remove(&mut self, id: u64) {
        self.readers.retain(|r| r.id != id);
    }

    /// Ends the log: readers receive what it holds, then the end. Returns their wakers.
    pub(crate) fn close(&mut self) -> Vec<Waker> {
        self.closed.store(true, Ordering::SeqCst);
        self.readers
            .drain(..)
            .filter_map(|r| {
                r.waiting.store(false, Ordering::Relaxed);
                r.waker
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
            })
            .collect()
    }

    /// The most events one reader has yet to read (within a segment: readers publish their
    /// position when they enter a segment or wait).
    pub(crate) fn backlog(&self) -> u64 {
        self.readers
            .iter()
            .map(|r| self.next.saturating_sub(r.position.load(Ordering::Relaxed)))
            .max()
            .unwrap_or(0)
    }
}

/// A reader's place in the log.
#[derive(Debug)]
pub(crate) struct Cursor {
    segment: Arc<Segment>,
    position: u64,
    parker: Arc<Parker>,
    closed: Arc<AtomicBool>,
}

impl Cursor {
    pub(crate) fn id(&self) -> u64 {
        self.parker.id
    }

    /// The event at the cursor, if written; moves past it.
    fn take(&mut self) -> Option<Arc<Event>> {
        let mut index = (self.position - self.segment.first) as usize;
        if index == SEGMENT {
            let next = self.segment.next.get()?.clone();
            self.segment = next;
            self.parker.position.store(self.position, Ordering::Relaxed);
            index = 0;
        }
        let event = self.segment.slots[index].get()?.clone();
        self.position += 1;
        Some(event)
    }

    /// The next event; `None` once the log is closed and read to its end.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Arc<Event>>> {
        if let Some(event) = self.take() {
            return Poll::Ready(Some(event));
        }
        {
            let mut waker = self
                .parker
                .waker
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waker = Some(cx.waker().clone());
            }
        }
        self.parker.position.store(self.position, Ordering::Relaxed);
        self.parker.waiting.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if let Some(event) = self.take() {
            self.parker.waiting.store(false, Ordering::Relaxed);
            return Poll::Ready(Some(event));
        }
        if self.closed.load(Ordering::SeqCst) {
            // Closing comes after the last append: what is not there now never will be.
            return Poll::Ready(self.take());
        }
        Poll::Pending
    }

    /// The next event if written.
    pub(crate) fn try_next(&mut self) -> Result<Arc<Event>, TryRecvError> {
        if let Some(event) = self.take() {
            return Ok(event);
        }
        if self.closed.load(Ordering::SeqCst) {
            return self.take().ok_or(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    fn event(seq: u64) -> Arc<Event> {
        Arc::new(Event::new(seq, 0, "a", "t", EventKind::Queued))
    }

    #[test]
    fn readers_follow_across_segments_and_free_what_all_passed() {
        let mut log = Log::default();
        let mut early = log.reader(0);
        let mut none = |_| {};
        for seq in 1..=SEGMENT as u64 * 3 + 5 {
            log.append(event(seq), &mut none);
        }
        let mut late = log.reader(1);
        log.append(event(10_000), &mut none);
        assert_eq!(log.backlog(), SEGMENT as u64 * 3 + 6);
        let mut seqs = Vec::new();
        while let Ok(e) = early.try_next() {
            seqs.push(e.seq);
        }
        assert_eq!(seqs.len(), SEGMENT * 3 + 6);
        assert!(
            seqs[..seqs.len() - 1]
                .iter()
                .copied()
                .eq(1..=SEGMENT as u64 * 3 + 5)
        );
        assert_eq!(late.try_next().map(|e| e.seq), Ok(10_000));
        assert_eq!(late.try_next(), Err(TryRecvError::Empty));
        // The first segments are freed: only the tail is held (by the log and both readers).
        assert_eq!(Arc::strong_count(&log.tail), 3);
        for _ in log.close() {}
        assert_eq!(early.try_next(), Err(TryRecvError::Closed));
    }

    #[test]
    fn a_long_chain_drops_without_recursion() {
        let mut log = Log::default();
        let reader = log.reader(0);
        let mut none = |_| {};
        let one = event(1);
        for _ in 0..SEGMENT * 20_000 {
            log.append(one.clone(), &mut none);
        }
        drop(log);
        drop(reader); // 20,000 segments freed in a loop
    }
}
