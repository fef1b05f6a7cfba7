//! Building a manager: capacities, per-tool caps and rate limits, the bypass limit.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::ResourceManager;
use super::state::{Caps, State, ToolState};
use crate::error::ConfigError;
use crate::rate::{Limiter, RateLimit};

/// Global slots when [`ResourceManagerBuilder::max_concurrency`] is not called.
///
/// Tool calls mostly wait on the network, so many may run at once; 64 still stops a
/// runaway plan from opening thousands of connections.
pub const DEFAULT_MAX_CONCURRENCY: usize = 64;

/// How many later conflicting requests may overtake a waiter before it holds them back.
pub const DEFAULT_BYPASS_LIMIT: u32 = 8;

/// Builds a [`ResourceManager`]; every limit not set is unlimited, except the global one.
#[derive(Clone, Debug)]
pub struct ResourceManagerBuilder {
    config: Config,
}

#[derive(Clone, Debug)]
struct Config {
    max_concurrency: Option<u64>,
    cpu_cores: Option<f64>,
    memory_mb: Option<u64>,
    io_slots: Option<u64>,
    tools: BTreeMap<String, ToolConfig>,
    bypass_limit: u32,
}

#[derive(Clone, Debug, Default)]
struct ToolConfig {
    max_concurrency: Option<u64>,
    rate_limit: Option<RateLimit>,
}

impl Default for ResourceManagerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ResourceManagerBuilder {
    /// A builder with every default.
    pub fn new() -> Self {
        Self {
            config: Config {
                max_concurrency: Some(DEFAULT_MAX_CONCURRENCY as u64),
                cpu_cores: None,
                memory_mb: None,
                io_slots: None,
                tools: BTreeMap::new(),
                bypass_limit: DEFAULT_BYPASS_LIMIT,
            },
        }
    }

    /// At most `n` calls that take a global slot run at once.
    /// By default, [`DEFAULT_MAX_CONCURRENCY`] (64).
    pub fn max_concurrency(&mut self, n: usize) -> &mut Self {
        self.config.max_concurrency = Some(n as u64);
        self
    }

    /// Removes the global concurrency limit. By default, there is one (see above).
    pub fn unlimited_concurrency(&mut self) -> &mut Self {
        self.config.max_concurrency = None;
        self
    }

    /// The CPU budget in cores (fractions allowed). By default, unlimited.
    pub fn cpu_cores(&mut self, cores: f64) -> &mut Self {
        self.config.cpu_cores = Some(cores);
        self
    }

    /// The memory budget in megabytes. By default, unlimited.
    pub fn memory_mb(&mut self, mb: u64) -> &mut Self {
        self.config.memory_mb = Some(mb);
        self
    }

    /// The number of I/O slots. By default, unlimited.
    pub fn io_slots(&mut self, slots: u32) -> &mut Self {
        self.config.io_slots = Some(u64::from(slots));
        self
    }

    /// At most `n` calls of `tool` run at once (`0` refuses the tool). By default, unlimited.
    pub fn tool_concurrency(&mut self, tool: &str, n: usize) -> &mut Self {
        self.tool(tool).max_concurrency = Some(n as u64);
        self
    }

    /// Calls of `tool` start no faster than `limit`. By default, no rate limit.
    pub fn rate_limit(&mut self, tool: &str, limit: RateLimit) -> &mut Self {
        self.tool(tool).rate_limit = Some(limit);
        self
    }

    /// How many later requests that compete with a waiter for something it needs may be
    /// granted before it; after that they wait behind it. `0` serves competing requests in
    /// strict priority-then-arrival order. By default, [`DEFAULT_BYPASS_LIMIT`] (8).
    pub fn bypass_limit(&mut self, k: u32) -> &mut Self {
        self.config.bypass_limit = k;
        self
    }

    fn tool(&mut self, tool: &str) -> &mut ToolConfig {
        self.config.tools.entry(tool.to_owned()).or_default()
    }

