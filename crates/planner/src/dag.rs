//! The dependency graph of a plan: edges, cycles, waves, the critical path.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

use petgraph::Directed;
use petgraph::csr::Csr as PetCsr;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::access::AccessTracker;
use crate::error::{ErrorKind, PlanError, PlanErrors, Warning, did_you_mean};
use crate::ids::IdTable;
use crate::plan::{Call, Plan};
use crate::reference::{
    ArgTemplate, Condition, Reference, Target, json_path_suffix, scan_args, validate_id,
};

/// Why one call waits for another. A pair of calls has one edge; its kinds are merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DepKind {
    /// The dependent reads the dependency's output through a `$` reference.
    pub data: bool,
    /// The dependent's `when` condition reads the dependency.
    pub condition: bool,
    /// Listed in `depends_on`.
    pub explicit: bool,
    /// Both touch one access key, at least one writing: ordering only, no data flows.
    pub access: bool,
}

impl DepKind {
    fn merge(&mut self, other: DepKind) {
        self.data |= other.data;
        self.condition |= other.condition;
        self.explicit |= other.explicit;
        self.access |= other.access;
    }

    /// Whether the dependent needs the dependency to succeed: every kind but pure access ordering.
    pub fn requires_success(&self) -> bool {
        self.data || self.condition || self.explicit
    }

    const DATA: DepKind = DepKind {
        data: true,
        condition: false,
        explicit: false,
        access: false,
    };
    const CONDITION: DepKind = DepKind {
        data: false,
        condition: true,
        explicit: false,
        access: false,
    };
    const EXPLICIT: DepKind = DepKind {
        data: false,
        condition: false,
        explicit: true,
        access: false,
    };
    pub(crate) const ACCESS: DepKind = DepKind {
        data: false,
        condition: false,
        explicit: false,
        access: true,
    };
}

/// How a call's references resolve: its argument templates and condition, with the position of
/// each call they read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bindings {
    /// The argument templates, depth first in document order.
    pub args: Vec<ArgTemplate>,
    /// For each reference of `args` in order ([`crate::Template::references`]), the position of
    /// the call it reads.
    pub arg_targets: Vec<usize>,
    /// The `when` condition and the position of the call it reads.
    pub when: Option<(Condition, usize)>,
}

impl Bindings {
    /// Whether the call has no templates and no condition.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty() && self.when.is_none()
    }
}

/// Planner settings.
#[derive(Debug, Clone)]
struct Config {
    default_estimate_ms: u64,
    tool_estimates: FxHashMap<String, u64>,
}

/// Builds a [`Dag`] from a [`Plan`], with estimates for calls that give none.
///
/// ```
/// use volley_planner::{Call, Plan, Planner};
/// use serde_json::json;
///
/// let plan = Plan::new(vec![
///     Call::new("find_contact", json!({"email": "john@example.com"})),
///     Call::new("check_crm", json!({"contact": "$find_contact.id"})),
/// ]);
/// let dag = Planner::new().tool_estimate("check_crm", 300).plan(&plan).unwrap();
/// assert_eq!(dag.estimated_ms(), 1_300);
/// ```
#[derive(Debug, Clone)]
pub struct Planner {
    config: Config,
}

impl Default for Planner {
    fn default() -> Self {
        Planner::new()
    }
}

/// The estimate of a call that has no `estimated_ms` and whose tool has no estimate: 1 s.
pub const DEFAULT_ESTIMATE_MS: u64 = 1_000;

impl Planner {
    /// A planner with default settings.
    pub fn new() -> Planner {
        Planner {
            config: Config {
                default_estimate_ms: DEFAULT_ESTIMATE_MS,
                tool_estimates: FxHashMap::default(),
            },
        }
    }

    /// The estimate for calls without `estimated_ms` whose tool has no estimate.
    ///
    /// By default, this is [`DEFAULT_ESTIMATE_MS`] (1,000 ms).
    pub fn default_estimate_ms(&mut self, ms: u64) -> &mut Planner {
        self.config.default_estimate_ms = ms;
        self
    }

