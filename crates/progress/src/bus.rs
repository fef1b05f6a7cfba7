//! The bus: one per batch; emits events to every subscriber and keeps the batch's tracker.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use serde_json::Value;
use tokio::time::Instant;

use crate::estimate::Estimator;
use crate::eta::Eta;
use crate::event::{Event, EventKind};
use crate::log::Log;
use crate::reporter::Reporter;
use crate::roster::Roster;
use crate::snapshot::BatchSnapshot;
use crate::subscriber::{LosslessSubscriber, Outlet, Reader, Subscriber};
use crate::tracker::Tracker;

/// Events the bus keeps for late subscribers by default ([`BusBuilder::window`]), and the
/// default capacity of a display subscriber.
pub const DEFAULT_WINDOW: usize = 1_024;

/// Bus settings.
#[derive(Debug, Clone)]
struct Config {
    window: usize,
    estimator: Estimator,
    start: Option<Instant>,
}

/// Builds a [`Bus`].
///
/// ```
/// # use volley_planner::{Call, Plan, Planner};
/// # use serde_json::json;
/// use volley_progress::{Bus, Estimator, Roster};
///
/// # let plan = Plan::new(vec![Call::new("get_weather", json!({}))]);
/// # let dag = Planner::new().plan(&plan).unwrap();
/// let mut estimator = Estimator::new();
/// estimator.seed("get_weather", 400);
/// let bus = Bus::builder(Roster::new(&plan, &dag)?)
///     .window(256)
///     .estimator(estimator)
///     .build();
/// assert_eq!(bus.snapshot().calls[0].estimate_ms, 400);
/// # Ok::<(), volley_progress::ProgressError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BusBuilder {
    roster: Roster,
    config: Config,
}

impl BusBuilder {
    /// How many recent events the bus keeps for [`Bus::subscribe_from`] (a client resuming a
    /// stream); also the capacity of [`Bus::subscribe`]'s display subscribers. 0 keeps none.
    ///
    /// By default, this is [`DEFAULT_WINDOW`] (1,024 events).
    pub fn window(&mut self, events: usize) -> &mut BusBuilder {
        self.config.window = events;
        self
    }

    /// The estimates to start from (the engine's, learned from earlier batches).
    ///
    /// By default, a fresh [`Estimator`]: the plan's estimates only.
    pub fn estimator(&mut self, estimator: Estimator) -> &mut BusBuilder {
        self.config.estimator = estimator;
        self
    }

    /// When the batch started: `at_ms` of events counts from here.
    ///
    /// By default, when [`build`](BusBuilder::build) is called.
    pub fn start(&mut self, at: Instant) -> &mut BusBuilder {
        self.config.start = Some(at);
        self
    }

    /// The bus.
    pub fn build(&self) -> Bus {
        let config = self.config.clone();
        let shared = Shared {
            roster: self.roster.clone(),
            start: config.start.unwrap_or_else(Instant::now),
            window: config.window,
            state: Mutex::new(State {
                next_seq: 1,
                last_at_ms: 0,
                recent: VecDeque::with_capacity(config.window.min(DEFAULT_WINDOW)),
                tracker: Tracker::with_estimator(self.roster.clone(), config.estimator),
                log: Log::default(),
                outlets: Vec::new(),
                next_id: 0,
                closed: false,
            }),
        };
        Bus {
            handle: Arc::new(Handle {
                shared: Arc::new(shared),
            }),
        }
    }
}

/// The progress bus of one batch: the engine emits events; any number of subscribers receive
/// them; a tracker keeps the snapshot.
///
/// Cheap to clone (each clone is an emitting handle). The bus closes when [`close`](Bus::close)
/// is called or the last handle (reporters included) is dropped; subscribers then receive what
/// is left and `None`.
///
/// Two kinds of subscribers:
/// - [`subscribe_lossless`](Bus::subscribe_lossless): every event, in order, never dropped: for
///   the path that feeds results and the audit log. Lossless subscribers read one shared log
///   (each event is appended once, however many read it) without taking any lock; the log keeps
///   what the slowest has not read, so a lossless subscriber must keep up on average (memory
///   grows while it does not; [`Bus::backlog`] shows by how much).
/// - [`subscribe`](Bus::subscribe): for displays. Each has a bounded channel; when it is full,
///   further events are dropped for it alone and it is told how many, where they were
///   ([`Received::Lagged`](crate::Received::Lagged)), after which it may
///   [`resync`](Subscriber::resync) from a snapshot.
///
/// Emitting never waits for a subscriber and takes no lock a subscriber holds: only the bus's
/// own lock, which orders events (`seq`), updates the tracker and appends. Every subscriber sees
/// events in the same order, that of `seq`.
#[derive(Debug, Clone)]
pub struct Bus {
    handle: Arc<Handle>,
}

