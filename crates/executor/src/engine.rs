//! The engine: a registry, a configuration, a resource backend and audit sinks; runs plans.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::Instrument;
use volley_planner::{AccessKey, Dag, Plan, PlanErrors, Planner, RetryPolicy};
use volley_resources::ResourceBackend;

use crate::audit::{AuditSink, TracingSink};
use crate::batch::{BatchHandle, Completion};
use crate::cancel::DEFAULT_GRACE;
use crate::driver::{Driver, Setup};
use crate::error::RunError;
use crate::registry::{Entry, Registry};
use crate::retry::Jitter;
use crate::timeout::DEFAULT_TIMEOUT;

/// Calls of one batch running at once when neither the plan nor the engine says: 10, Claude
/// Code's default for parallel tool use.
pub const DEFAULT_MAX_CONCURRENCY: usize = 10;

/// The access key that calls of tools that are not concurrency safe take exclusively (and
/// every other call shared), so they run alone. Not a resource lock: batch ordering only.
pub const EXCLUSIVE_KEY: &str = "volley.exclusive";

/// Engine settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_concurrency: usize,
    pub(crate) default_timeout: Option<Duration>,
    pub(crate) default_retry: Option<RetryPolicy>,
    pub(crate) grace: Duration,
    pub(crate) jitter: Jitter,
    pub(crate) seed: Option<u64>,
    pub(crate) progress: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            default_timeout: Some(DEFAULT_TIMEOUT),
            default_retry: None,
            grace: DEFAULT_GRACE,
            jitter: Jitter::Equal,
            seed: None,
            progress: false,
        }
    }
}

/// What clones of an engine share.
pub(crate) struct EngineInner {
    pub(crate) registry: Registry,
    pub(crate) config: Config,
    pub(crate) backend: Option<Arc<dyn ResourceBackend>>,
    pub(crate) audit: Vec<Arc<dyn AuditSink>>,
    planner: Planner,
    next_batch: AtomicU64,
}

/// Runs plans: every call against the registry, under the configuration, resource backend
/// and audit sinks it was built with. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("registry", &self.inner.registry)
            .field("config", &self.inner.config)
            .field("audit_sinks", &self.inner.audit.len())
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    registry: Registry,
    config: Config,
    backend: Option<Arc<dyn ResourceBackend>>,
    audit: Vec<Arc<dyn AuditSink>>,
}

impl EngineBuilder {
    /// Calls of one batch running at once, unless its plan says `max_concurrency`.
    ///
    /// By default, [`DEFAULT_MAX_CONCURRENCY`] (10).
    pub fn max_concurrency(&mut self, calls: usize) -> &mut EngineBuilder {
        self.config.max_concurrency = calls.max(1);
        self
    }

    /// How long one attempt may run when neither the call nor its tool says (`None`: no limit).
    ///
    /// By default, [`DEFAULT_TIMEOUT`] (120 s).
    pub fn default_timeout(&mut self, timeout: Option<Duration>) -> &mut EngineBuilder {
        self.config.default_timeout = timeout;
        self
    }

    /// How to retry transient failures and timeouts when neither the call nor its tool says.
    ///
    /// By default, none: one attempt.
    pub fn default_retry(&mut self, policy: Option<RetryPolicy>) -> &mut EngineBuilder {
        self.config.default_retry = policy;
        self
    }

    /// How long a cancelled call may take to stop by itself before it is dropped.
    ///
    /// By default, [`DEFAULT_GRACE`](crate::DEFAULT_GRACE) (1 s).
    pub fn grace_period(&mut self, grace: Duration) -> &mut EngineBuilder {
        self.config.grace = grace;
        self
    }

    /// How retry delays are jittered (see [`Jitter`] for the formulas).
    ///
    /// By default, [`Jitter::Equal`].
    pub fn jitter(&mut self, jitter: Jitter) -> &mut EngineBuilder {
        self.config.jitter = jitter;
        self
    }

    /// Seeds the jitter generator (each batch mixes in its id), for reproducible delays.
    ///
    /// By default, seeded from the clock.
    pub fn seed(&mut self, seed: u64) -> &mut EngineBuilder {
        self.config.seed = Some(seed);
        self
    }

    /// Whether each batch makes its progress bus when it starts, so subscribers see every
    /// event with its real time. Otherwise the bus is made on the first `subscribe` or
    /// `snapshot` (with a catch-up), and a batch nobody watches pays nothing for events.
    ///
    /// By default, `false` (on demand).
    pub fn progress(&mut self, from_start: bool) -> &mut EngineBuilder {
        self.config.progress = from_start;
        self
    }

    /// Grants resources (budgets, locks, per-tool caps, rate limits) across the batches of
    /// this engine. Each call then acquires a permit for its tool, priority, the tool's
    /// [`Resources`](crate::Resources) and the call's access keys before it starts.
    ///
    /// By default, none: only each batch's concurrency limit applies.
    pub fn resources(&mut self, backend: Arc<dyn ResourceBackend>) -> &mut EngineBuilder {
        self.backend = Some(backend);
        self
    }

