//! Resources for Volley: whether a tool call may start now.
//!
//! Tool calls hit real systems: a CRM that allows 5 requests per second, a file that must
//! not be written while it is read, a model that needs 8 GB of memory. A [`Request`] names
//! what one call needs; a [`ResourceBackend`] grants it as an RAII [`Permit`]:
//!
//! - a slot of the global concurrency limit (unless [`Request::global_slot`]`(false)`);
//! - budgets: CPU in fractional cores, memory in MB, I/O slots;
//! - named locks, shared (`read:KEY`) or exclusive (`write:KEY`), parsed as [`AccessKey`]s;
//! - a tool's concurrency cap and its [`RateLimit`] (GCRA, via governor).
//!
//! [`ResourceManager`] is the in-memory backend. Its rules:
//!
//! - **All or nothing.** A request is granted whole, in one critical section, or not at
//!   all; nothing is held while waiting, so requests for `{A, B}` and `{B, A}` cannot deadlock.
//! - **Event-driven.** Waiters are woken by releases; a waiter parked on its tool's rate
//!   limit sleeps on one tokio timer of its own. Nothing polls.
//! - **Fair.** Waiters are served by [`Priority`], then in arrival order. A waiter that does
//!   not fit lets later ones pass, but at most `bypass_limit` (default
//!   [`DEFAULT_BYPASS_LIMIT`] = 8) later requests that compete with it for something it needs
//!   are granted before it; then they wait behind it, so a large request is not starved by
//!   a stream of small ones. More urgent priorities always go first; requests that compete
//!   for nothing it needs pass freely, and so do other tools while one waits on its rate
//!   limit.
//! - **Cancel-safe.** Dropping an [`Acquire`] future leaves nothing held; dropping a
//!   [`Permit`], panic unwinding included, releases everything and wakes who can go.
//! - **Fails fast.** [`ResourceManager::try_acquire`] answers at once; a request larger than
//!   a capacity fails at once with [`AcquireError::ExceedsCapacity`] naming the dimension.
//!
//! [`ResourceManager::snapshot`] reports capacity, use and waiters per dimension, lock
//! holders and per-tool state, serializable for the progress stream and the HTTP API.
//!
//! ```
//! use std::time::Duration;
//! use volley_resources::{
//!     Dimension, RateLimit, Request, ResourceBackend, ResourceManager, TryAcquireError,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = ResourceManager::builder()
//!     .max_concurrency(8)
//!     .memory_mb(16_384)
//!     .tool_concurrency("check_crm", 2)
//!     .rate_limit("check_crm", RateLimit::per_second(5))
//!     .build()?;
//!
//! let write = Request::new().tool("check_crm").access("write:customers.csv")?;
//! let permit = manager.acquire(&write).await?;
//!
//! // A reader of the same file must wait until the writer's permit is dropped.
//! let read = Request::new().access("read:customers.csv")?;
//! let busy = manager.try_acquire(&read).unwrap_err();
//! assert_eq!(busy, TryAcquireError::Busy { dimension: Dimension::Lock { key: "customers.csv".into() } });
//! assert_eq!(manager.snapshot().locks[0].holders[0].permit, permit.id());
//!
//! drop(permit);
//! let reader = manager.try_acquire(&read)?;
//!
//! // The executor holds any backend behind the trait.
//! let backend: std::sync::Arc<dyn ResourceBackend> = std::sync::Arc::new(manager);
//! assert_eq!(backend.snapshot().held, 1);
//! # drop(reader);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub use crate::access::{AccessKey, LockMode};
pub use crate::backend::ResourceBackend;
pub use crate::error::{
    AccessKeyError, AcquireError, ConfigError, Dimension, ParsePriorityError, TryAcquireError,
};
pub use crate::manager::{
    Acquire, DEFAULT_BYPASS_LIMIT, DEFAULT_MAX_CONCURRENCY, ResourceManager, ResourceManagerBuilder,
};
pub use crate::permit::Permit;
pub use crate::priority::Priority;
pub use crate::rate::RateLimit;
pub use crate::request::Request;
pub use crate::snapshot::{Holder, LockSnapshot, RateLimitSnapshot, Snapshot, ToolSnapshot, Usage};

mod access;
mod backend;
mod error;
mod manager;
mod permit;
mod priority;
mod rate;
mod request;
mod snapshot;
mod wake;
