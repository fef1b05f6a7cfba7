//! The batch's dependency graph: the planner's [`Dag`] for the planned calls, plus the edges
//! of calls added while the batch runs (which can only point at earlier calls).

use rustc_hash::FxHashMap;
use serde_json::Value;
use volley_planner::{AccessKey, AccessTracker, DEFAULT_ESTIMATE_MS};
use volley_planner::{
    Bindings, Call, Dag, Reference, Target, closest_names, scan_args, validate_id,
};

use crate::error::AddError;

/// A call added to a running batch.
#[derive(Debug)]
struct Added {
    /// Its dependencies, with whether each must succeed.
    deps: Vec<(u32, bool)>,
    bindings: Bindings,
    estimate_ms: u64,
}

/// What [`Graph::add`] needs to know about the batch so far.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Call id -> position.
    ids: FxHashMap<String, u32>,
    /// Tool name -> (uses, last position), for `$tool` references.
    tools: FxHashMap<String, (u32, u32)>,
    access: AccessTracker,
}

#[derive(Debug)]
pub(crate) struct Graph {
    dag: Dag,
    planned: usize,
    added: Vec<Added>,
    /// Dependents that added calls gave to earlier calls.
    extra_dependents: FxHashMap<u32, Vec<u32>>,
    /// Built on the first `add`.
    names: Option<Names>,
}

impl Graph {
    pub(crate) fn new(dag: Dag) -> Graph {
        Graph {
            planned: dag.len(),
            dag,
            added: Vec::new(),
            extra_dependents: FxHashMap::default(),
            names: None,
        }
    }

    pub(crate) fn dag(&self) -> &Dag {
        &self.dag
    }

    pub(crate) fn planned(&self) -> usize {
        self.planned
    }

    /// How many calls `call` waits for.
    pub(crate) fn dependency_count(&self, call: usize) -> usize {
        if call < self.planned {
            self.dag.dependencies(call).count()
        } else {
            self.added[call - self.planned].deps.len()
        }
    }

    /// The calls that wait for `call`, into `out` (cleared first).
    pub(crate) fn dependents_into(&self, call: usize, out: &mut Vec<u32>) {
        out.clear();
        if call < self.planned {
            out.extend(self.dag.dependents(call).map(|v| v as u32));
        }
        if let Some(extra) = self.extra_dependents.get(&(call as u32)) {
            out.extend_from_slice(extra);
        }
    }

    /// Whether `dependent` needs `dependency` to succeed (false for pure access ordering).
    pub(crate) fn requires_success(&self, dependency: usize, dependent: usize) -> bool {
        if dependent < self.planned {
            self.dag
                .dependencies(dependent)
                .find(|&(d, _)| d == dependency)
                .is_some_and(|(_, kind)| kind.requires_success())
        } else {
            self.added[dependent - self.planned]
                .deps
                .iter()
                .find(|&&(d, _)| d as usize == dependency)
                .is_some_and(|&(_, required)| required)
        }
    }

    pub(crate) fn bindings(&self, call: usize) -> &Bindings {
        if call < self.planned {
            self.dag.bindings(call)
        } else {
            &self.added[call - self.planned].bindings
        }
    }

    /// The longest estimated path from `call` to the end (added calls: their own estimate).
    pub(crate) fn remaining_ms(&self, call: usize) -> u64 {
        if call < self.planned {
            self.dag.remaining_ms(call)
        } else {
            self.added[call - self.planned].estimate_ms
        }
    }

    /// The position of the call with this id (built on first use for big batches).
    pub(crate) fn position(&mut self, calls: &[Call], id: &str) -> Option<usize> {
        self.names(calls).ids.get(id).map(|&i| i as usize)
    }

    fn names(&mut self, calls: &[Call]) -> &mut Names {
        self.names.get_or_insert_with(|| {
            let mut names = Names::default();
            // Planned calls take the exclusive key shared, so a later call of a tool that is not
            // concurrency safe waits for all of them.
            let shared = [AccessKey::read(crate::engine::EXCLUSIVE_KEY)];
            for (i, call) in calls.iter().enumerate() {
                names.record(i as u32, call, &shared, |_| {});
            }
            names
        })
    }

