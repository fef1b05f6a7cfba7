//! The manager's state, behind one mutex: what is held, who waits, and the grant rules.
//!
//! Every decision happens in one short critical section, so a request is granted whole or
//! not at all and nothing is ever held while waiting.

use std::collections::{BTreeMap, VecDeque};
use std::mem;
use std::sync::Arc;
use std::task::Waker;

use rustc_hash::FxHashMap;
use tokio::time::Instant;

use crate::access::{AccessKey, LockMode};
use crate::error::{AcquireError, Dimension};
use crate::priority::Priority;
use crate::rate::Limiter;
use crate::request::Request;
use crate::snapshot::{Holder, LockSnapshot, RateLimitSnapshot, Snapshot, ToolSnapshot, Usage};
use crate::wake::WakeList;

/// Micro-cores per core: CPU is counted in integers so sums never drift.
const MICRO: f64 = 1_000_000.0;

/// Idle lock and tool entries are kept (so a hot key costs no allocation) until there are
/// more than this many and they outnumber the busy ones; then they are swept.
const IDLE_SWEEP_MIN: usize = 256;

/// The capacities, fixed when the manager is built. `None` is unlimited.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caps {
    pub(crate) global: Option<u64>,
    /// In micro-cores.
    pub(crate) cpu: Option<u64>,
    pub(crate) memory: Option<u64>,
    pub(crate) io: Option<u64>,
}

/// A request's budget amounts, validated and in integer units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    pub(crate) global: bool,
    /// In micro-cores.
    pub(crate) cpu: u64,
    pub(crate) memory: u64,
    pub(crate) io: u64,
}

impl Caps {
    /// Checks a request's amounts and converts them, or refuses it at once.
    pub(crate) fn validate(&self, request: &Request) -> Result<Needs, AcquireError> {
        let cores = request.cpu_cores();
        if !cores.is_finite() || cores < 0.0 {
            return Err(AcquireError::InvalidAmount {
                dimension: Dimension::Cpu,
                value: cores,
            });
        }
        // `as` saturates: an absurd request becomes u64::MAX and exceeds any capacity.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // reason: checked above
        let needs = Needs {
            global: request.takes_global_slot(),
            cpu: (cores * MICRO).round() as u64,
            memory: request.memory(),
            io: u64::from(request.io_slots()),
        };
        let exceeds = |dimension, requested: u64, capacity: Option<u64>, scale: f64| match capacity
        {
            Some(capacity) if requested > capacity => Err(AcquireError::ExceedsCapacity {
                dimension,
                requested: requested as f64 / scale,
                capacity: capacity as f64 / scale,
            }),
            _ => Ok(()),
        };
        exceeds(Dimension::Global, u64::from(needs.global), self.global, 1.0)?;
        if needs.cpu > 0 {
            exceeds(Dimension::Cpu, needs.cpu, self.cpu, MICRO).map_err(|e| match e {
                // Report what the caller wrote, not its rounding.
                AcquireError::ExceedsCapacity {
                    dimension,
                    capacity,
                    ..
                } => AcquireError::ExceedsCapacity {
                    dimension,
                    requested: cores,
                    capacity,
                },
                other => other,
            })?;
        }
        exceeds(Dimension::Memory, needs.memory, self.memory, 1.0)?;
        exceeds(Dimension::Io, needs.io, self.io, 1.0)?;
        Ok(needs)
    }
}

/// What stands between a request and a grant (lock indices refer to the request's locks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conflict {
    Global,
    Cpu,
    Memory,
    Io,
    Tool,
    Lock(usize),
}

impl Conflict {
    pub(crate) fn dimension(self, request: &Request) -> Dimension {
        match self {
            Conflict::Global => Dimension::Global,
            Conflict::Cpu => Dimension::Cpu,
            Conflict::Memory => Dimension::Memory,
            Conflict::Io => Dimension::Io,
            Conflict::Tool => Dimension::Tool {
                tool: request.tool_name().unwrap_or_default().to_owned(),
            },
            Conflict::Lock(i) => Dimension::Lock {
                key: request
                    .locks()
                    .get(i)
                    .map(|l| l.key().to_owned())
                    .unwrap_or_default(),
            },
        }
    }
}

