//! Plans for Volley: the tool calls a model asked for, the dependencies between them, and the
//! order they can run in.
//!
//! A [`Plan`] is a list of [`Call`]s, read from a Volley plan file or straight from a model's
//! answer ([`parse`] with an [`InputFormat`]: Anthropic, Bedrock Converse, OpenAI). Calls depend
//! on each other through `$` references in their arguments (`"$find_contact.id"`), `depends_on`,
//! `when` conditions and conflicting [`AccessKey`]s. A [`Planner`] turns a plan into a [`Dag`]:
//! the petgraph graph, its waves, its critical path, a sequential fallback order, and the
//! [`Bindings`] the executor uses to substitute upstream outputs into arguments.
//!
//! The planner is pure and synchronous: no I/O, no async runtime. Every problem in a plan is
//! reported at once as [`PlanErrors`], each naming the call, the JSON path and the problem.
//!
//! ```
//! use volley_planner::{parse, InputFormat, Planner};
//!
//! let plan = parse(r#"{"calls": [
//!     {"tool": "find_contact", "args": {"email": "john@example.com"}, "estimated_ms": 200},
//!     {"tool": "check_crm", "args": {"contact_id": "$find_contact.id"}, "estimated_ms": 300},
//!     {"tool": "check_calendar", "args": {"who": "${find_contact.name}"}, "estimated_ms": 500},
//!     {"tool": "send_invite", "args": {"slot": "$check_calendar.free[0]"},
//!      "depends_on": ["check_crm"], "estimated_ms": 100}
//! ]}"#, InputFormat::Auto)?;
//!
//! let dag = Planner::new().plan(&plan)?;
//! let waves: Vec<Vec<&str>> = dag
//!     .waves()
//!     .iter()
//!     .map(|wave| wave.iter().map(|&i| plan.calls[i as usize].id.as_str()).collect())
//!     .collect();
//! assert_eq!(waves, [vec!["find_contact"], vec!["check_crm", "check_calendar"], vec!["send_invite"]]);
//! assert_eq!(dag.estimated_ms(), 800); // find_contact -> check_calendar -> send_invite
//! # Ok::<(), volley_planner::PlanErrors>(())
//! ```
#![deny(missing_docs)]

mod access;
mod dag;
mod error;
mod ids;
mod input;
mod parse;
mod plan;
mod provider;
mod reference;
pub mod render;

pub use crate::access::AccessTracker;
pub use crate::dag::{Bindings, DEFAULT_ESTIMATE_MS, Dag, DepKind, Graph, Planner};
pub use crate::error::{CallLocation, ErrorKind, PlanError, PlanErrors, Warning, closest_names};
pub use crate::input::{ParseOptions, parse, parse_and_plan, parse_and_plan_with};
pub use crate::plan::{
    AccessKey, AccessMode, Call, OnDependencyFailure, Plan, Priority, RetryPolicy, Source, Strategy,
};
pub use crate::provider::{InputFormat, detect};
pub use crate::reference::{
    ArgTemplate, Condition, PathSegment, Piece, Reference, Target, Template, is_truthy, scan_args,
    substitute, type_name, validate_id,
};
