//! A scripted tool for tests (and for trying the engine): fixed latency, failures by attempt,
//! progress steps, panics, a tool that ignores cancellation, and an [`Observer`] that counts
//! calls in flight.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;
use volley_planner::{AccessKey, Priority, RetryPolicy};

use crate::context::ToolContext;
use crate::error::ToolError;
use crate::tool::{Resources, Tool};

/// What a scripted attempt does instead of succeeding.
#[derive(Debug, Clone)]
enum Misbehaviour {
    Fail(ToolError),
    Panic(String),
}

/// A tool whose behaviour is scripted. By default it sleeps for its latency (0 ms), then
/// returns `{"echo": <args>}`; every setter changes one thing.
///
/// ```
/// use std::time::Duration;
/// use volley_executor::{ToolError, testing::{Observer, ScriptedTool}};
///
/// let observer = Observer::new();
/// let flaky = ScriptedTool::new("check_crm")
///     .latency_ms(200)
///     .fail_on(1, ToolError::transient("503 from the CRM"))
///     .progress_steps(4)
///     .observer(&observer);
/// # let _ = flaky;
/// ```
#[derive(Debug, Clone)]
pub struct ScriptedTool {
    name: String,
    description: String,
    schema: Value,
    latency: Duration,
    output: Option<Value>,
    by_attempt: BTreeMap<u32, Misbehaviour>,
    always: Option<Misbehaviour>,
    steps: u32,
    ignores_cancel: bool,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    priority: Priority,
    resources: Resources,
    access_field: Option<(String, bool)>,
    concurrency_safe: bool,
    redact: Vec<&'static str>,
    spawn: bool,
    estimate: Option<Duration>,
    observer: Observer,
    calls: Arc<AtomicU32>,
}

impl ScriptedTool {
    /// A tool of this name that succeeds at once.
    pub fn new(name: &str) -> ScriptedTool {
        ScriptedTool {
            name: name.to_owned(),
            description: format!("scripted tool `{name}`"),
            schema: json!({"type": "object"}),
            latency: Duration::ZERO,
            output: None,
            by_attempt: BTreeMap::new(),
            always: None,
            steps: 0,
            ignores_cancel: false,
            timeout: None,
            retry: None,
            priority: Priority::Normal,
            resources: Resources::default(),
            access_field: None,
            concurrency_safe: true,
            redact: Vec::new(),
            spawn: false,
            estimate: None,
            observer: Observer::new(),
            calls: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Sleeps this long per attempt (0 returns in the first poll).
    #[must_use]
    pub fn latency_ms(mut self, ms: u64) -> ScriptedTool {
        self.latency = Duration::from_millis(ms);
        self
    }

    /// Returns this value instead of `{"echo": args}`.
    #[must_use]
    pub fn output(mut self, output: Value) -> ScriptedTool {
        self.output = Some(output);
        self
    }

    /// Fails attempt `attempt` (1-based) with `error`, after its latency.
    #[must_use]
    pub fn fail_on(mut self, attempt: u32, error: ToolError) -> ScriptedTool {
        self.by_attempt.insert(attempt, Misbehaviour::Fail(error));
        self
    }

    /// Fails every attempt with a permanent error.
    #[must_use]
    pub fn fail_permanently(mut self, message: &str) -> ScriptedTool {
        self.always = Some(Misbehaviour::Fail(ToolError::permanent(message)));
        self
    }

    /// Fails every attempt with this error.
    #[must_use]
    pub fn fail_always(mut self, error: ToolError) -> ScriptedTool {
        self.always = Some(Misbehaviour::Fail(error));
        self
    }

    /// Panics on attempt `attempt` with this message, after its latency.
    #[must_use]
    pub fn panic_on(mut self, attempt: u32, message: &str) -> ScriptedTool {
        self.by_attempt
            .insert(attempt, Misbehaviour::Panic(message.to_owned()));
        self
    }

    /// Reports `steps` progress steps spread over its latency.
    #[must_use]
    pub fn progress_steps(mut self, steps: u32) -> ScriptedTool {
        self.steps = steps;
        self
    }

    /// Keeps sleeping when cancelled (only dropping the attempt stops it).
    #[must_use]
    pub fn ignore_cancellation(mut self) -> ScriptedTool {
        self.ignores_cancel = true;
        self
    }

    /// Its input schema.
    #[must_use]
    pub fn schema(mut self, schema: Value) -> ScriptedTool {
        self.schema = schema;
        self
    }

    /// Its default timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> ScriptedTool {
        self.timeout = Some(timeout);
        self
    }

    /// Its retry policy.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> ScriptedTool {
        self.retry = Some(policy);
        self
    }

    /// Its priority.
    #[must_use]
    pub fn priority(mut self, priority: Priority) -> ScriptedTool {
        self.priority = priority;
        self
    }

    /// Its resource needs.
    #[must_use]
    pub fn resources(mut self, resources: Resources) -> ScriptedTool {
        self.resources = resources;
        self
    }

    /// Derives an access key from the string argument `field`: `read:<value>`, or
    /// `write:<value>` when `write`.
    #[must_use]
    pub fn access_from(mut self, field: &str, write: bool) -> ScriptedTool {
        self.access_field = Some((field.to_owned(), write));
        self
    }

    /// Marks it not concurrency safe.
    #[must_use]
    pub fn not_concurrency_safe(mut self) -> ScriptedTool {
        self.concurrency_safe = false;
        self
    }