    /// The estimate for calls of `tool` without `estimated_ms` (a tool's own hint, or what
    /// earlier runs measured).
    ///
    /// By default, no tool has one.
    pub fn tool_estimate(&mut self, tool: impl Into<String>, ms: u64) -> &mut Planner {
        self.config.tool_estimates.insert(tool.into(), ms);
        self
    }

    /// Builds the graph and everything derived from it, or reports every problem found.
    pub fn plan(&self, plan: &Plan) -> Result<Dag, PlanErrors> {
        let mut errors = Vec::new();
        let dag = self.build(plan, &mut errors, &[]);
        if errors.is_empty() {
            Ok(dag)
        } else {
            Err(PlanErrors(errors))
        }
    }

    /// Builds what can be built; problems go to `errors`. Calls flagged in `known_bad` already
    /// had their own errors reported, so their ids are not checked again.
    pub(crate) fn build(
        &self,
        plan: &Plan,
        errors: &mut Vec<PlanError>,
        known_bad: &[bool],
    ) -> Dag {
        let calls = &plan.calls;
        let n = calls.len();
        let mut warnings = Vec::new();

        // One pass over the calls (each `Call` is read once): register the call's id, then
        // resolve its references against the calls seen so far. A reference to a later call
        // (rare) defers that call's resolution to a second look once every id is known.
        let mut ids = IdTable::new(calls);
        let resolver = Resolver {
            calls,
            tools: std::cell::OnceCell::new(),
        };
        let mut bindings = Vec::new();
        let mut estimates = Vec::with_capacity(n);
        let mut access = AccessTracker::default();
        let mut deps: Vec<(usize, DepKind)> = Vec::new();
        // Room for a few edges per call; it grows if a plan has more.
        let mut incoming = Csr::with_capacity(n, n.saturating_mul(3));
        let mut deferred: Vec<usize> = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            register_id(i, call, known_bad, &mut ids, errors);
            estimates.push(self.estimate(call));
            deps.clear();
            let marks = (errors.len(), warnings.len());
            match collect_dependencies(
                i,
                call,
                &resolver,
                &ids,
                true,
                &mut deps,
                errors,
                &mut warnings,
            ) {
                Some(found) => {
                    // Most calls have no templates nor condition: keep bindings sparse.
                    if !found.is_empty() {
                        bindings.push((i, found));
                    }
                }
                None => {
                    // A forward reference: forget this look's findings; the second look
                    // reports everything.
                    deps.clear();
                    errors.truncate(marks.0);
                    warnings.truncate(marks.1);
                    deferred.push(i);
                }
            }
            // Access keys order calls in plan order, so they are recorded in this pass.
            for key in &call.access {
                access.record(i, key, |earlier| deps.push((earlier, DepKind::ACCESS)));
            }
            if let (Some(timeout), Some(estimate)) = (call.timeout_ms, call.estimated_ms)
                && timeout < estimate
            {
                warnings.push(Warning {
                    path: format!("calls[{i}].timeout_ms"),
                    message: format!(
                        "timeout_ms ({timeout}) is shorter than estimated_ms ({estimate})"
                    ),
                });
            }
            incoming.push_merged(&mut deps);
        }
        if !deferred.is_empty() {
            let mut extra: Vec<Vec<(usize, DepKind)>> = Vec::with_capacity(deferred.len());
            for &i in &deferred {
                deps.clear();
                let call = &calls[i];
                let found = collect_dependencies(
                    i,
                    call,
                    &resolver,
                    &ids,
                    false,
                    &mut deps,
                    errors,
                    &mut warnings,
                )
                .unwrap_or_default();
                if !found.is_empty() {
                    bindings.push((i, found));
                }
                extra.push(std::mem::take(&mut deps));
            }
            bindings.sort_by_key(|(i, _)| *i);
            incoming = incoming.with_extra(&deferred, extra);
            // Report in plan order, as if resolved in one pass.
            errors.sort_by_key(|e| e.call.as_ref().map(|c| c.index));
        }
        let outgoing = incoming.transpose();

