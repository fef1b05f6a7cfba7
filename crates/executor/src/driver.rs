//! The driver: one task per batch that owns its state and runs its calls.
//!
//! Calls run *inside* the driver: each attempt's future is polled once at once (a tool that
//! finishes in its first poll costs no timer, no queue node and no wake-up), and otherwise
//! joins a `FuturesUnordered` the driver polls. Nothing is shared with the calls but their
//! cancellation tokens, so the scheduler needs no lock. Everything is event-driven: the driver
//! wakes for a finished attempt, a due retry, an acquired permit, the deadline or a command.

use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rustc_hash::FxHashMap;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tracing::Span;
use volley_planner::{
    AccessKey, Call, OnDependencyFailure, Plan, Planner, Reference, RetryPolicy, Strategy,
    substitute,
};
use volley_progress::{BatchSnapshot, Bus, EventKind, Roster};
use volley_resources::{Request, TryAcquireError};

use crate::audit::{AuditEvent, AuditRecord, Redacted};
use crate::batch::{Command, Completion, Subscription};
use crate::cancel::{CancelWatch, Grace};
use crate::context::{Progress, ToolContext};
use crate::engine::{EXCLUSIVE_KEY, EngineInner};
use crate::error::{AddError, CallError, CancelError, ErrorKind};
use crate::graph::{Graph, failure_value};
use crate::invoke::{self, Acquiring, Attempt, AttemptResult, Backoff, Failure, Work};
use crate::outcome::{Outcome, Outcomes, Status};
use crate::registry::Entry;
use crate::retry::{self, Rng};
use crate::scheduler::{self, ReadyQueue, call_of, tier_of};
use crate::timeout::{AttemptTimer, attempt_timeout};

/// Starts and completions handled in one poll before the driver yields to other tasks.
const BUDGET: u32 = 1_024;
/// "Not set" for times and calls in [`Slot`].
const NONE_MS: u64 = u64::MAX;
const NO_CALL: u32 = u32::MAX;
/// The tier of `normal`, the default.
const NORMAL_TIER: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for dependencies.
    Waiting,
    /// In the ready queue.
    Ready,
    /// Holding a batch slot, waiting for the resource backend.
    Acquiring,
    /// An attempt is running.
    Running,
    /// Waiting out a retry's backoff.
    Backoff,
    /// Hybrid: failed in the parallel phase, waiting to run again alone.
    Parked,
    /// Has its outcome.
    Done,
}

/// One call's scheduling state (the outcome lives in `Driver::outcomes`).
#[derive(Debug)]
struct Slot {
    id: Arc<str>,
    state: State,
    deps_left: u32,
    /// The first required dependency that did not succeed.
    blocked_by: u32,
    attempts: u32,
    cancel_requested: bool,
    queued_ms: u64,
    started_ms: u64,
    token: Option<CancellationToken>,
}

impl Slot {
    fn new(id: &str, deps: usize) -> Slot {
        Slot {
            id: Arc::from(id),
            state: State::Waiting,
            deps_left: deps as u32,
            blocked_by: NO_CALL,
            attempts: 0,
            cancel_requested: false,
            queued_ms: NONE_MS,
            started_ms: NONE_MS,
            token: None,
        }
    }
}

/// Why the batch stopped early.
#[derive(Debug)]
enum Stop {
    Cancelled,
    FailFast { upstream: Arc<str> },
    Deadline,
}

/// Everything a driver is built from.
pub(crate) struct Setup {
    pub(crate) batch: u64,
    pub(crate) plan: Plan,
    pub(crate) dag: volley_planner::Dag,
    pub(crate) entries: Vec<Option<Arc<Entry>>>,
    pub(crate) input_open: bool,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) completion: Arc<Completion>,
    pub(crate) span: Span,
}

pub(crate) struct Driver {
    batch: u64,
    engine: Arc<EngineInner>,
    completion: Arc<Completion>,
    plan: Plan,
    graph: Graph,
    slots: Vec<Slot>,
    outcomes: Vec<Option<Outcome>>,
    entries: Vec<Option<Arc<Entry>>>,
    /// Effective tier of each call (priority inherited from dependents); `None`: all normal.
    tiers: Option<Vec<u8>>,
    /// Unfinished calls per tier, for the `priority` strategy's barrier.
    tier_left: [usize; 5],
    ready: ReadyQueue,
    acquiring: FuturesUnordered<Acquiring>,
    running: FuturesUnordered<Attempt>,
    backoffs: FuturesUnordered<Backoff>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    input_open: bool,
    limit: usize,
    in_flight: usize,
    unfinished: usize,
    start: Instant,
    deadline: Option<Pin<Box<Sleep>>>,
    deadline_at: Option<Instant>,
    stop: Option<Stop>,
    second_phase: bool,
    parked: Vec<u32>,
    /// Arguments kept for calls that may run again (retries, hybrid).
    retry_args: FxHashMap<u32, Value>,
    rng: Rng,
    bus: Option<Bus>,
    worklist: Vec<u32>,
    scratch: Vec<u32>,
    fail_fast_from: Option<u32>,
    published: bool,
    span: Span,
    clock: std::cell::Cell<Option<Instant>>,
}

