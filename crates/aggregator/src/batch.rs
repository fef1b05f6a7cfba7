//! A finished batch: the plan and its outcomes paired up, one row per call.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use volley_executor::{CallError, ErrorKind, Outcome, Status};
use volley_planner::{Call, Dag, Plan, Planner};

use crate::aggregator::Config;
use crate::errors::ErrorSummary;
use crate::measure::Measure;
use crate::provider::anthropic::AnthropicMessage;
use crate::provider::bedrock::BedrockMessage;
use crate::provider::openai::OpenAiToolMessage;
use crate::report::RunReport;
use crate::result::{BatchResult, Summary};
use crate::timeline::Timeline;

/// No outcome in this slot (yet).
const NONE: u32 = u32::MAX;

/// The message of the row a plan call gets when no outcome was reported for it.
pub(crate) const NO_OUTCOME: &str = "the executor reported no outcome for this call";

/// A plan and its outcomes, paired up: one row per call of the plan, in plan order, then the
/// calls added while the batch ran. Everything the aggregator produces is read from here.
///
/// Built by [`Aggregator::batch`](crate::Aggregator::batch). What it computes (the alignment
/// at once; the measurements, the DAG when none was given, and the id index on first use) is
/// computed once and shared by the views.
#[derive(Debug)]
pub struct Batch<'a> {
    pub(crate) config: &'a Config,
    pub(crate) plan: &'a Plan,
    outcomes: &'a [Outcome],
    given_dag: Option<&'a Dag>,
    planned: OnceLock<Option<Dag>>,
    /// Per row: an index into `outcomes`, or `outcomes.len() + k` for `missing[k]`.
    rows: Vec<u32>,
    /// Stand-ins for plan calls that got no outcome.
    missing: Vec<Outcome>,
    /// Outcomes left out: a second outcome for one call.
    ignored: usize,
    index: OnceLock<Index<'a>>,
    measure: OnceLock<Measure>,
}

