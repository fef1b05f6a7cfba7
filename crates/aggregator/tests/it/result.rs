//! The batch result: the `volley run` JSON contract.

use serde_json::{Value, json};
use volley_aggregator::{Aggregator, BatchResult};
use volley_executor::{ErrorKind as K, Outcome, Status as S};
use volley_planner::{Call, Plan, Planner};

use crate::support::{O, ok};

/// find_contact -> check_crm -> send_invite; check_calendar and get_weather alone.
fn invite_plan() -> Plan {
    Plan::new(vec![
        Call::new("find_contact", json!({"email": "john@example.com"})),
        Call::new("check_crm", json!({"contact": "$find_contact.id"})),
        Call::new("check_calendar", json!({"date": "2025-05-25"})),
        Call::new("get_weather", json!({"location": "New York"})),
        Call::new("send_invite", json!({"to": "$check_crm.email"})),
        Call::new("notify", json!({})),
    ])
}

fn invite_outcomes() -> Vec<Outcome> {
    vec![
        ok(0, "find_contact", "find_contact")
            .at(0, 200)
            .output(json!({"id": "c-42"})),
        ok(1, "check_crm", "check_crm")
            .at(200, 480)
            .attempts(2)
            .failed(S::Error, K::Transient, "HTTP 503"),
        ok(2, "check_calendar", "check_calendar")
            .at(0, 500)
            .output(json!({"free": ["14:00"]})),
        ok(3, "get_weather", "get_weather").at(0, 3_000).failed(
            S::Timeout,
            K::Timeout,
            "the attempt ran past its timeout of 3000 ms",
        ),
        ok(4, "send_invite", "send_invite")
            .never_ran(480)
            .failed(
                S::Skipped,
                K::DependencyFailed,
                "not run: the call `check_crm` it depends on failed",
            )
            .upstream("check_crm"),
        ok(5, "notify", "notify").never_ran(3_000).failed(
            S::Cancelled,
            K::Cancelled,
            "cancelled: the batch was cancelled",
        ),
    ]
    .into_iter()
    .map(O::done)
    .collect()
}

#[test]
fn the_json_is_exactly_the_contract() {
    let plan = invite_plan();
    let dag = Planner::new().plan(&plan).unwrap();
    let outcomes = invite_outcomes();
    let aggregator = Aggregator::new();
    let result = aggregator.batch(&plan, &outcomes).with_dag(&dag).result();
    let expected = json!({
        "results": [
            {"id": "find_contact", "tool": "find_contact", "status": "ok",
             "output": {"id": "c-42"}, "attempts": 1, "started_ms": 0, "duration_ms": 200},
            {"id": "check_crm", "tool": "check_crm", "status": "error",
             "error": {"kind": "transient", "message": "check_crm failed after 2 attempts: HTTP 503"},
             "attempts": 2, "started_ms": 200, "duration_ms": 280},
            {"id": "check_calendar", "tool": "check_calendar", "status": "ok",
             "output": {"free": ["14:00"]}, "attempts": 1, "started_ms": 0, "duration_ms": 500},
            {"id": "get_weather", "tool": "get_weather", "status": "timeout",
             "error": {"kind": "timeout", "message": "get_weather timed out after 3000 ms"},
             "attempts": 1, "started_ms": 0, "duration_ms": 3000},
            {"id": "send_invite", "tool": "send_invite", "status": "skipped",
             "error": {"kind": "dependency_failed",
                       "message": "send_invite was skipped because check_crm failed"},
             "attempts": 0, "started_ms": null, "duration_ms": 0},
            {"id": "notify", "tool": "notify", "status": "cancelled",
             "error": {"kind": "cancelled",
                       "message": "notify was cancelled by the user (the whole batch was cancelled)"},
             "attempts": 0, "started_ms": null, "duration_ms": 0},
        ],
        "summary": {"total": 6, "ok": 2, "failed": 1, "timed_out": 1, "cancelled": 1, "skipped": 1,
                    "wall_ms": 3000, "sequential_ms": 3980, "speedup": 1.327,
                    "critical_path_ms": 3000, "peak_concurrency": 3}
    });
    // Same keys, same order, same values.
    assert_eq!(result.to_json(), serde_json::to_string(&expected).unwrap());
    // And it reads back.
    let back: BatchResult<'static> = serde_json::from_str(&result.to_json()).unwrap();
    assert_eq!(back, result);
    assert_eq!(result.clone().into_owned(), result);
    assert_eq!(
        serde_json::from_str::<Value>(&result.to_json_pretty()).unwrap(),
        expected
    );
}

