//! End to end with the real engine: the executor's outcomes, the aggregator's words. These
//! keep the two in step (the cause of a cancellation is read from the executor's wording).

use std::time::Duration;

use serde_json::{Value, json};
use volley_aggregator::Aggregator;
use volley_executor::testing::ScriptedTool;
use volley_executor::{Engine, Jitter, Outcomes, Registry, ToolError};
use volley_planner::{Call, Condition, InputFormat, Plan, Planner, RetryPolicy, parse};

use crate::{fixture, fixture_json};

fn engine(tools: Vec<ScriptedTool>) -> Engine {
    let mut registry = Registry::new();
    for tool in tools {
        registry.register(tool).unwrap();
    }
    Engine::new(registry)
}

/// Each call's id and the sentence the model gets (`ok: <output>` for a success).
fn sentences(plan: &Plan, outcomes: &Outcomes) -> Vec<(String, String)> {
    let aggregator = Aggregator::new();
    let batch = aggregator.batch(plan, outcomes);
    batch
        .anthropic()
        .content
        .into_iter()
        .map(|r| {
            let text = if r.is_error {
                r.content
            } else {
                format!("ok: {}", r.content)
            };
            (r.tool_use_id.to_string(), text)
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_anthropic_fixture_from_a_real_run() {
    let engine = engine(vec![
        ScriptedTool::new("check_calendar").latency_ms(400).output(
            json!({"date": "2025-05-25", "busy": ["09:00-10:00"], "available_slot": "14:00"}),
        ),
        ScriptedTool::new("search_contacts")
            .latency_ms(150)
            .output(json!({"id": "c-42", "email": "john@example.com"})),
        ScriptedTool::new("get_weather")
            .latency_ms(10_000)
            .timeout(Duration::from_millis(3_000)),
    ]);
    let plan = parse(&fixture("anthropic-response.json"), InputFormat::Anthropic).unwrap();
    let outcomes = engine.run(plan.clone()).unwrap().wait().await;
    let aggregator = Aggregator::new();
    let message = aggregator.batch(&plan, &outcomes).anthropic().to_value();
    assert_eq!(message, fixture_json("anthropic-tool-results.json"));
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancellations_name_the_failure() {
    let engine = engine(vec![
        ScriptedTool::new("bad")
            .latency_ms(50)
            .fail_permanently("no"),
        ScriptedTool::new("slow").latency_ms(1_000),
        ScriptedTool::new("queued").latency_ms(10),
    ]);
    let mut plan = Plan::new(vec![
        Call::new("bad", json!({})),
        Call::new("slow", json!({})),
        Call::new("queued", json!({})).after("slow"),
    ]);
    plan.fail_fast = true;
    let outcomes = engine.run(plan.clone()).unwrap().wait().await;
    assert_eq!(
        sentences(&plan, &outcomes),
        pairs(&[
            ("bad", "bad failed: no"),
            (
                "slow",
                "slow was cancelled by fail-fast: bad failed, and the batch stops at its first failure"
            ),
            (
                "queued",
                "queued was cancelled by fail-fast: bad failed, and the batch stops at its first failure"
            ),
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn user_cancellations_say_so() {
    let engine = Engine::builder({
        let mut registry = Registry::new();
        registry
            .register(ScriptedTool::new("polite").latency_ms(10_000))
            .unwrap()
            .register(
                ScriptedTool::new("stubborn")
                    .latency_ms(10_000)
                    .ignore_cancellation(),
            )
            .unwrap()
            .register(ScriptedTool::new("later").latency_ms(10))
            .unwrap();
        registry
    })
    .grace_period(Duration::from_millis(500))
    .build();
    let plan = Plan::new(vec![
        Call::new("polite", json!({})),
        Call::new("stubborn", json!({})),
        Call::new("later", json!({})).after("polite"),
    ]);
    let batch = engine.run(plan.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    batch.cancel();
    let outcomes = batch.wait().await;
    let by_user =
        |tool: &str| format!("{tool} was cancelled by the user (the whole batch was cancelled)");
    assert_eq!(
        sentences(&plan, &outcomes),
        [
            ("polite".to_owned(), by_user("polite")),
            ("stubborn".to_owned(), by_user("stubborn")),
            ("later".to_owned(), by_user("later")),
        ]
    );

    // One call cancelled: it says so, and its dependent says why it did not run.
    let engine = engine_of(&[("long", 1_000), ("short", 10)]);
    let plan = Plan::new(vec![
        Call::new("long", json!({})),
        Call::new("short", json!({"x": "$long"})),
        Call::new("short", json!({})).with_id("free"),
    ]);
    let batch = engine.run(plan.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    batch.cancel_call("long").await.unwrap();
    let outcomes = batch.wait().await;
    let sentences = sentences(&plan, &outcomes);
    assert_eq!(
        sentences[..2],
        pairs(&[
            ("long", "long was cancelled by the user"),
            ("short#1", "short was skipped because long was cancelled"),
        ])
    );
    assert!(sentences[2].1.starts_with("ok: "));
}

fn engine_of(tools: &[(&str, u64)]) -> Engine {
    engine(
        tools
            .iter()
            .map(|&(name, ms)| ScriptedTool::new(name).latency_ms(ms))
            .collect(),
    )
}

#[tokio::test(start_paused = true)]
async fn the_deadline_in_words() {
    let engine = engine_of(&[("fast", 10), ("slow", 10_000), ("after", 10)]);
    let mut plan = Plan::new(vec![
        Call::new("fast", json!({})),
        Call::new("slow", json!({})),
        Call::new("after", json!({})).after("slow"),
    ]);
    plan.deadline_ms = Some(3_000);
    let outcomes = engine.run(plan.clone()).unwrap().wait().await;
    let sentences = sentences(&plan, &outcomes);
    assert_eq!(
        sentences[1..],
        pairs(&[
            (
                "slow",
                "slow timed out: the batch deadline of 3000 ms passed while it ran"
            ),
            (
                "after",
                "after was skipped because the batch deadline (3000 ms) passed before it could start"
            ),
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn skips_say_why_down_to_the_root_cause() {
    let engine = engine(vec![
        ScriptedTool::new("check").output(json!({"busy": false})),
        ScriptedTool::new("act"),
        ScriptedTool::new("find")
            .latency_ms(10)
            .fail_permanently("not found"),
        ScriptedTool::new("use").latency_ms(10),
    ]);
    let mut when_busy = Call::new("act", json!({})).with_id("when_busy");
    when_busy.when = Some(Condition::parse("$check.busy").unwrap());
    let plan = Plan::new(vec![
        Call::new("check", json!({})),
        when_busy,
        Call::new("find", json!({})),
        Call::new("use", json!({"contact": "$find.id"})).with_id("direct"),
        Call::new("use", json!({"x": "$direct"})).with_id("indirect"),
    ]);
    let outcomes = engine.run(plan.clone()).unwrap().wait().await;
    assert_eq!(
        sentences(&plan, &outcomes)[1..],
        pairs(&[
            (
                "when_busy",
                "act was skipped because its condition `$check.busy` was false"
            ),
            ("find", "find failed: not found"),
            ("direct", "use was skipped because find failed"),
            (
                "indirect",
                "use was skipped because find failed (so use (call `direct`), which it needs, was skipped)"
            ),
        ])
    );
    let aggregator = Aggregator::new();
    let errors = aggregator.batch(&plan, &outcomes).errors();
    assert_eq!(
        errors.line,
        "3 of 5 calls failed: find failed: not found; use was skipped because find failed \
         (and 1 more call)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_limited_run_reports_its_queueing() {
    let mut registry = Registry::new();
    registry
        .register(ScriptedTool::new("lookup").latency_ms(100))
        .unwrap();
    let engine = Engine::builder(registry).max_concurrency(2).build();
    let plan = Plan::new(
        (0..4)
            .map(|i| Call::new("lookup", json!({"n": i})))
            .collect(),
    );
    let dag = Planner::new().plan(&plan).unwrap();
    let outcomes = engine.run(plan.clone()).unwrap().wait().await;
    let aggregator = Aggregator::new();
    let batch = aggregator.batch(&plan, &outcomes).with_dag(&dag);
    let report = batch.report();
    assert_eq!(
        (report.wall_ms, report.sequential_ms, report.speedup),
        (200, 400, 2.0)
    );
    assert_eq!(
        (
            report.peak_concurrency,
            report.critical_path_ms,
            report.efficiency
        ),
        (2, 100, 0.5)
    );
    assert_eq!(report.amdahl.concurrency, 2);
    assert_eq!(report.tools[0].utilization, 1.0);
    let timeline = batch.timeline();
    assert_eq!(timeline.lanes, 2);
    let queued: Vec<Option<u64>> = timeline.calls.iter().map(|b| b.queued_ms).collect();
    assert_eq!(queued, [Some(0); 4], "all were ready at once");
    let json: Value = serde_json::from_str(&batch.result().to_json()).unwrap();
    assert_eq!(json["summary"]["peak_concurrency"], 2);
}

#[tokio::test(start_paused = true)]
async fn retries_count_in_the_report_and_their_time_in_the_duration() {
    let mut registry = Registry::new();
    registry
        .register(
            ScriptedTool::new("crm")
                .latency_ms(10)
                .fail_on(1, ToolError::transient("503")),
        )
        .unwrap();
    let engine = Engine::builder(registry).jitter(Jitter::None).build();
    let mut call = Call::new("crm", json!({}));
    call.retry = Some(RetryPolicy {
        max_attempts: 3,
        backoff_ms: 100,
        max_backoff_ms: 1_000,
    });
    let plan = Plan::new(vec![call]);
    let outcomes = engine.run(plan.clone()).unwrap().wait().await;
    let aggregator = Aggregator::new();
    let report = aggregator.batch(&plan, &outcomes).report();
    // 0-10 fails, 100 ms backoff, 110-120 succeeds.
    assert_eq!((report.retries, report.retried_calls), (1, 1));
    assert_eq!(
        (
            report.sequential_ms,
            report.critical_path_ms,
            report.tools[0].busy_ms
        ),
        (120, 120, 120)
    );
}
