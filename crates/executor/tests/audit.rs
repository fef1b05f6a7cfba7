#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! The audit log: every call's lifecycle reaches the JSON Lines file, panics and
//! cancellations included, with secrets redacted.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use volley_executor::testing::ScriptedTool;
use volley_executor::{Engine, JsonLinesSink, Registry, ToolError};
use volley_planner::{Call, Plan, RetryPolicy};

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn every_step_of_every_call_is_appended_and_secrets_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut registry = Registry::new();
    registry
        .register(
            ScriptedTool::new("login")
                .latency_ms(10)
                .redact(&["password"]),
        )
        .unwrap()
        .register(
            ScriptedTool::new("flaky")
                .latency_ms(10)
                .fail_on(1, ToolError::transient("503")),
        )
        .unwrap()
        .register(
            ScriptedTool::new("boom")
                .latency_ms(5)
                .panic_on(1, "kaboom"),
        )
        .unwrap()
        .register(
            ScriptedTool::new("hang")
                .latency_ms(60_000)
                .ignore_cancellation(),
        )
        .unwrap();
    let sink = Arc::new(JsonLinesSink::append(&path).unwrap());
    let engine = Engine::builder(registry)
        .audit(sink.clone())
        .grace_period(Duration::from_millis(100))
        .build();
    let mut flaky = Call::new("flaky", json!({}));
    flaky.retry = Some(RetryPolicy {
        max_attempts: 2,
        backoff_ms: 20,
        max_backoff_ms: 20,
    });
    let plan = Plan::new(vec![
        Call::new("login", json!({"user": "ann", "password": "hunter2"})),
        flaky,
        Call::new("boom", json!({})),
        Call::new("hang", json!({})),
        Call::new("missing", json!({})),
    ]);
    let batch = engine.run(plan).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    batch.cancel();
    let outcomes = batch.wait().await;
    assert_eq!(outcomes.len(), 5);

    let records = lines(&path);
    assert!(!std::fs::read_to_string(&path).unwrap().contains("hunter2"));
    let of = |call: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r["call"] == call)
            .map(|r| r["event"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(of("login"), ["submitted", "started", "finished"]);
    assert_eq!(
        of("flaky"),
        [
            "submitted",
            "started",
            "attempt_failed",
            "started",
            "finished"
        ]
    );
    assert_eq!(of("boom"), ["submitted", "started", "finished"]);
    assert_eq!(of("hang"), ["submitted", "started", "finished"]);
    assert_eq!(of("missing"), ["submitted", "finished"]);
    let started = records
        .iter()
        .find(|r| r["call"] == "login" && r["event"] == "started")
        .unwrap();
    assert_eq!(
        started["args"],
        json!({"user": "ann", "password": "[redacted]"})
    );
    let retry = records
        .iter()
        .find(|r| r["event"] == "attempt_failed")
        .unwrap();
    assert!(retry["retry_in_ms"].as_u64().unwrap() <= 20);
    let finished = |call: &str| {
        records
            .iter()
            .find(|r| r["call"] == call && r["event"] == "finished")
            .unwrap()
            .clone()
    };
    assert_eq!(finished("boom")["kind"], "panic");
    assert_eq!(finished("hang")["status"], "cancelled");
    assert_eq!(finished("missing")["kind"], "unknown_tool");
    assert!(records.iter().all(|r| r["batch"] == json!(batch.id())));
    assert_eq!(sink.failures(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_sink_appends_to_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
    let mut registry = Registry::new();
    registry.register(ScriptedTool::new("t")).unwrap();
    let engine = Engine::builder(registry)
        .clear_audit()
        .audit(Arc::new(JsonLinesSink::append(&path).unwrap().sync(true)))
        .build();
    engine
        .run(Plan::new(vec![Call::new("t", json!({}))]))
        .unwrap()
        .wait()
        .await;
    let records = lines(&path);
    assert_eq!(records[0], json!({"earlier": true}));
    assert_eq!(records.len(), 4);
}