        let analysis = analyze(&incoming, &outgoing, &estimates);
        if analysis.order.len() < n {
            for cycle in find_cycles(&incoming, &analysis.processed) {
                let names: Vec<&str> = cycle.iter().map(|&i| calls[i].id.as_str()).collect();
                let first = cycle[0];
                errors.push(
                    PlanError::new(
                        ErrorKind::Cycle,
                        format!("calls[{first}]"),
                        format!("dependency cycle: {} -> {}", names.join(" -> "), names[0]),
                    )
                    .at_call(first, Some(&calls[first].id)),
                );
            }
        }
        if let Some(limit) = plan.max_concurrency {
            for (w, wave) in analysis.waves.iter().enumerate() {
                if wave.len() > limit {
                    warnings.push(Warning {
                        path: "max_concurrency".into(),
                        message: format!(
                            "wave {} has {} calls but max_concurrency is {limit}: {} will wait for a free slot",
                            w + 1,
                            wave.len(),
                            wave.len() - limit
                        ),
                    });
                }
            }
        }
        Dag {
            graph: OnceLock::new(),
            incoming,
            outgoing,
            bindings,
            estimates,
            analysis,
            warnings,
        }
    }

    fn estimate(&self, call: &Call) -> u64 {
        call.estimated_ms
            .or_else(|| self.config.tool_estimates.get(&call.tool).copied())
            .unwrap_or(self.config.default_estimate_ms)
    }
}

/// Resolves reference targets to call positions.
struct Resolver<'a> {
    calls: &'a [Call],
    /// Tool name -> position, for tools used by exactly one call (built on first need).
    tools: std::cell::OnceCell<FxHashMap<&'a str, Option<usize>>>,
}

/// What a look-up found.
enum Lookup {
    /// The call at this position.
    Found(usize),
    /// Not among the calls seen so far: look again once every id is known.
    Later,
    /// Nothing can match: the message says why.
    Error(String),
}

impl<'a> Resolver<'a> {
    /// Resolves a target; with `partial`, only calls registered so far can match by id.
    #[inline]
    fn resolve(&self, target: &Target, ids: &IdTable<'a>, partial: bool) -> Lookup {
        match target {
            Target::Position(p) if *p <= self.calls.len() => Lookup::Found(p - 1),
            Target::Position(p) => Lookup::Error(format!(
                "`${p}` names call {p}, but the plan has {} calls",
                self.calls.len()
            )),
            Target::Id(id) => self.resolve_id(id, ids, partial),
        }
    }

    #[inline]
    fn resolve_id(&self, id: &str, ids: &IdTable<'a>, partial: bool) -> Lookup {
        match ids.get(id) {
            Some(i) => Lookup::Found(i),
            // An id declared later takes precedence over a tool name: wait until all are known.
            None if partial => Lookup::Later,
            None => self.resolve_unknown(id, ids),
        }
    }

    /// The slow path: a unique tool name, or an error with suggestions.
    #[cold]
    fn resolve_unknown(&self, id: &str, ids: &IdTable<'a>) -> Lookup {
        let tools = self.tools.get_or_init(|| {
            let mut tools: FxHashMap<&str, Option<usize>> = FxHashMap::default();
            for (i, call) in self.calls.iter().enumerate() {
                tools
                    .entry(call.tool.as_str())
                    .and_modify(|slot| *slot = None)
                    .or_insert(Some(i));
            }
            tools
        });
        match tools.get(id) {
            Some(Some(i)) => Lookup::Found(*i),
            Some(None) => Lookup::Error(format!(
                "`{id}` is a tool called more than once; name one of its calls by id"
            )),
            None => Lookup::Error(format!(
                "unknown call `{id}`{}",
                did_you_mean(
                    id,
                    ids.ids().chain(self.calls.iter().map(|c| c.tool.as_str()))
                )
            )),
        }
    }
}

