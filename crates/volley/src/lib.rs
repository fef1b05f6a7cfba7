//! Volley runs an LLM agent's tool calls in parallel, fast and safely.
//!
//! A model answers one turn with several tool calls. Volley finds the dependencies between them
//! ([`planner`]), schedules them under concurrency, resource and rate limits ([`resources`],
//! [`executor`]), streams progress ([`progress`]) and hands back one result per call, in order,
//! in the provider's own format ([`aggregator`]). This crate re-exports them all, with a
//! [`prelude`] and one-call helpers: [`run_plan`], [`run_input`] and [`run_anthropic`].
//!
//! A complete agent turn: a model asked for two tools; the answer goes back as the next user
//! message.
//!
//! ```
//! use volley::prelude::*;
//! use serde_json::{json, Value};
//!
//! struct Weather;
//!
//! #[async_trait]
//! impl Tool for Weather {
//!     fn name(&self) -> &str { "get_weather" }
//!     fn description(&self) -> &str { "Current weather for a city." }
//!     fn input_schema(&self) -> Value {
//!         json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]})
//!     }
//!     async fn call(&self, args: Value, _ctx: ToolContext) -> Result<Value, ToolError> {
//!         Ok(json!({"location": args["location"], "sky": "clear"}))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut registry = Registry::new();
//! registry.register(Weather)?;
//! let engine = Engine::new(registry);
//!
//! let response = json!({"role": "assistant", "content": [
//!     {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
//!     {"type": "tool_use", "id": "toolu_2", "name": "get_stock", "input": {"symbol": "ACME"}}
//! ]});
//! let message = volley::run_anthropic(&engine, &response).await?;
//!
//! assert_eq!(message["role"], "user");
//! assert_eq!(message["content"][0]["content"], r#"{"location":"Paris","sky":"clear"}"#);
//! assert_eq!(message["content"][1]["is_error"], true); // no such tool: it fails alone
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub use volley_aggregator as aggregator;
pub use volley_executor as executor;
pub use volley_planner as planner;
pub use volley_progress as progress;
pub use volley_resources as resources;

pub use crate::turn::{Error, Turn, run_anthropic, run_input, run_plan};

pub mod prelude;
mod turn;
