//! The executor of Volley: runs a plan's tool calls in parallel, safely.
//!
//! A [`Tool`] is an async function with a JSON Schema and metadata (timeout, retry policy,
//! priority, resources, access keys, whether it may run beside others). A [`Registry`] holds
//! the tools a model may call. An [`Engine`], built from a registry and a configuration,
//! runs a [`Plan`](volley_planner::Plan) and returns a [`BatchHandle`]: wait for the
//! [`Outcomes`], cancel the batch or one call, add calls while it runs, subscribe to progress.
//!
//! What the engine guarantees:
//! - **Every call gets exactly one [`Outcome`]** (`ok`, `error`, `timeout`, `cancelled`,
//!   `skipped`), whatever happens: unknown tools, bad arguments, panics, timeouts, the batch
//!   deadline, cancellation, a runtime shutting down.
//! - **One bad call never takes the batch down**: it fails alone; its dependents are skipped
//!   with a reason naming it, unless they asked to run anyway.
//! - **Scheduling is event-driven**: a call starts when its dependencies are done and a slot
//!   (and, with a [`ResourceBackend`](volley_resources::ResourceBackend), its resources) is
//!   granted; the most urgent, then the one with the longest remaining critical path, first.
//! - **Cancellation is cooperative, then forced**: a tool's token fires; after the grace
//!   period the attempt is dropped.
//! - **Every execution reaches the audit log** ([`AuditSink`]: `tracing` by default, or
//!   [`JsonLinesSink`]).
//!
//! See `docs/executor.md` for the strategies, the cancellation and deadline semantics, and the
//! audit record format.
//!
//! ```
//! use serde_json::json;
//! use volley_executor::{Engine, Registry, Status, testing::ScriptedTool};
//! use volley_planner::{Call, Plan};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut registry = Registry::new();
//! registry
//!     .register(ScriptedTool::new("find_contact").latency_ms(100).output(json!({"id": 7})))?
//!     .register(ScriptedTool::new("check_crm").latency_ms(200))?
//!     .register(ScriptedTool::new("send_invite").fail_permanently("mail server down"))?;
//! let engine = Engine::new(registry);
//!
//! let plan = Plan::new(vec![
//!     Call::new("find_contact", json!({"email": "john@example.com"})),
//!     Call::new("check_crm", json!({"contact": "$find_contact.id"})),
//!     Call::new("send_invite", json!({"to": "$find_contact.id"})),
//!     Call::new("lookup_weather", json!({})),
//! ]);
//! let outcomes = engine.run(plan)?.wait().await;
//!
//! assert_eq!(outcomes[1].status, Status::Ok);
//! assert_eq!(outcomes[1].output.as_ref().unwrap()["echo"], json!({"contact": 7}));
//! assert_eq!(outcomes[1].ended_at_ms, 300);
//! assert_eq!(outcomes[2].message(), Some("mail server down"));
//! assert!(outcomes[3].message().unwrap().contains("no tool named `lookup_weather`"));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub use crate::audit::{
    AuditEvent, AuditRecord, AuditSink, JsonLinesSink, REDACTED, Redacted, TracingSink, redact,
};
pub use crate::batch::BatchHandle;
pub use crate::cancel::DEFAULT_GRACE;
pub use crate::context::{Progress, ToolContext};
pub use crate::engine::{DEFAULT_MAX_CONCURRENCY, EXCLUSIVE_KEY, Engine, EngineBuilder};
pub use crate::error::{
    AddError, CallError, CancelError, ErrorKind, RegistryError, RunError, ToolError,
};
pub use crate::outcome::{Outcome, Outcomes, Status};
pub use crate::registry::Registry;
pub use crate::retry::Jitter;
pub use crate::subagent::{
    DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_DEPTH, SubagentResult, SubagentRunner, SubagentTask,
    SubagentTool,
};
pub use crate::timeout::DEFAULT_TIMEOUT;
pub use crate::tool::{Resources, Tool, ToolSpec};

pub mod testing;

mod audit;
mod batch;
mod cancel;
mod context;
mod driver;
mod engine;
mod error;
mod graph;
mod invoke;
mod outcome;
mod registry;
mod retry;
mod scheduler;
mod subagent;
mod timeout;
mod tool;