impl Driver {
    pub(crate) fn new(engine: Arc<EngineInner>, setup: Setup) -> Driver {
        let Setup {
            batch,
            plan,
            dag,
            entries,
            input_open,
            commands,
            completion,
            span,
        } = setup;
        let start = Instant::now();
        let n = plan.calls.len();
        let config = &engine.config;
        let limit = match plan.strategy {
            Strategy::Sequential => 1,
            _ => plan
                .max_concurrency
                .unwrap_or(config.max_concurrency)
                .max(1),
        };
        let deadline_at = plan.deadline_ms.map(|ms| start + Duration::from_millis(ms));
        let graph = Graph::new(dag);
        let slots: Vec<Slot> = plan
            .calls
            .iter()
            .enumerate()
            .map(|(i, call)| Slot::new(&call.id, graph.dependency_count(i)))
            .collect();
        let tiers = effective_tiers(&plan, &entries, &graph);
        let mut tier_left = [0; 5];
        match &tiers {
            Some(tiers) => tiers.iter().for_each(|&t| tier_left[t as usize] += 1),
            None => tier_left[NORMAL_TIER as usize] = n,
        }
        let seed = config.seed.map_or_else(
            || {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                nanos ^ batch.rotate_left(32)
            },
            |seed| seed ^ batch,
        );
        let mut driver = Driver {
            batch,
            completion,
            plan,
            graph,
            slots,
            outcomes: (0..n).map(|_| None).collect(),
            entries,
            tiers,
            tier_left,
            ready: ReadyQueue::default(),
            acquiring: FuturesUnordered::new(),
            running: FuturesUnordered::new(),
            backoffs: FuturesUnordered::new(),
            commands,
            commands_open: true,
            input_open,
            limit,
            in_flight: 0,
            unfinished: n,
            start,
            deadline: deadline_at.map(|at| Box::pin(tokio::time::sleep_until(at))),
            deadline_at,
            stop: None,
            second_phase: false,
            parked: Vec::new(),
            retry_args: FxHashMap::default(),
            rng: Rng::new(seed),
            bus: None,
            worklist: Vec::new(),
            scratch: Vec::new(),
            fail_fast_from: None,
            published: false,
            span,
            engine,
            clock: std::cell::Cell::new(None),
        };
        if driver.engine.config.progress {
            driver.attach(|_| ());
        }
        for i in 0..n {
            driver.audit(
                i,
                AuditEvent::Submitted {
                    args: Redacted::new(&driver.plan.calls[i].args, driver.redact_fields(i)),
                },
            );
        }
        // Unknown tools fail alone, at once; their dependents are skipped.
        for i in 0..n {
            if driver.entries[i].is_none() {
                let failure = driver.unknown_tool(i);
                driver.record(i, Status::Error, None, Some(failure));
            }
        }
        driver.cascade();
        let mut initial: Vec<scheduler::Key> = Vec::new();
        for i in 0..n {
            let slot = &mut driver.slots[i];
            if slot.state == State::Waiting && slot.deps_left == 0 {
                slot.state = State::Ready;
                slot.queued_ms = 0;
                driver.emit(i, || EventKind::Queued);
                initial.push(driver.key(i));
            }
        }
        let later = mem::take(&mut driver.ready);
        driver.ready = ReadyQueue::with_initial(initial);
        let mut later = later;
        while let Some(key) = later.pop() {
            driver.ready.push(key);
        }
        driver.check_fail_fast();
        driver
    }

    /// Now: read once, then reused until tool code or the runtime may have let time pass
    /// ([`Driver::tick`]); a no-op call reads the clock twice, not five times.
    fn now(&self) -> Instant {
        match self.clock.get() {
            Some(now) => now,
            None => {
                let now = Instant::now();
                self.clock.set(Some(now));
                now
            }
        }
    }

