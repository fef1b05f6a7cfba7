//! The calls of a batch as progress sees them: ids, tools, estimates, dependencies, opt-ins.

use std::collections::HashMap;
use std::sync::Arc;

use volley_planner::{Dag, OnDependencyFailure, Plan};

use crate::error::ProgressError;

/// One call of the batch.
#[derive(Debug, Clone)]
pub(crate) struct CallInfo {
    pub(crate) id: Arc<str>,
    pub(crate) tool: Arc<str>,
    /// The call's own `estimated_ms`, if the plan gave one.
    pub(crate) estimated_ms: Option<u64>,
    /// The planner's estimate (`estimated_ms`, else the tool's, else the default).
    pub(crate) planned_ms: u64,
    /// Whether the call is skipped when a dependency it needs did not succeed.
    pub(crate) skips_on_failure: bool,
    /// Whether events may carry its arguments and output.
    pub(crate) reveal: bool,
}

#[derive(Debug, Clone)]
struct Inner {
    calls: Vec<CallInfo>,
    index: HashMap<Arc<str>, u32>,
    /// Dependencies of call `i`: `deps[dep_start[i]..dep_start[i + 1]]`, with whether each must
    /// succeed.
    deps: Vec<(u32, bool)>,
    dep_start: Vec<u32>,
    /// Dependencies before dependents.
    order: Vec<u32>,
    max_concurrency: Option<usize>,
}

/// The calls of one batch, read once from the plan and its [`Dag`]; cheap to clone.
///
/// Events name calls by id; the bus and the [`Tracker`](crate::Tracker) find them here by
/// position (call `i` of the plan), so emitting needs no lookup.
#[derive(Debug, Clone)]
pub struct Roster {
    inner: Arc<Inner>,
}

impl Roster {
    /// The roster of `plan`, whose graph is `dag`.
    ///
    /// Fails with [`ProgressError::PlanMismatch`] when the two disagree on the number of calls.
    pub fn new(plan: &Plan, dag: &Dag) -> Result<Roster, ProgressError> {
        if plan.calls.len() != dag.len() {
            return Err(ProgressError::PlanMismatch {
                plan_calls: plan.calls.len(),
                dag_calls: dag.len(),
            });
        }
        let n = plan.calls.len();
        let mut calls = Vec::with_capacity(n);
        let mut index = HashMap::with_capacity(n);
        let mut deps = Vec::new();
        let mut dep_start = Vec::with_capacity(n + 1);
        for (i, call) in plan.calls.iter().enumerate() {
            let id: Arc<str> = Arc::from(call.id.as_str());
            index.insert(id.clone(), i as u32);
            calls.push(CallInfo {
                id,
                tool: Arc::from(call.tool.as_str()),
                estimated_ms: call.estimated_ms,
                planned_ms: dag.estimate_ms(i),
                skips_on_failure: call.on_dependency_failure == OnDependencyFailure::Skip,
                reveal: call.progress_detail,
            });
            dep_start.push(deps.len() as u32);
            let mut mine: Vec<(u32, bool)> = dag
                .dependencies(i)
                .map(|(d, kind)| (d as u32, kind.requires_success()))
                .collect();
            mine.sort_unstable();
            deps.extend(mine);
        }
        dep_start.push(deps.len() as u32);
        Ok(Roster {
            inner: Arc::new(Inner {
                calls,
                index,
                deps,
                dep_start,
                order: dag.topological_order().to_vec(),
                max_concurrency: plan.max_concurrency,
            }),
        })
    }

    /// Lets events of call `id` carry its arguments and output.
    ///
    /// By default, only calls whose plan sets `progress_detail: true` reveal anything:
    /// progress is shown to people and must not leak secrets. Fails with [`ProgressError::UnknownCall`] when no call has this id.
    pub fn reveal(&mut self, id: &str) -> Result<&mut Roster, ProgressError> {
        let i = self
            .position(id)
            .ok_or_else(|| ProgressError::UnknownCall { id: id.to_owned() })?;
        // Copies the roster once if it is already shared (rosters are set up before sharing).
        Arc::make_mut(&mut self.inner).calls[i].reveal = true;
        Ok(self)
    }

