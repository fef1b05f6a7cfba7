//! The run report: figures, definitions, text and JSON.

use serde_json::{Value, json};
use volley_aggregator::{Aggregator, RunReport, Shape, ToolStats};
use volley_executor::Outcome;
use volley_planner::{Call, Plan, Planner};

use crate::support::{O, ok};

/// find_contact -> check_crm -> send_invite <- check_calendar, at most 2 at once.
fn plan() -> Plan {
    let mut plan = Plan::new(vec![
        Call::new("find_contact", json!({})).estimated_ms(200),
        Call::new("check_crm", json!({"contact": "$find_contact.id"})).estimated_ms(300),
        Call::new("check_calendar", json!({})).estimated_ms(500),
        Call::new(
            "send_invite",
            json!({"to": "$check_crm.email", "at": "$check_calendar.free"}),
        )
        .estimated_ms(100),
    ]);
    plan.max_concurrency = Some(2);
    plan
}

/// check_crm retried once; send_invite waited 50 ms for a slot.
fn outcomes() -> Vec<Outcome> {
    vec![
        ok(0, "find_contact", "find_contact").at(0, 200),
        ok(1, "check_crm", "check_crm").at(200, 450).attempts(2),
        ok(2, "check_calendar", "check_calendar").at(0, 600),
        ok(3, "send_invite", "send_invite").at(650, 700).queued(600),
    ]
    .into_iter()
    .map(O::done)
    .collect()
}

fn report() -> RunReport {
    let plan = plan();
    let dag = Planner::new().plan(&plan).unwrap();
    let outcomes = outcomes();
    Aggregator::new()
        .batch(&plan, &outcomes)
        .with_dag(&dag)
        .report()
}

fn tool(tool: &str, retries: u64, ms: u64, utilization: f64) -> ToolStats {
    ToolStats {
        tool: tool.into(),
        calls: 1,
        ok: 1,
        retries,
        busy_ms: ms,
        active_ms: ms,
        max_ms: ms,
        utilization,
    }
}

#[test]
fn the_figures_follow_their_definitions() {
    let report = report();
    assert_eq!((report.total, report.ok, report.success_rate), (4, 4, 1.0));
    assert_eq!(
        (report.wall_ms, report.sequential_ms, report.speedup),
        (700, 1_100, 1.571)
    );
    // send_invite waited for check_calendar, which ended after check_crm.
    assert_eq!(
        report.critical_path,
        ["check_calendar".into(), "send_invite".into()]
    );
    assert_eq!((report.critical_path_ms, report.efficiency), (650, 0.929));
    assert_eq!(report.peak_concurrency, 2);
    assert_eq!((report.retries, report.retried_calls), (1, 1));
    assert_eq!(
        report.tools,
        [
            tool("find_contact", 0, 200, 0.286),
            tool("check_crm", 1, 250, 0.357),
            tool("check_calendar", 0, 600, 0.857),
            tool("send_invite", 0, 50, 0.071),
        ]
    );
    // p = the plan's max_concurrency. Measured: W 1100, S 650 (check_calendar -> send_invite).
    assert_eq!(report.amdahl.concurrency, 2);
    assert_eq!(
        report.amdahl.measured,
        Shape {
            work_ms: 1_100,
            span_ms: 650,
            parallelism: 1.692,
            serial_fraction: 0.591,
            speedup_bound: 1.257,
            ceiling: 1.692,
        }
    );
    // Estimated: W 1100, S 600 (both chains).
    assert_eq!(
        report.amdahl.estimated,
        Some(Shape {
            work_ms: 1_100,
            span_ms: 600,
            parallelism: 1.833,
            serial_fraction: 0.545,
            speedup_bound: 1.294,
            ceiling: 1.833,
        })
    );
}