/// Closes the bus when the last emitting handle goes.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// What emitters and subscribers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) roster: Roster,
    pub(crate) start: Instant,
    pub(crate) window: usize,
    state: Mutex<State>,
}

#[derive(Debug)]
pub(crate) struct State {
    next_seq: u64,
    last_at_ms: u64,
    /// The latest `window` events, for resuming subscribers; kept compact (no allocation per
    /// event) and turned into [`Event`]s only when a subscriber resumes.
    recent: VecDeque<Recent>,
    pub(crate) tracker: Tracker,
    /// What lossless subscribers read.
    log: Log,
    /// The bus's end of each display subscriber's channel.
    outlets: Vec<Outlet>,
    next_id: u64,
    pub(crate) closed: bool,
}

/// Wakers to call once the lock is released: a few inline (no allocation on the emit path),
/// any more in a vector.
#[derive(Default)]
struct Wakers {
    inline: [Option<Waker>; 4],
    len: usize,
    more: Vec<Waker>,
}

impl Wakers {
    fn push(&mut self, waker: Waker) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(waker);
                self.len += 1;
            }
            None => self.more.push(waker),
        }
    }

    fn wake_all(self) {
        for waker in self.inline.into_iter().flatten().chain(self.more) {
            waker.wake();
        }
    }
}

/// An event as the replay window keeps it: the call by position, not by name.
#[derive(Debug)]
struct Recent {
    seq: u64,
    at_ms: u64,
    call: u32,
    kind: EventKind,
    detail: Option<Arc<Value>>,
}

impl Recent {
    fn event(&self, roster: &Roster) -> Option<Arc<Event>> {
        let info = roster.call(self.call as usize)?;
        Some(Arc::new(Event {
            seq: self.seq,
            at_ms: self.at_ms,
            call: info.id.clone(),
            tool: info.tool.clone(),
            kind: self.kind.clone(),
            detail: self.detail.clone(),
        }))
    }
}

impl State {
    /// The outlet of subscriber `id`.
    pub(crate) fn outlet(&mut self, id: u64) -> Option<&mut Outlet> {
        self.outlets.iter_mut().find(|o| o.id == id)
    }

    /// A channel for a new subscriber, first given what `fill` sends. The bus keeps its end
    /// unless the bus is closed (then the subscriber receives what `fill` sent, then the end).
    fn attach(&mut self, capacity: usize, fill: impl FnOnce(&mut Outlet)) -> Reader {
        let id = self.next_id;
        self.next_id += 1;
        let (mut outlet, reader) = Outlet::new(id, capacity);
        fill(&mut outlet);
        if !self.closed {
            self.outlets.push(outlet);
        }
        reader
    }

    /// The seq of the last event emitted (0 before any).
    pub(crate) fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent data (every update is a
        // few plain assignments): keep going rather than poison every emitter.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn now_ms(&self) -> u64 {
        // Not `as_millis()`: its u128 division costs more than the rest of an emit.
        let elapsed = self.start.elapsed();
        elapsed
            .as_secs()
            .saturating_mul(1_000)
            .saturating_add(u64::from(elapsed.subsec_millis()))
    }

    pub(crate) fn snapshot_locked(&self, state: &State) -> BatchSnapshot {
        state.tracker.snapshot(self.now_ms())
    }

    fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let wakers = state.log.close();
        // Dropping the senders ends every display subscriber's stream once it is drained.
        let outlets = std::mem::take(&mut state.outlets);
        drop(state);
        drop(outlets);
        for waker in wakers {
            waker.wake();
        }
    }

    pub(crate) fn unsubscribe(&self, id: u64) {
        let mut state = self.lock();
        state.outlets.retain(|o| o.id != id);
        state.log.remove(id);
    }
}