/// Lookups built on first need: rows by id, how many plan calls use each tool.
#[derive(Debug, Default)]
struct Index<'a> {
    rows: HashMap<&'a str, u32>,
    tool_uses: HashMap<&'a str, u32>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(config: &'a Config, plan: &'a Plan, outcomes: &'a [Outcome]) -> Batch<'a> {
        let n = plan.calls.len();
        let mut slots = vec![NONE; n];
        let mut extra: Vec<u32> = Vec::new();
        // Built only when an outcome is not at its own index (outcomes are normally in order).
        let mut by_id: Option<HashMap<&str, usize>> = None;
        for (k, outcome) in outcomes.iter().enumerate() {
            let position = match plan.calls.get(outcome.index) {
                Some(call) if call.id == *outcome.id => Some(outcome.index),
                _ => by_id
                    .get_or_insert_with(|| {
                        let mut map = HashMap::with_capacity(n);
                        for (i, call) in plan.calls.iter().enumerate() {
                            map.entry(call.id.as_str()).or_insert(i);
                        }
                        map
                    })
                    .get(&*outcome.id)
                    .copied(),
            };
            match position {
                Some(p) if slots[p] == NONE => slots[p] = k as u32,
                Some(_) => {} // A second outcome for the call: counted below.
                None => extra.push(k as u32),
            }
        }
        // Added calls: in the order the executor numbered them, one outcome per id.
        extra.sort_by_key(|&k| (outcomes[k as usize].index, k));
        let mut seen: HashSet<&str> = HashSet::with_capacity(extra.len());
        extra.retain(|&k| seen.insert(&outcomes[k as usize].id));
        let placed = slots.iter().filter(|&&s| s != NONE).count();
        let ignored = outcomes.len() - placed - extra.len();

        let ended = outcomes.iter().map(|o| o.ended_at_ms).max().unwrap_or(0);
        let mut missing = Vec::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            if *slot == NONE {
                *slot = (outcomes.len() + missing.len()) as u32;
                missing.push(stand_in(i, &plan.calls[i], ended));
            }
        }
        slots.extend(extra);
        Batch {
            config,
            plan,
            outcomes,
            given_dag: None,
            planned: OnceLock::new(),
            rows: slots,
            missing,
            ignored,
            index: OnceLock::new(),
            measure: OnceLock::new(),
        }
    }

    /// Uses this DAG (the one the batch ran with) for the critical path, waves and estimates.
    /// Without one, the batch plans the plan again with a default [`Planner`] when it needs a
    /// DAG; a DAG of another plan (another number of calls) is ignored the same way.
    #[must_use]
    pub fn with_dag(mut self, dag: &'a Dag) -> Batch<'a> {
        if dag.len() == self.plan.calls.len() {
            self.given_dag = Some(dag);
            self.measure = OnceLock::new();
        }
        self
    }

    /// Every call's result in plan order, with counts and timings: the `volley run` JSON.
    pub fn result(&self) -> BatchResult {
        BatchResult::of(self)
    }

    /// The Anthropic `user` message answering the plan's `tool_use` blocks.
    pub fn anthropic(&self) -> AnthropicMessage {
        AnthropicMessage::of(self)
    }

    /// The Bedrock Converse `user` message answering the plan's `toolUse` blocks.
    pub fn bedrock(&self) -> BedrockMessage {
        BedrockMessage::of(self)
    }

    /// The OpenAI `tool` messages answering the plan's `tool_calls`, one per call, in order.
    pub fn openai(&self) -> Vec<OpenAiToolMessage> {
        OpenAiToolMessage::all(self)
    }

    /// The failures, grouped by tool and kind, as a line for people and a sentence to say.
    pub fn errors(&self) -> ErrorSummary {
        ErrorSummary::of(self)
    }

    /// The run report: timings, speedup, the critical path, per-tool figures, Amdahl.
    pub fn report(&self) -> RunReport {
        RunReport::of(self, &self.summary())
    }

    /// The data of a Gantt chart of the run.
    pub fn timeline(&self) -> Timeline {
        Timeline::of(self)
    }

    /// The summary alone (no per-call results).
    pub fn summary(&self) -> Summary {
        Summary::of(self)
    }

    /// How many rows: the plan's calls, then the calls added while the batch ran.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch has no calls.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The ids of plan calls that got no outcome (each has a `cancelled` row saying so).
    pub fn missing(&self) -> impl Iterator<Item = &str> + '_ {
        self.missing.iter().map(|o| &*o.id)
    }

    /// How many outcomes were left out: second outcomes for a call that already had one.
    pub fn ignored(&self) -> usize {
        self.ignored
    }

    /// The outcome of a row.
    pub(crate) fn outcome(&self, row: usize) -> &Outcome {
        let k = self.rows[row] as usize;
        match self.outcomes.get(k) {
            Some(outcome) => outcome,
            None => &self.missing[k - self.outcomes.len()],
        }
    }

    /// The rows' outcomes, in row order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = &Outcome> + '_ {
        (0..self.rows.len()).map(move |row| self.outcome(row))
    }

    /// Whether a row stands in for a missing outcome.
    pub(crate) fn is_stand_in(&self, row: usize) -> bool {
        self.rows[row] as usize >= self.outcomes.len()
    }

    /// How many rows are calls of the plan (the rest were added while it ran).
    pub(crate) fn plan_len(&self) -> usize {
        self.plan.calls.len()
    }

    /// The plan call of a row, if it is one.
    pub(crate) fn call(&self, row: usize) -> Option<&'a Call> {
        self.plan.calls.get(row)
    }

    /// The DAG: the one given, or the plan planned again (`None` if that fails).
    pub(crate) fn dag(&self) -> Option<&Dag> {
        self.given_dag.or_else(|| {
            self.planned
                .get_or_init(|| Planner::new().plan(self.plan).ok())
                .as_ref()
        })
    }

    /// The row of the call with this id.
    pub(crate) fn row_of(&self, id: &str) -> Option<usize> {
        self.index().rows.get(id).map(|&row| row as usize)
    }

    /// Whether the plan calls `tool` more than once (then a call is named by its id too).
    pub(crate) fn tool_is_shared(&self, tool: &str) -> bool {
        self.index().tool_uses.get(tool).is_some_and(|&n| n > 1)
    }

    fn index(&self) -> &Index<'a> {
        self.index.get_or_init(|| {
            let mut index = Index::default();
            for (row, call) in self.plan.calls.iter().enumerate() {
                index.rows.entry(call.id.as_str()).or_insert(row as u32);
                *index.tool_uses.entry(call.tool.as_str()).or_default() += 1;
            }
            for row in self.plan.calls.len()..self.rows.len() {
                let k = self.rows[row] as usize;
                if let Some(outcome) = self.outcomes.get(k) {
                    index.rows.entry(&outcome.id).or_insert(row as u32);
                }
            }
            index
        })
    }

    /// What was measured: wall time, work, the critical path, concurrency.
    pub(crate) fn measure(&self) -> &Measure {
        self.measure.get_or_init(|| Measure::of(self))
    }
}

/// The row of a plan call that got no outcome: cancelled, never started, at the batch's end.
fn stand_in(index: usize, call: &Call, ended_at_ms: u64) -> Outcome {
    Outcome {
        index,
        id: Arc::from(call.id.as_str()),
        tool: Arc::from(call.tool.as_str()),
        status: Status::Cancelled,
        output: None,
        error: Some(Box::new(CallError::new(ErrorKind::Cancelled, NO_OUTCOME))),
        attempts: 0,
        queued_at_ms: None,
        started_at_ms: None,
        ended_at_ms,
        duration_ms: 0,
    }
}