/// Validates call `i`'s id and registers it, reporting an invalid or duplicate id.
fn register_id<'a>(
    i: usize,
    call: &Call,
    known_bad: &[bool],
    ids: &mut IdTable<'a>,
    errors: &mut Vec<PlanError>,
) {
    if known_bad.get(i).copied().unwrap_or(false) {
        let _ = ids.insert(i);
        return;
    }
    if let Err(problem) = validate_id(&call.id) {
        errors.push(
            PlanError::new(ErrorKind::InvalidId, format!("calls[{i}].id"), problem)
                .at_call(i, None),
        );
        return;
    }
    if let Err(first) = ids.insert(i) {
        errors.push(
            PlanError::new(
                ErrorKind::DuplicateId,
                format!("calls[{i}].id"),
                format!(
                    "duplicate id `{}`: calls[{first}] has it too; ids must be unique",
                    call.id
                ),
            )
            .at_call(i, Some(&call.id)),
        );
    }
}

/// Finds one call's dependencies (into `deps`) and resolves its references.
/// With `partial`, returns `None` as soon as a reference names an id not registered yet.
#[allow(clippy::too_many_arguments)] // the hot loop's state, passed rather than bundled
fn collect_dependencies<'a>(
    i: usize,
    call: &Call,
    resolver: &Resolver<'a>,
    ids: &IdTable<'a>,
    partial: bool,
    deps: &mut Vec<(usize, DepKind)>,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<Warning>,
) -> Option<Bindings> {
    let id = Some(call.id.as_str());
    let mut bindings = Bindings::default();
    // Paths and messages are built only when there is something to report: this loop runs
    // for every edge of every plan.
    let self_dependency = |path: String, what: String| {
        PlanError::new(
            ErrorKind::SelfDependency,
            path,
            format!("{what} names the call itself"),
        )
        .at_call(i, id)
    };

    if !call.args.as_object().is_some_and(|o| o.is_empty()) {
        let (templates, malformed) = scan_args(&call.args);
        for (location, problem) in malformed {
            errors.push(
                PlanError::new(
                    ErrorKind::MalformedReference,
                    format!("calls[{i}].args{}", json_path_suffix(&location)),
                    problem,
                )
                .at_call(i, id),
            );
        }
        for template in &templates {
            let path = || format!("calls[{i}].args{}", template.location_path());
            for reference in template.template.references() {
                match resolver.resolve(&reference.target, ids, partial) {
                    Lookup::Later => return None,
                    Lookup::Found(target) if target == i => {
                        errors.push(self_dependency(path(), format!("reference `{reference}`")));
                        bindings.arg_targets.push(target);
                    }
                    Lookup::Found(target) => {
                        deps.push((target, DepKind::DATA));
                        bindings.arg_targets.push(target);
                    }
                    Lookup::Error(problem) => {
                        errors.push(
                            PlanError::new(
                                ErrorKind::UnknownCall,
                                path(),
                                format!(
                                    "{problem} (in reference `{reference}`; write `$$` for a literal `$`)"
                                ),
                            )
                            .at_call(i, id),
                        );
                        bindings.arg_targets.push(usize::MAX);
                    }
                }
            }
        }
        bindings.args = templates;
    }

    if let Some(condition) = &call.when {
        let path = || format!("calls[{i}].when");
        match resolver.resolve(&condition.reference.target, ids, partial) {
            Lookup::Later => return None,
            Lookup::Found(target) if target == i => {
                errors.push(self_dependency(path(), "the condition".into()));
            }
            Lookup::Found(target) => {
                deps.push((target, DepKind::CONDITION));
                bindings.when = Some((condition.clone(), target));
            }
            Lookup::Error(problem) => {
                errors.push(PlanError::new(ErrorKind::UnknownCall, path(), problem).at_call(i, id))
            }
        }
    }

    let explicit_start = deps.len();
    for (j, dep) in call.depends_on.iter().enumerate() {
        let path = || format!("calls[{i}].depends_on[{j}]");
        match resolver.resolve_id(dep, ids, partial) {
            Lookup::Later => return None,
            Lookup::Found(target) if target == i => {
                errors.push(self_dependency(path(), format!("`{dep}`")))
            }
            // Compare resolved positions, not strings: this runs for every edge.
            Lookup::Found(target) if deps[explicit_start..].iter().any(|&(d, _)| d == target) => {
                warnings.push(Warning {
                    path: path(),
                    message: format!("`{dep}` is listed twice"),
                })
            }
            Lookup::Found(target) => deps.push((target, DepKind::EXPLICIT)),
            Lookup::Error(problem) => {
                errors.push(PlanError::new(ErrorKind::UnknownCall, path(), problem).at_call(i, id))
            }
        }
    }

    Some(bindings)
}

