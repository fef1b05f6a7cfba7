//! What every request shares: the engine, the settings, and the batches, running or kept.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use volley::executor::{BatchHandle, Engine};
use volley::progress::Bus;

use super::auth::Auth;
use super::id::BatchId;
use super::tool_list::ToolLists;

/// What receives log lines.
pub(crate) type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// Where log lines go: one line per request and per batch event; never a header or a body.
#[derive(Clone)]
pub(crate) struct Log(Option<Sink>);

impl Log {
    pub(crate) fn stderr() -> Log {
        Log(Some(Arc::new(|line| eprintln!("volley serve: {line}"))))
    }

    pub(crate) fn to(sink: Sink) -> Log {
        Log(Some(sink))
    }

    pub(crate) fn off() -> Log {
        Log(None)
    }

    pub(crate) fn line(&self, line: fmt::Arguments<'_>) {
        if let Some(sink) = &self.0 {
            sink(&line.to_string());
        }
    }
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Log(on)"
        } else {
            "Log(off)"
        })
    }
}

/// The server's settings (see [`ServerBuilder`](super::ServerBuilder) for each one's meaning).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) auth: Auth,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_batches: usize,
    pub(crate) retain_batches: usize,
    pub(crate) retain_for: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) log: Log,
}

/// What the handlers share.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) config: Config,
    pub(crate) tools: ToolLists,
    pub(crate) store: Store,
    /// One permit per batch that may run; a batch holds one until its result is published.
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) shutting_down: AtomicBool,
}

impl Shared {
    pub(crate) fn log(&self, line: fmt::Arguments<'_>) {
        self.config.log.line(line);
    }

    /// Refuses new requests and batches, and cancels every running batch (each still gets
    /// its result, which its subscribers receive).
    pub(crate) fn begin_shutdown(&self) {
        if self.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        let running = self.store.close();
        self.log(format_args!(
            "shutting down: new requests refused, {} running batch(es) cancelled",
            running.len()
        ));
        for entry in running {
            entry.cancel();
        }
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Waits until no batch runs (every permit is back).
    pub(crate) async fn idle(&self) {
        let all = u32::try_from(self.config.max_batches).unwrap_or(u32::MAX);
        let _ = self.slots.acquire_many(all).await;
    }
}

/// `?output=`: the shape of a batch's result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Output {
    /// The batch result, `{"results", "summary"}` (`volley run`'s JSON).
    #[default]
    Json,
    /// An Anthropic `user` message of `tool_result` blocks.
    Anthropic,
    /// A Bedrock Converse `user` message of `toolResult` blocks.
    Bedrock,
    /// OpenAI `tool` messages, one per call.
    Openai,
}

/// A batch's status in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BatchStatus {
    /// Some call has no outcome yet.
    Running,
    /// Every call has its outcome.
    Done,
    /// Over, after a cancellation (`DELETE` or shutdown) stopped some of its calls.
    Cancelled,
}

/// A batch's end: its status and its result in the shape asked for.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: BatchStatus,
    pub(crate) result: Value,
}

/// One batch the server knows.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: BatchId,
    pub(crate) handle: BatchHandle,
    cancel_requested: AtomicBool,
    finished: watch::Receiver<Option<Arc<Finished>>>,
    /// The bus replayed from the outcomes, for a batch that ended before it had one.
    replayed: OnceLock<Bus>,
}

impl Entry {
    /// The batch's progress bus: the engine's (made now if need be), or the replayed one for
    /// a batch that ended before it had one (then this waits for the end).
    pub(crate) async fn bus(&self) -> Option<Bus> {
        if let Some(bus) = self.handle.bus() {
            return Some(bus);
        }
        let _ = self.handle.snapshot().await;
        if let Some(bus) = self.handle.bus() {
            return Some(bus);
        }
        self.wait().await;
        self.replayed.get().cloned()
    }

    /// Keeps the replayed bus (before the end is published).
    pub(crate) fn set_replayed(&self, bus: Bus) {
        let _ = self.replayed.set(bus);
    }

    /// The end, once the result is published.
    pub(crate) fn finished(&self) -> Option<Arc<Finished>> {
        self.finished.borrow().clone()
    }

    /// Waits for the end; `None` only if the task that publishes it died (a bug).
    pub(crate) async fn wait(&self) -> Option<Arc<Finished>> {
        let mut finished = self.finished.clone();
        finished.wait_for(Option::is_some).await.ok()?.clone()
    }

    /// Cancels the batch; its result then says `cancelled`.
    pub(crate) fn cancel(&self) {
        self.cancel_requested.store(true, Ordering::SeqCst);
        self.handle.cancel();
    }

    pub(crate) fn cancel_requested(&self) -> bool {
        self.cancel_requested.load(Ordering::SeqCst)
    }
}

/// The batches: running ones, and finished ones for a while so clients can fetch results.
///
/// Finished batches are kept at most `retain_batches` of them (the oldest go first), and none
/// longer than `retain_for` after it finished.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    retain_batches: usize,
    retain_for: Duration,
}

#[derive(Default)]
struct Inner {
    batches: HashMap<BatchId, Arc<Entry>>,
    /// Finished batches, oldest first, with when they finished.
    finished: VecDeque<(Instant, BatchId)>,
    closed: bool,
}

impl Inner {
    fn evict(&mut self, retain_batches: usize, retain_for: Duration, now: Instant) {
        while let Some(&(at, id)) = self.finished.front() {
            if self.finished.len() <= retain_batches && now.duration_since(at) < retain_for {
                break;
            }
            self.finished.pop_front();
            self.batches.remove(&id);
        }
    }
}

impl Store {
    pub(crate) fn new(retain_batches: usize, retain_for: Duration) -> Store {
        Store {
            inner: Mutex::default(),
            retain_batches,
            retain_for,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a few plain operations: data behind a poisoned lock is consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The batch with this id, unless it was never known or is no longer kept.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Entry>> {
        let id = BatchId::parse(id)?;
        let mut inner = self.lock();
        inner.evict(self.retain_batches, self.retain_for, Instant::now());
        inner.batches.get(&id).cloned()
    }

    /// Keeps a batch that just started under `id` (or a fresh id in the unlikely event that
    /// `id` is taken). A batch that starts while the server shuts down is cancelled at once:
    /// every batch running when the shutdown began gets cancelled, whatever the timing.
    pub(crate) fn insert(
        &self,
        mut id: BatchId,
        handle: BatchHandle,
        finished: watch::Receiver<Option<Arc<Finished>>>,
    ) -> Result<Arc<Entry>, getrandom::Error> {
        let mut inner = self.lock();
        while inner.batches.contains_key(&id) {
            id = BatchId::random()?;
        }
        let entry = Arc::new(Entry {
            id,
            handle,
            cancel_requested: AtomicBool::new(false),
            finished,
            replayed: OnceLock::new(),
        });
        inner.batches.insert(id, entry.clone());
        if inner.closed {
            entry.cancel();
        }
        Ok(entry)
    }

    /// Starts the retention clock of a batch whose result was just published.
    pub(crate) fn finished(&self, id: BatchId) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.finished.push_back((now, id));
        inner.evict(self.retain_batches, self.retain_for, now);
    }

    /// Refuses further batches (they are cancelled as they start); returns the running ones.
    pub(crate) fn close(&self) -> Vec<Arc<Entry>> {
        let mut inner = self.lock();
        inner.closed = true;
        inner
            .batches
            .values()
            .filter(|e| e.finished().is_none())
            .cloned()
            .collect()
    }
}