    /// Adds an audit sink.
    ///
    /// By default, the engine has one: [`TracingSink`].
    pub fn audit(&mut self, sink: Arc<dyn AuditSink>) -> &mut EngineBuilder {
        self.audit.push(sink);
        self
    }

    /// Removes every audit sink added so far, the default [`TracingSink`] included.
    ///
    /// By default, the tracing sink is kept.
    pub fn clear_audit(&mut self) -> &mut EngineBuilder {
        self.audit.clear();
        self
    }

    /// The engine.
    pub fn build(&self) -> Engine {
        let mut planner = Planner::new();
        for name in self.registry.names() {
            if let Some(ms) = self.registry.entry(name).and_then(|e| e.estimate_ms) {
                planner.tool_estimate(name, ms);
            }
        }
        Engine {
            inner: Arc::new(EngineInner {
                registry: self.registry.clone(),
                config: self.config.clone(),
                backend: self.backend.clone(),
                audit: self.audit.clone(),
                planner,
                next_batch: AtomicU64::new(1),
            }),
        }
    }
}

impl Engine {
    /// An engine of these tools with every default.
    pub fn new(registry: Registry) -> Engine {
        Engine::builder(registry).build()
    }

    /// A builder for an engine of these tools.
    pub fn builder(registry: Registry) -> EngineBuilder {
        EngineBuilder {
            registry,
            config: Config::default(),
            backend: None,
            audit: vec![Arc::new(TracingSink)],
        }
    }

    /// The tools.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Runs a plan: returns at once with the batch's handle; the calls start now.
    ///
    /// # Errors
    /// [`RunError::Plan`] with every problem of an invalid plan; [`RunError::NoRuntime`]
    /// outside a tokio runtime.
    pub fn run(&self, plan: Plan) -> Result<BatchHandle, RunError> {
        self.start(plan, false)
    }

    /// Runs a plan (possibly empty) that takes more calls while it runs
    /// ([`BatchHandle::add`]) until [`BatchHandle::close`].
    ///
    /// # Errors
    /// As [`Engine::run`].
    pub fn open(&self, plan: Plan) -> Result<BatchHandle, RunError> {
        self.start(plan, true)
    }

    /// What `run` does before it starts: default ids, tools' access keys and exclusivity
    /// added to the calls, then the planner. For a dry run (`volley plan`).
    ///
    /// # Errors
    /// Every problem of an invalid plan.
    pub fn plan(&self, plan: &mut Plan) -> Result<Dag, PlanErrors> {
        self.prepare(plan);
        self.inner.planner.plan(plan)
    }

    /// Default ids, and the access keys tools derive from arguments; returns each call's tool.
    fn prepare(&self, plan: &mut Plan) -> Vec<Option<Arc<Entry>>> {
        if plan.calls.iter().any(|c| c.id.is_empty()) {
            plan.assign_default_ids();
        }
        let registry = &self.inner.registry;
        let mut entries: Vec<Option<Arc<Entry>>> = Vec::with_capacity(plan.calls.len());
        let mut any_exclusive = false;
        for call in &mut plan.calls {
            // Plans repeat tools: reuse the previous look-up when the name is the same.
            let entry = match entries.last() {
                Some(Some(last)) if *last.name == *call.tool => Some(last.clone()),
                _ => registry.entry(&call.tool).cloned(),
            };
            if let Some(entry) = &entry {
                call.access.extend(entry.tool.access_keys(&call.args));
                any_exclusive |= !entry.concurrency_safe;
            }
            entries.push(entry);
        }
        if any_exclusive {
            for (call, entry) in plan.calls.iter_mut().zip(&entries) {
                let safe = entry.as_ref().is_none_or(|e| e.concurrency_safe);
                call.access.push(if safe {
                    AccessKey::read(EXCLUSIVE_KEY)
                } else {
                    AccessKey::write(EXCLUSIVE_KEY)
                });
            }
        }
        entries
    }

    fn start(&self, mut plan: Plan, input_open: bool) -> Result<BatchHandle, RunError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RunError::NoRuntime)?;
        let entries = self.prepare(&mut plan);
        let dag = self.inner.planner.plan(&plan)?;
        let batch = self.inner.next_batch.fetch_add(1, Ordering::Relaxed);
        let (sender, commands) = mpsc::unbounded_channel();
        let completion = Arc::new(Completion::default());
        let span = tracing::info_span!(
            "batch", batch, calls = plan.calls.len(), strategy = %plan.strategy,
            ok = tracing::field::Empty, failed = tracing::field::Empty
        );
        let setup = Setup {
            batch,
            plan,
            dag,
            entries,
            input_open,
            commands,
            completion: completion.clone(),
            span: span.clone(),
        };
        let mut driver = Driver::new(self.inner.clone(), setup).instrument(span);
        // One poll here first: a batch whose tools finish in their first poll is over before
        // `run` returns, with no task spawned and no thread woken. Otherwise the driver goes to
        // its own task, whose first poll registers every waker again (the no-op waker used here
        // is never relied on: each source the driver waits on is polled anew in every poll).
        let mut cx = Context::from_waker(Waker::noop());
        if Pin::new(&mut driver).poll(&mut cx).is_pending() {
            runtime.spawn(driver);
        }
        Ok(BatchHandle::new(batch, sender, completion))
    }
}
