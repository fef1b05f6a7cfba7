//! A finished batch: the plan and its outcomes paired up, one row per call.

use std::sync::{Arc, OnceLock};

use volley_executor::{CallError, ErrorKind, Outcome, Status};
use volley_planner::{Call, Dag, Plan, Planner};

use crate::aggregator::Config;
use crate::errors::ErrorSummary;
use crate::hash::{FxHashMap, FxHashSet};
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
/// Built by [`Aggregator::batch`](crate::Aggregator::batch). The pairing is done at once; the
/// measurements, the DAG when none was given and the rows of the calls errors name as their
/// cause are computed on first use, once, and shared by the views. What the views return
/// borrows from the plan and the outcomes, not from the batch.
#[derive(Debug)]
pub struct Batch<'a> {
    pub(crate) config: Arc<Config>,
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
    /// Rows of the calls errors name as their cause, built on first need.
    causes: OnceLock<FxHashMap<&'a str, u32>>,
    measure: OnceLock<Measure>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(config: Arc<Config>, plan: &'a Plan, outcomes: &'a [Outcome]) -> Batch<'a> {
        let n = plan.calls.len();
        let mut slots = vec![NONE; n];
        let mut extra: Vec<u32> = Vec::new();
        let (mut placed, mut ended) = (0, 0);
        // Built only when an outcome is not at its own index (outcomes are normally in order).
        let mut by_id: Option<FxHashMap<&str, usize>> = None;
        for (k, outcome) in outcomes.iter().enumerate() {
            ended = ended.max(outcome.ended_at_ms);
            let position = match plan.calls.get(outcome.index) {
                Some(call) if call.id == *outcome.id => Some(outcome.index),
                _ => by_id
                    .get_or_insert_with(|| {
                        let mut map = FxHashMap::with_capacity_and_hasher(n, Default::default());
                        for (i, call) in plan.calls.iter().enumerate() {
                            map.entry(call.id.as_str()).or_insert(i);
                        }
                        map
                    })
                    .get(&*outcome.id)
                    .copied(),
            };
            match position {
                Some(p) if slots[p] == NONE => {
                    slots[p] = k as u32;
                    placed += 1;
                }
                Some(_) => {} // A second outcome for the call: counted below.
                None => extra.push(k as u32),
            }
        }
        // Added calls: in the order the executor numbered them, one outcome per id.
        extra.sort_by_key(|&k| (outcomes[k as usize].index, k));
        let mut seen: FxHashSet<&str> =
            FxHashSet::with_capacity_and_hasher(extra.len(), Default::default());
        extra.retain(|&k| seen.insert(&outcomes[k as usize].id));
        let ignored = outcomes.len() - placed - extra.len();

        let mut missing = Vec::new();
        for (i, slot) in slots.iter_mut().enumerate().filter(|(_, s)| **s == NONE) {
            *slot = (outcomes.len() + missing.len()) as u32;
            missing.push(stand_in(i, &plan.calls[i], ended));
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
            causes: OnceLock::new(),
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
    pub fn result(&self) -> BatchResult<'a> {
        BatchResult::of(self)
    }

    /// The Anthropic `user` message answering the plan's `tool_use` blocks.
    pub fn anthropic(&self) -> AnthropicMessage<'a> {
        AnthropicMessage::of(self)
    }

    /// The Bedrock Converse `user` message answering the plan's `toolUse` blocks.
    pub fn bedrock(&self) -> BedrockMessage<'a> {
        BedrockMessage::of(self)
    }

    /// The OpenAI `tool` messages answering the plan's `tool_calls`, one per call, in order.
    pub fn openai(&self) -> Vec<OpenAiToolMessage<'a>> {
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

    /// The outcome of a row as the caller gave it (`None` for a stand-in), borrowed for as long
    /// as the outcomes are.
    pub(crate) fn given(&self, row: usize) -> Option<&'a Outcome> {
        let outcomes: &'a [Outcome] = self.outcomes;
        outcomes.get(self.rows[row] as usize)
    }

    /// A row's id and tool, borrowed for as long as the plan and outcomes are.
    pub(crate) fn names(&self, row: usize) -> (&'a str, &'a str) {
        match (self.given(row), self.call(row)) {
            (Some(outcome), _) => (&outcome.id, &outcome.tool),
            (None, Some(call)) => (&call.id, &call.tool),
            // Stand-ins are only made for plan calls.
            (None, None) => ("", ""),
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

    /// The row of the call with this id, if some call's error names it as its cause (only
    /// those are indexed: a few ids, not the whole batch).
    pub(crate) fn cause_row(&self, id: &str) -> Option<usize> {
        self.causes().get(id).map(|&row| row as usize)
    }

    /// The row of `id`, the call `row`'s error names as its cause: one of its dependencies
    /// when the DAG was given (no index to build for the usual case), else any call.
    pub(crate) fn upstream_row(&self, row: usize, id: &str) -> Option<usize> {
        if let Some(dag) = self.given_dag
            && row < self.plan.calls.len()
            && let Some((dep, _)) = dag
                .dependencies(row)
                .find(|&(dep, _)| self.plan.calls[dep].id == id)
        {
            return Some(dep);
        }
        self.cause_row(id)
    }

    /// Rows of the calls some error names as its cause, built on first need.
    fn causes(&self) -> &FxHashMap<&'a str, u32> {
        self.causes.get_or_init(|| {
            let mut causes: FxHashMap<&'a str, u32> = FxHashMap::default();
            for row in 0..self.rows.len() {
                if let Some(id) = self
                    .given(row)
                    .and_then(|o| o.error.as_deref())
                    .and_then(|e| e.upstream.as_deref())
                {
                    causes.insert(id, NONE);
                }
            }
            if !causes.is_empty() {
                for row in 0..self.rows.len() {
                    if let Some(slot) = causes.get_mut(self.names(row).0)
                        && *slot == NONE
                    {
                        *slot = row as u32;
                    }
                }
                causes.retain(|_, row| *row != NONE);
            }
            causes
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
