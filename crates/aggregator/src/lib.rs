//! The aggregator of Volley: turns a batch's outcomes into what the model and the people need
//! next.
//!
//! An [`Aggregator`] holds the settings (output size limit, wording). [`Aggregator::batch`]
//! pairs a [`Plan`](volley_planner::Plan) with the executor's [`Outcome`]s into a [`Batch`]:
//! one row per call, in plan order, whatever order the outcomes came in, a stand-in for a call
//! that got none. Add the [`Dag`](volley_planner::Dag) the batch ran with
//! ([`Batch::with_dag`]) and every view is read from there:
//!
//! - [`Batch::result`]: the [`BatchResult`], every call's status, output or error, and a
//!   [`Summary`] of counts and timings; its JSON is the `volley run` output contract;
//! - [`Batch::anthropic`], [`Batch::bedrock`], [`Batch::openai`]: the tool-result messages for
//!   the model's next turn, one result per call, in order, failures flagged and explained
//!   (`get_weather timed out after 3000 ms`), large outputs [`truncate`]d;
//! - [`Batch::errors`]: failures grouped by tool and kind, a line for people and a
//!   conversation-safe sentence for a voice agent;
//! - [`Batch::report`]: wall time, speedup, the measured critical path and efficiency, peak
//!   concurrency, per-tool utilization, retries, the Amdahl bound; text or JSON;
//! - [`Batch::timeline`]: lanes, waves and times per call, for a Gantt chart.
//!
//! The aggregator is pure, synchronous code over data: no I/O, no async runtime. The words,
//! the JSON shapes and every definition are in `docs/results.md`.
//!
//! ```
//! use serde_json::json;
//! use volley_aggregator::Aggregator;
//! use volley_executor::{Engine, Registry, testing::ScriptedTool};
//! use volley_planner::{Call, Plan, Planner};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut registry = Registry::new();
//! registry
//!     .register(ScriptedTool::new("find_contact").latency_ms(100).output(json!({"id": 7})))?
//!     .register(ScriptedTool::new("check_crm").latency_ms(200).fail_permanently("HTTP 503"))?
//!     .register(ScriptedTool::new("send_invite").latency_ms(50))?;
//! let plan = Plan::new(vec![
//!     Call::new("find_contact", json!({"email": "john@example.com"})),
//!     Call::new("check_crm", json!({"contact": "$find_contact.id"})),
//!     Call::new("send_invite", json!({"to": "$check_crm.email"})),
//! ]);
//! let dag = Planner::new().plan(&plan)?;
//! let outcomes = Engine::new(registry).run(plan.clone())?.wait().await;
//!
//! let aggregator = Aggregator::new();
//! let batch = aggregator.batch(&plan, &outcomes).with_dag(&dag);
//!
//! let result = batch.result();
//! assert_eq!((result.summary.ok, result.summary.failed, result.summary.skipped), (1, 1, 1));
//! assert_eq!(result.summary.wall_ms, 300);
//!
//! let message = batch.anthropic().to_value();
//! assert_eq!(message["content"][0]["content"], r#"{"id":7}"#);
//! assert_eq!(message["content"][1]["content"], "check_crm failed: HTTP 503");
//! assert_eq!(message["content"][2]["content"], "send_invite was skipped because check_crm failed");
//! assert_eq!(message["content"][2]["is_error"], true);
//!
//! let errors = batch.errors();
//! assert_eq!(errors.line, "2 of 3 calls failed: check_crm failed: HTTP 503; \
//!                          send_invite was skipped because check_crm failed");
//! assert_eq!(errors.spoken, "2 of 3 calls didn't work: check crm failed and send invite couldn't run.");
//!
//! let report = batch.report();
//! assert_eq!(report.critical_path, ["find_contact".into(), "check_crm".into()]);
//! assert_eq!(report.efficiency, 1.0);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub use crate::aggregator::{Aggregator, AggregatorBuilder};
pub use crate::batch::Batch;
pub use crate::errors::{ErrorGroup, ErrorSummary};
pub use crate::provider::anthropic::{AnthropicMessage, AnthropicToolResult};
pub use crate::provider::bedrock::{
    BedrockContent, BedrockMessage, BedrockToolResult, bedrock_tool_use_id,
};
pub use crate::provider::openai::OpenAiToolMessage;
pub use crate::report::{Amdahl, RunReport, Shape, ToolStats};
pub use crate::result::{BatchResult, CallResult, ResultError, Summary};
pub use crate::timeline::{Bar, Timeline};
pub use crate::truncate::{DEFAULT_MAX_OUTPUT_BYTES, truncate};

mod aggregator;
mod batch;
mod describe;
mod errors;
mod human;
mod measure;
mod provider;
mod report;
mod result;
#[cfg(test)]
mod test_support;
mod timeline;
mod truncate;