    /// Checks call `calls.len()` (not yet pushed) and adds its edges. `extra_access` are the
    /// keys its tool derives from its arguments. Returns its dependencies.
    pub(crate) fn add(
        &mut self,
        calls: &[Call],
        call: &Call,
        extra_access: &[AccessKey],
        estimate_ms: Option<u64>,
    ) -> Result<Vec<(u32, bool)>, AddError> {
        let index = calls.len() as u32;
        let id = call.id.clone();
        validate_id(&id).map_err(|problem| AddError::InvalidId {
            id: id.clone(),
            problem,
        })?;
        let names = self.names(calls);
        if names.ids.contains_key(&id) {
            return Err(AddError::DuplicateId { id });
        }
        let unknown = |names: &Names, target: &str| AddError::UnknownCall {
            id: id.clone(),
            target: target.to_owned(),
            hint: match closest_names(target, names.ids.keys().map(String::as_str), 1).first() {
                Some(close) => format!("; did you mean `{close}`?"),
                None => String::new(),
            },
        };
        let resolve = |names: &Names, reference: &Reference| -> Result<u32, AddError> {
            match &reference.target {
                Target::Position(n) => match n.checked_sub(1) {
                    Some(p) if p < index as usize => Ok(p as u32),
                    _ => Err(unknown(names, &format!("${n}"))),
                },
                Target::Id(name) => names
                    .ids
                    .get(name)
                    .copied()
                    .or_else(|| match names.tools.get(name) {
                        Some(&(1, position)) => Some(position),
                        _ => None,
                    })
                    .ok_or_else(|| unknown(names, name)),
            }
        };

        let mut deps: Vec<(u32, bool)> = Vec::new();
        let (templates, errors) = scan_args(&call.args);
        if let Some((location, problem)) = errors.into_iter().next() {
            let location = volley_planner::ArgTemplate {
                location,
                template: volley_planner::Template::Text(Vec::new()),
            }
            .location_path();
            return Err(AddError::MalformedReference {
                id,
                location,
                problem,
            });
        }
        let mut arg_targets = Vec::new();
        for template in &templates {
            for reference in template.template.references() {
                let target = resolve(names, reference)?;
                arg_targets.push(target as usize);
                deps.push((target, true));
            }
        }
        let when = match &call.when {
            Some(condition) => {
                let target = resolve(names, &condition.reference)?;
                deps.push((target, true));
                Some((condition.clone(), target as usize))
            }
            None => None,
        };
        for name in &call.depends_on {
            let target = names
                .ids
                .get(name)
                .copied()
                .ok_or_else(|| unknown(names, name))?;
            deps.push((target, true));
        }
        names.record(index, call, extra_access, |d| deps.push((d as u32, false)));
        // One edge per dependency; any kind that needs success makes the edge need it.
        deps.sort_unstable_by_key(|&(d, required)| (d, !required));
        deps.dedup_by_key(|&mut (d, _)| d);

        for &(d, _) in &deps {
            self.extra_dependents.entry(d).or_default().push(index);
        }
        self.added.push(Added {
            deps: deps.clone(),
            bindings: Bindings {
                args: templates,
                arg_targets,
                when,
            },
            estimate_ms: call
                .estimated_ms
                .or(estimate_ms)
                .unwrap_or(DEFAULT_ESTIMATE_MS),
        });
        Ok(deps)
    }
}

impl Names {
    /// Records call `index`'s id, tool and accesses; `wait_for` hears of each earlier call its
    /// accesses conflict with.
    fn record(
        &mut self,
        index: u32,
        call: &Call,
        extra_access: &[AccessKey],
        mut wait_for: impl FnMut(usize),
    ) {
        self.ids.insert(call.id.clone(), index);
        let uses = self.tools.entry(call.tool.clone()).or_insert((0, index));
        *uses = (uses.0 + 1, index);
        for key in call.access.iter().chain(extra_access) {
            self.access.record(index as usize, key, &mut wait_for);
        }
    }
}

/// The value a reference to a call that did not succeed reads, for calls that run anyway.
pub(crate) fn failure_value(id: &str, status: &str, kind: &str, message: &str) -> Value {
    serde_json::json!({"error": {"call": id, "status": status, "kind": kind, "message": message}})
}