    /// How many calls the batch has.
    pub fn len(&self) -> usize {
        self.inner.calls.len()
    }

    /// Whether the batch has no calls.
    pub fn is_empty(&self) -> bool {
        self.inner.calls.is_empty()
    }

    /// The position of the call with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.inner.index.get(id).map(|&i| i as usize)
    }

    /// The id of call `i`.
    pub fn id(&self, i: usize) -> Option<&Arc<str>> {
        self.inner.calls.get(i).map(|c| &c.id)
    }

    /// The tool of call `i`.
    pub fn tool(&self, i: usize) -> Option<&Arc<str>> {
        self.inner.calls.get(i).map(|c| &c.tool)
    }

    /// Whether events of call `i` may carry its arguments and output.
    pub fn reveals(&self, i: usize) -> bool {
        self.inner.calls.get(i).is_some_and(|c| c.reveal)
    }

    pub(crate) fn call(&self, i: usize) -> Option<&CallInfo> {
        self.inner.calls.get(i)
    }

    pub(crate) fn calls(&self) -> &[CallInfo] {
        &self.inner.calls
    }

    pub(crate) fn dependencies(&self, i: usize) -> &[(u32, bool)] {
        let start = self.inner.dep_start[i] as usize;
        let end = self.inner.dep_start[i + 1] as usize;
        &self.inner.deps[start..end]
    }

    pub(crate) fn order(&self) -> &[u32] {
        &self.inner.order
    }

    pub(crate) fn max_concurrency(&self) -> Option<usize> {
        self.inner.max_concurrency
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use volley_planner::{Call, Planner};

    use super::*;

    #[test]
    fn reads_ids_tools_estimates_and_dependencies() {
        let plan = Plan::new(vec![
            Call::new("find_contact", json!({})).estimated_ms(200),
            Call::new("check_crm", json!({"id": "$find_contact.id"})),
        ]);
        let dag = Planner::new().plan(&plan).unwrap();
        let mut roster = Roster::new(&plan, &dag).unwrap();
        assert_eq!(roster.len(), 2);
        assert_eq!(roster.position("check_crm"), Some(1));
        assert_eq!(roster.tool(0).map(|t| &**t), Some("find_contact"));
        assert_eq!(roster.call(0).map(|c| c.estimated_ms), Some(Some(200)));
        assert_eq!(roster.call(1).map(|c| c.planned_ms), Some(1_000));
        assert_eq!(roster.dependencies(1), &[(0, true)]);
        assert!(roster.dependencies(0).is_empty());
        assert!(!roster.reveals(1));
        let shared = roster.clone();
        roster.reveal("check_crm").unwrap();
        assert!(roster.reveals(1));
        assert!(!shared.reveals(1), "a clone made before keeps its settings");
        let err = roster.reveal("nope").unwrap_err();
        assert_eq!(err.to_string(), "no call has the id `nope`");
    }

    #[test]
    fn calls_opt_in_to_details_from_the_plan() {
        let plan = volley_planner::parse(
            r#"{"calls": [{"tool": "a"}, {"tool": "b", "progress_detail": true}]}"#,
            volley_planner::InputFormat::Volley,
        )
        .unwrap();
        let dag = Planner::new().plan(&plan).unwrap();
        let roster = Roster::new(&plan, &dag).unwrap();
        assert!(!roster.reveals(0));
        assert!(roster.reveals(1));
    }

    #[test]
    fn refuses_a_dag_of_another_plan() {
        let plan = Plan::new(vec![Call::new("a", json!({}))]);
        let other = Plan::new(vec![Call::new("a", json!({})), Call::new("b", json!({}))]);
        let dag = Planner::new().plan(&other).unwrap();
        let err = Roster::new(&plan, &dag).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the plan has 1 calls but the DAG has 2: build the roster from the plan the DAG was built from"
        );
    }
}