/// Where an entry is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// The slot is unused.
    Free,
    /// Waiting in the queue for capacity.
    Queued,
    /// In the queue, and the one waiter of its tool that sleeps until the rate limit
    /// allows a call at this instant (its own tokio timer); the tool's other waiters are
    /// skipped meanwhile and hold nothing back.
    RateWait(Instant),
    /// Granted: a permit (or a future about to return one) owns it.
    Held,
}

/// One request, from arrival until its permit is dropped.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Kept in a free slot until the slot is reused (status tells them apart).
    request: Request,
    needs: Needs,
    status: Status,
    waker: Option<Waker>,
    /// Unique, increasing: arrival order and the permit's id.
    id: u64,
    /// How many later conflicting requests were granted while this one waited.
    overtaken: u32,
    /// Whether its tool has a rate limit (fixed at build, so cached here).
    rate_limited: bool,
}

#[derive(Debug, Default)]
struct LockState {
    readers: u32,
    writer: bool,
}

impl LockState {
    fn idle(&self) -> bool {
        self.readers == 0 && !self.writer
    }

    fn admits(&self, mode: LockMode) -> bool {
        match mode {
            LockMode::Read => !self.writer,
            LockMode::Write => !self.writer && self.readers == 0,
        }
    }

    fn mode(&self) -> Option<LockMode> {
        if self.writer {
            Some(LockMode::Write)
        } else if self.readers > 0 {
            Some(LockMode::Read)
        } else {
            None
        }
    }
}

/// One tool: configured ones live forever, others only while in flight (or until swept).
#[derive(Debug, Default)]
pub(crate) struct ToolState {
    configured: bool,
    cap: Option<u64>,
    limiter: Option<Limiter>,
    in_flight: u64,
    /// Set while one of its waiters sleeps on the rate limit (see [`Status::RateWait`]).
    rate_blocked_until: Option<Instant>,
}

impl ToolState {
    pub(crate) fn configured(cap: Option<u64>, limiter: Option<Limiter>) -> Self {
        Self {
            configured: true,
            cap,
            limiter,
            ..Self::default()
        }
    }

