//! Requests: what one tool call needs before it may start.

use std::sync::Arc;

use crate::access::{AccessKey, LockMode};
use crate::error::AccessKeyError;
use crate::priority::Priority;

/// What one call needs: a global slot, budgets, named locks, and the tool it counts against.
///
/// Built by chaining; cheap to clone (the contents are shared), so a caller can keep one
/// and acquire it as often as it likes.
///
/// ```
/// use volley_resources::{Priority, Request};
///
/// let request = Request::new()
///     .tool("check_crm")
///     .priority(Priority::High)
///     .cpu(0.5)
///     .memory_mb(512)
///     .access("read:customers.csv")?
///     .access("write:report.md")?;
/// assert_eq!(request.locks().len(), 2);
/// # Ok::<(), volley_resources::AccessKeyError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    spec: Arc<Spec>,
}

#[derive(Clone, Debug, PartialEq)]
struct Spec {
    tool: Option<Arc<str>>,
    priority: Priority,
    global_slot: bool,
    cpu: f64,
    memory_mb: u64,
    io: u32,
    locks: Vec<AccessKey>,
}

impl Default for Request {
    fn default() -> Self {
        Self::new()
    }
}

impl Request {
    /// A request for one global slot at [`Priority::Normal`], and nothing else.
    pub fn new() -> Self {
        Self {
            spec: Arc::new(Spec {
                tool: None,
                priority: Priority::Normal,
                global_slot: true,
                cpu: 0.0,
                memory_mb: 0,
                io: 0,
                locks: Vec::new(),
            }),
        }
    }

    fn spec_mut(&mut self) -> &mut Spec {
        Arc::make_mut(&mut self.spec)
    }

    /// Counts the call against `tool`'s concurrency cap and rate limit. By default, no tool.
    #[must_use]
    pub fn tool(mut self, tool: &str) -> Self {
        self.spec_mut().tool = Some(Arc::from(tool));
        self
    }

    /// Sets the priority. By default, [`Priority::Normal`].
    #[must_use]
    pub fn priority(mut self, priority: Priority) -> Self {
        self.spec_mut().priority = priority;
        self
    }

    /// Whether the call takes a slot of the global concurrency limit. By default, it does.
    #[must_use]
    pub fn global_slot(mut self, takes: bool) -> Self {
        self.spec_mut().global_slot = takes;
        self
    }

    /// CPU weight in cores, fractions allowed (`0.25`). By default, `0.0`.
    ///
    /// A negative, infinite or NaN value is refused when the request is acquired.
    #[must_use]
    pub fn cpu(mut self, cores: f64) -> Self {
        self.spec_mut().cpu = cores;
        self
    }

    /// Memory in megabytes. By default, `0`.
    #[must_use]
    pub fn memory_mb(mut self, mb: u64) -> Self {
        self.spec_mut().memory_mb = mb;
        self
    }

    /// I/O slots. By default, `0`.
    #[must_use]
    pub fn io(mut self, slots: u32) -> Self {
        self.spec_mut().io = slots;
        self
    }

    /// Takes the named lock. Naming a key twice keeps the stronger mode (write wins).
    #[must_use]
    pub fn lock(mut self, key: AccessKey) -> Self {
        let locks = &mut self.spec_mut().locks;
        match locks.iter_mut().find(|held| held.key() == key.key()) {
            Some(held) => held.upgrade(key.mode()),
            None => locks.push(key),
        }
        self
    }

    /// Takes the lock named by a planner access key: `read:KEY`, `write:KEY` or `KEY` (write).
    ///
    /// # Errors
    /// [`AccessKeyError`] when the key is empty or has surrounding whitespace.
    pub fn access(self, access_key: &str) -> Result<Self, AccessKeyError> {
        Ok(self.lock(access_key.parse()?))
    }

    /// Takes `key` shared.
    ///
    /// # Errors
    /// [`AccessKeyError`] when the key is empty or has surrounding whitespace.
    pub fn read(self, key: &str) -> Result<Self, AccessKeyError> {
        Ok(self.lock(AccessKey::new(key, LockMode::Read)?))
    }

    /// Takes `key` exclusively.
    ///
    /// # Errors
    /// [`AccessKeyError`] when the key is empty or has surrounding whitespace.
    pub fn write(self, key: &str) -> Result<Self, AccessKeyError> {
        Ok(self.lock(AccessKey::new(key, LockMode::Write)?))
    }

    /// The tool the call counts against, if any.
    pub fn tool_name(&self) -> Option<&str> {
        self.spec.tool.as_deref()
    }

    pub(crate) fn tool_arc(&self) -> Option<&Arc<str>> {
        self.spec.tool.as_ref()
    }

    /// The priority.
    pub fn priority_level(&self) -> Priority {
        self.spec.priority
    }

    /// Whether the call takes a global slot.
    pub fn takes_global_slot(&self) -> bool {
        self.spec.global_slot
    }

    /// CPU weight in cores.
    pub fn cpu_cores(&self) -> f64 {
        self.spec.cpu
    }

    /// Memory in megabytes.
    pub fn memory(&self) -> u64 {
        self.spec.memory_mb
    }

    /// I/O slots.
    pub fn io_slots(&self) -> u32 {
        self.spec.io
    }

    /// The named locks, one per key.
    pub fn locks(&self) -> &[AccessKey] {
        &self.spec.locks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_take_one_global_slot_at_normal_priority() {
        let r = Request::new();
        assert!(r.takes_global_slot());
        assert_eq!(r.priority_level(), Priority::Normal);
        assert_eq!(
            (r.cpu_cores(), r.memory(), r.io_slots(), r.tool_name()),
            (0.0, 0, 0, None)
        );
        assert!(r.locks().is_empty());
    }

    #[test]
    fn a_key_named_twice_keeps_the_stronger_mode() {
        let r = Request::new()
            .access("read:a")
            .unwrap()
            .access("a")
            .unwrap()
            .access("read:a")
            .unwrap();
        assert_eq!(r.locks().len(), 1);
        assert_eq!(r.locks()[0].mode(), LockMode::Write);
    }

    #[test]
    fn clones_share_until_changed() {
        let a = Request::new().tool("t");
        let b = a.clone().cpu(1.0);
        assert_eq!(a.cpu_cores(), 0.0);
        assert_eq!(b.cpu_cores(), 1.0);
        assert_eq!(b.tool_name(), Some("t"));
    }

    #[test]
    fn bad_keys_are_refused_with_the_input() {
        let err = Request::new().read("").unwrap_err();
        assert_eq!(err, AccessKeyError::EmptyKey { input: "".into() });
        assert!(Request::new().write(" x ").is_err());
    }
}