/// The petgraph graph of a plan: node `i` is call `i`; an edge goes from a dependency to its
/// dependent. A compressed sparse row graph, so walking a call's dependents is a slice.
pub type Graph = PetCsr<(), DepKind, Directed, u32>;

/// Compressed adjacency lists: the neighbours of `v` are `targets[offsets[v]..offsets[v + 1]]`.
/// Walking them is sequential in memory, unlike petgraph's linked edge lists, which matters
/// for the two passes over 100,000-call plans.
#[derive(Debug, Clone, Default)]
struct Csr {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    /// Edge kinds, parallel to `targets` (kept for incoming lists only).
    kinds: Vec<DepKind>,
}

impl Csr {
    fn with_capacity(nodes: usize, edges: usize) -> Csr {
        let mut offsets = Vec::with_capacity(nodes + 1);
        offsets.push(0);
        Csr {
            offsets,
            targets: Vec::with_capacity(edges),
            kinds: Vec::with_capacity(edges),
        }
    }

    /// Appends the next call's dependencies: sorted by position, one edge per dependency with
    /// the kinds merged. Empties `deps`.
    fn push_merged(&mut self, deps: &mut Vec<(usize, DepKind)>) {
        deps.sort_unstable_by_key(|&(d, _)| d);
        let mut k = 0;
        while k < deps.len() {
            let (dep, mut kind) = deps[k];
            k += 1;
            while k < deps.len() && deps[k].0 == dep {
                kind.merge(deps[k].1);
                k += 1;
            }
            self.targets.push(dep as u32);
            self.kinds.push(kind);
        }
        self.offsets.push(self.targets.len() as u32);
        deps.clear();
    }

    /// These lists with `extra` dependencies added to the calls in `calls` (sorted).
    fn with_extra(self, calls: &[usize], extra: Vec<Vec<(usize, DepKind)>>) -> Csr {
        let n = self.offsets.len() - 1;
        let mut out = Csr::with_capacity(
            n,
            self.targets.len() + extra.iter().map(Vec::len).sum::<usize>(),
        );
        let mut more = calls.iter().zip(extra).peekable();
        let mut deps = Vec::new();
        for v in 0..n {
            deps.extend(
                self.of(v)
                    .iter()
                    .zip(&self.kinds[self.range(v)])
                    .map(|(&d, &k)| (d as usize, k)),
            );
            if let Some((_, extra)) = more.next_if(|(c, _)| **c == v) {
                deps.extend(extra);
            }
            out.push_merged(&mut deps);
        }
        out
    }

    fn range(&self, v: usize) -> std::ops::Range<usize> {
        self.offsets[v] as usize..self.offsets[v + 1] as usize
    }

    fn of(&self, v: usize) -> &[u32] {
        &self.targets[self.range(v)]
    }

    /// The reversed lists (without kinds), each sorted by position: counting sort by source,
    /// stable, so targets stay sorted within each list.
    fn transpose(&self) -> Csr {
        let n = self.offsets.len() - 1;
        let mut offsets = vec![0u32; n + 1];
        for &t in &self.targets {
            offsets[t as usize + 1] += 1;
        }
        for v in 0..n {
            offsets[v + 1] += offsets[v];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; self.targets.len()];
        for v in 0..n {
            for &t in self.of(v) {
                let slot = &mut fill[t as usize];
                targets[*slot as usize] = v as u32;
                *slot += 1;
            }
        }
        Csr {
            offsets,
            targets,
            kinds: Vec::new(),
        }
    }