    fn idle(&self) -> bool {
        !self.configured && self.in_flight == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Used {
    global: u64,
    cpu: u64,
    memory: u64,
    io: u64,
}

/// What happened to a new request.
pub(crate) enum Admission {
    /// Granted at once: the slot and permit id.
    Granted { slot: u32, id: u64 },
    /// Queued; a future waits on the slot.
    Queued { slot: u32 },
}

/// Why `try_acquire` could not grant.
pub(crate) enum Refusal {
    Busy(Conflict),
    RateLimited(Instant),
}

/// What a waiting future finds when it looks at its entry.
pub(crate) enum WaitStatus {
    Granted(u64),
    Queued,
    RateWait(Instant),
}

/// The decision for a request not yet queued.
enum Decision {
    Grant,
    Busy(Conflict),
    /// Its tool already has a waiter sleeping on the rate limit until then.
    RateBlocked(Instant),
    /// Everything else fits, but the rate limit allows no call until then.
    RateRefused(Instant),
}

/// Number of priority levels, and so of wait queues.
const LEVELS: usize = Priority::ALL.len();

#[derive(Debug)]
pub(crate) struct State {
    caps: Caps,
    bypass_limit: u32,
    used: Used,
    /// One FIFO per priority, most urgent first; each holds entry slots in arrival order.
    queue: [VecDeque<u32>; LEVELS],
    queued: usize,
    queued_global: usize,
    entries: Vec<Entry>,
    free: Vec<u32>,
    next_id: u64,
    locks: FxHashMap<Arc<str>, LockState>,
    idle_locks: usize,
    tools: FxHashMap<Arc<str>, ToolState>,
    idle_tools: usize,
    /// Scratch lists for `dispatch`, kept to avoid allocating.
    blocked: Vec<u32>,
    barriers: Vec<u32>,
}

impl State {
    pub(crate) fn new(
        caps: Caps,
        bypass_limit: u32,
        tools: FxHashMap<Arc<str>, ToolState>,
    ) -> Self {
        Self {
            caps,
            bypass_limit,
            used: Used::default(),
            queue: Default::default(),
            queued: 0,
            queued_global: 0,
            entries: Vec::new(),
            free: Vec::new(),
            next_id: 1,
            locks: FxHashMap::default(),
            idle_locks: 0,
            tools,
            idle_tools: 0,
            blocked: Vec::new(),
            barriers: Vec::new(),
        }
    }

    // ----- new requests -----

    /// Grants a new request now, or queues it (its future then waits on the slot).
    pub(crate) fn admit(
        &mut self,
        needs: Needs,
        request: &Request,
        waker: &Waker,
    ) -> Result<Admission, AcquireError> {
        Ok(match self.decide(&needs, request)? {
            Decision::Grant => self.grant_new(needs, request),
            Decision::Busy(_) | Decision::RateBlocked(_) => {
                let slot = self.push_waiter(needs, request, Status::Queued, waker);
                Admission::Queued { slot }
            }
            Decision::RateRefused(at) => {
                self.block_tool(request, at);
                let slot = self.push_waiter(needs, request, Status::RateWait(at), waker);
                Admission::Queued { slot }
            }
        })
    }

    /// Grants a new request now, or says why not; never queues.
    pub(crate) fn try_admit(
        &mut self,
        needs: Needs,
        request: &Request,
    ) -> Result<Result<(u32, u64), Refusal>, AcquireError> {
        Ok(match self.decide(&needs, request)? {
            Decision::Grant => match self.grant_new(needs, request) {
                Admission::Granted { slot, id } => Ok((slot, id)),
                Admission::Queued { .. } => unreachable!("grant_new always grants"),
            },
            Decision::Busy(conflict) => Err(Refusal::Busy(conflict)),
            Decision::RateBlocked(at) | Decision::RateRefused(at) => Err(Refusal::RateLimited(at)),
        })
    }

    fn decide(&self, needs: &Needs, request: &Request) -> Result<Decision, AcquireError> {
        let tool = request.tool_arc().and_then(|t| self.tools.get(&**t));
        if let Some(tool) = tool {
            if tool.cap == Some(0) {
                return Err(AcquireError::ExceedsCapacity {
                    dimension: Conflict::Tool.dimension(request),
                    requested: 1.0,
                    capacity: 0.0,
                });
            }
            if let Some(until) = tool.rate_blocked_until {
                return Ok(Decision::RateBlocked(until));
            }
        }
        if let Some(conflict) = self.busy_on(needs, request) {
            return Ok(Decision::Busy(conflict));
        }
        if self.queued > 0
            && let Some(conflict) = self.barrier_ahead(needs, request)
        {
            return Ok(Decision::Busy(conflict));
        }
        // Last, so a rate token is spent only when the whole request is granted.
        if let Some(limiter) = tool.and_then(|t| t.limiter.as_ref())
            && let Err(at) = limiter.check()
        {
            return Ok(Decision::RateRefused(at));
        }
        Ok(Decision::Grant)
    }

    fn grant_new(&mut self, needs: Needs, request: &Request) -> Admission {
        self.commit(&needs, request);
        if self.queued > 0 {
            self.count_overtakes(&needs, request);
        }
        let slot = self.alloc(needs, request, Status::Held, None);
        let id = self.entries[slot as usize].id;
        Admission::Granted { slot, id }
    }

    /// A queued waiter ahead of a new request that may no longer be overtaken by it.
    fn barrier_ahead(&self, needs: &Needs, request: &Request) -> Option<Conflict> {
        let rank = request.priority_level().rank();
        self.queue[..=rank].iter().flatten().find_map(|&slot| {
            let e = &self.entries[slot as usize];
            if e.overtaken < self.bypass_limit || self.rate_blocked(e) {
                return None;
            }
            let first = conflict((needs, request), (&e.needs, &e.request), &self.tools)?;
            // Name what the barrier is short of, when the new request needs it too.
            let short = self.busy_on(&e.needs, &e.request);
            Some(
                short
                    .and_then(|c| same_dimension(c, &e.request, needs, request))
                    .unwrap_or(first),
            )
        })
    }

    /// Counts a new grant against every conflicting waiter it overtook.
    fn count_overtakes(&mut self, needs: &Needs, request: &Request) {
        let rank = request.priority_level().rank();
        for q in 0..=rank {
            for i in 0..self.queue[q].len() {
                let slot = self.queue[q][i] as usize;
                let e = &self.entries[slot];
                if !self.rate_blocked(e)
                    && conflict((needs, request), (&e.needs, &e.request), &self.tools).is_some()
                {
                    self.entries[slot].overtaken += 1;
                }
            }
        }
    }

    // ----- waiting futures -----

    /// What the future waiting on `slot` should do; records its waker while it waits.
    pub(crate) fn wait_status(&mut self, slot: u32, waker: &Waker) -> WaitStatus {
        let e = &mut self.entries[slot as usize];
        match e.status {
            Status::Held => {
                e.waker = None;
                WaitStatus::Granted(e.id)
            }
            Status::Queued | Status::RateWait(_) | Status::Free => {
                match &e.waker {
                    Some(w) if w.will_wake(waker) => {}
                    _ => e.waker = Some(waker.clone()),
                }
                match e.status {
                    Status::RateWait(at) => WaitStatus::RateWait(at),
                    _ => WaitStatus::Queued,
                }
            }
        }
    }

    /// The rate-limit timer of the waiter on `slot` fired: its tool may try again.
    pub(crate) fn rate_timer_fired(&mut self, slot: u32, wakers: &mut WakeList) {
        if let Status::RateWait(_) = self.entries[slot as usize].status {
            self.entries[slot as usize].status = Status::Queued;
            self.unblock_tool_of(slot);
            self.dispatch(wakers);
        }
    }

    /// The future waiting on `slot` was dropped: undo whatever it had.
    pub(crate) fn cancel(&mut self, slot: u32, wakers: &mut WakeList) {
        match self.entries[slot as usize].status {
            Status::Held => return self.release(slot, wakers),
            Status::Queued => self.dequeue(slot),
            Status::RateWait(_) => {
                self.dequeue(slot);
                // Its tool's other waiters relied on this one's timer: let dispatch pick one.
                self.unblock_tool_of(slot);
            }
            Status::Free => return,
        }
        self.free_slot(slot);
        self.dispatch(wakers);
    }

    /// A permit was dropped: release what it held and grant whoever can go now.
    pub(crate) fn release(&mut self, slot: u32, wakers: &mut WakeList) {
        let e = &self.entries[slot as usize];
        if e.status != Status::Held {
            return;
        }
        let needs = e.needs;
        // Uncommit reads the request's keys; the slot keeps it until reused.
        let request = e.request.clone();
        self.free_slot(slot);
        self.uncommit(&needs, &request);
        self.dispatch(wakers);
    }

    // ----- the queue -----

    /// Grants every waiter that can go, most urgent first, then in arrival order.
    ///
    /// A waiter that does not fit lets later ones pass, but counts each later grant that
    /// conflicts with it; once `bypass_limit` have passed it becomes a barrier, and later
    /// waiters that conflict with it wait behind it. Waiters whose tool sleeps on its rate
    /// limit are skipped: they hold nothing back and are not counted as overtaken.
    pub(crate) fn dispatch(&mut self, wakers: &mut WakeList) {
        if self.queued == 0 {
            return;
        }
        let mut blocked = mem::take(&mut self.blocked);
        let mut barriers = mem::take(&mut self.barriers);
        blocked.clear();
        barriers.clear();
        'scan: for rank in 0..LEVELS {
            let mut i = 0;
            while i < self.queue[rank].len() {
                if self.exhausted() {
                    break 'scan;
                }
                let slot = self.queue[rank][i];
                i += 1;
                let e = &self.entries[slot as usize];
                if self.rate_blocked(e) {
                    continue;
                }
                let behind_barrier = barriers.iter().any(|&b| self.conflicts(b, slot));
                if behind_barrier || self.busy_on(&e.needs, &e.request).is_some() {
                    if e.overtaken >= self.bypass_limit {
                        barriers.push(slot);
                    }
                    blocked.push(slot);
                    continue;
                }
                if let Some(Err(at)) = self.limiter_of(e).map(Limiter::check) {
                    self.entries[slot as usize].status = Status::RateWait(at);
                    self.block_tool_of(slot, at);
                    self.wake(slot, wakers);
                    continue;
                }
                i -= 1;
                self.queue[rank].remove(i);
                self.unqueued(slot);
                self.commit_slot(slot);
                self.entries[slot as usize].status = Status::Held;
                self.wake(slot, wakers);
                for &b in &blocked {
                    if self.conflicts(b, slot) {
                        let overtaken = &mut self.entries[b as usize].overtaken;
                        *overtaken += 1;
                        if *overtaken == self.bypass_limit {
                            barriers.push(b);
                        }
                    }
                }
            }
        }
        self.blocked = blocked;
        self.barriers = barriers;
    }

    /// True when no waiter can possibly be granted: every one needs a global slot and
    /// none is free. Keeps a release under a deep queue O(1).
    fn exhausted(&self) -> bool {
        self.queued_global == self.queued && self.caps.global.is_some_and(|c| self.used.global >= c)
    }

    fn push_waiter(
        &mut self,
        needs: Needs,
        request: &Request,
        status: Status,
        waker: &Waker,
    ) -> u32 {
        let slot = self.alloc(needs, request, status, Some(waker.clone()));
        let rank = request.priority_level().rank();
        // Ids increase, so pushing at the back keeps each queue in arrival order.
        self.queue[rank].push_back(slot);
        self.queued += 1;
        if needs.global {
            self.queued_global += 1;
        }
        slot
    }

    fn dequeue(&mut self, slot: u32) {
        let rank = self.entries[slot as usize].request.priority_level().rank();
        if let Some(i) = self.queue[rank].iter().position(|&s| s == slot) {
            self.queue[rank].remove(i);
            self.unqueued(slot);
        }
    }

    fn unqueued(&mut self, slot: u32) {
        self.queued -= 1;
        if self.entries[slot as usize].needs.global {
            self.queued_global -= 1;
        }
    }

    fn wake(&mut self, slot: u32, wakers: &mut WakeList) {
        if let Some(w) = self.entries[slot as usize].waker.take() {
            wakers.push(w);
        }
    }

    // ----- entries -----

    fn alloc(
        &mut self,
        needs: Needs,
        request: &Request,
        status: Status,
        waker: Option<Waker>,
    ) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let rate_limited = request
            .tool_arc()
            .and_then(|t| self.tools.get(&**t))
            .is_some_and(|t| t.limiter.is_some());
        let entry = Entry {
            request: request.clone(),
            needs,
            status,
            waker,
            id,
            overtaken: 0,
            rate_limited,
        };
        match self.free.pop() {
            Some(slot) => {
                self.entries[slot as usize] = entry;
                slot
            }
            None => {
                self.entries.push(entry);
                // Slots are u32: four billion simultaneous requests is not a use case.
                #[allow(clippy::cast_possible_truncation)] // reason: see above
                let slot = (self.entries.len() - 1) as u32;
                slot
            }
        }
    }

