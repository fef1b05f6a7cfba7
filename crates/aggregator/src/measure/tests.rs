use serde_json::json;
use volley_executor::{ErrorKind, Status};
use volley_planner::{Call, Plan};

use super::*;
use crate::aggregator::Config;
use crate::test_support::{O, ok};

/// A plan of `(id, depends_on)` calls, each calling tool `t`.
fn plan(calls: &[(&str, &[&str])]) -> Plan {
    Plan::new(
        calls
            .iter()
            .map(|(id, deps)| {
                let mut call = Call::new("t", json!({})).with_id(*id);
                call.depends_on = deps.iter().map(|d| d.to_string()).collect();
                call
            })
            .collect(),
    )
}

struct Case {
    name: &'static str,
    calls: &'static [(&'static str, &'static [&'static str])],
    outcomes: Vec<O>,
    path: &'static [&'static str],
    path_ms: u64,
    wall_ms: u64,
    sequential_ms: u64,
    span_ms: u64,
    peak: usize,
}

#[test]
fn the_critical_path_walks_back_through_the_dependency_that_ended_last() {
    let cases = [
        Case {
            name: "chain",
            calls: &[("a", &[]), ("b", &["a"]), ("c", &["b"])],
            outcomes: vec![
                ok(0, "a", "t").at(0, 100),
                ok(1, "b", "t").at(100, 300),
                ok(2, "c", "t").at(300, 350),
            ],
            path: &["a", "b", "c"],
            path_ms: 350,
            wall_ms: 350,
            sequential_ms: 350,
            span_ms: 350,
            peak: 1,
        },
        Case {
            name: "diamond: the slower branch",
            calls: &[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])],
            outcomes: vec![
                ok(0, "a", "t").at(0, 100),
                ok(1, "b", "t").at(100, 400),
                ok(2, "c", "t").at(100, 200),
                ok(3, "d", "t").at(400, 450),
            ],
            path: &["a", "b", "d"],
            path_ms: 450,
            wall_ms: 450,
            sequential_ms: 550,
            span_ms: 450,
            peak: 2,
        },
        Case {
            name: "independent calls through one slot: the last one alone",
            calls: &[("x", &[]), ("y", &[]), ("z", &[])],
            outcomes: vec![
                ok(0, "x", "t").at(0, 100),
                ok(1, "y", "t").at(100, 200).queued(0),
                ok(2, "z", "t").at(200, 300).queued(0),
            ],
            path: &["z"],
            path_ms: 100,
            wall_ms: 300,
            sequential_ms: 300,
            span_ms: 100,
            peak: 1,
        },
        Case {
            name: "a dependent that waited for a slot: the wait is not on the path's length",
            calls: &[("a", &[]), ("b", &["a"])],
            outcomes: vec![
                ok(0, "a", "t").at(0, 100),
                ok(1, "b", "t").at(250, 300).queued(100),
            ],
            path: &["a", "b"],
            path_ms: 150,
            wall_ms: 300,
            sequential_ms: 150,
            span_ms: 150,
            peak: 1,
        },
        Case {
            name: "a tie at the end: the first in plan order",
            calls: &[("a", &[]), ("b", &[])],
            outcomes: vec![ok(0, "a", "t").at(0, 100), ok(1, "b", "t").at(50, 100)],
            path: &["a"],
            path_ms: 100,
            wall_ms: 100,
            sequential_ms: 150,
            span_ms: 100,
            peak: 2,
        },
        Case {
            name: "a skipped dependent ends with its dependency",
            calls: &[("a", &[]), ("b", &["a"])],
            outcomes: vec![
                ok(0, "a", "t")
                    .at(0, 100)
                    .failed(Status::Error, ErrorKind::Permanent, "boom"),
                ok(1, "b", "t").never_ran(100).failed(
                    Status::Skipped,
                    ErrorKind::DependencyFailed,
                    "not run",
                ),
            ],
            path: &["a"],
            path_ms: 100,
            wall_ms: 100,
            sequential_ms: 100,
            span_ms: 100,
            peak: 1,
        },
        Case {
            name: "a call added while the batch ran ended last",
            calls: &[("a", &[])],
            outcomes: vec![ok(0, "a", "t").at(0, 100), ok(1, "late", "t").at(50, 400)],
            path: &["late"],
            path_ms: 350,
            wall_ms: 400,
            sequential_ms: 450,
            span_ms: 350,
            peak: 2,
        },
        Case {
            name: "outcomes in another order than the plan",
            calls: &[("a", &[]), ("b", &["a"]), ("c", &["b"])],
            outcomes: vec![
                ok(2, "c", "t").at(300, 350),
                ok(0, "a", "t").at(0, 100),
                ok(1, "b", "t").at(100, 300),
            ],
            path: &["a", "b", "c"],
            path_ms: 350,
            wall_ms: 350,
            sequential_ms: 350,
            span_ms: 350,
            peak: 1,
        },
        Case {
            name: "no calls",
            calls: &[],
            outcomes: vec![],
            path: &[],
            path_ms: 0,
            wall_ms: 0,
            sequential_ms: 0,
            span_ms: 0,
            peak: 0,
        },
    ];
    let config = Config::default();
    for case in cases {
        let plan = plan(case.calls);
        let outcomes: Vec<_> = case.outcomes.into_iter().map(O::done).collect();
        let batch = Batch::new(&config, &plan, &outcomes);
        let m = batch.measure();
        let path: Vec<&str> = m
            .critical_path
            .iter()
            .map(|&row| &*batch.outcome(row).id)
            .collect();
        assert_eq!(path, case.path, "{}", case.name);
        assert_eq!(
            (
                m.critical_path_ms,
                m.wall_ms,
                m.sequential_ms,
                m.span_ms,
                m.peak_concurrency
            ),
            (
                case.path_ms,
                case.wall_ms,
                case.sequential_ms,
                case.span_ms,
                case.peak
            ),
            "{}: (path ms, wall, sequential, span, peak)",
            case.name
        );
    }
}

#[test]
fn peak_concurrency_counts_calls_running_at_the_same_instant() {
    // Intervals `(start, end)` in ms; a call whose end equals its start ran for an instant.
    let cases: &[(&[(u64, u64)], usize)] = &[
        (&[], 0),
        (&[(0, 10)], 1),
        (&[(0, 10), (10, 20)], 1),
        (&[(0, 10), (5, 15)], 2),
        (&[(5, 5), (5, 5)], 2),
        (&[(0, 10), (10, 10)], 1),
        (&[(0, 10), (5, 5)], 2),
        (&[(10, 10), (10, 20)], 2),
        (&[(0, 10), (0, 10), (0, 10), (20, 30)], 3),
        (&[(0, 100), (10, 20), (20, 30), (30, 40), (15, 25)], 3),
    ];
    for &(intervals, expected) in cases {
        let outcomes: Vec<_> = intervals
            .iter()
            .enumerate()
            .map(|(i, &(s, e))| ok(i, &format!("c{i}"), "t").at(s, e).done())
            .collect();
        assert_eq!(peak(outcomes.iter()), expected, "{intervals:?}");
    }
    // Calls that never started do not count.
    let never = ok(0, "a", "t").never_ran(10).done();
    assert_eq!(peak(std::iter::once(&never)), 0);
}
