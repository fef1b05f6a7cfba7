//! The aggregator and its settings.

use std::collections::HashMap;

use volley_executor::Outcome;
use volley_planner::Plan;

use crate::batch::Batch;
use crate::truncate::DEFAULT_MAX_OUTPUT_BYTES;

/// Settings shared by everything the aggregator produces.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_output_bytes: usize,
    pub(crate) truncate_results: bool,
    pub(crate) singular: String,
    pub(crate) plural: String,
    pub(crate) phrases: HashMap<String, String>,
    pub(crate) concurrency: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            truncate_results: false,
            singular: "call".to_owned(),
            plural: "calls".to_owned(),
            phrases: HashMap::new(),
            concurrency: None,
        }
    }
}

impl Config {
    /// How a tool is named aloud: its phrase, or its name with `_` and `-` read as spaces.
    pub(crate) fn phrase(&self, tool: &str) -> String {
        match self.phrases.get(tool) {
            Some(phrase) => phrase.clone(),
            None => tool.replace(['_', '-'], " "),
        }
    }

    /// `1 call`, `3 calls`.
    pub(crate) fn noun(&self, count: usize) -> &str {
        if count == 1 {
            &self.singular
        } else {
            &self.plural
        }
    }
}

/// Turns a batch's outcomes into results, messages and reports.
///
/// Build one with [`Aggregator::new`] (defaults) or [`Aggregator::builder`], keep it, and call
/// [`Aggregator::batch`] for each finished batch.
#[derive(Debug, Clone, Default)]
pub struct Aggregator {
    config: Config,
}

impl Aggregator {
    /// An aggregator with default settings.
    pub fn new() -> Aggregator {
        Aggregator::default()
    }

    /// A builder to change the settings.
    pub fn builder() -> AggregatorBuilder {
        AggregatorBuilder::new()
    }

    /// Pairs a plan with its outcomes: one row per call of the plan, in plan order, whatever
    /// order the outcomes come in; then the outcomes of calls added while the batch ran.
    ///
    /// An outcome is matched to its call by position when the ids agree there, otherwise by
    /// id. A plan call without an outcome gets a `cancelled` row saying no outcome was
    /// reported; a second outcome for the same call is ignored (see [`Batch::ignored`]).
    pub fn batch<'a>(&'a self, plan: &'a Plan, outcomes: &'a [Outcome]) -> Batch<'a> {
        Batch::new(&self.config, plan, outcomes)
    }
}

/// Builds an [`Aggregator`].
///
/// ```
/// use volley_aggregator::Aggregator;
///
/// let aggregator = Aggregator::builder()
///     .max_output_bytes(8_000)
///     .noun("lookup", "lookups")
///     .tool_phrase("get_weather", "the weather")
///     .build();
/// # let _ = aggregator;
/// ```
#[derive(Debug, Clone, Default)]
pub struct AggregatorBuilder {
    config: Config,
}

impl AggregatorBuilder {
    /// A builder with default settings.
    pub fn new() -> AggregatorBuilder {
        AggregatorBuilder::default()
    }

    /// The most bytes of one call's text given to the model (an output as JSON text, or what
    /// went wrong), the truncation marker included. Longer texts keep their beginning and say
    /// how much was cut (see [`truncate`](crate::truncate)).
    ///
    /// By default, this is [`DEFAULT_MAX_OUTPUT_BYTES`] (32 KiB).
    pub fn max_output_bytes(&mut self, bytes: usize) -> &mut AggregatorBuilder {
        self.config.max_output_bytes = bytes;
        self
    }

    /// Whether [`BatchResult`](crate::BatchResult) outputs are cut too: an output whose JSON
    /// is longer than [`max_output_bytes`](Self::max_output_bytes) becomes a string, its
    /// truncated JSON text and the marker.
    ///
    /// By default, this is disabled: programs get whole outputs; provider messages are always
    /// cut.
    pub fn truncate_results(&mut self, yes: bool) -> &mut AggregatorBuilder {
        self.config.truncate_results = yes;
        self
    }

    /// What calls are called in error summaries: `2 of 4 lookups failed`.
    ///
    /// By default, this is `call`, `calls`.
    pub fn noun(
        &mut self,
        singular: impl Into<String>,
        plural: impl Into<String>,
    ) -> &mut AggregatorBuilder {
        self.config.singular = singular.into();
        self.config.plural = plural.into();
        self
    }

    /// How the spoken summary names a tool: `the weather took too long`.
    ///
    /// By default, a tool is named by its name with `_` and `-` read as spaces
    /// (`get weather`).
    pub fn tool_phrase(
        &mut self,
        tool: impl Into<String>,
        phrase: impl Into<String>,
    ) -> &mut AggregatorBuilder {
        self.config.phrases.insert(tool.into(), phrase.into());
        self
    }

    /// The concurrency `p` the run report's Amdahl bound is computed for.
    ///
    /// By default, this is the plan's `max_concurrency`, or else the peak concurrency the run
    /// reached.
    pub fn concurrency(&mut self, p: usize) -> &mut AggregatorBuilder {
        self.config.concurrency = Some(p.max(1));
        self
    }

    /// The aggregator.
    pub fn build(&self) -> Aggregator {
        Aggregator {
            config: self.config.clone(),
        }
    }
}