    fn free_slot(&mut self, slot: u32) {
        let e = &mut self.entries[slot as usize];
        e.status = Status::Free;
        e.waker = None;
        self.free.push(slot);
    }

    fn rate_blocked(&self, e: &Entry) -> bool {
        e.rate_limited
            && e.request
                .tool_arc()
                .and_then(|t| self.tools.get(&**t))
                .is_some_and(|t| t.rate_blocked_until.is_some())
    }

    fn limiter_of(&self, e: &Entry) -> Option<&Limiter> {
        if !e.rate_limited {
            return None;
        }
        let tool = e.request.tool_arc()?;
        self.tools.get(&**tool)?.limiter.as_ref()
    }

    fn block_tool(&mut self, request: &Request, at: Instant) {
        if let Some(tool) = request.tool_arc().and_then(|t| self.tools.get_mut(&**t)) {
            tool.rate_blocked_until = Some(at);
        }
    }

    fn block_tool_of(&mut self, slot: u32, at: Instant) {
        let request = self.entries[slot as usize].request.clone();
        self.block_tool(&request, at);
    }

    fn unblock_tool_of(&mut self, slot: u32) {
        let e = &self.entries[slot as usize];
        if let Some(tool) = e.request.tool_arc().and_then(|t| self.tools.get_mut(&**t)) {
            tool.rate_blocked_until = None;
        }
    }

