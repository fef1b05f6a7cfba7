//! Snapshots: capacity, use and waiters per dimension, lock holders, per-tool state.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::access::LockMode;
use crate::priority::Priority;
use crate::rate::RateLimit;

/// Everything the manager knows at one instant, for the progress stream and the HTTP API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The global concurrency limit.
    pub global: Usage,
    /// The CPU budget, in cores.
    pub cpu: Usage,
    /// The memory budget, in megabytes.
    pub memory_mb: Usage,
    /// The I/O slots.
    pub io: Usage,
    /// Permits held now.
    pub held: usize,
    /// Requests waiting now.
    pub waiting: usize,
    /// Locks that are held or waited for, by key.
    pub locks: Vec<LockSnapshot>,
    /// Tools that are configured, in flight or waited for, by name.
    pub tools: Vec<ToolSnapshot>,
}

impl Snapshot {
    /// Whether nothing is held and nobody waits.
    pub fn is_idle(&self) -> bool {
        self.held == 0
            && self.waiting == 0
            && self.locks.is_empty()
            && self
                .tools
                .iter()
                .all(|t| t.in_flight == 0 && t.waiting == 0)
    }
}

/// One budget dimension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// The capacity; `None` when unlimited.
    pub capacity: Option<f64>,
    /// How much is held.
    pub in_use: f64,
    /// How many waiting requests need some of it.
    pub waiting: usize,
    /// How much those waiting requests ask for in all.
    pub requested_by_waiters: f64,
}

/// One named lock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockSnapshot {
    /// The key.
    pub key: String,
    /// How it is held: `read` (shared), `write` (exclusive) or `None` when only waited for.
    pub mode: Option<LockMode>,
    /// Who holds it.
    pub holders: Vec<Holder>,
    /// How many waiting requests want it.
    pub waiting: usize,
}

/// A permit holding a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The permit's id, as [`Permit::id`](crate::Permit::id) reports it.
    pub permit: u64,
    /// The tool the permit was granted for, if named.
    pub tool: Option<String>,
    /// The request's priority.
    pub priority: Priority,
}

/// One tool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSnapshot {
    /// The tool's name.
    pub tool: String,
    /// Calls holding a permit now.
    pub in_flight: u64,
    /// The concurrency cap, if set.
    pub max_concurrency: Option<u64>,
    /// Requests waiting now.
    pub waiting: usize,
    /// The rate limit, if set.
    pub rate_limit: Option<RateLimitSnapshot>,
}

/// One tool's rate limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimitSnapshot {
    /// The configured limit.
    pub limit: RateLimit,
    /// Set while the tool's waiters are parked on the limit: time until the next call conforms.
    pub retry_after: Option<Duration>,
}