    /// Builds the manager.
    ///
    /// Call it inside the tokio runtime that will use the manager when rate limits are set:
    /// their clock starts then, and follows that runtime's (possibly paused) time.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting that cannot work: a negative or NaN CPU budget,
    /// an empty tool name, or a rate limit with no calls, no burst or no period.
    pub fn build(&self) -> Result<ResourceManager, ConfigError> {
        let c = &self.config;
        let cpu = match c.cpu_cores {
            None => None,
            Some(cores) if cores.is_finite() && cores >= 0.0 => {
                // Finite and not negative: `as` saturates anything too large.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                // reason: checked
                let micro = (cores * 1_000_000.0).round() as u64;
                Some(micro)
            }
            Some(value) => return Err(ConfigError::InvalidCpuCores { value }),
        };
        let mut tools = FxHashMap::default();
        for (name, tool) in &c.tools {
            if name.is_empty() {
                return Err(ConfigError::EmptyToolName);
            }
            let limiter = tool
                .rate_limit
                .map(Limiter::new)
                .transpose()
                .map_err(|problem| ConfigError::InvalidRateLimit {
                    tool: name.clone(),
                    problem,
                })?;
            tools.insert(
                Arc::from(name.as_str()),
                ToolState::configured(tool.max_concurrency, limiter),
            );
        }
        let caps = Caps {
            global: c.max_concurrency,
            cpu,
            memory: c.memory_mb,
            io: c.io_slots,
        };
        Ok(ResourceManager::from_parts(
            caps,
            State::new(caps, c.bypass_limit, tools),
        ))
    }

    /// Builds a configuration that has no fallible settings (the defaults).
    pub(crate) fn build_default(&self) -> ResourceManager {
        let caps = Caps {
            global: self.config.max_concurrency,
            cpu: None,
            memory: None,
            io: None,
        };
        ResourceManager::from_parts(
            caps,
            State::new(caps, self.config.bypass_limit, FxHashMap::default()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AcquireError, Dimension, Request};

    #[test]
    fn bad_settings_are_named() {
        let err = ResourceManager::builder()
            .cpu_cores(f64::NAN)
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidCpuCores { value } if value.is_nan()));
        let err = ResourceManager::builder()
            .cpu_cores(-1.0)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::InvalidCpuCores { value: -1.0 });
        let err = ResourceManager::builder()
            .rate_limit("crm", RateLimit::per_second(0))
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::InvalidRateLimit {
                tool: "crm".into(),
                problem: "calls is 0".into()
            }
        );
        assert_eq!(err.to_string(), "rate limit of tool `crm`: calls is 0");
        let err = ResourceManager::builder()
            .tool_concurrency("", 1)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::EmptyToolName);
    }

    #[test]
    fn defaults_are_64_global_slots_and_nothing_else() {
        let snap = ResourceManager::new().snapshot();
        assert_eq!(snap.global.capacity, Some(64.0));
        assert_eq!(snap.cpu.capacity, None);
        assert_eq!(snap.memory_mb.capacity, None);
        assert_eq!(snap.io.capacity, None);
        assert!(snap.tools.is_empty());
        let unlimited = ResourceManager::builder()
            .unlimited_concurrency()
            .build()
            .unwrap();
        assert_eq!(unlimited.snapshot().global.capacity, None);
    }

    #[test]
    fn a_zero_capacity_refuses_at_once_rather_than_hang() {
        let m = ResourceManager::builder()
            .max_concurrency(0)
            .tool_concurrency("off", 0)
            .build()
            .unwrap();
        let err = m.try_acquire(&Request::new()).unwrap_err();
        assert_eq!(
            err,
            crate::TryAcquireError::ExceedsCapacity {
                dimension: Dimension::Global,
                requested: 1.0,
                capacity: 0.0
            }
        );
        let err = m
            .try_acquire(&Request::new().global_slot(false).tool("off"))
            .unwrap_err();
        assert_eq!(
            err,
            AcquireError::ExceedsCapacity {
                dimension: Dimension::Tool { tool: "off".into() },
                requested: 1.0,
                capacity: 0.0
            }
            .into()
        );
    }
}