    fn conflicts(&self, a: u32, b: u32) -> bool {
        let (a, b) = (&self.entries[a as usize], &self.entries[b as usize]);
        conflict((&a.needs, &a.request), (&b.needs, &b.request), &self.tools).is_some()
    }

    // ----- capacity -----

    /// The first dimension that cannot take this request now.
    fn busy_on(&self, needs: &Needs, request: &Request) -> Option<Conflict> {
        let over = |used: u64, need: u64, cap: Option<u64>| {
            need > 0 && cap.is_some_and(|cap| used.saturating_add(need) > cap)
        };
        if over(self.used.global, u64::from(needs.global), self.caps.global) {
            return Some(Conflict::Global);
        }
        if over(self.used.cpu, needs.cpu, self.caps.cpu) {
            return Some(Conflict::Cpu);
        }
        if over(self.used.memory, needs.memory, self.caps.memory) {
            return Some(Conflict::Memory);
        }
        if over(self.used.io, needs.io, self.caps.io) {
            return Some(Conflict::Io);
        }
        if let Some(tool) = request.tool_arc().and_then(|t| self.tools.get(&**t))
            && tool.cap.is_some_and(|cap| tool.in_flight >= cap)
        {
            return Some(Conflict::Tool);
        }
        request.locks().iter().enumerate().find_map(|(i, l)| {
            let busy = self.locks.get(l.key()).is_some_and(|s| !s.admits(l.mode()));
            busy.then_some(Conflict::Lock(i))
        })
    }

