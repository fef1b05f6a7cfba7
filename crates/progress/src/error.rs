//! Errors: each names the call, the template or the value at fault.

use std::sync::Arc;

/// What went wrong, with the offending data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProgressError {
    /// The plan and the DAG given together are not of one plan.
    #[error(
        "the plan has {plan_calls} calls but the DAG has {dag_calls}: build the roster from the plan the DAG was built from"
    )]
    PlanMismatch {
        /// Calls in the plan.
        plan_calls: usize,
        /// Calls in the DAG.
        dag_calls: usize,
    },
    /// No call of the batch has this id.
    #[error("no call has the id `{id}`")]
    UnknownCall {
        /// The id asked for.
        id: String,
    },
    /// A progress fraction outside 0–1 (or NaN), from [`Reporter::try_progress`](crate::Reporter::try_progress).
    #[error("call `{call}` reported progress {fraction}, which is not between 0 and 1")]
    InvalidFraction {
        /// The call that reported it.
        call: Arc<str>,
        /// The fraction it reported.
        fraction: f64,
    },
    /// A phrasebook template names a placeholder it cannot use.
    #[error(
        "template `{template}` uses `{{{placeholder}}}`, which it does not know; it may use {allowed}"
    )]
    UnknownPlaceholder {
        /// Which template (`start_parallel`, `heartbeat`…).
        template: &'static str,
        /// The placeholder it named.
        placeholder: String,
        /// The placeholders it may use.
        allowed: String,
    },
    /// A phrasebook template lacks the placeholder that carries its content.
    #[error("template `{template}` must contain `{{{placeholder}}}`: {text:?}")]
    MissingPlaceholder {
        /// Which template.
        template: &'static str,
        /// The placeholder it lacks.
        placeholder: &'static str,
        /// The template's text.
        text: String,
    },
    /// A phrasebook template opens a `{` it does not close.
    #[error("template `{template}` has an unclosed `{{`: {text:?}")]
    UnclosedBrace {
        /// Which template.
        template: &'static str,
        /// The template's text.
        text: String,
    },
}
