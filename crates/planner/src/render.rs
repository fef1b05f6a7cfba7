//! Views of a planned batch: the JSON summary (a contract), text, Mermaid and Graphviz DOT.

use std::fmt::Write as _;

use serde::Serialize;

use crate::dag::Dag;
use crate::plan::Plan;

/// The `volley plan --format json` contract:
/// `{"calls": N, "waves": [[ids…]…], "critical_path": [ids…], "estimated_ms": N, "edges": [[from, to]…]}`.
///
/// Edges go from a dependency to its dependent, sorted by the dependency's position, then the
/// dependent's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// How many calls the plan has.
    pub calls: usize,
    /// The waves, each a list of call ids in plan order.
    pub waves: Vec<Vec<String>>,
    /// The critical path's call ids, in order.
    pub critical_path: Vec<String>,
    /// The critical path's estimated length.
    pub estimated_ms: u64,
    /// `[dependency, dependent]` id pairs.
    pub edges: Vec<[String; 2]>,
}

impl Summary {
    /// Summarises a planned batch.
    pub fn new(plan: &Plan, dag: &Dag) -> Summary {
        let id = |i: u32| plan.calls[i as usize].id.clone();
        Summary {
            calls: plan.calls.len(),
            waves: dag
                .waves()
                .iter()
                .map(|wave| wave.iter().map(|&i| id(i)).collect())
                .collect(),
            critical_path: dag.critical_path().iter().map(|&i| id(i)).collect(),
            estimated_ms: dag.estimated_ms(),
            edges: dag
                .edges()
                .into_iter()
                .map(|(from, to, _)| [id(from as u32), id(to as u32)])
                .collect(),
        }
    }
}

/// The human-readable summary `volley plan` prints by default.
pub fn text(plan: &Plan, dag: &Dag) -> String {
    let mut out = String::new();
    let n = plan.calls.len();
    if n == 0 {
        out.push_str("Empty plan: 0 calls, 0 waves. Nothing to run.\n");
        return out;
    }
    let waves = dag.waves();
    let _ = writeln!(
        out,
        "{n} call{} in {} wave{}, estimated {} on the critical path",
        plural(n),
        waves.len(),
        plural(waves.len()),
        format_ms(dag.estimated_ms())
    );
    let id_width = plan
        .calls
        .iter()
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(0);
    let tool_width = plan
        .calls
        .iter()
        .map(|c| c.tool.chars().count())
        .max()
        .unwrap_or(0);
    for (w, wave) in waves.iter().enumerate() {
        let _ = writeln!(out, "\nWave {}:", w + 1);
        for &i in wave {
            let call = &plan.calls[i as usize];
            // Dependencies in plan order; pure access-key ordering is marked as such.
            let after: Vec<String> = dag
                .dependencies(i as usize)
                .map(|(d, kind)| {
                    let id = &plan.calls[d].id;
                    if kind.requires_success() {
                        id.clone()
                    } else {
                        format!("{id} (access)")
                    }
                })
                .collect();
            let mut line = format!(
                "  {:<id_width$}  {:<tool_width$}  ~{}",
                call.id,
                call.tool,
                format_ms(dag.estimate_ms(i as usize))
            );
            if !after.is_empty() {
                let _ = write!(line, "  after {}", after.join(", "));
            }
            if let Some(condition) = &call.when {
                let _ = write!(line, "  when {condition}");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    let path: Vec<&str> = dag
        .critical_path()
        .iter()
        .map(|&i| plan.calls[i as usize].id.as_str())
        .collect();
    let _ = writeln!(
        out,
        "\nCritical path: {} ({})",
        path.join(" -> "),
        format_ms(dag.estimated_ms())
    );
    if !dag.warnings().is_empty() {
        out.push_str("\nWarnings:\n");
        for warning in dag.warnings() {
            let _ = writeln!(out, "  - {warning}");
        }
    }
    out
}

/// A Mermaid flowchart: one node per call, grouped by wave; access-only edges dotted; the
/// critical path in bold.
pub fn mermaid(plan: &Plan, dag: &Dag) -> String {
    let mut out = String::from("flowchart LR\n");
    for (w, wave) in dag.waves().iter().enumerate() {
        let _ = writeln!(out, "  subgraph wave{} [\"wave {}\"]", w + 1, w + 1);
        for &i in wave {
            let call = &plan.calls[i as usize];
            let _ = writeln!(
                out,
                "    n{i}[\"{}<br/>{}\"]",
                escape_mermaid(&call.id),
                escape_mermaid(&call.tool)
            );
        }
        out.push_str("  end\n");
    }
    let critical = critical_edges(dag);
    let mut bold = Vec::new();
    for (k, (from, to, kind)) in dag.edges().into_iter().enumerate() {
        let arrow = if kind.requires_success() {
            "-->"
        } else {
            "-.->"
        };
        let _ = writeln!(out, "  n{from} {arrow} n{to}");
        if critical.contains(&(from, to)) {
            bold.push(k.to_string());
        }
    }
    for &i in dag.critical_path() {
        let _ = writeln!(out, "  style n{i} stroke-width:3px");
    }
    if !bold.is_empty() {
        let _ = writeln!(out, "  linkStyle {} stroke-width:3px", bold.join(","));
    }
    out
}

/// A Graphviz DOT digraph: one cluster per wave; access-only edges dashed; the critical path bold.
pub fn dot(plan: &Plan, dag: &Dag) -> String {
    let mut out = String::from("digraph plan {\n  rankdir=LR;\n  node [shape=box];\n");
    let on_path: Vec<u32> = dag.critical_path().to_vec();
    for (w, wave) in dag.waves().iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_wave{} {{\n    label=\"wave {}\";",
            w + 1,
            w + 1
        );
        for &i in wave {
            let call = &plan.calls[i as usize];
            let style = if on_path.contains(&i) {
                ", style=bold"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    n{i} [label=\"{}\\n{}\"{style}];",
                escape_dot(&call.id),
                escape_dot(&call.tool)
            );
        }
        out.push_str("  }\n");
    }
    let critical = critical_edges(dag);
    for (from, to, kind) in dag.edges() {
        let mut attrs = Vec::new();
        if !kind.requires_success() {
            attrs.push("style=dashed");
        }
        if critical.contains(&(from, to)) {
            attrs.push("penwidth=3");
        }
        if attrs.is_empty() {
            let _ = writeln!(out, "  n{from} -> n{to};");
        } else {
            let _ = writeln!(out, "  n{from} -> n{to} [{}];", attrs.join(", "));
        }
    }
    out.push_str("}\n");
    out
}

fn critical_edges(dag: &Dag) -> Vec<(usize, usize)> {
    dag.critical_path()
        .windows(2)
        .map(|w| (w[0] as usize, w[1] as usize))
        .collect()
}

fn escape_mermaid(text: &str) -> String {
    text.replace('"', "#quot;")
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Formats milliseconds for people: `850 ms`, `2.5 s`, `1 min 5 s`.
pub fn format_ms(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        let s = format!("{:.1}", ms as f64 / 1_000.0);
        format!("{} s", s.strip_suffix(".0").unwrap_or(&s))
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        for (ms, text) in [
            (0, "0 ms"),
            (850, "850 ms"),
            (1_000, "1 s"),
            (2_500, "2.5 s"),
            (65_000, "1 min 5 s"),
        ] {
            assert_eq!(format_ms(ms), text);
        }
    }
}