    /// The petgraph graph of the reversed lists: edges from each dependency to its dependents.
    fn to_graph(&self) -> Graph {
        let n = self.offsets.len() - 1;
        // Counting sort by source: stable, so targets stay sorted within each source.
        let mut start = vec![0u32; n + 1];
        for &t in &self.targets {
            start[t as usize + 1] += 1;
        }
        for v in 0..n {
            start[v + 1] += start[v];
        }
        let placeholder = (0u32, 0u32, DepKind::default());
        let mut edges = vec![placeholder; self.targets.len()];
        for v in 0..n {
            for k in self.range(v) {
                let source = self.targets[k] as usize;
                edges[start[source] as usize] = (source as u32, v as u32, self.kinds[k]);
                start[source] += 1;
            }
        }
        let mut graph = Graph::from_sorted_edges(&edges).unwrap_or_default();
        // `from_sorted_edges` stops at the highest node with an edge; add the rest.
        while graph.node_count() < n {
            graph.add_node(());
        }
        graph
    }
}

/// What a topological pass over the graph yields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Analysis {
    /// A topological order (Kahn's, FIFO): every dependency before its dependents.
    pub(crate) order: Vec<u32>,
    /// Whether each call was reached (false: on or behind a cycle).
    pub(crate) processed: Vec<bool>,
    /// 1-based wave of each call.
    pub(crate) wave_of: Vec<u32>,
    /// Calls of each wave, in plan order.
    pub(crate) waves: Vec<Vec<u32>>,
    /// Longest estimated path ending at each call (itself included).
    pub(crate) path_to: Vec<u64>,
    /// Longest estimated path starting at each call (itself included).
    pub(crate) remaining: Vec<u64>,
    /// The critical path, in order.
    pub(crate) critical_path: Vec<u32>,
}

/// One Kahn pass computing the order, the waves and the longest paths; then one reverse pass.
fn analyze(incoming: &Csr, outgoing: &Csr, estimates: &[u64]) -> Analysis {
    let n = estimates.len();
    let mut indegree: Vec<u32> = (0..n).map(|v| incoming.of(v).len() as u32).collect();
    let mut order: Vec<u32> = Vec::with_capacity(n);
    order.extend((0..n as u32).filter(|&i| indegree[i as usize] == 0));
    let mut wave_of = vec![1u32; n];
    let mut path_to: Vec<u64> = estimates.to_vec();
    let mut best_pred = vec![u32::MAX; n];
    let mut head = 0;
    while head < order.len() {
        let u = order[head] as usize;
        head += 1;
        let (wave_u, path_u) = (wave_of[u], path_to[u]);
        for &v in outgoing.of(u) {
            let v = v as usize;
            wave_of[v] = wave_of[v].max(wave_u + 1);
            let candidate = path_u + estimates[v];
            // Ties go to the dependency earliest in the plan.
            let better = best_pred[v] == u32::MAX
                || candidate > path_to[v]
                || (candidate == path_to[v] && (u as u32) < best_pred[v]);
            if better {
                path_to[v] = candidate;
                best_pred[v] = u as u32;
            }
            indegree[v] -= 1;
            if indegree[v] == 0 {
                order.push(v as u32);
            }
        }
    }
    let mut processed = vec![false; n];
    for &u in &order {
        processed[u as usize] = true;
    }

    // Waves, each in plan order.
    let wave_count = order
        .iter()
        .map(|&u| wave_of[u as usize])
        .max()
        .unwrap_or(0) as usize;
    let mut sizes = vec![0usize; wave_count];
    for u in 0..n {
        if processed[u] {
            sizes[wave_of[u] as usize - 1] += 1;
        }
    }
    let mut waves: Vec<Vec<u32>> = sizes.iter().map(|&s| Vec::with_capacity(s)).collect();
    for u in 0..n {
        if processed[u] {
            waves[wave_of[u] as usize - 1].push(u as u32);
        }
    }

    // Longest path from each call to the end, for "longest remaining path first" scheduling.
    let mut remaining: Vec<u64> = estimates.to_vec();
    for &u in order.iter().rev() {
        let u = u as usize;
        let tail = outgoing
            .of(u)
            .iter()
            .map(|&v| remaining[v as usize])
            .max()
            .unwrap_or(0);
        remaining[u] = estimates[u] + tail;
    }

    // The critical path ends at the call with the longest path_to (earliest in the plan on ties).
    let mut critical_path = Vec::new();
    let mut end = None;
    for u in 0..n {
        if processed[u] && end.is_none_or(|e: usize| path_to[u] > path_to[e]) {
            end = Some(u);
        }
    }
    if let Some(mut u) = end {
        loop {
            critical_path.push(u as u32);
            match best_pred[u] {
                u32::MAX => break,
                p => u = p as usize,
            }
        }
        critical_path.reverse();
    }
    Analysis {
        order,
        processed,
        wave_of,
        waves,
        path_to,
        remaining,
        critical_path,
    }
}

