#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! What happens when tools misbehave: retries, timeouts, the deadline, cancellation, fail-fast,
//! the cascade, panics, unknown tools, bad arguments.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use volley_executor::testing::{Observer, ScriptedTool};
use volley_executor::{Engine, ErrorKind, Jitter, Registry, Status, ToolError};
use volley_planner::{Call, OnDependencyFailure, Plan, RetryPolicy};
use volley_progress::EventKind;

fn registry(tools: Vec<ScriptedTool>) -> Registry {
    let mut registry = Registry::new();
    for tool in tools {
        registry.register(tool).unwrap();
    }
    registry
}

fn engine(tools: Vec<ScriptedTool>) -> Engine {
    Engine::new(registry(tools))
}

fn retry(max_attempts: u32, backoff_ms: u64) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        backoff_ms,
        max_backoff_ms: 10_000,
    }
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_with_exponential_delays_and_announced() {
    let observer = Observer::new();
    let tool = ScriptedTool::new("crm")
        .latency_ms(10)
        .fail_on(1, ToolError::transient("503"))
        .fail_on(2, ToolError::timeout("upstream timed out"))
        .observer(&observer);
    let engine = Engine::builder(registry(vec![tool]))
        .jitter(Jitter::None)
        .progress(true)
        .build();
    let mut call = Call::new("crm", json!({}));
    call.retry = Some(retry(3, 100));
    let batch = engine.run(Plan::new(vec![call])).unwrap();
    let mut events = batch.subscribe_lossless().await.unwrap();
    let outcomes = batch.wait().await;
    assert_eq!(outcomes[0].status, Status::Ok);
    assert_eq!(outcomes[0].attempts, 3);
    let starts: Vec<Duration> = observer
        .log()
        .iter()
        .map(|s| s.started - observer.log()[0].started)
        .collect();
    // 0-10 fails, +100 ms; 110-120 fails, +200 ms; 320-330 succeeds.
    assert_eq!(
        starts,
        [0, 110, 320].map(Duration::from_millis),
        "delays of 100 then 200 ms"
    );
    assert_eq!(outcomes[0].ended_at_ms, 330);
    let mut retries = Vec::new();
    while let Some(event) = events.recv().await {
        if let EventKind::Retrying { attempt, delay_ms } = event.kind {
            retries.push((event.at_ms, attempt, delay_ms));
        }
    }
    assert_eq!(retries, [(10, 2, 100), (120, 3, 200)]);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_policy_and_permanent_errors_are_not_retried() {
    let flaky = ScriptedTool::new("flaky").fail_always(ToolError::transient("down"));
    let broken = ScriptedTool::new("broken").fail_permanently("bad request");
    let (flaky_n, broken_n) = (flaky.attempts(), broken.attempts());
    let engine = Engine::builder(registry(vec![flaky, broken]))
        .default_retry(Some(retry(4, 10)))
        .build();
    let plan = Plan::new(vec![
        Call::new("flaky", json!({})),
        Call::new("broken", json!({})),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(flaky_n.load(Ordering::Relaxed), 4);
    assert_eq!(broken_n.load(Ordering::Relaxed), 1);
    assert_eq!(outcomes[0].error_kind(), Some(ErrorKind::Transient));
    assert_eq!(outcomes[0].attempts, 4);
    assert_eq!(outcomes[1].error_kind(), Some(ErrorKind::Permanent));
    assert_eq!(outcomes[1].message(), Some("bad request"));
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_gives_the_same_delays_every_run() {
    let run = || async {
        let tool = ScriptedTool::new("flaky").fail_always(ToolError::transient("down"));
        let engine = Engine::builder(registry(vec![tool]))
            .default_retry(Some(retry(4, 100)))
            .seed(7)
            .build();
        let outcomes = engine
            .run(Plan::new(vec![Call::new("flaky", json!({}))]))
            .unwrap()
            .wait()
            .await;
        outcomes[0].ended_at_ms
    };
    let first = run().await;
    assert_eq!(first, run().await);
    // Equal jitter: each delay is between half and all of 100, 200, 400.
    assert!((350..=700).contains(&first), "{first}");
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_timeout_times_out_and_may_be_retried() {
    let slow = ScriptedTool::new("slow").latency_ms(1_000);
    let attempts = slow.attempts();
    let tool_timeout = ScriptedTool::new("tool_timeout")
        .latency_ms(500)
        .timeout(Duration::from_millis(50));
    let engine = Engine::builder(registry(vec![slow, tool_timeout]))
        .jitter(Jitter::None)
        .build();
    let mut call = Call::new("slow", json!({}));
    call.timeout_ms = Some(100);
    call.retry = Some(retry(2, 10));
    let plan = Plan::new(vec![call, Call::new("tool_timeout", json!({}))]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(outcomes[0].status, Status::Timeout);
    assert_eq!(outcomes[0].error_kind(), Some(ErrorKind::Timeout));
    assert_eq!(outcomes[0].attempts, 2);
    assert_eq!(
        outcomes[0].ended_at_ms, 210,
        "100 ms, a 10 ms pause, 100 ms"
    );
    assert_eq!(attempts.load(Ordering::Relaxed), 2);
    assert_eq!(outcomes[1].status, Status::Timeout);
    assert_eq!(outcomes[1].ended_at_ms, 50, "the tool's own timeout");
    assert!(outcomes[1].message().unwrap().contains("50 ms"));
}

#[tokio::test(start_paused = true)]
async fn at_the_deadline_the_partial_results_come_back_at_once() {
    let engine = engine(vec![
        ScriptedTool::new("fast").latency_ms(1_000),
        ScriptedTool::new("slow")
            .latency_ms(5_000)
            .ignore_cancellation(),
        ScriptedTool::new("after").latency_ms(10),
    ]);
    let mut plan = Plan::new(vec![
        Call::new("fast", json!({})).with_id("one"),
        Call::new("fast", json!({})).with_id("two"),
        Call::new("slow", json!({})),
        Call::new("after", json!({})).after("slow"),
    ]);
    plan.deadline_ms = Some(3_000);
    let start = tokio::time::Instant::now();
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(3_000),
        "not a moment later"
    );
    assert_eq!(outcomes.count(Status::Ok), 2, "I got two of three");
    assert_eq!(outcomes[2].status, Status::Timeout);
    assert_eq!(outcomes[2].error_kind(), Some(ErrorKind::DeadlineExceeded));
    assert_eq!(outcomes[2].ended_at_ms, 3_000);
    assert_eq!(outcomes[3].status, Status::Skipped);
    assert_eq!(outcomes[3].error_kind(), Some(ErrorKind::DeadlineExceeded));
}

#[tokio::test(start_paused = true)]
async fn cancel_accounts_for_every_call_within_the_grace_period() {
    let observer = Observer::new();
    let engine = Engine::builder(registry(vec![
        ScriptedTool::new("polite")
            .latency_ms(10_000)
            .observer(&observer),
        ScriptedTool::new("stubborn")
            .latency_ms(10_000)
            .ignore_cancellation()
            .observer(&observer),
        ScriptedTool::new("later").latency_ms(10),
    ]))
    .grace_period(Duration::from_millis(500))
    .build();
    let plan = Plan::new(vec![
        Call::new("polite", json!({})),
        Call::new("stubborn", json!({})),
        Call::new("later", json!({})).after("polite"),
    ]);
    let batch = engine.run(plan).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let barge_in = tokio::time::Instant::now();
    batch.cancel();
    let outcomes = batch.wait().await;
    assert_eq!(
        barge_in.elapsed(),
        Duration::from_millis(500),
        "the grace period, no more"
    );
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes.iter().all(|o| o.status == Status::Cancelled),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[0].ended_at_ms, 200,
        "the polite tool stopped at once"
    );
    assert_eq!(outcomes[1].ended_at_ms, 700, "the stubborn one was dropped");
    assert!(outcomes[1].message().unwrap().contains("grace period"));
    assert_eq!(outcomes[2].attempts, 0);
    assert_eq!(observer.in_flight(), 0, "nothing keeps running");
}

#[tokio::test(start_paused = true)]
async fn cancelling_one_call_skips_its_dependents_only() {
    let engine = engine(vec![
        ScriptedTool::new("long").latency_ms(1_000),
        ScriptedTool::new("short").latency_ms(10),
    ]);
    let plan = Plan::new(vec![
        Call::new("long", json!({})),
        Call::new("short", json!({"x": "$long"})),
        Call::new("short", json!({})).with_id("free"),
    ]);
    let batch = engine.run(plan).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        batch.cancel_call("nope").await,
        Err(volley_executor::CancelError::UnknownCall { id: "nope".into() })
    );
    assert_eq!(
        batch.cancel_call("free").await,
        Err(volley_executor::CancelError::AlreadyFinished { id: "free".into() })
    );
    batch.cancel_call("long").await.unwrap();
    let outcomes = batch.wait().await;
    assert_eq!(outcomes[0].status, Status::Cancelled);
    assert_eq!(outcomes[0].ended_at_ms, 100);
    assert_eq!(outcomes[1].status, Status::Skipped);
    assert_eq!(
        outcomes[1].error.as_ref().unwrap().upstream.as_deref(),
        Some("long")
    );
    assert_eq!(outcomes[2].status, Status::Ok);
    assert_eq!(
        batch.cancel_call("free").await,
        Err(volley_executor::CancelError::BatchFinished)
    );
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_the_rest_naming_the_failure() {
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
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(outcomes[0].status, Status::Error);
    for o in &outcomes[1..] {
        assert_eq!(o.status, Status::Cancelled);
        assert_eq!(o.ended_at_ms, 50);
        assert_eq!(o.error.as_ref().unwrap().upstream.as_deref(), Some("bad"));
    }
}

#[tokio::test(start_paused = true)]
async fn failures_cascade_to_dependents_unless_they_run_anyway() {
    let engine = engine(vec![
        ScriptedTool::new("find")
            .latency_ms(10)
            .fail_permanently("not found"),
        ScriptedTool::new("use").latency_ms(10),
        ScriptedTool::new("order_only")
            .latency_ms(10)
            .access_from("file", true),
    ]);
    let mut anyway = Call::new("use", json!({"contact": "$find.id"})).with_id("anyway");
    anyway.on_dependency_failure = OnDependencyFailure::Run;
    let plan = Plan::new(vec![
        Call::new("find", json!({})).access(volley_planner::AccessKey::write("f")),
        Call::new("use", json!({"contact": "$find.id"})).with_id("direct"),
        Call::new("use", json!({"x": "$direct"})).with_id("indirect"),
        anyway,
        Call::new("order_only", json!({"file": "f"})),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    let direct = &outcomes[1];
    assert_eq!(direct.status, Status::Skipped);
    assert_eq!(direct.error_kind(), Some(ErrorKind::DependencyFailed));
    assert_eq!(
        direct.message(),
        Some("not run: the call `find` it depends on failed")
    );
    assert_eq!(
        outcomes[2].error.as_ref().unwrap().upstream.as_deref(),
        Some("direct")
    );
    assert_eq!(
        outcomes[2].message(),
        Some("not run: the call `direct` it depends on was skipped")
    );
    assert_eq!(
        outcomes[3].status,
        Status::Ok,
        "it ran with the failure visible"
    );
    assert_eq!(
        outcomes[3].output.as_ref().unwrap()["echo"]["contact"]["error"]["kind"],
        "permanent"
    );
    assert_eq!(
        outcomes[4].status,
        Status::Ok,
        "an access-only edge orders but does not cascade"
    );
    assert_eq!(outcomes[4].started_at_ms, Some(10));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_tool_fails_alone() {
    let engine = engine(vec![
        ScriptedTool::new("boom")
            .latency_ms(10)
            .panic_on(1, "index out of bounds"),
        ScriptedTool::new("fine").latency_ms(20),
        ScriptedTool::new("instant_boom").panic_on(1, "at once"),
    ]);
    let plan = Plan::new(vec![
        Call::new("boom", json!({})),
        Call::new("fine", json!({})),
        Call::new("instant_boom", json!({})),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(outcomes[0].error_kind(), Some(ErrorKind::Panic));
    assert_eq!(
        outcomes[0].message(),
        Some("the tool panicked: index out of bounds")
    );
    assert_eq!(outcomes[1].status, Status::Ok);
    assert_eq!(outcomes[2].message(), Some("the tool panicked: at once"));
    // The engine goes on.
    let again = engine
        .run(Plan::new(vec![Call::new("fine", json!({}))]))
        .unwrap()
        .wait()
        .await;
    assert!(again[0].is_ok());
}

#[tokio::test(start_paused = true)]
async fn unknown_tools_and_bad_arguments_fail_alone_and_the_tool_never_runs() {
    let strict = ScriptedTool::new("get_weather").schema(json!({
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"]
    }));
    let attempts = strict.attempts();
    let engine = engine(vec![strict, ScriptedTool::new("check_calendar")]);
    let plan = Plan::new(vec![
        Call::new("get_wether", json!({"city": "Paris"})),
        Call::new("get_weather", json!({"city": 75})),
        Call::new("get_weather", json!({"city": "Paris"})).with_id("good"),
        Call::new("check_calendar", json!({})),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(outcomes[0].error_kind(), Some(ErrorKind::UnknownTool));
    assert_eq!(
        outcomes[0].message(),
        Some("no tool named `get_wether` is available; did you mean `get_weather`?")
    );
    assert_eq!(outcomes[0].attempts, 0);
    assert_eq!(outcomes[1].error_kind(), Some(ErrorKind::InvalidArguments));
    let message = outcomes[1].message().unwrap();
    assert!(
        message.contains("/city") && message.contains("string"),
        "{message}"
    );
    assert_eq!(outcomes[2].status, Status::Ok);
    assert_eq!(outcomes[3].status, Status::Ok);
    assert_eq!(
        attempts.load(Ordering::Relaxed),
        1,
        "only the valid call ran"
    );
}

#[tokio::test(start_paused = true)]
async fn a_false_condition_skips_with_the_reason() {
    let engine = engine(vec![
        ScriptedTool::new("check").output(json!({"busy": false, "items": []})),
        ScriptedTool::new("act"),
    ]);
    let mut when_busy = Call::new("act", json!({})).with_id("when_busy");
    when_busy.when = Some(volley_planner::Condition::parse("$check.busy").unwrap());
    let mut when_free = Call::new("act", json!({})).with_id("when_free");
    when_free.when = Some(volley_planner::Condition::parse("!$check.busy").unwrap());
    let plan = Plan::new(vec![Call::new("check", json!({})), when_busy, when_free]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(outcomes[1].status, Status::Skipped);
    assert_eq!(outcomes[1].error_kind(), Some(ErrorKind::ConditionFalse));
    assert_eq!(
        outcomes[1].message(),
        Some("not run: its condition `$check.busy` is false")
    );
    assert_eq!(outcomes[2].status, Status::Ok);
}

#[tokio::test(start_paused = true)]
async fn an_unresolvable_reference_is_invalid_arguments() {
    let engine = engine(vec![
        ScriptedTool::new("find").output(json!({"name": "x"})),
        ScriptedTool::new("use"),
    ]);
    let plan = Plan::new(vec![
        Call::new("find", json!({})),
        Call::new("use", json!({"id": "$find.id"})),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert_eq!(outcomes[1].error_kind(), Some(ErrorKind::InvalidArguments));
    assert!(
        outcomes[1].message().unwrap().contains("args.id"),
        "{:?}",
        outcomes[1].message()
    );
}

#[test]
fn running_outside_a_runtime_is_an_error() {
    let engine = engine(vec![]);
    let err = engine.run(Plan::default()).unwrap_err();
    assert!(matches!(err, volley_executor::RunError::NoRuntime));
}

#[tokio::test]
async fn an_invalid_plan_lists_its_problems() {
    let engine = engine(vec![ScriptedTool::new("t")]);
    let plan = Plan::new(vec![Call::new("t", json!({"x": "$nope"}))]);
    let err = engine.run(plan).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
