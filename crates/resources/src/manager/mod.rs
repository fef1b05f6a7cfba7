//! The in-memory manager: one process's budgets, locks, tool caps and rate limits.

mod acquire;
mod builder;
mod state;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

pub use self::acquire::Acquire;
pub use self::builder::{DEFAULT_BYPASS_LIMIT, DEFAULT_MAX_CONCURRENCY, ResourceManagerBuilder};
use self::state::{Caps, Refusal, State};
use crate::backend::ResourceBackend;
use crate::error::{AcquireError, TryAcquireError};
use crate::permit::Permit;
use crate::request::Request;
use crate::snapshot::Snapshot;
use crate::wake::WakeList;

/// The in-memory [`ResourceBackend`]: decides, for one process, whether a call may start now.
///
/// Cheap to clone; clones share the same state. See the [crate docs](crate) for the rules
/// it enforces (all-or-nothing grants, priority then arrival order, the bypass limit).
#[derive(Clone)]
pub struct ResourceManager {
    shared: Arc<Shared>,
}

/// What clones of a manager and its permits share.
pub(crate) struct Shared {
    caps: Caps,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code that can panic runs under this lock, so a poisoned lock holds a
        // consistent state; keep serving rather than cascade a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Releases a permit's slot and wakes whoever can go now.
    pub(crate) fn release(&self, slot: u32) {
        let mut wakers = WakeList::new();
        self.lock().release(slot, &mut wakers);
        wakers.wake_all();
    }
}

impl ResourceManager {
    /// A builder with every default: [`DEFAULT_MAX_CONCURRENCY`] global slots and no other limit.
    pub fn builder() -> ResourceManagerBuilder {
        ResourceManagerBuilder::new()
    }

    /// A manager with every default (see [`ResourceManager::builder`]).
    pub fn new() -> Self {
        Self::default()
    }

    fn from_parts(caps: Caps, state: State) -> Self {
        Self {
            shared: Arc::new(Shared {
                caps,
                state: Mutex::new(state),
            }),
        }
    }

    /// Waits until the whole request can be granted, then grants it.
    ///
    /// Nothing is held while waiting; dropping the future leaves nothing held. Fails at
    /// once, without waiting, when the request can never be granted.
    pub fn acquire<'a>(&'a self, request: &'a Request) -> Acquire<'a> {
        Acquire::new(self, request)
    }

    /// Grants the whole request now, or says why not.
    ///
    /// # Errors
    /// [`TryAcquireError::Busy`] naming a busy dimension (or one held back for an earlier
    /// waiter, see the bypass limit), [`TryAcquireError::RateLimited`] with the wait, or
    /// [`TryAcquireError::ExceedsCapacity`] / [`TryAcquireError::InvalidAmount`].
    pub fn try_acquire(&self, request: &Request) -> Result<Permit, TryAcquireError> {
        let needs = self.shared.caps.validate(request)?;
        let decision = self.shared.lock().try_admit(needs, request)?;
        match decision {
            Ok((slot, id)) => Ok(Permit::local(Arc::clone(&self.shared), slot, id)),
            Err(Refusal::Busy(conflict)) => Err(TryAcquireError::Busy {
                dimension: conflict.dimension(request),
            }),
            Err(Refusal::RateLimited(at)) => Err(TryAcquireError::RateLimited {
                tool: request.tool_name().unwrap_or_default().to_owned(),
                retry_after: at.saturating_duration_since(tokio::time::Instant::now()),
            }),
        }
    }

    /// Capacity, use and waiters per dimension, lock holders and per-tool state.
    pub fn snapshot(&self) -> Snapshot {
        let now = tokio::time::Instant::now();
        self.shared.lock().snapshot(now)
    }
}

impl Default for ResourceManager {
    fn default() -> Self {
        ResourceManagerBuilder::new().build_default()
    }
}

impl std::fmt::Debug for ResourceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceManager")
            .field("caps", &self.shared.caps)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ResourceBackend for ResourceManager {
    async fn acquire(&self, request: &Request) -> Result<Permit, AcquireError> {
        ResourceManager::acquire(self, request).await
    }

    fn try_acquire(&self, request: &Request) -> Result<Permit, TryAcquireError> {
        ResourceManager::try_acquire(self, request)
    }

    fn snapshot(&self) -> Snapshot {
        ResourceManager::snapshot(self)
    }
}
