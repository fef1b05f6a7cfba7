//! Permits: a granted request, released on drop.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::manager::Shared;

/// A granted request. Dropping it (panic unwinding included) releases everything it holds
/// and wakes the waiters that can now go.
#[must_use = "dropping a permit releases its resources at once"]
pub struct Permit {
    id: u64,
    inner: Inner,
}

enum Inner {
    Local {
        shared: Arc<Shared>,
        slot: u32,
    },
    /// Held only for its `Drop`, which releases the remote hold.
    Guard {
        _guard: Box<dyn Any + Send + Sync>,
    },
}

impl Permit {
    pub(crate) fn local(shared: Arc<Shared>, slot: u32, id: u64) -> Self {
        Self {
            id,
            inner: Inner::Local { shared, slot },
        }
    }

    /// A permit for another [`ResourceBackend`](crate::ResourceBackend): dropping the permit
    /// drops `guard`, whose own `Drop` must release what was granted.
    pub fn from_guard<G: Send + Sync + 'static>(id: u64, guard: G) -> Self {
        Self {
            id,
            inner: Inner::Guard {
                _guard: Box::new(guard),
            },
        }
    }

    /// An id unique within its backend; snapshots name lock holders by it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Releases now; the same as dropping the permit.
    pub fn release(self) {}
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Inner::Local { shared, slot } = &self.inner {
            shared.release(*slot);
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("id", &self.id).finish()
    }
}