impl Bus {
    /// A bus for the roster's calls, with default settings.
    pub fn new(roster: Roster) -> Bus {
        Bus::builder(roster).build()
    }

    /// A builder for a bus of the roster's calls.
    pub fn builder(roster: Roster) -> BusBuilder {
        BusBuilder {
            roster,
            config: Config {
                window: DEFAULT_WINDOW,
                estimator: Estimator::new(),
                start: None,
            },
        }
    }

    /// Emits what happened to call `i` (its position in the plan). Returns the event's `seq`,
    /// or `None` when the bus is closed or has no call `i`.
    ///
    /// Never waits for a subscriber and never fails for one.
    pub fn emit(&self, call: usize, kind: EventKind) -> Option<u64> {
        self.emit_inner(call, kind, None)
    }

    /// Emits as [`emit`](Bus::emit) does, with the call's arguments or output when the call
    /// opted in ([`Roster::reveal`]); `detail` is not even called otherwise.
    pub fn emit_with_detail(
        &self,
        call: usize,
        kind: EventKind,
        detail: impl FnOnce() -> Value,
    ) -> Option<u64> {
        let shared = &self.handle.shared;
        let detail = shared.roster.reveals(call).then(|| Arc::new(detail()));
        self.emit_inner(call, kind, detail)
    }

