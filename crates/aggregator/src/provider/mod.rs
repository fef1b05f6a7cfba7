//! Tool-result messages in each provider's wire format, answering the calls of the plan.
//!
//! Every call of the plan gets exactly one result, in plan order (the order the model emitted
//! them), whatever order the outcomes came in and whatever happened to the call; a call with
//! no outcome gets an error result saying so. Calls added while the batch ran are left out:
//! the model did not ask for them, and a result for an id it never sent is rejected.
//!
//! A success is the output as text (a string as itself, anything else as compact JSON); a
//! failure is the sentence of [`describe`](crate::describe) (`get_weather timed out after
//! 3000 ms`). Both are cut to the aggregator's `max_output_bytes`.

use serde_json::Value;

use crate::batch::Batch;
use crate::describe::explain;
use crate::human::Units;
use crate::truncate::{json_text, truncate};

pub(crate) mod anthropic;
pub(crate) mod bedrock;
pub(crate) mod openai;

/// The text of a plan call's result, and whether it is an error.
pub(crate) fn text(batch: &Batch<'_>, row: usize) -> (String, bool) {
    let max = batch.config.max_output_bytes;
    match explain(batch, row, Units::Model) {
        None => {
            let output = batch.outcome(row).output.as_ref().unwrap_or(&Value::Null);
            (json_text(output, max), false)
        }
        Some(sentence) => (truncate(&sentence, max).into_owned(), true),
    }
}