/// Finds cycles among the calls a Kahn pass could not reach, iteratively (no recursion, so a
/// million-call chain cannot overflow the stack). Each returned cycle is in dependency order:
/// `[a, b, c]` means a -> b -> c -> a, where x -> y means y waits for x.
fn find_cycles(incoming: &Csr, processed: &[bool]) -> Vec<Vec<usize>> {
    // Every unreached call has an unreached dependency (else its in-degree would have dropped to
    // zero), so walking unreached dependencies backwards must revisit a call: that closes a cycle.
    let n = processed.len();
    let mut walk_of = vec![usize::MAX; n];
    let mut cycles = Vec::new();
    for start in 0..n {
        if processed[start] || walk_of[start] != usize::MAX {
            continue;
        }
        let mut path = Vec::new();
        let mut u = start;
        loop {
            walk_of[u] = start;
            path.push(u);
            let Some(pred) = incoming
                .of(u)
                .iter()
                .map(|&p| p as usize)
                .find(|&p| !processed[p])
            else {
                break; // unreachable by the argument above; stop rather than loop
            };
            if walk_of[pred] == start {
                // The cycle is path[pos..] walked backwards.
                let pos = path.iter().position(|&x| x == pred).unwrap_or(0);
                let mut cycle: Vec<usize> = path[pos..].to_vec();
                cycle.reverse();
                // Start the cycle at its earliest call, for stable messages.
                let min_pos = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, c)| **c)
                    .map_or(0, |(k, _)| k);
                cycle.rotate_left(min_pos);
                cycles.push(cycle);
                break;
            }
            if walk_of[pred] != usize::MAX {
                break; // leads into a cycle found by an earlier walk
            }
            u = pred;
        }
    }
    cycles
}

/// The analysed plan: graph, waves, critical path and resolved references.
///
/// Call `i` of the plan is node `i` of the graph; an edge goes from a dependency to its dependent.
#[derive(Debug, Clone)]
pub struct Dag {
    /// Dependents of each call (edges from a dependency to its dependent), sorted by position.
    graph: OnceLock<Graph>,
    /// Dependencies of each call, sorted by position, with their kinds.
    incoming: Csr,
    /// Dependents of each call, sorted by position.
    outgoing: Csr,
    /// Bindings of the calls that have any, by call position.
    bindings: Vec<(usize, Bindings)>,
    estimates: Vec<u64>,
    analysis: Analysis,
    warnings: Vec<Warning>,
}

impl Dag {
    /// The graph: node `i` is call `i`; edges go from a dependency to its dependent.
    ///
    /// Built on first use: the planner's own passes walk cheaper adjacency lists, and building
    /// petgraph's CSR costs about a tenth of planning a large plan.
    pub fn graph(&self) -> &Graph {
        self.graph.get_or_init(|| self.incoming.to_graph())
    }

    /// How many calls the plan has.
    pub fn len(&self) -> usize {
        self.estimates.len()
    }

    /// Whether the plan has no calls.
    pub fn is_empty(&self) -> bool {
        self.estimates.is_empty()
    }

    /// Every edge as `(dependency, dependent, kind)`, sorted by dependency then dependent.
    pub fn edges(&self) -> Vec<(usize, usize, DepKind)> {
        let mut edges: Vec<_> = (0..self.len())
            .flat_map(|v| self.dependencies(v).map(move |(d, kind)| (d, v, kind)))
            .collect();
        edges.sort_unstable_by_key(|&(a, b, _)| (a, b));
        edges
    }