#[test]
fn the_concurrency_of_the_bound_can_be_set() {
    let plan = plan();
    let outcomes = outcomes();
    let aggregator = Aggregator::builder().concurrency(1).build();
    let report = aggregator.batch(&plan, &outcomes).report();
    assert_eq!(report.amdahl.concurrency, 1);
    assert_eq!(
        (
            report.amdahl.measured.speedup_bound,
            report.amdahl.measured.ceiling
        ),
        (1.0, 1.0)
    );
    // Without a setting nor a plan limit: the peak the run reached.
    let mut unlimited = plan.clone();
    unlimited.max_concurrency = None;
    let report = Aggregator::new().batch(&unlimited, &outcomes).report();
    assert_eq!(report.amdahl.concurrency, 2);
}

#[test]
fn utilization_counts_overlapping_calls_of_a_tool_once() {
    let plan = crate::support::plan(&[
        ("a", "search"),
        ("b", "search"),
        ("c", "search"),
        ("d", "fetch"),
    ]);
    let outcomes: Vec<Outcome> = vec![
        ok(0, "a", "search").at(0, 100),
        ok(1, "b", "search").at(50, 150),
        ok(2, "c", "search").at(300, 400),
        ok(3, "d", "fetch").at(0, 400),
    ]
    .into_iter()
    .map(O::done)
    .collect();
    let report = Aggregator::new().batch(&plan, &outcomes).report();
    let search = &report.tools[0];
    assert_eq!(
        (
            search.calls,
            search.busy_ms,
            search.active_ms,
            search.max_ms
        ),
        (3, 300, 250, 100)
    );
    assert_eq!(search.utilization, 0.625);
    assert_eq!(report.tools[1].utilization, 1.0);
    assert_eq!(report.peak_concurrency, 3);
}

#[test]
fn the_text_is_for_a_terminal() {
    let expected = "\
4 calls in 700 ms: 4 ok (100% succeeded)
sequential 1.1 s, speedup 1.6×
critical path 650 ms (efficiency 93%): check_calendar → send_invite
peak concurrency 2; 1 retry (1 call)
Amdahl at p = 2: W 1.1 s, S 650 ms, W/S 1.7, bound 1.3×, ceiling 1.7× (measured)
                 W 1.1 s, S 600 ms, W/S 1.8, bound 1.3×, ceiling 1.8× (estimated)
tool            calls    ok  retries      busy    active  util   longest
find_contact        1     1        0    200 ms    200 ms   29%    200 ms
check_crm           1     1        1    250 ms    250 ms   36%    250 ms
check_calendar      1     1        0    600 ms    600 ms   86%    600 ms
send_invite         1     1        0     50 ms     50 ms    7%     50 ms
";
    assert_eq!(report().text(), expected);
}

#[test]
fn the_json_has_every_figure() {
    let value: Value = serde_json::from_str(&report().to_json()).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "total",
            "ok",
            "failed",
            "timed_out",
            "cancelled",
            "skipped",
            "success_rate",
            "wall_ms",
            "sequential_ms",
            "speedup",
            "critical_path",
            "critical_path_ms",
            "efficiency",
            "peak_concurrency",
            "retries",
            "retried_calls",
            "tools",
            "amdahl"
        ]
    );
    assert_eq!(
        value["amdahl"]["measured"],
        json!({"work_ms": 1100, "span_ms": 650, "parallelism": 1.692, "serial_fraction": 0.591,
               "speedup_bound": 1.257, "ceiling": 1.692})
    );
    assert_eq!(
        value["tools"][1],
        json!({"tool": "check_crm", "calls": 1, "ok": 1, "retries": 1, "busy_ms": 250,
               "active_ms": 250, "max_ms": 250, "utilization": 0.357})
    );
}

#[test]
fn an_empty_batch_reports_nothing_ran() {
    let plan = Plan::default();
    let report = Aggregator::new().batch(&plan, &[]).report();
    assert_eq!(
        (report.wall_ms, report.speedup, report.efficiency),
        (0, 1.0, 1.0)
    );
    assert!(report.critical_path.is_empty() && report.tools.is_empty());
    assert!(
        report
            .text()
            .starts_with("0 calls in 0 ms: 0 ok (100% succeeded)\n")
    );
}