    /// Fields redacted in the audit log.
    #[must_use]
    pub fn redact(mut self, fields: &[&'static str]) -> ScriptedTool {
        self.redact = fields.to_vec();
        self
    }

    /// Runs its calls on their own tasks.
    #[must_use]
    pub fn spawned(mut self) -> ScriptedTool {
        self.spawn = true;
        self
    }

    /// Its estimated duration.
    #[must_use]
    pub fn estimated_ms(mut self, ms: u64) -> ScriptedTool {
        self.estimate = Some(Duration::from_millis(ms));
        self
    }

    /// Reports its attempts to `observer`.
    #[must_use]
    pub fn observer(mut self, observer: &Observer) -> ScriptedTool {
        self.observer = observer.clone();
        self
    }

    /// Counts the attempts started (shared by clones, so keep one before registering).
    pub fn attempts(&self) -> Arc<AtomicU32> {
        self.calls.clone()
    }

    async fn wait(&self, ctx: &ToolContext, duration: Duration) -> Result<(), ToolError> {
        if self.ignores_cancel {
            tokio::time::sleep(duration).await;
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            () = ctx.cancelled() => Err(ToolError::Cancelled),
        }
    }
}

#[async_trait]
impl Tool for ScriptedTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn input_schema(&self) -> Value {
        self.schema.clone()
    }

    async fn call(&self, args: Value, ctx: ToolContext) -> Result<Value, ToolError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let _guard = self
            .observer
            .enter(&self.name, ctx.call_id(), ctx.attempt());
        if !self.latency.is_zero() {
            if self.steps > 0 {
                let step = self.latency / self.steps;
                for k in 1..=self.steps {
                    self.wait(&ctx, step).await?;
                    ctx.progress(f64::from(k) / f64::from(self.steps), format!("step {k}"));
                }
            } else {
                self.wait(&ctx, self.latency).await?;
            }
        }
        match self.by_attempt.get(&ctx.attempt()).or(self.always.as_ref()) {
            Some(Misbehaviour::Fail(error)) => Err(error.clone()),
            Some(Misbehaviour::Panic(message)) => panic!("{message}"),
            None => Ok(self.output.clone().unwrap_or_else(|| json!({"echo": args}))),
        }
    }

    fn estimated_duration(&self) -> Option<Duration> {
        self.estimate
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn retry_policy(&self) -> Option<RetryPolicy> {
        self.retry
    }

    fn priority(&self) -> Priority {
        self.priority
    }

    fn resources(&self) -> Resources {
        self.resources.clone()
    }

    fn access_keys(&self, args: &Value) -> Vec<AccessKey> {
        let Some((field, write)) = &self.access_field else {
            return Vec::new();
        };
        match args.get(field).and_then(Value::as_str) {
            Some(key) if *write => vec![AccessKey::write(key)],
            Some(key) => vec![AccessKey::read(key)],
            None => Vec::new(),
        }
    }

    fn concurrency_safe(&self) -> bool {
        self.concurrency_safe
    }

    fn redact(&self) -> &[&str] {
        &self.redact
    }

    fn spawn(&self) -> bool {
        self.spawn
    }
}

/// Watches scripted attempts: how many run at once (in all and per tool), the most ever, and
/// when each started and ended. Cheap to clone; clones share.
#[derive(Debug, Clone, Default)]
pub struct Observer {
    inner: Arc<Mutex<Watched>>,
}

#[derive(Debug, Default)]
struct Watched {
    now: u32,
    peak: u32,
    per_tool: BTreeMap<String, (u32, u32)>,
    log: Vec<Span>,
}

/// One attempt as the observer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The tool.
    pub tool: String,
    /// The call's id.
    pub call: String,
    /// The attempt number.
    pub attempt: u32,
    /// When it started.
    pub started: Instant,
    /// When it ended (returned, failed or was dropped), if it has.
    pub ended: Option<Instant>,
}

impl Observer {
    /// A fresh observer.
    pub fn new() -> Observer {
        Observer::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enter(&self, tool: &str, call: &str, attempt: u32) -> Leave {
        let mut watched = self.lock();
        watched.now += 1;
        watched.peak = watched.peak.max(watched.now);
        let entry = watched.per_tool.entry(tool.to_owned()).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(entry.0);
        let index = watched.log.len();
        watched.log.push(Span {
            tool: tool.to_owned(),
            call: call.to_owned(),
            attempt,
            started: Instant::now(),
            ended: None,
        });
        Leave {
            observer: self.clone(),
            tool: tool.to_owned(),
            index,
        }
    }

    /// Attempts running now.
    pub fn in_flight(&self) -> u32 {
        self.lock().now
    }

    /// The most attempts that ran at once.
    pub fn peak(&self) -> u32 {
        self.lock().peak
    }

    /// The most attempts of `tool` that ran at once.
    pub fn peak_of(&self, tool: &str) -> u32 {
        self.lock().per_tool.get(tool).map_or(0, |t| t.1)
    }

    /// Every attempt seen, in start order.
    pub fn log(&self) -> Vec<Span> {
        self.lock().log.clone()
    }
}

/// Counts an attempt out when it ends, however it ends (a dropped future included).
struct Leave {
    observer: Observer,
    tool: String,
    index: usize,
}

impl Drop for Leave {
    fn drop(&mut self) {
        let mut watched = self.observer.lock();
        watched.now -= 1;
        if let Some(entry) = watched.per_tool.get_mut(&self.tool) {
            entry.0 -= 1;
        }
        if let Some(span) = watched.log.get_mut(self.index) {
            span.ended = Some(Instant::now());
        }
    }
}
