#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! The bus: lossless and display subscribers, lag, resync, resumption, closing, details, time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use volley_planner::{Call, Plan, Planner};
use volley_progress::{
    Bus, Event, EventKind, Heartbeats, Narrator, Received, Reporter, Roster, TryRecvError,
};

fn roster(tools: &[&str]) -> Roster {
    let plan = Plan::new(tools.iter().map(|t| Call::new(*t, json!({}))).collect());
    let dag = Planner::new().plan(&plan).unwrap();
    Roster::new(&plan, &dag).unwrap()
}

fn progress(i: u64) -> EventKind {
    EventKind::progress((i % 100) as f64 / 100.0, None)
}

fn seqs(events: &[Arc<Event>]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lossless_subscribers_get_every_event_in_order_under_a_flood() {
    const PER_PRODUCER: u64 = 50_000;
    const PRODUCERS: usize = 4;
    let bus = Bus::new(roster(&["a", "b", "c", "d"]));
    let subscribers: Vec<_> = (0..3).map(|_| bus.subscribe_lossless()).collect();
    // A display subscriber that never reads must not hold anyone back.
    let _stalled = bus.subscribe_with_capacity(16);
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|mut sub| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buffer = Vec::new();
                while sub.recv_many(&mut buffer, 512).await > 0 {
                    got.append(&mut buffer);
                }
                got
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|call| {
            let bus = bus.clone();
            std::thread::spawn(move || {
                bus.emit(call, EventKind::Started { attempt: 1 });
                for i in 0..PER_PRODUCER {
                    assert!(bus.emit(call, progress(i)).is_some());
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().unwrap();
    }
    assert!(
        bus.backlog() >= 16,
        "the stalled display subscriber is full, not more"
    );
    bus.close();
    let total = PRODUCERS as u64 * (PER_PRODUCER + 1);
    let mut orders = Vec::new();
    for reader in readers {
        let got = reader.await.unwrap();
        assert_eq!(got.len() as u64, total);
        // Every seq once, in order: 1..=total.
        assert!(seqs(&got).iter().copied().eq(1..=total));
        // Each producer's events in the order it emitted them, `at_ms` never decreasing.
        for call in ["a", "b", "c", "d"] {
            let fractions: Vec<f64> = got
                .iter()
                .filter(|e| &*e.call == call)
                .filter_map(|e| match e.kind {
                    EventKind::Progress { fraction, .. } => Some(fraction),
                    _ => None,
                })
                .collect();
            let expected: Vec<f64> = (0..PER_PRODUCER)
                .map(|i| (i % 100) as f64 / 100.0)
                .collect();
            assert_eq!(fractions, expected, "{call}");
        }
        assert!(got.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        orders.push(
            got.iter()
                .map(|e| (e.seq, e.call.clone()))
                .collect::<Vec<_>>(),
        );
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "every subscriber sees one order"
    );
}

#[tokio::test]
async fn a_display_subscriber_that_never_reads_does_not_block_and_learns_what_it_missed() {
    let bus = Bus::new(roster(&["a"]));
    let mut display = bus.subscribe_with_capacity(8);
    let mut lossless = bus.subscribe_lossless();
    bus.emit(0, EventKind::Started { attempt: 1 });
    for i in 0..99 {
        bus.emit(0, progress(i));
    }
    assert_eq!(bus.last_seq(), 100);
    assert_eq!(
        bus.backlog(),
        100,
        "the lossless one holds all, the display one 8"
    );
    // The display subscriber kept the 8 that fit, then learns that 92 did not.
    let mut kept = Vec::new();
    for _ in 0..8 {
        match display.recv().await {
            Some(Received::Event(e)) => kept.push(e.seq),
            other => panic!("expected an event, got {other:?}"),
        }
    }
    assert_eq!(kept, (1..=8).collect::<Vec<_>>());
    assert_eq!(display.recv().await, Some(Received::Lagged { missed: 92 }));
    assert_eq!(display.try_recv(), Err(TryRecvError::Empty));
    // With room again, it receives what comes next.
    bus.emit(0, progress(0));
    assert!(matches!(display.try_recv(), Ok(Received::Event(e)) if e.seq == 101));
    // The lossless one lost nothing.
    let mut all = 0;
    while lossless.try_recv().is_ok() {
        all += 1;
    }
    assert_eq!(all, 101);

    // It falls behind again, then resynchronises from a snapshot instead of reading.
    for i in 0..20 {
        bus.emit(0, progress(i));
    }
    let snapshot = display.resync();
    assert_eq!(snapshot.seq, 121);
    assert_eq!(snapshot.calls[0].fraction, 0.19);
    assert_eq!(display.try_recv(), Err(TryRecvError::Empty));
    bus.emit(0, EventKind::Completed);
    match display.recv().await {
        Some(Received::Event(e)) => assert_eq!(e.seq, snapshot.seq + 1),
        other => panic!("expected the event after the snapshot, got {other:?}"),
    }
}

#[tokio::test]
async fn a_gap_at_the_end_is_reported_before_the_stream_ends() {
    let bus = Bus::new(roster(&["a"]));
    let mut display = bus.subscribe_with_capacity(2);
    for i in 0..5 {
        bus.emit(0, progress(i));
    }
    bus.close();
    let mut got = Vec::new();
    while let Some(received) = display.recv().await {
        got.push(match received {
            Received::Event(e) => format!("#{}", e.seq),
            Received::Lagged { missed } => format!("missed {missed}"),
        });
    }
    assert_eq!(got, ["#1", "#2", "missed 3"]);
}

#[tokio::test]
async fn dropping_subscribers_detaches_them() {
    let bus = Bus::new(roster(&["a"]));
    let first = bus.subscribe_lossless();
    let mut second = bus.subscribe_lossless();
    let display = bus.subscribe();
    assert_eq!(bus.subscribers(), 3);
    bus.emit(0, EventKind::Queued);
    drop(first);
    drop(display);
    assert_eq!(bus.subscribers(), 1);
    bus.emit(0, EventKind::Started { attempt: 1 });
    assert_eq!(bus.backlog(), 2);
    assert_eq!(second.recv().await.unwrap().seq, 1);
    assert_eq!(second.recv().await.unwrap().seq, 2);
    drop(second);
    assert_eq!(bus.subscribers(), 0);
    assert_eq!(bus.emit(0, EventKind::Completed), Some(3));
}

#[tokio::test]
async fn a_waiting_subscriber_wakes_on_emit_and_ends_on_close() {
    let bus = Bus::new(roster(&["a"]));
    let mut sub = bus.subscribe_lossless();
    let mut display = bus.subscribe();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(e) = sub.recv().await {
            got.push(e.kind.name());
        }
        got
    });
    let display_reader = tokio::spawn(async move {
        let mut got = 0;
        while let Some(Received::Event(_)) = display.recv().await {
            got += 1;
        }
        got
    });
    tokio::task::yield_now().await; // let them wait
    bus.emit(0, EventKind::Started { attempt: 1 });
    tokio::task::yield_now().await;
    bus.emit(0, EventKind::Completed);
    bus.close();
    assert!(bus.is_closed());
    assert_eq!(
        bus.emit(0, EventKind::Queued),
        None,
        "a closed bus refuses events"
    );
    assert_eq!(reader.await.unwrap(), ["started", "completed"]);
    assert_eq!(display_reader.await.unwrap(), 2);
}

#[tokio::test]
async fn the_bus_closes_when_its_last_handle_goes() {
    let bus = Bus::new(roster(&["a"]));
    let mut sub = bus.subscribe_lossless();
    let reporter = bus.reporter(0).unwrap();
    assert!(bus.reporter(1).is_none());
    drop(bus);
    reporter.progress(0.5, "still here");
    assert!(reporter.is_enabled());
    drop(reporter);
    assert_eq!(sub.recv().await.unwrap().kind.name(), "progress");
    assert_eq!(sub.recv().await, None);
    assert_eq!(sub.try_recv(), Err(TryRecvError::Closed));
}

#[tokio::test]
async fn late_subscribers_resume_after_an_event_id() {
    let bus = Bus::builder(roster(&["a"])).window(10).build();
    for i in 0..25 {
        bus.emit(0, progress(i));
    }
    let events = |mut sub: volley_progress::Subscriber| {
        let mut got = Vec::new();
        while let Ok(r) = sub.try_recv() {
            got.push(match r {
                Received::Event(e) => format!("#{}", e.seq),
                Received::Lagged { missed } => format!("missed {missed}"),
            });
        }
        got
    };
    // Within the window: exactly what came after.
    assert_eq!(events(bus.subscribe_from(22)), ["#23", "#24", "#25"]);
    assert_eq!(events(bus.subscribe_from(25)), Vec::<String>::new());
    // Older than the window: told how many are gone, then what is kept.
    let got = events(bus.subscribe_from(5));
    assert_eq!(got[0], "missed 10");
    assert_eq!(
        got[1..],
        (16..=25).map(|s| format!("#{s}")).collect::<Vec<_>>()
    );
    // From the start of the batch.
    assert_eq!(events(bus.subscribe_from(0))[0], "missed 15");
    // A client reconnecting after the batch ended still gets the tail, then the end.
    bus.close();
    let mut late = bus.subscribe_from(24);
    assert!(matches!(late.recv().await, Some(Received::Event(e)) if e.seq == 25));
    assert_eq!(late.recv().await, None);
}

#[tokio::test]
async fn a_lossless_subscriber_can_start_from_a_snapshot() {
    let bus = Bus::new(roster(&["a", "b"]));
    bus.emit(0, EventKind::Started { attempt: 1 });
    bus.emit(0, EventKind::Completed);
    let (snapshot, mut sub) = bus.subscribe_lossless_with_snapshot();
    assert_eq!((snapshot.seq, snapshot.counts.completed), (2, 1));
    bus.emit(1, EventKind::Started { attempt: 1 });
    assert_eq!(sub.recv().await.unwrap().seq, 3);
}

#[tokio::test]
async fn details_travel_only_for_calls_that_opted_in() {
    let mut roster = roster(&["secret_tool", "open_tool"]);
    roster.reveal("open_tool").unwrap();
    let bus = Bus::new(roster);
    let mut sub = bus.subscribe_lossless();
    let called = AtomicBool::new(false);
    bus.emit_with_detail(0, EventKind::Completed, || {
        called.store(true, Ordering::SeqCst);
        json!({"password": "hunter2"})
    });
    assert!(
        !called.load(Ordering::SeqCst),
        "the detail of a call that did not opt in is never built"
    );
    bus.emit_with_detail(1, EventKind::Completed, || json!({"temp_c": 21}));
    let secret = sub.recv().await.unwrap();
    assert_eq!(secret.detail, None);
    assert!(!secret.to_json().contains("hunter2"));
    let open = sub.recv().await.unwrap();
    assert_eq!(open.detail.as_deref(), Some(&json!({"temp_c": 21})));
}

#[tokio::test]
async fn reporters_clamp_and_validate_fractions() {
    let bus = Bus::new(roster(&["fetch"]));
    let mut sub = bus.subscribe_lossless();
    let reporter = bus.reporter(0).unwrap();
    assert_eq!(reporter.call_id(), Some("fetch"));
    bus.emit(0, EventKind::Started { attempt: 1 });
    reporter.progress(0.4, "fetching page 2");
    reporter.progress(f64::NAN, "ignored");
    reporter.progress(3.0, "");
    reporter.fraction(-1.0);
    reporter.progress(0.5, "x".repeat(1_000));
    let err = reporter.try_progress(1.5, "refused").unwrap_err();
    assert_eq!(
        err.to_string(),
        "call `fetch` reported progress 1.5, which is not between 0 and 1"
    );
    bus.close();
    let mut got = Vec::new();
    while let Some(e) = sub.recv().await {
        if let EventKind::Progress { fraction, step } = &e.kind {
            got.push((*fraction, step.as_ref().map(|s| s.len())));
        }
    }
    assert_eq!(
        got,
        [
            (0.4, Some(15)),
            (1.0, None),
            (0.0, None),
            (0.5, Some(volley_progress::MAX_STEP_BYTES))
        ]
    );
    assert!(!reporter.is_enabled(), "a closed bus takes no more reports");
    reporter.progress(0.9, "after the end");
    assert!(!Reporter::disabled().is_enabled());
}

#[tokio::test(start_paused = true)]
async fn paused_time_makes_the_batch_clock_exact() {
    let plan = Plan::new(vec![
        Call::new("get_weather", json!({})).estimated_ms(1_000),
        Call::new("check_calendar", json!({})).estimated_ms(3_000),
    ]);
    let dag = Planner::new().plan(&plan).unwrap();
    let bus = Bus::new(Roster::new(&plan, &dag).unwrap());
    let mut sub = bus.subscribe_lossless();
    bus.emit(0, EventKind::Started { attempt: 1 });
    bus.emit(1, EventKind::Started { attempt: 1 });
    tokio::time::sleep(Duration::from_millis(250)).await;
    bus.reporter(0).unwrap().progress(0.5, "asking");
    tokio::time::sleep(Duration::from_millis(750)).await;
    bus.emit(0, EventKind::Completed);
    let times: Vec<(u64, &str)> = [
        sub.recv().await.unwrap(),
        sub.recv().await.unwrap(),
        sub.recv().await.unwrap(),
        sub.recv().await.unwrap(),
    ]
    .iter()
    .map(|e| (e.at_ms, e.kind.name()))
    .collect();
    assert_eq!(
        times,
        [
            (0, "started"),
            (0, "started"),
            (250, "progress"),
            (1_000, "completed")
        ]
    );
    let snapshot = bus.snapshot();
    assert_eq!(snapshot.elapsed_ms, 1_000);
    assert_eq!(
        snapshot.eta_ms, 2_000,
        "the calendar has 2 s of its 3 s left"
    );
    assert_eq!(bus.eta().path, [Arc::<str>::from("check_calendar")]);

    // Heartbeats on the caller's own timer: sleep until due, then ask.
    let narrator = Narrator::new();
    let mut heartbeats = Heartbeats::new();
    heartbeats.after_ms(2_000).every_ms(3_000);
    heartbeats.spoke(0);
    let due = heartbeats.next_due_ms(&bus.snapshot()).unwrap();
    assert_eq!(due, 3_000);
    tokio::time::sleep_until(bus.instant_at(due)).await;
    let beat = heartbeats.due(&bus.snapshot(), &narrator).unwrap();
    assert_eq!(
        (beat.at_ms, beat.text.as_str()),
        (3_000, "Still checking the calendar…")
    );
}

#[test]
fn handles_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Bus>();
    send_sync::<Reporter>();
    send_sync::<Event>();
    send_sync::<volley_progress::BatchSnapshot>();
    send::<volley_progress::Subscriber>();
    send::<volley_progress::LosslessSubscriber>();
}