    /// The calls `call` waits for, in plan order, with why.
    pub fn dependencies(&self, call: usize) -> impl Iterator<Item = (usize, DepKind)> + '_ {
        let range = self.incoming.range(call);
        self.incoming.targets[range.clone()]
            .iter()
            .zip(&self.incoming.kinds[range])
            .map(|(&d, &kind)| (d as usize, kind))
    }

    /// The calls that wait for `call`, in plan order.
    pub fn dependents(&self, call: usize) -> impl Iterator<Item = usize> + '_ {
        self.outgoing.of(call).iter().map(|&v| v as usize)
    }

    /// The waves: each call in wave 1 + the highest wave of its dependencies; calls of a wave in
    /// plan order.
    pub fn waves(&self) -> &[Vec<u32>] {
        &self.analysis.waves
    }

    /// The 1-based wave of a call.
    pub fn wave_of(&self, call: usize) -> usize {
        self.analysis.wave_of[call] as usize
    }

    /// The longest chain of calls by estimated duration (ties broken by plan order).
    pub fn critical_path(&self) -> &[u32] {
        &self.analysis.critical_path
    }

    /// The critical path's estimated length: the batch's estimated total time.
    pub fn estimated_ms(&self) -> u64 {
        self.analysis
            .critical_path
            .last()
            .map_or(0, |&u| self.analysis.path_to[u as usize])
    }

    /// The estimate used for a call.
    pub fn estimate_ms(&self, call: usize) -> u64 {
        self.estimates[call]
    }

    /// The longest estimated path from `call` (included) to the end of the plan: how much work
    /// at least remains once it starts. The scheduler starts calls with more remaining first.
    pub fn remaining_ms(&self, call: usize) -> u64 {
        self.analysis.remaining[call]
    }

    /// A topological order (dependencies first).
    pub fn topological_order(&self) -> &[u32] {
        &self.analysis.order
    }

    /// The order to run calls one at a time: topological, and in plan order wherever the
    /// dependencies allow (the smallest such order).
    pub fn sequential_order(&self) -> Vec<usize> {
        let n = self.len();
        let mut indegree: Vec<u32> = (0..n).map(|v| self.incoming.of(v).len() as u32).collect();
        let mut ready: BinaryHeap<Reverse<usize>> =
            (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse(u)) = ready.pop() {
            order.push(u);
            for v in self.dependents(u) {
                indegree[v] -= 1;
                if indegree[v] == 0 {
                    ready.push(Reverse(v));
                }
            }
        }
        order
    }

    /// How a call's references and condition resolve.
    pub fn bindings(&self, call: usize) -> &Bindings {
        static NONE: Bindings = Bindings {
            args: Vec::new(),
            arg_targets: Vec::new(),
            when: None,
        };
        match self.bindings.binary_search_by_key(&call, |(i, _)| *i) {
            Ok(k) => &self.bindings[k].1,
            Err(_) => &NONE,
        }
    }

    /// Things that are legal but look unintended.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Resolves a call's argument templates against upstream outputs: `output_of(i)` returns the
    /// output of call `i`, if it has one.
    pub fn resolve_args<'v, F>(
        &self,
        plan: &Plan,
        call: usize,
        mut output_of: F,
    ) -> Result<serde_json::Value, String>
    where
        F: FnMut(usize) -> Option<&'v serde_json::Value>,
    {
        let bindings = self.bindings(call);
        let mut targets = bindings.arg_targets.iter();
        crate::reference::substitute(
            &plan.calls[call].args,
            &bindings.args,
            |reference: &Reference| {
                let target = targets.next().copied().unwrap_or(usize::MAX);
                let output = output_of(target).ok_or_else(|| {
                    let id = plan.calls.get(target).map_or("?", |c| c.id.as_str());
                    format!("`{reference}` reads call `{id}`, which has no output")
                })?;
                reference.lookup(output)
            },
        )
    }
}

#[cfg(test)]
mod tests;
