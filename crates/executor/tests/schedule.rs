#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! Scheduling: parallelism, dependencies, limits, locks, rate limits, priorities, strategies.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use volley_executor::testing::{Observer, ScriptedTool};
use volley_executor::{Engine, Registry, Resources, Status};
use volley_planner::{AccessKey, Call, Plan, Priority, Strategy};
use volley_resources::{RateLimit, ResourceManager};

fn engine(tools: Vec<ScriptedTool>) -> Engine {
    let mut registry = Registry::new();
    for tool in tools {
        registry.register(tool).unwrap();
    }
    Engine::new(registry)
}

fn ends(outcomes: &[volley_executor::Outcome]) -> Vec<(String, Option<u64>, u64)> {
    outcomes
        .iter()
        .map(|o| (o.id.to_string(), o.started_at_ms, o.ended_at_ms))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn three_independent_calls_finish_with_the_slowest() {
    let engine = engine(vec![
        ScriptedTool::new("a").latency_ms(100),
        ScriptedTool::new("b").latency_ms(200),
        ScriptedTool::new("c").latency_ms(150),
    ]);
    let plan = Plan::new(vec![
        Call::new("a", json!({})),
        Call::new("b", json!({})),
        Call::new("c", json!({})),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(
        ends(&outcomes),
        [
            ("a".into(), Some(0), 100),
            ("b".into(), Some(0), 200),
            ("c".into(), Some(0), 150)
        ]
    );
    assert_eq!(outcomes.elapsed_ms(), 200);
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == Status::Ok && o.attempts == 1)
    );
    assert_eq!(outcomes[1].duration_ms, 200);
}

#[tokio::test(start_paused = true)]
async fn dependencies_run_in_three_waves_with_outputs_substituted() {
    let engine = engine(vec![
        ScriptedTool::new("find_contact")
            .latency_ms(200)
            .output(json!({"id": 42, "name": "John"})),
        ScriptedTool::new("check_crm").latency_ms(300),
        ScriptedTool::new("check_calendar")
            .latency_ms(500)
            .output(json!({"free": ["10:00", "14:00"]})),
        ScriptedTool::new("send_invite").latency_ms(100),
    ]);
    let plan = Plan::new(vec![
        Call::new("find_contact", json!({"email": "john@example.com"})),
        Call::new(
            "check_crm",
            json!({"contact_id": "$find_contact.id", "note": "for ${find_contact.name}"}),
        ),
        Call::new("check_calendar", json!({"who": "${find_contact.name}"})),
        Call::new("send_invite", json!({"slot": "$check_calendar.free[0]"})).after("check_crm"),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(
        ends(&outcomes),
        [
            ("find_contact".into(), Some(0), 200),
            ("check_crm".into(), Some(200), 500),
            ("check_calendar".into(), Some(200), 700),
            ("send_invite".into(), Some(700), 800)
        ]
    );
    let echo = |i: usize| outcomes[i].output.as_ref().unwrap()["echo"].clone();
    assert_eq!(echo(1), json!({"contact_id": 42, "note": "for John"}));
    assert_eq!(echo(3), json!({"slot": "10:00"}));
    assert_eq!(outcomes[3].queued_at_ms, Some(700));
}

#[tokio::test(start_paused = true)]
async fn the_plan_limit_caps_calls_in_flight() {
    let observer = Observer::new();
    let engine = engine(vec![
        ScriptedTool::new("work").latency_ms(10).observer(&observer),
    ]);
    let mut plan = Plan::new((0..25).map(|_| Call::new("work", json!({}))).collect());
    plan.max_concurrency = Some(4);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(observer.peak(), 4);
    assert_eq!(
        outcomes.elapsed_ms(),
        70,
        "25 calls, 4 at a time: 7 rounds of 10 ms"
    );
    assert_eq!(observer.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_default_limit_is_ten() {
    let observer = Observer::new();
    let engine = engine(vec![
        ScriptedTool::new("work").latency_ms(10).observer(&observer),
    ]);
    let plan = Plan::new((0..30).map(|_| Call::new("work", json!({}))).collect());
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(observer.peak(), 10);
    assert_eq!(outcomes.elapsed_ms(), 30);
}

#[tokio::test(start_paused = true)]
async fn locks_tool_caps_and_rate_limits_come_from_the_backend() {
    let observer = Observer::new();
    let manager = ResourceManager::builder()
        .tool_concurrency("crm", 2)
        .rate_limit("mail", RateLimit::per_second(10).burst(1))
        .build()
        .unwrap();
    let mut registry = Registry::new();
    registry
        .register(ScriptedTool::new("crm").latency_ms(100).observer(&observer))
        .unwrap()
        .register(ScriptedTool::new("mail").observer(&observer))
        .unwrap()
        .register(
            ScriptedTool::new("editor")
                .latency_ms(50)
                .observer(&observer)
                .resources(Resources {
                    locks: vec![AccessKey::write("doc")],
                    ..Resources::default()
                }),
        )
        .unwrap();
    let engine = Engine::builder(registry)
        .resources(Arc::new(manager.clone()))
        .build();
    let mut calls: Vec<Call> = (0..6).map(|_| Call::new("crm", json!({}))).collect();
    calls.extend((0..3).map(|_| Call::new("mail", json!({}))));
    calls.extend((0..3).map(|_| Call::new("editor", json!({}))));
    let outcomes = engine.run(Plan::new(calls)).unwrap().wait().await;
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert_eq!(observer.peak_of("crm"), 2, "the tool cap");
    assert_eq!(observer.peak_of("editor"), 1, "the write lock");
    let crm_ends: Vec<u64> = outcomes[..6].iter().map(|o| o.ended_at_ms).collect();
    assert_eq!(crm_ends, [100, 100, 200, 200, 300, 300]);
    let mail_starts: Vec<u64> = outcomes[6..9]
        .iter()
        .map(|o| o.started_at_ms.unwrap())
        .collect();
    assert_eq!(mail_starts, [0, 100, 200], "10 per second, burst 1");
    assert!(manager.snapshot().is_idle(), "every permit was released");
}

#[tokio::test(start_paused = true)]
async fn a_write_then_a_read_of_one_file_run_in_order() {
    let engine = engine(vec![
        ScriptedTool::new("write_file")
            .latency_ms(100)
            .access_from("path", true),
        ScriptedTool::new("read_file")
            .latency_ms(10)
            .access_from("path", false),
    ]);
    let plan = Plan::new(vec![
        Call::new("write_file", json!({"path": "config.json"})),
        Call::new("read_file", json!({"path": "config.json"})),
        Call::new("read_file", json!({"path": "other.json"})),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(outcomes[1].started_at_ms, Some(100), "waits for the writer");
    assert_eq!(outcomes[2].started_at_ms, Some(0), "another file does not");
}

#[tokio::test(start_paused = true)]
async fn a_tool_that_is_not_concurrency_safe_runs_alone() {
    let observer = Observer::new();
    let engine = engine(vec![
        ScriptedTool::new("read").latency_ms(10).observer(&observer),
        ScriptedTool::new("bash")
            .latency_ms(10)
            .not_concurrency_safe()
            .observer(&observer),
    ]);
    let plan = Plan::new(vec![
        Call::new("read", json!({"n": 1})),
        Call::new("read", json!({"n": 2})),
        Call::new("bash", json!({})),
        Call::new("read", json!({"n": 3})),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    let starts: Vec<u64> = outcomes.iter().map(|o| o.started_at_ms.unwrap()).collect();
    assert_eq!(starts, [0, 0, 10, 20]);
    let log = observer.log();
    let bash = log.iter().find(|s| s.tool == "bash").unwrap();
    for other in log.iter().filter(|s| s.tool != "bash") {
        assert!(
            other.ended.unwrap() <= bash.started || other.started >= bash.ended.unwrap(),
            "{other:?} overlaps {bash:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn ready_calls_start_by_priority_then_longest_remaining_path() {
    let observer = Observer::new();
    let engine = engine(vec![
        ScriptedTool::new("t").latency_ms(10).observer(&observer),
    ]);
    let mut calls = vec![
        Call::new("t", json!({})).with_id("low"),
        Call::new("t", json!({})).with_id("short").estimated_ms(10),
        Call::new("t", json!({})).with_id("long").estimated_ms(500),
        Call::new("t", json!({})).with_id("urgent"),
    ];
    calls[0].priority = Priority::Low;
    calls[3].priority = Priority::Critical;
    let mut plan = Plan::new(calls);
    plan.max_concurrency = Some(1);
    engine.run(plan).unwrap().wait().await;
    let order: Vec<String> = observer.log().into_iter().map(|s| s.call).collect();
    assert_eq!(order, ["urgent", "long", "short", "low"]);
}

#[tokio::test(start_paused = true)]
async fn strategies_change_the_order_and_the_spread() {
    // (strategy, expected start times of [a: 100 ms, b -> after a: 100 ms, c: 300 ms, d: 50 ms])
    for (strategy, limit, starts) in [
        (Strategy::Parallel, None, [0, 100, 0, 0]),
        (Strategy::Sequential, None, [0, 100, 200, 500]),
        (Strategy::Latency, Some(1), [300, 400, 0, 500]),
    ] {
        let engine = engine(vec![
            ScriptedTool::new("a").latency_ms(100),
            ScriptedTool::new("b").latency_ms(100),
            ScriptedTool::new("c").latency_ms(300),
            ScriptedTool::new("d").latency_ms(50),
        ]);
        let mut plan = Plan::new(vec![
            Call::new("a", json!({})).estimated_ms(100),
            Call::new("b", json!({})).after("a").estimated_ms(100),
            Call::new("c", json!({})).estimated_ms(300),
            Call::new("d", json!({})).estimated_ms(50),
        ]);
        plan.strategy = strategy;
        plan.max_concurrency = limit;
        let outcomes = engine.run(plan).unwrap().wait().await;
        let got: Vec<u64> = outcomes.iter().map(|o| o.started_at_ms.unwrap()).collect();
        assert_eq!(got, starts, "{strategy}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_priority_strategy_runs_each_tier_after_the_more_urgent_ones() {
    let engine = engine(vec![
        ScriptedTool::new("slow").latency_ms(100),
        ScriptedTool::new("fast").latency_ms(10),
    ]);
    let mut calls = vec![
        Call::new("fast", json!({})).with_id("background"),
        Call::new("slow", json!({})).with_id("high"),
        Call::new("fast", json!({})).with_id("normal"),
        // A critical call waiting for a background one lifts it (no deadlock).
        Call::new("fast", json!({})).with_id("lifted"),
        Call::new("fast", json!({}))
            .with_id("critical")
            .after("lifted"),
    ];
    calls[0].priority = Priority::Background;
    calls[1].priority = Priority::High;
    calls[3].priority = Priority::Background;
    calls[4].priority = Priority::Critical;
    let mut plan = Plan::new(calls);
    plan.strategy = Strategy::Priority;
    let outcomes = engine.run(plan).unwrap().wait().await;
    let start = |id: &str| outcomes.get(id).unwrap().started_at_ms.unwrap();
    assert_eq!(start("lifted"), 0);
    assert_eq!(start("critical"), 10);
    assert_eq!(start("high"), 20, "after the critical tier");
    assert_eq!(start("normal"), 120, "after the high tier");
    assert_eq!(start("background"), 130);
}

#[tokio::test(start_paused = true)]
async fn hybrid_retries_failed_calls_alone_after_the_parallel_phase() {
    let observer = Observer::new();
    let engine = engine(vec![
        ScriptedTool::new("flaky")
            .latency_ms(10)
            .fail_on(1, volley_executor::ToolError::transient("busy"))
            .observer(&observer),
        ScriptedTool::new("ok").latency_ms(50).observer(&observer),
    ]);
    let mut plan = Plan::new(vec![
        Call::new("flaky", json!({"n": 1})),
        Call::new("flaky", json!({"n": 2})),
        Call::new("ok", json!({})),
        Call::new("ok", json!({"after": "$flaky#1.echo"})),
    ]);
    plan.strategy = Strategy::Hybrid;
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .map(|o| (o.attempts, o.ended_at_ms))
            .collect::<Vec<_>>(),
        [(2, 60), (2, 70), (1, 50), (1, 120)],
        "the second attempts, then the dependent, run one at a time once the parallel phase (50 ms) is over"
    );
    let second: Vec<_> = observer
        .log()
        .into_iter()
        .filter(|s| s.attempt == 2)
        .collect();
    assert!(second[0].ended.unwrap() <= second[1].started);
}

#[tokio::test(start_paused = true)]
async fn a_spawned_tool_runs_on_its_own_task() {
    let engine = engine(vec![ScriptedTool::new("heavy").latency_ms(30).spawned()]);
    let plan = Plan::new(vec![Call::new("heavy", json!({"x": 1}))]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(outcomes[0].status, Status::Ok);
    assert_eq!(outcomes[0].ended_at_ms, 30);
    let _ = Duration::ZERO;
}

#[test]
fn engines_and_handles_are_shareable() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Engine>();
    shareable::<volley_executor::BatchHandle>();
    shareable::<volley_executor::Outcomes>();
    shareable::<Registry>();
}

#[tokio::test(start_paused = true)]
async fn outcomes_serialize_to_the_contract() {
    let engine = engine(vec![
        ScriptedTool::new("find")
            .latency_ms(100)
            .output(json!({"id": 1})),
        ScriptedTool::new("bad").fail_permanently("nope"),
        ScriptedTool::new("use"),
    ]);
    let plan = Plan::new(vec![
        Call::new("find", json!({})),
        Call::new("bad", json!({})),
        Call::new("use", json!({"x": "$bad"})).with_id("after"),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    let json: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| serde_json::from_str(&o.to_json()).unwrap())
        .collect();
    assert_eq!(
        json[0],
        json!({"index": 0, "id": "find", "tool": "find", "status": "ok", "output": {"id": 1},
            "attempts": 1, "queued_at_ms": 0, "started_at_ms": 0, "ended_at_ms": 100,
            "duration_ms": 100})
    );
    assert_eq!(
        json[1]["error"],
        json!({"kind": "permanent", "message": "nope"})
    );
    assert_eq!(
        json[2],
        json!({"index": 2, "id": "after", "tool": "use", "status": "skipped",
            "error": {"kind": "dependency_failed",
                "message": "not run: the call `bad` it depends on failed", "upstream": "bad"},
            "attempts": 0, "ended_at_ms": 0, "duration_ms": 0})
    );
    let back: volley_executor::Outcome = serde_json::from_value(json[2].clone()).unwrap();
    assert_eq!(back, outcomes[2]);
}