    fn emit_inner(&self, call: usize, kind: EventKind, detail: Option<Arc<Value>>) -> Option<u64> {
        let shared = &*self.handle.shared;
        let info = shared.roster.call(call)?;
        // Read the clock outside the lock; `at_ms` is made monotonic under it.
        let now = shared.now_ms();
        let mut state = shared.lock();
        if state.closed {
            return None;
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        let at_ms = now.max(state.last_at_ms);
        state.last_at_ms = at_ms;
        state.tracker.apply_at(call, seq, at_ms, &kind);
        let mut wakers = Wakers::default();
        if state.log.has_readers() || !state.outlets.is_empty() {
            let event = Arc::new(Event {
                seq,
                at_ms,
                call: info.id.clone(),
                tool: info.tool.clone(),
                kind: kind.clone(),
                detail: detail.clone(),
            });
            // A display subscriber that is gone is forgotten.
            state.outlets.retain_mut(|outlet| outlet.send(&event));
            if state.log.has_readers() {
                state.log.append(event, &mut |waker| wakers.push(waker));
            }
        }
        if shared.window > 0 {
            if state.recent.len() == shared.window {
                state.recent.pop_front();
            }
            state.recent.push_back(Recent {
                seq,
                at_ms,
                call: call as u32,
                kind,
                detail,
            });
        }
        // Wake waiting readers after the lock: waking may cost a system call.
        drop(state);
        wakers.wake_all();
        Some(seq)
    }

    /// A reporter for call `i`, to hand to its tool; `None` when the bus has no call `i`.
    pub fn reporter(&self, call: usize) -> Option<Reporter> {
        (call < self.handle.shared.roster.len()).then(|| Reporter::new(self.clone(), call))
    }

    /// A display subscriber that receives events from now on, with a queue of
    /// [`window`](BusBuilder::window) events ([`DEFAULT_WINDOW`] when the window is 0).
    pub fn subscribe(&self) -> Subscriber {
        let capacity = match self.handle.shared.window {
            0 => DEFAULT_WINDOW,
            w => w,
        };
        self.subscribe_with_capacity(capacity)
    }

    /// A display subscriber whose queue holds `capacity` events (at least 1).
    pub fn subscribe_with_capacity(&self, capacity: usize) -> Subscriber {
        let shared = &self.handle.shared;
        let reader = shared.lock().attach(capacity, |_| {});
        Subscriber::new(shared.clone(), reader)
    }

    /// A display subscriber that resumes after event `after_seq` (the SSE `Last-Event-ID`): it
    /// first receives the kept events that came after it, then live ones. When some of those
    /// are no longer kept, its first message is [`Received::Lagged`](crate::Received::Lagged)
    /// with how many; it may then [`resync`](Subscriber::resync). `after_seq` 0 means from the
    /// start of the batch.
    pub fn subscribe_from(&self, after_seq: u64) -> Subscriber {
        let shared = &self.handle.shared;
        let capacity = match shared.window {
            0 => DEFAULT_WINDOW,
            w => w,
        };
        let mut state = shared.lock();
        let first_kept = state.recent.front().map_or(state.next_seq, |e| e.seq);
        let missed = first_kept.saturating_sub(after_seq.saturating_add(1));
        let replay: Vec<Arc<Event>> = state
            .recent
            .iter()
            .filter(|e| e.seq > after_seq)
            .filter_map(|e| e.event(&shared.roster))
            .collect();
        let reader = state.attach(capacity, |outlet| {
            outlet.missed(missed);
            for event in &replay {
                outlet.send(event);
            }
        });
        drop(state);
        Subscriber::new(shared.clone(), reader)
    }

    /// A lossless subscriber: every event from now on, in order, none dropped.
    pub fn subscribe_lossless(&self) -> LosslessSubscriber {
        self.subscribe_lossless_with_snapshot().1
    }

    /// A lossless subscriber and the snapshot it starts from, taken at once: the subscriber
    /// receives exactly the events after the snapshot's `seq`.
    pub fn subscribe_lossless_with_snapshot(&self) -> (BatchSnapshot, LosslessSubscriber) {
        let shared = &self.handle.shared;
        let mut state = shared.lock();
        let snapshot = shared.snapshot_locked(&state);
        let id = state.next_id;
        state.next_id += 1;
        let cursor = state.log.reader(id);
        drop(state);
        (snapshot, LosslessSubscriber::new(shared.clone(), cursor))
    }

    /// Where the batch stands now.
    pub fn snapshot(&self) -> BatchSnapshot {
        let shared = &self.handle.shared;
        let state = shared.lock();
        shared.snapshot_locked(&state)
    }

    /// The batch's ETA now (see [`Tracker::eta`]).
    pub fn eta(&self) -> Eta {
        let shared = &self.handle.shared;
        let now = shared.now_ms();
        shared.lock().tracker.eta(now)
    }

    /// The estimates, refined by the calls of this batch that completed.
    pub fn estimator(&self) -> Estimator {
        self.handle.shared.lock().tracker.estimator().clone()
    }

    /// A copy of the tracker, for reading several things at one moment.
    pub fn tracker(&self) -> Tracker {
        self.handle.shared.lock().tracker.clone()
    }

    /// The calls of the batch.
    pub fn roster(&self) -> &Roster {
        &self.handle.shared.roster
    }

    /// Milliseconds since the batch started.
    pub fn elapsed_ms(&self) -> u64 {
        self.handle.shared.now_ms()
    }

    /// When the batch started.
    pub fn started_at(&self) -> Instant {
        self.handle.shared.start
    }

    /// The instant `ms` milliseconds after the batch started (for `tokio::time::sleep_until`,
    /// for example until [`Heartbeats::next_due_ms`](crate::Heartbeats::next_due_ms)).
    pub fn instant_at(&self, ms: u64) -> Instant {
        self.handle.shared.start + std::time::Duration::from_millis(ms)
    }

    /// The seq of the last event emitted (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.handle.shared.lock().last_seq()
    }

    /// How many subscribers are attached.
    pub fn subscribers(&self) -> usize {
        let state = self.handle.shared.lock();
        state.outlets.len() + state.log.readers()
    }

    /// The most events waiting in one subscriber's queue: how far the slowest lags.
    pub fn backlog(&self) -> u64 {
        let state = self.handle.shared.lock();
        state
            .outlets
            .iter()
            .map(Outlet::backlog)
            .max()
            .unwrap_or(0)
            .max(state.log.backlog())
    }

    /// Closes the bus: later events are refused; subscribers receive what is queued, then
    /// `None`. Late subscribers (a client resuming its stream) still get the kept events.
    pub fn close(&self) {
        self.handle.shared.close();
    }

    /// Whether the bus is closed.
    pub fn is_closed(&self) -> bool {
        self.handle.shared.lock().closed
    }
}