    fn commit_slot(&mut self, slot: u32) {
        let e = &self.entries[slot as usize];
        let (needs, request) = (e.needs, e.request.clone());
        self.commit(&needs, &request);
    }

    fn commit(&mut self, needs: &Needs, request: &Request) {
        self.used.global += u64::from(needs.global);
        self.used.cpu += needs.cpu;
        self.used.memory += needs.memory;
        self.used.io += needs.io;
        if let Some(name) = request.tool_arc() {
            match self.tools.get_mut(&**name) {
                Some(tool) => {
                    if tool.idle() {
                        self.idle_tools -= 1;
                    }
                    tool.in_flight += 1;
                }
                None => {
                    let tool = ToolState {
                        in_flight: 1,
                        ..ToolState::default()
                    };
                    self.tools.insert(Arc::clone(name), tool);
                }
            }
        }
        for l in request.locks() {
            let lock = match self.locks.get_mut(l.key()) {
                Some(lock) => {
                    if lock.idle() {
                        self.idle_locks -= 1;
                    }
                    lock
                }
                None => self.locks.entry(Arc::clone(l.key_arc())).or_default(),
            };
            match l.mode() {
                LockMode::Read => lock.readers += 1,
                LockMode::Write => lock.writer = true,
            }
        }
    }

    fn uncommit(&mut self, needs: &Needs, request: &Request) {
        self.used.global -= u64::from(needs.global);
        self.used.cpu -= needs.cpu;
        self.used.memory -= needs.memory;
        self.used.io -= needs.io;
        if let Some(tool) = request.tool_arc().and_then(|t| self.tools.get_mut(&**t)) {
            tool.in_flight -= 1;
            if tool.idle() {
                self.idle_tools += 1;
            }
        }
        for l in request.locks() {
            if let Some(lock) = self.locks.get_mut(l.key()) {
                match l.mode() {
                    LockMode::Read => lock.readers -= 1,
                    LockMode::Write => lock.writer = false,
                }
                if lock.idle() {
                    self.idle_locks += 1;
                }
            }
        }
        self.sweep();
    }

    fn sweep(&mut self) {
        if self.idle_locks > IDLE_SWEEP_MIN && self.idle_locks * 2 > self.locks.len() {
            self.locks.retain(|_, l| !l.idle());
            self.idle_locks = 0;
        }
        if self.idle_tools > IDLE_SWEEP_MIN && self.idle_tools * 2 > self.tools.len() {
            self.tools.retain(|_, t| !t.idle());
            self.idle_tools = 0;
        }
    }

    // ----- reporting -----