#[test]
fn key_sets_and_statuses_follow_the_contract() {
    let plan = invite_plan();
    let outcomes = invite_outcomes();
    let aggregator = Aggregator::new();
    let value: Value =
        serde_json::from_str(&aggregator.batch(&plan, &outcomes).result().to_json()).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&value), ["results", "summary"]);
    assert_eq!(
        keys(&value["summary"]),
        [
            "total",
            "ok",
            "failed",
            "timed_out",
            "cancelled",
            "skipped",
            "wall_ms",
            "sequential_ms",
            "speedup",
            "critical_path_ms",
            "peak_concurrency"
        ]
    );
    for result in value["results"].as_array().unwrap() {
        let status = result["status"].as_str().unwrap();
        assert!(["ok", "error", "timeout", "cancelled", "skipped"].contains(&status));
        let expected: &[&str] = if status == "ok" {
            &[
                "id",
                "tool",
                "status",
                "output",
                "attempts",
                "started_ms",
                "duration_ms",
            ]
        } else {
            &[
                "id",
                "tool",
                "status",
                "error",
                "attempts",
                "started_ms",
                "duration_ms",
            ]
        };
        assert_eq!(keys(result), expected, "{result}");
        if let Some(error) = result.get("error") {
            assert_eq!(keys(error), ["kind", "message"]);
        }
    }
}

#[test]
fn counts_and_the_success_rate() {
    let plan = invite_plan();
    let outcomes = invite_outcomes();
    let aggregator = Aggregator::new();
    let summary = aggregator.batch(&plan, &outcomes).summary();
    for (status, count) in [
        (S::Ok, 2),
        (S::Error, 1),
        (S::Timeout, 1),
        (S::Cancelled, 1),
        (S::Skipped, 1),
    ] {
        assert_eq!(summary.count(status), count, "{status:?}");
    }
    assert_eq!(summary.success_rate(), 0.333);
    // An empty batch: nothing failed.
    let empty = Plan::default();
    let summary = aggregator.batch(&empty, &[]).summary();
    assert_eq!(
        (summary.total, summary.success_rate(), summary.speedup),
        (0, 1.0, 1.0)
    );
}

#[test]
fn the_dag_is_planned_again_when_none_is_given() {
    let plan = invite_plan();
    let outcomes = invite_outcomes();
    let aggregator = Aggregator::new();
    let dag = Planner::new().plan(&plan).unwrap();
    let with = aggregator.batch(&plan, &outcomes).with_dag(&dag).result();
    let without = aggregator.batch(&plan, &outcomes).result();
    assert_eq!(with, without);
    // A DAG of another plan is ignored rather than misread.
    let other = Planner::new()
        .plan(&Plan::new(vec![Call::new("x", json!({}))]))
        .unwrap();
    assert_eq!(
        aggregator.batch(&plan, &outcomes).with_dag(&other).result(),
        with
    );
}

/// The first `json` block after `heading` in `docs/results.md`.
fn doc_example(heading: &str) -> Value {
    let path = format!("{}/../../docs/results.md", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let section = &text[text.find(heading).unwrap()..];
    let start = section.find("```json\n").unwrap() + "```json\n".len();
    let end = start + section[start..].find("```").unwrap();
    serde_json::from_str(&section[start..end]).unwrap()
}

#[test]
fn the_example_in_docs_results_md_is_what_the_aggregator_makes() {
    let plan = Plan::new(vec![
        Call::new("find_contact", json!({"email": "john@example.com"})),
        Call::new("check_crm", json!({"contact": "$find_contact.id"})),
        Call::new("get_weather", json!({"location": "New York"})),
        Call::new("send_invite", json!({"to": "$check_crm.email"})),
    ]);
    let outcomes: Vec<Outcome> = vec![
        ok(0, "find_contact", "find_contact")
            .at(0, 210)
            .output(json!({"id": "c-42", "email": "john@example.com"})),
        ok(1, "check_crm", "check_crm")
            .at(210, 620)
            .attempts(2)
            .failed(S::Error, K::Transient, "HTTP 503"),
        ok(2, "get_weather", "get_weather").at(0, 3_000).failed(
            S::Timeout,
            K::Timeout,
            "the attempt ran past its timeout of 3000 ms",
        ),
        ok(3, "send_invite", "send_invite")
            .never_ran(620)
            .failed(S::Skipped, K::DependencyFailed, "not run")
            .upstream("check_crm"),
    ]
    .into_iter()
    .map(O::done)
    .collect();
    let result = Aggregator::new().batch(&plan, &outcomes).result();
    let expected = doc_example("## The batch result");
    assert_eq!(result.to_json(), serde_json::to_string(&expected).unwrap());
}
