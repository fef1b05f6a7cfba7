//! Entry points from text: detect the shape, read it, check it whole.

use crate::dag::{Dag, Planner};
use crate::error::{ErrorKind, PlanError, PlanErrors};
use crate::parse::{parse_json, plan_from_value};
use crate::plan::Plan;
use crate::provider::{InputFormat, detect, plan_from_provider};

/// Reads a plan or a provider response and checks it whole: shape, ids, references, cycles.
///
/// Returns every problem at once. Use [`parse_and_plan`] to keep the [`Dag`] it builds.
pub fn parse(text: &str, format: InputFormat) -> Result<Plan, PlanErrors> {
    parse_and_plan(text, format, &Planner::new()).map(|(plan, _)| plan)
}

/// How to read input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// A provider call whose arguments cannot be read (an OpenAI `arguments` string that is not
    /// JSON) stays in the plan with [`Call::input_error`](crate::Call::input_error) set, to
    /// fail alone when it runs: the model must get a result for every call it made. Off by
    /// default (such input is an error, as `volley plan` reports it).
    pub lenient_arguments: bool,
}

/// Reads and checks a plan as [`parse`] does, and returns it with its [`Dag`].
pub fn parse_and_plan(
    text: &str,
    format: InputFormat,
    planner: &Planner,
) -> Result<(Plan, Dag), PlanErrors> {
    parse_and_plan_with(text, format, planner, ParseOptions::default())
}

/// [`parse_and_plan`] with options.
pub fn parse_and_plan_with(
    text: &str,
    format: InputFormat,
    planner: &Planner,
    options: ParseOptions,
) -> Result<(Plan, Dag), PlanErrors> {
    let value = parse_json(text)?;
    let format = match format {
        InputFormat::Auto => detect(&value).ok_or_else(|| {
            PlanError::new(
                ErrorKind::Format,
                "",
                "cannot tell what this is: expected a Volley plan (`calls`), an Anthropic message \
                 (`content` with `tool_use` blocks), a Bedrock Converse response (`output.message`) \
                 or an OpenAI chat completion (`choices`)",
            )
        })?,
        other => other,
    };
    let mut errors = Vec::new();
    let plan = match format {
        InputFormat::Volley | InputFormat::Auto => plan_from_value(&value, &mut errors),
        provider => plan_from_provider(&value, provider, options.lenient_arguments, &mut errors),
    };
    // Check the graph too, so one run reports every problem. A call whose id was rejected (or
    // that has no tool to derive a default id from) carries a stand-in id: its id is not
    // checked again, to avoid a second, confusing message about the stand-in.
    let mut known_bad: Vec<bool> = plan.calls.iter().map(|c| c.tool.is_empty()).collect();
    for error in &errors {
        if error.kind == ErrorKind::InvalidId
            && let Some(location) = &error.call
            && let Some(flag) = known_bad.get_mut(location.index)
        {
            *flag = true;
        }
    }
    let dag = planner.build(&plan, &mut errors, &known_bad);
    // Report in plan order: whole-input problems first, then call by call.
    errors.sort_by_key(|e| e.call.as_ref().map(|c| c.index));
    if errors.is_empty() {
        Ok((plan, dag))
    } else {
        Err(PlanErrors(errors))
    }
}
