//! One-call helpers: run a plan or a model's answer and get every view of the result.

use serde_json::Value;
use volley_aggregator::{
    Aggregator, AnthropicMessage, BatchResult, BedrockMessage, ErrorSummary, OpenAiToolMessage,
    RunReport, Timeline,
};
use volley_executor::{Engine, Outcome, Outcomes, RunError};
use volley_planner::{
    Dag, InputFormat, ParseOptions, Plan, PlanErrors, Planner, parse_and_plan_with,
};

/// Why a turn could not run at all (one failing call is not an error: it gets its outcome).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a plan: bad JSON, a cycle, a dangling reference… every problem listed.
    #[error("invalid plan:\n{0}")]
    Plan(#[from] PlanErrors),
    /// The engine refused the batch.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// A finished batch: the plan it ran, its DAG and every call's outcome, with the views the
/// model and the people need.
#[derive(Debug, Clone)]
pub struct Turn {
    plan: Plan,
    dag: Dag,
    outcomes: Outcomes,
    aggregator: Aggregator,
}

impl Turn {
    /// The plan, with the tools' access keys added.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The dependency graph it ran with.
    pub fn dag(&self) -> &Dag {
        &self.dag
    }

    /// Every call's outcome, in plan order.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// The batch result (`{"results": […], "summary": {…}}`).
    pub fn result(&self) -> BatchResult<'_> {
        self.batch().result()
    }

    /// The Anthropic `user` message of `tool_result` blocks.
    pub fn anthropic(&self) -> AnthropicMessage<'_> {
        self.batch().anthropic()
    }

    /// The Bedrock Converse `user` message of `toolResult` blocks.
    pub fn bedrock(&self) -> BedrockMessage<'_> {
        self.batch().bedrock()
    }

    /// The OpenAI `tool` messages, one per call.
    pub fn openai(&self) -> Vec<OpenAiToolMessage<'_>> {
        self.batch().openai()
    }

    /// Failures grouped by tool and kind, for people and for a voice agent.
    pub fn errors(&self) -> ErrorSummary {
        self.batch().errors()
    }

    /// Wall time, speedup, critical path, utilization…
    pub fn report(&self) -> RunReport {
        self.batch().report()
    }

    /// The data of a Gantt chart of the run.
    pub fn timeline(&self) -> Timeline {
        self.batch().timeline()
    }

    fn batch(&self) -> volley_aggregator::Batch<'_> {
        self.aggregator
            .batch(&self.plan, &self.outcomes)
            .with_dag(&self.dag)
    }
}

/// Runs a plan on an engine and waits for every call's outcome.
pub async fn run_plan(engine: &Engine, mut plan: Plan) -> Result<Turn, Error> {
    let dag = engine.plan(&mut plan)?;
    let outcomes = engine.run(plan.clone())?.wait().await;
    Ok(Turn {
        plan,
        dag,
        outcomes,
        aggregator: Aggregator::new(),
    })
}

/// Reads a plan or a provider's response (see [`InputFormat`]) and runs it. A model's call
/// whose arguments cannot be read fails alone (`invalid_arguments`): every call gets a result.
pub async fn run_input(engine: &Engine, text: &str, format: InputFormat) -> Result<Turn, Error> {
    let lenient = ParseOptions {
        lenient_arguments: true,
    };
    let (plan, _) = parse_and_plan_with(text, format, &Planner::new(), lenient)?;
    run_plan(engine, plan).await
}

/// Runs the tool calls of an Anthropic Messages response and returns the `user` message that
/// answers it: one `tool_result` per `tool_use`, in order, failures flagged.
pub async fn run_anthropic(engine: &Engine, response: &Value) -> Result<Value, Error> {
    let turn = run_input(engine, &response.to_string(), InputFormat::Anthropic).await?;
    Ok(turn.anthropic().to_value())
}
