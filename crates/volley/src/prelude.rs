//! The names an agent loop needs: `use volley::prelude::*;`.

pub use async_trait::async_trait;
pub use volley_executor::{
    BatchHandle, Engine, ErrorKind, Outcome, Registry, Status, Tool, ToolContext, ToolError,
};
pub use volley_planner::{Call, InputFormat, Plan, Priority};

pub use crate::{Turn, run_anthropic, run_input, run_plan};
