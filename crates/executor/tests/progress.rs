#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! Progress: events from the start, a late subscriber's catch-up, snapshots, tool reports.

use std::time::Duration;

use serde_json::json;
use volley_executor::testing::ScriptedTool;
use volley_executor::{Engine, Registry};
use volley_planner::{Call, Plan};
use volley_progress::{CallStatus, EventKind, Received};

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .register(ScriptedTool::new("pages").latency_ms(400).progress_steps(4))
        .unwrap()
        .register(ScriptedTool::new("quick").latency_ms(50))
        .unwrap();
    registry
}

fn plan() -> Plan {
    Plan::new(vec![
        Call::new("pages", json!({})),
        Call::new("quick", json!({})).with_id("quick"),
        Call::new("quick", json!({}))
            .with_id("after")
            .after("quick"),
    ])
}

#[tokio::test(start_paused = true)]
async fn with_progress_from_the_start_subscribers_see_every_event_in_time() {
    let engine = Engine::builder(registry()).progress(true).build();
    let batch = engine.run(plan()).unwrap();
    // A display subscriber starts from the bus's kept window: everything since the start.
    let mut events = batch.subscribe().await.unwrap();
    let outcomes = batch.wait().await;
    assert_eq!(outcomes.count(volley_executor::Status::Ok), 3);
    let mut seen = Vec::new();
    while let Some(received) = events.recv().await {
        let Received::Event(event) = received else {
            panic!("no event is dropped for a display subscriber that keeps up: {received:?}");
        };
        let what = match &event.kind {
            EventKind::Progress { fraction, .. } => format!("progress {fraction}"),
            other => other.name().to_owned(),
        };
        seen.push((event.at_ms, event.call.to_string(), what));
    }
    let of = |call: &str| -> Vec<(u64, String)> {
        seen.iter()
            .filter(|(_, c, _)| c == call)
            .map(|(at, _, what)| (*at, what.clone()))
            .collect()
    };
    assert_eq!(
        of("pages"),
        [
            (0, "queued".to_owned()),
            (0, "started".to_owned()),
            (100, "progress 0.25".to_owned()),
            (200, "progress 0.5".to_owned()),
            (300, "progress 0.75".to_owned()),
            (400, "progress 1".to_owned()),
            (400, "completed".to_owned()),
        ]
    );
    assert_eq!(
        of("after"),
        [
            (50, "queued".into()),
            (50, "started".into()),
            (100, "completed".into())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_late_subscriber_gets_a_catch_up_then_live_events() {
    let engine = Engine::new(registry());
    let batch = engine.run(plan()).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut events = batch.subscribe_lossless().await.unwrap();
    let snapshot = batch.snapshot().await.unwrap();
    assert_eq!(
        snapshot.call("quick").unwrap().status,
        CallStatus::Completed
    );
    assert_eq!(
        snapshot.call("after").unwrap().status,
        CallStatus::Completed
    );
    assert_eq!(snapshot.call("pages").unwrap().status, CallStatus::Running);
    batch.wait().await;
    let mut kinds = Vec::new();
    while let Some(event) = events.recv().await {
        kinds.push((event.call.to_string(), event.kind.name()));
    }
    assert_eq!(
        &kinds[..3],
        [
            ("pages".to_owned(), "queued"),
            ("pages".to_owned(), "started"),
            ("quick".to_owned(), "queued")
        ]
    );
    assert_eq!(kinds.last().unwrap(), &("pages".to_owned(), "completed"));
    assert!(
        kinds.contains(&("pages".to_owned(), "progress")),
        "live reports after the catch-up"
    );
    let done = batch.snapshot().await.unwrap();
    assert!(done.finished);
}

#[tokio::test(start_paused = true)]
async fn a_batch_nobody_watched_has_no_bus() {
    let engine = Engine::new(registry());
    let batch = engine.run(plan()).unwrap();
    batch.wait().await;
    tokio::task::yield_now().await;
    assert!(batch.bus().is_none());
    assert!(batch.snapshot().await.is_none());
}
