//! The seam: acquisition behind a trait, so a shared backend can replace the in-memory one.

use async_trait::async_trait;

use crate::error::{AcquireError, TryAcquireError};
use crate::permit::Permit;
use crate::request::Request;
use crate::snapshot::Snapshot;

/// Decides whether a call may start; the executor holds one as `Arc<dyn ResourceBackend>`.
///
/// [`ResourceManager`](crate::ResourceManager) is the in-memory implementation and the
/// default. A backend shared by several machines (say Redis, so agents on several hosts
/// share one CRM quota) implements this trait and returns permits made with
/// [`Permit::from_guard`], whose guard releases the remote hold on drop; the executor does
/// not change. Such a backend keeps the contract below: all-or-nothing grants, nothing held
/// while waiting, cancel-safe `acquire`, and `try_acquire`/`snapshot` that answer without
/// waiting (from a locally mirrored view if need be).
#[async_trait]
pub trait ResourceBackend: Send + Sync {
    /// Waits until the whole request can be granted, then grants it.
    ///
    /// Nothing is held while waiting, and dropping the future leaves nothing held.
    ///
    /// # Errors
    /// [`AcquireError`] at once when the request can never be granted.
    async fn acquire(&self, request: &Request) -> Result<Permit, AcquireError>;

    /// Grants the whole request now, or says why not.
    ///
    /// # Errors
    /// [`TryAcquireError`] naming the busy dimension, the rate limit and its wait, or the
    /// capacity exceeded.
    fn try_acquire(&self, request: &Request) -> Result<Permit, TryAcquireError>;

    /// Capacity, use and waiters per dimension, lock holders and per-tool state.
    fn snapshot(&self) -> Snapshot;
}