    /// Forgets the cached time (tool code ran, or the driver is about to wait).
    fn tick(&self) {
        self.clock.set(None);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.now().saturating_duration_since(self.start).as_millis())
            .unwrap_or(u64::MAX)
    }

    fn tier(&self, i: usize) -> u8 {
        self.tiers.as_ref().map_or(NORMAL_TIER, |t| t[i])
    }

    fn key(&self, i: usize) -> scheduler::Key {
        scheduler::key(
            self.plan.strategy,
            self.tier(i),
            self.graph.remaining_ms(i),
            i as u32,
        )
    }

    // ---- events, audit -------------------------------------------------------------------

    fn emit(&self, i: usize, kind: impl FnOnce() -> EventKind) {
        if let Some(bus) = &self.bus {
            bus.emit(i, kind());
        }
    }

    fn audit(&self, i: usize, event: AuditEvent<'_>) {
        let mut sinks = self.engine.audit.iter().filter(|s| s.enabled()).peekable();
        if sinks.peek().is_none() {
            return;
        }
        let call = &self.plan.calls[i];
        let record = AuditRecord {
            batch: self.batch,
            at_ms: self.now_ms(),
            call: &call.id,
            tool: &call.tool,
            event,
        };
        for sink in sinks {
            sink.record(&record);
        }
    }

    fn audit_outcome(&self, outcome: &Outcome) {
        for sink in self.engine.audit.iter().filter(|s| s.enabled()) {
            sink.record(&AuditRecord {
                batch: self.batch,
                at_ms: outcome.ended_at_ms,
                call: &outcome.id,
                tool: &outcome.tool,
                event: AuditEvent::finished(outcome),
            });
        }
    }

    fn redact_fields(&self, i: usize) -> &[String] {
        self.entries[i]
            .as_ref()
            .map_or(&[], |e| e.redact.as_slice())
    }

    // ---- outcomes and the cascade ----------------------------------------------------------

    /// Gives call `i` its one outcome, and queues its dependents for [`Driver::cascade`].
    fn record(
        &mut self,
        i: usize,
        status: Status,
        output: Option<Value>,
        error: Option<CallError>,
    ) {
        let now = self.now_ms();
        let slot = &mut self.slots[i];
        if slot.state == State::Done {
            return;
        }
        slot.state = State::Done;
        slot.token = None;
        let started = (slot.started_ms != NONE_MS).then_some(slot.started_ms);
        let tool = match &self.entries[i] {
            Some(entry) => entry.name.clone(),
            None => Arc::from(self.plan.calls[i].tool.as_str()),
        };
        let outcome = Outcome {
            index: i,
            id: slot.id.clone(),
            tool,
            status,
            output,
            error: error.map(Box::new),
            attempts: slot.attempts,
            queued_at_ms: (slot.queued_ms != NONE_MS).then_some(slot.queued_ms),
            started_at_ms: started,
            ended_at_ms: now,
            duration_ms: started.map_or(0, |s| now.saturating_sub(s)),
        };
        self.retry_args.remove(&(i as u32));
        self.unfinished -= 1;
        let tier = self.tier(i) as usize;
        self.tier_left[tier] -= 1;
        self.audit_outcome(&outcome);
        if let Some(bus) = &self.bus {
            let event = terminal_event(&outcome);
            let output = outcome.output.as_ref();
            bus.emit_with_detail(i, event, || output.cloned().unwrap_or(Value::Null));
        }
        tracing::debug!(
            parent: &self.span, call = %outcome.id, tool = %outcome.tool,
            status = outcome.status.as_str(), attempts = outcome.attempts, "call finished"
        );
        if self.plan.fail_fast
            && matches!(status, Status::Error | Status::Timeout)
            && self.stop.is_none()
            && self.fail_fast_from.is_none()
        {
            self.fail_fast_from = Some(i as u32);
        }
        self.outcomes[i] = Some(outcome);
        self.worklist.push(i as u32);
    }

    /// Records and cascades.
    fn finish(
        &mut self,
        i: usize,
        status: Status,
        output: Option<Value>,
        error: Option<CallError>,
    ) {
        self.record(i, status, output, error);
        self.cascade();
        self.check_fail_fast();
    }

    fn fail(&mut self, i: usize, failure: CallError) {
        let status = Status::of_kind(failure.kind);
        self.finish(i, status, None, Some(failure));
    }

    /// Releases the dependents of every call recorded since the last cascade: a dependent
    /// whose required dependency did not succeed is skipped (naming it) unless it runs anyway;
    /// one whose dependencies are all done becomes ready. A worklist, not recursion: a chain of
    /// a million skips cannot overflow the stack.
    fn cascade(&mut self) {
        let mut dependents = mem::take(&mut self.scratch);
        while let Some(u) = self.worklist.pop() {
            let u = u as usize;
            let ok = self.outcomes[u].as_ref().is_some_and(Outcome::is_ok);
            self.graph.dependents_into(u, &mut dependents);
            for &v in &dependents {
                let v = v as usize;
                if self.slots[v].state == State::Done {
                    continue;
                }
                self.slots[v].deps_left = self.slots[v].deps_left.saturating_sub(1);
                if !ok && self.slots[v].blocked_by == NO_CALL && self.graph.requires_success(u, v) {
                    self.slots[v].blocked_by = u as u32;
                    if self.plan.calls[v].on_dependency_failure == OnDependencyFailure::Skip {
                        let error = self.dependency_error(u);
                        self.record(v, Status::Skipped, None, Some(error));
                        continue;
                    }
                }
                if self.slots[v].deps_left == 0 && self.slots[v].state == State::Waiting {
                    self.make_ready(v);
                }
            }
        }
        self.scratch = dependents;
    }

    fn dependency_error(&self, upstream: usize) -> CallError {
        let id = &self.slots[upstream].id;
        let what = match self.outcomes[upstream].as_ref().map(|o| o.status) {
            Some(Status::Error) => "failed",
            Some(Status::Timeout) => "timed out",
            Some(Status::Cancelled) => "was cancelled",
            Some(Status::Skipped) => "was skipped",
            Some(Status::Ok) | None => "did not succeed",
        };
        CallError::new(
            ErrorKind::DependencyFailed,
            format!("not run: the call `{id}` it depends on {what}"),
        )
        .caused_by(id.to_string())
    }

    fn make_ready(&mut self, i: usize) {
        if self.stop.is_some() {
            return;
        }
        let now = self.now_ms();
        let slot = &mut self.slots[i];
        slot.state = State::Ready;
        slot.queued_ms = now;
        self.emit(i, || EventKind::Queued);
        let key = self.key(i);
        self.ready.push(key);
    }

    fn unknown_tool(&self, i: usize) -> CallError {
        let name = &self.plan.calls[i].tool;
        let close = self.engine.registry.closest(name);
        let hint = match close.as_slice() {
            [] => String::new(),
            [one] => format!("; did you mean `{one}`?"),
            many => format!(
                "; did you mean one of {}?",
                many.iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        CallError::new(
            ErrorKind::UnknownTool,
            format!("no tool named `{name}` is available{hint}"),
        )
    }

    fn check_fail_fast(&mut self) {
        if let Some(from) = self.fail_fast_from.take()
            && self.stop.is_none()
        {
            let upstream = self.slots[from as usize].id.clone();
            self.stop_all(Stop::FailFast { upstream });
        }
    }

    // ---- starting calls ------------------------------------------------------------------

    fn lowest_unfinished_tier(&self) -> Option<u8> {
        self.tier_left.iter().position(|&n| n > 0).map(|t| t as u8)
    }

    /// Starts ready calls while slots are free. Returns whether it started any.
    fn start_ready(&mut self, cx: &mut Context<'_>, budget: &mut u32) -> bool {
        let mut started = false;
        while self.in_flight < self.limit && *budget > 0 {
            let Some(key) = self.ready.peek() else { break };
            if self.plan.strategy == Strategy::Priority
                && self
                    .lowest_unfinished_tier()
                    .is_some_and(|lowest| tier_of(key) > lowest)
            {
                break;
            }
            self.ready.pop();
            let i = call_of(key) as usize;
            if self.slots[i].state != State::Ready {
                continue;
            }
            *budget -= 1;
            started = true;
            self.start(i, cx);
        }
        started
    }

    fn may_run_again(&self, i: usize, entry: &Entry) -> bool {
        self.plan.strategy == Strategy::Hybrid || retry::max_attempts(self.policy(i, entry)) > 1
    }

    fn policy(&self, i: usize, entry: &Entry) -> Option<RetryPolicy> {
        retry::policy(
            self.plan.calls[i].retry,
            entry.retry,
            self.engine.config.default_retry,
        )
    }

    /// Takes a slot for call `i` and starts its next attempt (or gives it its outcome).
    fn start(&mut self, i: usize, cx: &mut Context<'_>) {
        let Some(entry) = self.entries[i].clone() else {
            let failure = self.unknown_tool(i);
            return self.fail(i, failure);
        };
        self.tick();
        self.slots[i].attempts += 1;
        let attempt = self.slots[i].attempts;
        let args = if attempt == 1 || !self.retry_args.contains_key(&(i as u32)) {
            match self.first_args(i, &entry) {
                Ok(Some(args)) => args,
                Ok(None) => return,
                Err(failure) => {
                    self.slots[i].attempts -= 1;
                    return self.fail(i, failure);
                }
            }
        } else {
            self.retry_args
                .get(&(i as u32))
                .cloned()
                .unwrap_or(Value::Null)
        };
        if attempt == 1 && self.may_run_again(i, &entry) {
            self.retry_args.insert(i as u32, args.clone());
        }
        self.in_flight += 1;
        self.slots[i].token = Some(CancellationToken::new());
        let Some(backend) = self.engine.backend.clone() else {
            return self.launch(i, entry, args, None, cx);
        };
        let request = self.request(i, &entry);
        match backend.try_acquire(&request) {
            Ok(permit) => self.launch(i, entry, args, Some(permit), cx),
            Err(TryAcquireError::Busy { .. } | TryAcquireError::RateLimited { .. }) => {
                self.slots[i].state = State::Acquiring;
                let token = self.slots[i].token.clone().unwrap_or_default();
                let watch = CancelWatch::new(token);
                self.acquiring
                    .push(Acquiring::new(i as u32, backend, request, watch, args));
            }
            Err(other) => {
                self.in_flight -= 1;
                self.fail(
                    i,
                    CallError::new(ErrorKind::ResourceUnavailable, other.to_string()),
                );
            }
        }
    }

    /// The resource request of call `i`: its tool, priority, budgets, locks and access keys.
    fn request(&self, i: usize, entry: &Entry) -> Request {
        let call = &self.plan.calls[i];
        let priority = match call.priority {
            volley_planner::Priority::Normal => entry.priority,
            other => other,
        };
        let needs = &entry.resources;
        let mut request = Request::new()
            .tool(&entry.name)
            .priority(scheduler::resource_priority(priority))
            .cpu(needs.cpu)
            .memory_mb(needs.memory_mb)
            .io(needs.io);
        for key in call.access.iter().chain(&needs.locks) {
            if key.key == EXCLUSIVE_KEY {
                continue;
            }
            // A key the resource crate refuses (surrounding spaces) still orders the batch
            // through the planner; it just takes no cross-batch lock.
            if let Ok(with_lock) = request.clone().access(&key.to_string()) {
                request = with_lock;
            }
        }
        request
    }

    /// Evaluates `when`, resolves `$` references and validates the arguments. `Ok(None)`: the
    /// call was skipped (its outcome is recorded).
    fn first_args(&mut self, i: usize, entry: &Entry) -> Result<Option<Value>, CallError> {
        // The model's arguments could not even be read: the tool never runs.
        if let Some(problem) = &self.plan.calls[i].input_error {
            return Err(CallError::new(ErrorKind::InvalidArguments, problem.clone()));
        }
        let bindings = self.graph.bindings(i);
        if let Some((condition, target)) = &bindings.when {
            let value = self.outcomes[*target]
                .as_ref()
                .and_then(|o| o.output.as_ref())
                .and_then(|out| condition.reference.lookup(out).ok());
            let holds = condition.holds(value.unwrap_or(&Value::Null));
            if !holds {
                let error = CallError::new(
                    ErrorKind::ConditionFalse,
                    format!("not run: its condition `{condition}` is false"),
                )
                .caused_by(self.slots[*target].id.to_string());
                self.slots[i].attempts -= 1;
                self.finish(i, Status::Skipped, None, Some(error));
                return Ok(None);
            }
        }
        let args = if bindings.args.is_empty() {
            mem::take(&mut self.plan.calls[i].args)
        } else {
            self.resolve_args(i).map_err(|problem| {
                CallError::new(
                    ErrorKind::InvalidArguments,
                    format!("its arguments could not be resolved: {problem}"),
                )
            })?
        };
        entry
            .validate(&args)
            .map_err(|problem| CallError::new(ErrorKind::InvalidArguments, problem))?;
        Ok(Some(args))
    }

    /// Substitutes upstream outputs into call `i`'s arguments. A reference to a call that did
    /// not succeed (in a call that runs anyway) reads `{"error": {...}}` in its place.
    fn resolve_args(&self, i: usize) -> Result<Value, String> {
        let bindings = self.graph.bindings(i);
        let failures: Vec<(usize, Value)> = bindings
            .arg_targets
            .iter()
            .filter_map(|&t| {
                let outcome = self.outcomes.get(t)?.as_ref()?;
                let error = outcome.error.as_deref()?;
                Some((
                    t,
                    failure_value(
                        &outcome.id,
                        outcome.status.as_str(),
                        error.kind.as_str(),
                        &error.message,
                    ),
                ))
            })
            .collect();
        let mut targets = bindings.arg_targets.iter();
        substitute(
            &self.plan.calls[i].args,
            &bindings.args,
            |reference: &Reference| {
                let target = targets.next().copied().unwrap_or(usize::MAX);
                if let Some((_, failure)) = failures.iter().find(|(t, _)| *t == target) {
                    return Ok(failure);
                }
                let output = self
                    .outcomes
                    .get(target)
                    .and_then(Option::as_ref)
                    .and_then(|o| o.output.as_ref())
                    .ok_or_else(|| {
                        let id = self.plan.calls.get(target).map_or("?", |c| c.id.as_str());
                        format!("`{reference}` reads call `{id}`, which has no output")
                    })?;
                reference.lookup(output)
            },
        )
    }

    /// Runs an attempt: the tool's future is polled once here; if it is not done it joins the
    /// running set under its timeout and cancellation watch.
    fn launch(
        &mut self,
        i: usize,
        entry: Arc<Entry>,
        args: Value,
        permit: Option<volley_resources::Permit>,
        cx: &mut Context<'_>,
    ) {
        let now = self.now();
        let now_ms = self.now_ms();
        let slot = &mut self.slots[i];
        slot.state = State::Running;
        if slot.started_ms == NONE_MS {
            slot.started_ms = now_ms;
        }
        let attempt = slot.attempts;
        let id = slot.id.clone();
        // The slot keeps the token (to cancel the call); the tool gets the one clone.
        let token = slot.token.clone().unwrap_or_default();
        self.audit(
            i,
            AuditEvent::Started {
                attempt,
                args: Redacted::new(&args, &entry.redact),
            },
        );
        if let Some(bus) = &self.bus {
            // Arguments ride along only for calls whose plan set `progress_detail`.
            bus.emit_with_detail(i, EventKind::Started { attempt }, || args.clone());
        }
        let timeout = attempt_timeout(
            self.plan.calls[i].timeout_ms,
            entry.timeout,
            self.engine.config.default_timeout,
        );
        let attempt_deadline = timeout.map(|t| now + t);
        let deadline = match (attempt_deadline, self.deadline_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let progress = Progress::for_call(self.completion.bus.clone(), i);
        let ctx = ToolContext::for_attempt(id.clone(), attempt, token, deadline, progress);
        let span = tracing::debug_span!(
            parent: &self.span, "call", call = %id, tool = %entry.name, attempt,
            status = tracing::field::Empty
        );
        let mut work = invoke::begin(entry, args, ctx);
        if let Work::Inline(_) = work {
            let first = {
                let _entered = span.enter();
                work.poll_work(cx)
            };
            self.tick();
            if let Poll::Ready(result) = first {
                span.record("status", status_name(&result));
                return self.on_attempt_done(i, result);
            }
        }
        let token = self.slots[i].token.clone().unwrap_or_default();
        self.running.push(Attempt {
            call: i as u32,
            work,
            timer: timeout.map(|t| AttemptTimer::new(now, t)),
            token,
            grace: Grace::new(self.engine.config.grace),
            _permit: permit,
            span,
        });
    }

    fn on_acquired(
        &mut self,
        i: usize,
        result: Result<(volley_resources::Permit, Value), Failure>,
        cx: &mut Context<'_>,
    ) {
        if self.slots[i].state != State::Acquiring {
            self.in_flight -= 1;
            return;
        }
        match result {
            Ok((permit, args)) if !self.slots[i].cancel_requested && self.stop.is_none() => {
                match self.entries[i].clone() {
                    Some(entry) => self.launch(i, entry, args, Some(permit), cx),
                    None => self.on_attempt_done(
                        i,
                        Err(Failure::new(ErrorKind::UnknownTool, "unknown tool")),
                    ),
                }
            }
            Ok(_) => {
                let failure = Failure::new(
                    ErrorKind::Cancelled,
                    "cancelled while waiting for resources",
                );
                self.on_attempt_done(i, Err(failure));
            }
            Err(failure) => self.on_attempt_done(i, Err(failure)),
        }
    }

    /// An attempt ended: success, retry, park (hybrid) or failure.
    fn on_attempt_done(&mut self, i: usize, result: AttemptResult) {
        self.in_flight -= 1;
        if self.slots[i].state == State::Done {
            return; // Its outcome was given at the deadline; this is its late end.
        }
        self.slots[i].token = None;
        let failure = match result {
            Ok(output) => return self.finish(i, Status::Ok, Some(output), None),
            Err(failure) => failure,
        };
        let attempt = self.slots[i].attempts;
        let cancelled = self.slots[i].cancel_requested || self.stop.is_some();
        if cancelled && (failure.kind == ErrorKind::Cancelled || failure.forced) {
            let error = self.cancel_error(Some(&failure));
            return self.finish(i, Status::Cancelled, None, Some(error));
        }
        let Some(entry) = self.entries[i].clone() else {
            return self.fail(i, CallError::new(failure.kind, failure.message));
        };
        if !cancelled && failure.kind.is_retryable() && !self.second_phase {
            let policy = self.policy(i, &entry);
            if attempt < retry::max_attempts(policy)
                && let Some(policy) = policy
            {
                return self.schedule_retry(i, attempt, &policy, &failure);
            }
        }
        if !cancelled
            && self.plan.strategy == Strategy::Hybrid
            && !self.second_phase
            && matches!(failure.kind, ErrorKind::Transient | ErrorKind::Timeout)
        {
            self.audit(
                i,
                AuditEvent::AttemptFailed {
                    attempt,
                    kind: failure.kind,
                    message: &failure.message,
                    retry_in_ms: None,
                },
            );
            self.slots[i].state = State::Parked;
            self.parked.push(i as u32);
            return;
        }
        self.fail(i, CallError::new(failure.kind, failure.message));
    }

    fn cancel_error(&self, failure: Option<&Failure>) -> CallError {
        let reason = match &self.stop {
            Some(Stop::FailFast { upstream }) => {
                format!("cancelled: the call `{upstream}` failed and the batch is fail_fast")
            }
            Some(Stop::Deadline) => "cancelled: the batch deadline passed".to_owned(),
            Some(Stop::Cancelled) => "cancelled: the batch was cancelled".to_owned(),
            None => "cancelled on request".to_owned(),
        };
        let message = match failure {
            Some(f) if f.forced => format!("{reason}; {}", f.message),
            _ => reason,
        };
        let error = CallError::new(ErrorKind::Cancelled, message);
        match &self.stop {
            Some(Stop::FailFast { upstream }) => error.caused_by(upstream.to_string()),
            _ => error,
        }
    }

    fn schedule_retry(&mut self, i: usize, attempt: u32, policy: &RetryPolicy, failure: &Failure) {
        let jitter = self.engine.config.jitter;
        let mut delay = retry::delay(policy, attempt, jitter, &mut self.rng);
        if let Some(after) = failure.retry_after {
            delay = delay.max(after);
        }
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.audit(
            i,
            AuditEvent::AttemptFailed {
                attempt,
                kind: failure.kind,
                message: &failure.message,
                retry_in_ms: Some(delay_ms),
            },
        );
        self.emit(i, || EventKind::Retrying {
            attempt: attempt + 1,
            delay_ms,
        });
        tracing::debug!(
            parent: &self.span, call = %self.slots[i].id, attempt, delay_ms,
            kind = failure.kind.as_str(), "retrying"
        );
        self.slots[i].state = State::Backoff;
        self.backoffs.push(Backoff {
            call: i as u32,
            sleep: Box::pin(tokio::time::sleep(delay)),
        });
    }

    fn on_backoff_done(&mut self, i: usize) {
        if self.slots[i].state != State::Backoff || self.stop.is_some() {
            return;
        }
        self.slots[i].state = State::Ready;
        let key = self.key(i);
        self.ready.push(key);
    }

    /// Hybrid: once the parallel phase has drained, the parked calls run again, one at a time.
    fn maybe_second_phase(&mut self) -> bool {
        if self.second_phase
            || self.parked.is_empty()
            || self.stop.is_some()
            || self.in_flight > 0
            || !self.ready.is_empty()
            || !self.backoffs.is_empty()
        {
            return false;
        }
        self.second_phase = true;
        self.limit = 1;
        let mut parked = mem::take(&mut self.parked);
        parked.sort_unstable();
        for i in parked {
            let i = i as usize;
            if self.slots[i].state == State::Parked {
                self.slots[i].state = State::Ready;
                let key = self.key(i);
                self.ready.push(key);
            }
        }
        true
    }

    // ---- stopping --------------------------------------------------------------------------

    /// Fires the tokens of these running calls and starts their grace periods.
    fn signal_cancel(&mut self, calls: impl Fn(usize) -> bool) {
        for slot in self.slots.iter().enumerate().filter(|(i, _)| calls(*i)) {
            if let Some(token) = &slot.1.token {
                token.cancel();
            }
        }
        for attempt in self.running.iter_mut() {
            if calls(attempt.call as usize) {
                attempt.grace.request();
            }
        }
    }

    /// Cancels the batch (user, fail-fast): what has not started is cancelled now; running
    /// calls see their token fire and get their outcome when they end (or are dropped).
    fn stop_all(&mut self, stop: Stop) {
        if self.stop.is_some() {
            return;
        }
        self.stop = Some(stop);
        self.input_open = false;
        self.ready.clear();
        self.parked.clear();
        for i in 0..self.slots.len() {
            match self.slots[i].state {
                State::Done => {}
                State::Running | State::Acquiring => self.slots[i].cancel_requested = true,
                State::Waiting | State::Ready | State::Backoff | State::Parked => {
                    let error = self.cancel_error(None);
                    self.record(i, Status::Cancelled, None, Some(error));
                }
            }
        }
        let slots = &self.slots;
        let requested: Vec<bool> = slots.iter().map(|s| s.cancel_requested).collect();
        self.signal_cancel(|i| requested[i]);
        self.cascade();
    }

    /// The batch deadline passed: every call without an outcome gets one now, and the batch's
    /// outcomes are published at once; running calls are cancelled in the background.
    fn on_deadline(&mut self) {
        if self.stop.is_none() {
            self.stop = Some(Stop::Deadline);
        }
        self.input_open = false;
        self.ready.clear();
        self.parked.clear();
        let ms = self.plan.deadline_ms.unwrap_or(0);
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            let (status, error) = match slot.state {
                State::Done => continue,
                State::Running | State::Acquiring if slot.cancel_requested => {
                    // Cancelled before the deadline, still in its grace period.
                    let mut error = self.cancel_error(None);
                    error.message = format!(
                        "{}; the batch deadline of {ms} ms passed before it stopped",
                        error.message
                    );
                    (Status::Cancelled, error)
                }
                State::Running | State::Acquiring => {
                    if let Some(token) = &slot.token {
                        token.cancel();
                    }
                    let message = format!("the batch deadline of {ms} ms passed while it ran");
                    (
                        Status::Timeout,
                        CallError::new(ErrorKind::DeadlineExceeded, message),
                    )
                }
                _ if slot.attempts > 0 => {
                    let message =
                        format!("the batch deadline of {ms} ms passed before its next attempt");
                    (
                        Status::Timeout,
                        CallError::new(ErrorKind::DeadlineExceeded, message),
                    )
                }
                _ => {
                    let message =
                        format!("not run: the batch deadline of {ms} ms passed before it started");
                    (
                        Status::Skipped,
                        CallError::new(ErrorKind::DeadlineExceeded, message),
                    )
                }
            };
            self.record(i, status, None, Some(error));
        }
        // The running attempts are left their grace period in the background.
        for attempt in self.running.iter_mut() {
            attempt.grace.request();
        }
        self.worklist.clear();
    }

    fn cancel_call(&mut self, id: &str) -> Result<(), CancelError> {
        let Some(i) = self.graph.position(&self.plan.calls, id) else {
            return Err(CancelError::UnknownCall { id: id.to_owned() });
        };
        match self.slots[i].state {
            State::Done => Err(CancelError::AlreadyFinished { id: id.to_owned() }),
            State::Running | State::Acquiring => {
                self.slots[i].cancel_requested = true;
                self.signal_cancel(|c| c == i);
                Ok(())
            }
            State::Waiting | State::Ready | State::Backoff | State::Parked => {
                let error = self.cancel_error(None);
                self.finish(i, Status::Cancelled, None, Some(error));
                Ok(())
            }
        }
    }

    // ---- adding calls ----------------------------------------------------------------------

    fn add(&mut self, mut call: Call) -> Result<usize, AddError> {
        if self.stop.is_some() {
            return Err(AddError::Closed {
                reason: "the batch was stopped",
            });
        }
        if !self.input_open {
            return Err(AddError::Closed {
                reason: "the batch was closed",
            });
        }
        if call.id.is_empty() {
            call.id = self.default_id(&call.tool);
        }
        let entry = self.engine.registry.entry(&call.tool).cloned();
        let mut access: Vec<AccessKey> = entry
            .as_ref()
            .map(|e| e.tool.access_keys(&call.args))
            .unwrap_or_default();
        let safe = entry.as_ref().is_none_or(|e| e.concurrency_safe);
        access.push(if safe {
            AccessKey::read(EXCLUSIVE_KEY)
        } else {
            AccessKey::write(EXCLUSIVE_KEY)
        });
        let estimate = entry.as_ref().and_then(|e| e.estimate_ms);
        let deps = self.graph.add(&self.plan.calls, &call, &access, estimate)?;
        let i = self.plan.calls.len();
        call.access
            .extend(access.into_iter().filter(|k| k.key != EXCLUSIVE_KEY));
        // Not more urgent than what it waits for, so the `priority` barrier cannot deadlock.
        let own = match call.priority {
            volley_planner::Priority::Normal => entry
                .as_ref()
                .map_or(volley_planner::Priority::Normal, |e| e.priority),
            other => other,
        };
        let tier = deps
            .iter()
            .map(|&(d, _)| self.tier(d as usize))
            .fold(scheduler::tier(own), u8::max);
        if tier != NORMAL_TIER && self.tiers.is_none() {
            self.tiers = Some(vec![NORMAL_TIER; i]);
        }
        if let Some(tiers) = &mut self.tiers {
            tiers.push(tier);
        }
        self.tier_left[tier as usize] += 1;
        let mut slot = Slot::new(&call.id, 0);
        for &(d, required) in &deps {
            let d = d as usize;
            match self.outcomes[d].as_ref() {
                None => slot.deps_left += 1,
                Some(o) if required && !o.is_ok() && slot.blocked_by == NO_CALL => {
                    slot.blocked_by = d as u32;
                }
                Some(_) => {}
            }
        }
        let blocked = slot.blocked_by;
        let runs_anyway = call.on_dependency_failure == OnDependencyFailure::Run;
        self.plan.calls.push(call);
        self.slots.push(slot);
        self.outcomes.push(None);
        self.entries.push(entry);
        self.unfinished += 1;
        self.audit(
            i,
            AuditEvent::Submitted {
                args: Redacted::new(&self.plan.calls[i].args, self.redact_fields(i)),
            },
        );
        if self.entries[i].is_none() {
            let failure = self.unknown_tool(i);
            self.fail(i, failure);
        } else if blocked != NO_CALL && !runs_anyway {
            let error = self.dependency_error(blocked as usize);
            self.finish(i, Status::Skipped, None, Some(error));
        } else if self.slots[i].deps_left == 0 {
            self.make_ready(i);
        }
        Ok(i)
    }

    fn default_id(&mut self, tool: &str) -> String {
        if self.graph.position(&self.plan.calls, tool).is_none() {
            return tool.to_owned();
        }
        (2..)
            .map(|n| format!("{tool}#{n}"))
            .find(|id| self.graph.position(&self.plan.calls, id).is_none())
            .unwrap_or_else(|| tool.to_owned())
    }

    // ---- progress --------------------------------------------------------------------------

    /// The batch's bus, made on first need; `with` runs on it before a new bus's catch-up, so a
    /// subscriber made there receives it.
    fn attach<T>(&mut self, with: impl FnOnce(&Bus) -> T) -> Option<T> {
        if let Some(bus) = &self.bus {
            return Some(with(bus));
        }
        let roster = self.roster()?;
        let bus = Bus::builder(roster).start(self.start).build();
        let made = with(&bus);
        self.bus = Some(bus.clone());
        let _ = self.completion.bus.set(bus.clone());
        for i in 0..bus.roster().len().min(self.slots.len()) {
            let slot = &self.slots[i];
            if slot.queued_ms != NONE_MS || slot.attempts > 0 {
                bus.emit(i, EventKind::Queued);
            }
            if slot.attempts > 0 && slot.started_ms != NONE_MS {
                bus.emit(
                    i,
                    EventKind::Started {
                        attempt: slot.attempts,
                    },
                );
            }
            match slot.state {
                State::Backoff => {
                    bus.emit(
                        i,
                        EventKind::Retrying {
                            attempt: slot.attempts + 1,
                            delay_ms: 0,
                        },
                    );
                }
                State::Done => {
                    let published = self.completion.done.get();
                    let outcome = self.outcomes[i]
                        .as_ref()
                        .or_else(|| published.and_then(|all| all[..].get(i)));
                    if let Some(outcome) = outcome {
                        bus.emit(i, terminal_event(outcome));
                    }
                }
                _ => {}
            }
        }
        if self.published {
            bus.close();
        }
        Some(made)
    }

    /// A roster of the calls so far (re-planned when calls were added).
    fn roster(&self) -> Option<Roster> {
        if self.plan.calls.len() == self.graph.planned()
            && let Ok(roster) = Roster::new(&self.plan, self.graph.dag())
        {
            return Some(roster);
        }
        let mut copy = Plan {
            calls: self.plan.calls.clone(),
            ..Plan::default()
        };
        for call in &mut copy.calls {
            call.access.retain(|k| k.key != EXCLUSIVE_KEY);
        }
        if let Ok(dag) = Planner::new().plan(&copy) {
            return Roster::new(&copy, &dag).ok();
        }
        copy.calls.truncate(self.graph.planned());
        Roster::new(&copy, self.graph.dag()).ok()
    }

    fn snapshot(&mut self) -> Option<BatchSnapshot> {
        self.attach(Bus::snapshot)
    }

    // ---- commands and the end ------------------------------------------------------------

    fn command(&mut self, command: Command) {
        match command {
            Command::Cancel => self.stop_all(Stop::Cancelled),
            Command::CancelCall { id, reply } => {
                let _ = reply.send(self.cancel_call(&id));
            }
            Command::Add { call, reply } => {
                let _ = reply.send(self.add(*call));
            }
            Command::Close => self.input_open = false,
            Command::Subscribe { lossless, reply } => {
                let subscription = self.attach(|bus| {
                    if lossless {
                        Subscription::Lossless(bus.subscribe_lossless())
                    } else {
                        Subscription::Display(bus.subscribe_from(0))
                    }
                });
                let _ = reply.send(subscription);
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
        }
    }

    fn publish(&mut self) {
        if self.published {
            return;
        }
        self.published = true;
        let elapsed = self.now_ms();
        // In place: `Option<Outcome>` has the size of `Outcome`, so this reuses the allocation
        // rather than holding every outcome twice at the peak.
        let slots = &self.slots;
        let calls = &self.plan.calls;
        let outcomes: Vec<Outcome> = mem::take(&mut self.outcomes)
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                o.unwrap_or_else(|| Outcome {
                    index: i,
                    id: slots[i].id.clone(),
                    tool: Arc::from(calls[i].tool.as_str()),
                    status: Status::Cancelled,
                    output: None,
                    error: Some(Box::new(CallError::new(
                        ErrorKind::Cancelled,
                        "the engine lost track of this call (a bug): it did not run to its end",
                    ))),
                    attempts: slots[i].attempts,
                    queued_at_ms: None,
                    started_at_ms: None,
                    ended_at_ms: elapsed,
                    duration_ms: 0,
                })
            })
            .collect();
        let ok = outcomes.iter().filter(|o| o.is_ok()).count();
        self.span.record("ok", ok);
        self.span.record("failed", outcomes.len() - ok);
        let _ = self.completion.done.set(Outcomes::new(outcomes, elapsed));
        self.completion.notify.notify_waiters();
        if let Some(bus) = &self.bus {
            bus.close();
        }
    }

    /// Gives every call without an outcome one (the runtime is dropping the driver).
    fn abandon(&mut self) {
        if self.published {
            return;
        }
        for i in 0..self.slots.len() {
            if self.slots[i].state != State::Done {
                let error = CallError::new(
                    ErrorKind::Cancelled,
                    "cancelled: the engine stopped (its runtime shut down) before the call finished",
                );
                self.record(i, Status::Cancelled, None, Some(error));
            }
        }
        self.worklist.clear();
        self.publish();
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut budget = BUDGET;
        loop {
            this.tick();
            let mut progressed = false;
            while this.commands_open {
                match this.commands.poll_recv(cx) {
                    Poll::Ready(Some(command)) => {
                        this.command(command);
                        progressed = true;
                    }
                    Poll::Ready(None) => {
                        this.commands_open = false;
                        this.input_open = false;
                        progressed = true;
                    }
                    Poll::Pending => break,
                }
            }
            if let Some(deadline) = &mut this.deadline
                && !this.published
                && deadline.as_mut().poll(cx).is_ready()
            {
                this.deadline = None;
                this.on_deadline();
                progressed = true;
            }
            progressed |= this.start_ready(cx, &mut budget);
            while budget > 0 {
                match this.acquiring.poll_next_unpin(cx) {
                    Poll::Ready(Some((i, result))) => {
                        budget -= 1;
                        progressed = true;
                        this.on_acquired(i as usize, result, cx);
                    }
                    _ => break,
                }
            }
            while budget > 0 {
                let polled = this.running.poll_next_unpin(cx);
                this.tick();
                match polled {
                    Poll::Ready(Some((i, result))) => {
                        budget -= 1;
                        progressed = true;
                        this.on_attempt_done(i as usize, result);
                    }
                    _ => break,
                }
            }
            while let Poll::Ready(Some(i)) = this.backoffs.poll_next_unpin(cx) {
                progressed = true;
                this.on_backoff_done(i as usize);
            }
            progressed |= this.maybe_second_phase();
            if this.unfinished == 0 && !this.input_open && !this.published {
                this.publish();
            }
            if this.published && this.running.is_empty() && this.acquiring.is_empty() {
                return Poll::Ready(());
            }
            if !progressed {
                return Poll::Pending;
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.abandon();
    }
}

fn status_name(result: &AttemptResult) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(failure) => failure.kind.as_str(),
    }
}

