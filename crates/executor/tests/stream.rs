#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! Calls added to a running batch, as a model streams them.

use std::time::Duration;

use serde_json::json;
use volley_executor::testing::{Observer, ScriptedTool};
use volley_executor::{AddError, Engine, ErrorKind, Registry, Status};
use volley_planner::{Call, Plan};

fn engine(tools: Vec<ScriptedTool>) -> Engine {
    let mut registry = Registry::new();
    for tool in tools {
        registry.register(tool).unwrap();
    }
    Engine::new(registry)
}

#[tokio::test(start_paused = true)]
async fn streamed_calls_start_as_soon_as_their_dependencies_are_done() {
    let engine = engine(vec![
        ScriptedTool::new("find")
            .latency_ms(100)
            .output(json!({"id": 7})),
        ScriptedTool::new("crm").latency_ms(50),
    ]);
    let batch = engine.open(Plan::default()).unwrap();
    batch
        .add(Call::new("find", json!({})).with_id("f"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    // The model is still talking: this call arrives 30 ms in and waits for `f`.
    let i = batch
        .add(Call::new("crm", json!({"id": "$f.id"})).with_id("c"))
        .await
        .unwrap();
    assert_eq!(i, 1);
    tokio::time::sleep(Duration::from_millis(170)).await;
    // Independent, 200 ms in: starts at once even though the others are done.
    batch.add(Call::new("crm", json!({}))).await.unwrap();
    assert!(!batch.is_finished(), "the input is still open");
    batch.close();
    let outcomes = batch.wait().await;
    let times: Vec<(Option<u64>, u64)> = outcomes
        .iter()
        .map(|o| (o.started_at_ms, o.ended_at_ms))
        .collect();
    assert_eq!(times, [(Some(0), 100), (Some(100), 150), (Some(200), 250)]);
    assert_eq!(
        outcomes[1].output.as_ref().unwrap()["echo"],
        json!({"id": 7})
    );
    assert_eq!(
        &*outcomes[2].id, "crm",
        "the tool's name, free since the first was `c`"
    );
}

#[tokio::test(start_paused = true)]
async fn added_calls_join_a_planned_batch_and_respect_access_and_failures() {
    let observer = Observer::new();
    let engine = engine(vec![
        ScriptedTool::new("write")
            .latency_ms(100)
            .access_from("path", true)
            .observer(&observer),
        ScriptedTool::new("read")
            .latency_ms(10)
            .access_from("path", false)
            .observer(&observer),
        ScriptedTool::new("bad").fail_permanently("nope"),
    ]);
    let batch = engine
        .open(Plan::new(vec![
            Call::new("write", json!({"path": "a.txt"})),
            Call::new("bad", json!({})),
        ]))
        .unwrap();
    batch
        .add(Call::new("read", json!({"path": "a.txt"})).with_id("r"))
        .await
        .unwrap();
    batch
        .add(Call::new("read", json!({"x": "$bad"})).with_id("after_bad"))
        .await
        .unwrap();
    batch
        .add(Call::new("ghost", json!({})).with_id("g"))
        .await
        .unwrap();
    batch.close();
    let outcomes = batch.wait().await;
    assert_eq!(
        outcomes.get("r").unwrap().started_at_ms,
        Some(100),
        "read after write"
    );
    let skipped = outcomes.get("after_bad").unwrap();
    assert_eq!(skipped.status, Status::Skipped);
    assert_eq!(
        skipped.error.as_ref().unwrap().upstream.as_deref(),
        Some("bad")
    );
    assert_eq!(
        outcomes.get("g").unwrap().error_kind(),
        Some(ErrorKind::UnknownTool)
    );
}

#[tokio::test(start_paused = true)]
async fn bad_additions_are_refused_with_the_offending_data() {
    let engine = engine(vec![ScriptedTool::new("t").latency_ms(10)]);
    let batch = engine
        .open(Plan::new(vec![Call::new("t", json!({})).with_id("a")]))
        .unwrap();
    let cases = [
        (
            Call::new("t", json!({})).with_id("a"),
            "already in the batch",
        ),
        (Call::new("t", json!({})).with_id("b c"), "whitespace"),
        (Call::new("t", json!({"x": "$zzz"})), "`zzz`"),
        (Call::new("t", json!({})).after("aa"), "did you mean `a`?"),
        (Call::new("t", json!({"x": "${a"})), "args.x"),
    ];
    for (call, expected) in cases {
        let err = batch.add(call).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err} lacks {expected}");
    }
    batch.close();
    let err = batch.add(Call::new("t", json!({}))).await.unwrap_err();
    assert!(matches!(err, AddError::Closed { .. }), "{err}");
    let outcomes = batch.wait().await;
    assert_eq!(outcomes.len(), 1, "refused calls are not part of the batch");
    assert!(matches!(
        batch.add(Call::new("t", json!({}))).await.unwrap_err(),
        AddError::Closed { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_closes_the_input() {
    let engine = engine(vec![ScriptedTool::new("t").latency_ms(10)]);
    let batch = engine
        .open(Plan::new(vec![Call::new("t", json!({}))]))
        .unwrap();
    let id = batch.id();
    let bus_less = batch.clone();
    drop(batch);
    // One handle is left: the batch still takes calls.
    bus_less
        .add(Call::new("t", json!({})).with_id("second"))
        .await
        .unwrap();
    bus_less.close();
    assert_eq!(bus_less.wait().await.len(), 2);
    assert_eq!(bus_less.id(), id);
}