    pub(crate) fn snapshot(&self, now: Instant) -> Snapshot {
        let mut locks: BTreeMap<&str, LockSnapshot> = BTreeMap::new();
        let mut tool_waiting: BTreeMap<&str, usize> = BTreeMap::new();
        let mut held = 0;
        let mut waiting = [0usize; 4];
        let mut requested = [0u64; 4];
        for e in &self.entries {
            if e.status == Status::Free {
                continue;
            }
            let request = &e.request;
            let is_held = e.status == Status::Held;
            if is_held {
                held += 1;
            } else {
                for (i, amount) in [
                    u64::from(e.needs.global),
                    e.needs.cpu,
                    e.needs.memory,
                    e.needs.io,
                ]
                .into_iter()
                .enumerate()
                {
                    if amount > 0 {
                        waiting[i] += 1;
                        requested[i] += amount;
                    }
                }
                if let Some(tool) = request.tool_name() {
                    *tool_waiting.entry(tool).or_default() += 1;
                }
            }
            for l in request.locks() {
                let lock = locks.entry(l.key()).or_insert_with(|| LockSnapshot {
                    key: l.key().to_owned(),
                    mode: self.locks.get(l.key()).and_then(LockState::mode),
                    holders: Vec::new(),
                    waiting: 0,
                });
                if is_held {
                    lock.holders.push(Holder {
                        permit: e.id,
                        tool: request.tool_name().map(str::to_owned),
                        priority: request.priority_level(),
                    });
                } else {
                    lock.waiting += 1;
                }
            }
        }
        let usage = |i: usize, used: u64, cap: Option<u64>, scale: f64| Usage {
            capacity: cap.map(|c| c as f64 / scale),
            in_use: used as f64 / scale,
            waiting: waiting[i],
            requested_by_waiters: requested[i] as f64 / scale,
        };
        let mut tools: Vec<ToolSnapshot> = self
            .tools
            .iter()
            .filter(|(name, t)| {
                t.configured || t.in_flight > 0 || tool_waiting.contains_key(&***name)
            })
            .map(|(name, t)| ToolSnapshot {
                tool: name.to_string(),
                in_flight: t.in_flight,
                max_concurrency: t.cap,
                waiting: tool_waiting.get(&**name).copied().unwrap_or(0),
                rate_limit: t.limiter.as_ref().map(|l| RateLimitSnapshot {
                    limit: l.limit(),
                    retry_after: t
                        .rate_blocked_until
                        .map(|at| at.saturating_duration_since(now)),
                }),
            })
            .collect();
        // Tools only waited for (never granted yet) have no entry in `self.tools`.
        for (name, &count) in &tool_waiting {
            if !self.tools.contains_key(*name) {
                tools.push(ToolSnapshot {
                    tool: (*name).to_owned(),
                    in_flight: 0,
                    max_concurrency: None,
                    waiting: count,
                    rate_limit: None,
                });
            }
        }
        tools.sort_by(|a, b| a.tool.cmp(&b.tool));
        Snapshot {
            global: usage(0, self.used.global, self.caps.global, 1.0),
            cpu: usage(1, self.used.cpu, self.caps.cpu, MICRO),
            memory_mb: usage(2, self.used.memory, self.caps.memory, 1.0),
            io: usage(3, self.used.io, self.caps.io, 1.0),
            held,
            waiting: self.queued,
            locks: locks.into_values().collect(),
            tools,
        }
    }
}

/// `c`, a dimension `owner` is short of, in terms of `other` (if `other` competes for it).
fn same_dimension(
    c: Conflict,
    owner: &Request,
    needs: &Needs,
    other: &Request,
) -> Option<Conflict> {
    let wanted = match c {
        Conflict::Global => needs.global,
        Conflict::Cpu => needs.cpu > 0,
        Conflict::Memory => needs.memory > 0,
        Conflict::Io => needs.io > 0,
        Conflict::Tool => owner.tool_arc().is_some() && owner.tool_arc() == other.tool_arc(),
        Conflict::Lock(i) => {
            let held = owner.locks().get(i)?;
            return other
                .locks()
                .iter()
                .position(|l| l.key() == held.key() && !l.mode().compatible(held.mode()))
                .map(Conflict::Lock);
        }
    };
    wanted.then_some(c)
}