/// The progress event that ends a call.
fn terminal_event(outcome: &Outcome) -> EventKind {
    let message = outcome.message().unwrap_or("");
    let kind = outcome.error_kind().map_or("error", ErrorKind::as_str);
    match outcome.status {
        Status::Ok => EventKind::Completed,
        Status::Error => EventKind::failed(kind, message),
        Status::Timeout => EventKind::TimedOut {
            after_ms: outcome.duration_ms,
        },
        Status::Cancelled => EventKind::Cancelled {
            reason: Some(Arc::from(message)),
        },
        Status::Skipped => EventKind::skipped(message),
    }
}

/// Each call's tier, inheriting the most urgent tier of its dependents (so an urgent call is
/// not held back by a lax one it waits for). `None` when every call is `normal`.
fn effective_tiers(plan: &Plan, entries: &[Option<Arc<Entry>>], graph: &Graph) -> Option<Vec<u8>> {
    let own = |i: usize| {
        let priority = match plan.calls[i].priority {
            volley_planner::Priority::Normal => entries[i]
                .as_ref()
                .map_or(volley_planner::Priority::Normal, |e| e.priority),
            other => other,
        };
        scheduler::tier(priority)
    };
    if (0..plan.calls.len()).all(|i| own(i) == NORMAL_TIER) {
        return None;
    }
    let mut tiers: Vec<u8> = (0..plan.calls.len()).map(own).collect();
    let mut dependents = Vec::new();
    for &u in graph.dag().topological_order().iter().rev() {
        let u = u as usize;
        graph.dependents_into(u, &mut dependents);
        for &v in &dependents {
            tiers[u] = tiers[u].min(tiers[v as usize]);
        }
    }
    Some(tiers)
}