/// The first dimension on which `a` and `b` compete, if any (lock indices refer to `a`).
///
/// Two requests compete when both need some of one budget, both count against one tool
/// that has a cap or a rate limit, or both lock one key and either writes.
fn conflict(
    (na, ra): (&Needs, &Request),
    (nb, rb): (&Needs, &Request),
    tools: &FxHashMap<Arc<str>, ToolState>,
) -> Option<Conflict> {
    if na.global && nb.global {
        return Some(Conflict::Global);
    }
    if na.cpu > 0 && nb.cpu > 0 {
        return Some(Conflict::Cpu);
    }
    if na.memory > 0 && nb.memory > 0 {
        return Some(Conflict::Memory);
    }
    if na.io > 0 && nb.io > 0 {
        return Some(Conflict::Io);
    }
    if let (Some(ta), Some(tb)) = (ra.tool_arc(), rb.tool_arc())
        && ta == tb
        && tools
            .get(&**ta)
            .is_some_and(|t| t.cap.is_some() || t.limiter.is_some())
    {
        return Some(Conflict::Tool);
    }
    ra.locks()
        .iter()
        .enumerate()
        .find_map(|(i, la): (usize, &AccessKey)| {
            rb.locks()
                .iter()
                .any(|lb| la.key() == lb.key() && !la.mode().compatible(lb.mode()))
                .then_some(Conflict::Lock(i))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(r: &Request) -> Needs {
        let caps = Caps {
            global: None,
            cpu: None,
            memory: None,
            io: None,
        };
        caps.validate(r).unwrap()
    }

    #[test]
    fn requests_compete_only_for_what_both_need() {
        let mut tools = FxHashMap::default();
        tools.insert(Arc::from("capped"), ToolState::configured(Some(1), None));
        let r = Request::new;
        let off = || Request::new().global_slot(false);
        let cases: Vec<(Request, Request, Option<Conflict>)> = vec![
            (r(), r(), Some(Conflict::Global)),
            (r(), off(), None),
            (off().cpu(1.0), off().cpu(0.5), Some(Conflict::Cpu)),
            (off().cpu(1.0), off().memory_mb(5), None),
            (
                off().memory_mb(1),
                off().memory_mb(1),
                Some(Conflict::Memory),
            ),
            (off().io(1), off().io(1), Some(Conflict::Io)),
            (
                off().tool("capped"),
                off().tool("capped"),
                Some(Conflict::Tool),
            ),
            (off().tool("free"), off().tool("free"), None),
            (off().tool("capped"), off().tool("free"), None),
            (off().read("a").unwrap(), off().read("a").unwrap(), None),
            (
                off().read("b").unwrap().read("a").unwrap(),
                off().write("a").unwrap(),
                Some(Conflict::Lock(1)),
            ),
            (off().write("a").unwrap(), off().write("b").unwrap(), None),
        ];
        for (a, b, expected) in cases {
            let got = conflict((&needs(&a), &a), (&needs(&b), &b), &tools);
            assert_eq!(got, expected, "{a:?} vs {b:?}");
            let back = conflict((&needs(&b), &b), (&needs(&a), &a), &tools);
            assert_eq!(got.is_some(), back.is_some(), "symmetric: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn cpu_is_counted_in_micro_cores() {
        let caps = Caps {
            global: None,
            cpu: Some(1_500_000),
            memory: None,
            io: None,
        };
        assert_eq!(
            caps.validate(&Request::new().cpu(0.25)).unwrap().cpu,
            250_000
        );
        assert_eq!(
            caps.validate(&Request::new().cpu(1.5)).unwrap().cpu,
            1_500_000
        );
        let err = caps.validate(&Request::new().cpu(1e300)).unwrap_err();
        assert_eq!(
            err,
            AcquireError::ExceedsCapacity {
                dimension: Dimension::Cpu,
                requested: 1e300,
                capacity: 1.5
            }
        );
        assert!(caps.validate(&Request::new().cpu(f64::INFINITY)).is_err());
    }

    #[test]
    fn idle_locks_are_swept_once_they_pile_up() {
        let caps = Caps {
            global: None,
            cpu: None,
            memory: None,
            io: None,
        };
        let mut state = State::new(caps, 0, FxHashMap::default());
        let mut wakers = WakeList::new();
        for i in 0..=IDLE_SWEEP_MIN {
            let r = Request::new().write(&format!("k{i}")).unwrap();
            let n = caps.validate(&r).unwrap();
            let Admission::Granted { slot, .. } = state.admit(n, &r, Waker::noop()).unwrap() else {
                panic!("uncontended request must be granted");
            };
            state.release(slot, &mut wakers);
        }
        assert!(state.locks.len() <= IDLE_SWEEP_MIN, "{}", state.locks.len());
        assert_eq!(state.free.len(), 1, "one slot reused throughout");
        wakers.wake_all();
    }
}
