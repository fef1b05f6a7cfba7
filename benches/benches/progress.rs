//! Progress benchmarks: `cargo xtask bench progress`.
//!
//! - `progress_emit`: the cost of one `Bus::emit` with no subscriber (target: at most 100 ns),
//!   and with a display subscriber that never reads.
//! - `progress_fanout`: events delivered to each of 4 lossless subscribers on a 2-worker-thread
//!   runtime (target: at least 1,000,000 events/s each), against 4 unbounded
//!   `tokio::sync::mpsc` channels fed the same `Arc<Event>`s in the same run (the floor).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use serde_json::json;
use volley_planner::{Call, Plan, Planner};
use volley_progress::{Bus, Event, EventKind, Roster};

/// Events per fan-out run, delivered to each subscriber.
const EVENTS: u64 = 100_000;
const SUBSCRIBERS: usize = 4;

fn roster(calls: usize) -> Roster {
    let plan = Plan::new(
        (0..calls)
            .map(|i| Call::new(format!("tool_{i}"), json!({})).estimated_ms(100))
            .collect(),
    );
    let dag = Planner::new()
        .plan(&plan)
        .expect("a plan without references");
    Roster::new(&plan, &dag).expect("the DAG of this plan")
}

fn progress(i: u64) -> EventKind {
    EventKind::progress((i % 100) as f64 / 100.0, None)
}

fn emit(c: &mut Criterion) {
    let mut group = c.benchmark_group("progress_emit");
    group.throughput(Throughput::Elements(1));

    let bus = Bus::new(roster(8));
    bus.emit(3, EventKind::Started { attempt: 1 });
    let mut i = 0u64;
    group.bench_function("no_subscriber", |b| {
        b.iter(|| {
            i += 1;
            black_box(bus.emit(black_box(3), progress(i)))
        })
    });

    let bare = Bus::builder(roster(8)).window(0).build();
    bare.emit(3, EventKind::Started { attempt: 1 });
    group.bench_function("no_subscriber_no_window", |b| {
        b.iter(|| {
            i += 1;
            black_box(bare.emit(black_box(3), progress(i)))
        })
    });

    let reporter = bus.reporter(3).expect("call 3 exists");
    group.bench_function("reporter_with_step_no_subscriber", |b| {
        b.iter(|| {
            i += 1;
            reporter.progress(black_box((i % 100) as f64 / 100.0), "fetching page 2");
        })
    });

    let stalled = Bus::new(roster(8));
    stalled.emit(3, EventKind::Started { attempt: 1 });
    let _display = stalled.subscribe_with_capacity(256);
    group.bench_function("stalled_display_subscriber", |b| {
        b.iter(|| {
            i += 1;
            black_box(stalled.emit(black_box(3), progress(i)))
        })
    });
    group.finish();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// One run: a producer task emits `EVENTS` events; 4 lossless subscriber tasks receive them all.
async fn bus_fanout(with_stalled_display: bool) {
    let bus = Bus::new(roster(4));
    let _stalled = with_stalled_display.then(|| bus.subscribe_with_capacity(1_024));
    let readers: Vec<_> = (0..SUBSCRIBERS)
        .map(|_| {
            let mut sub = bus.subscribe_lossless();
            tokio::spawn(async move {
                let mut n = 0u64;
                while let Some(event) = sub.recv().await {
                    black_box(&event);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let producer = tokio::spawn(async move {
        for i in 0..EVENTS {
            bus.emit((i % 4) as usize, progress(i));
        }
        bus.close();
    });
    producer.await.expect("the producer");
    for reader in readers {
        assert_eq!(reader.await.expect("a reader"), EVENTS);
    }
}

/// The floor: the same events as `Arc<Event>`s through 4 unbounded mpsc channels.
async fn mpsc_fanout() {
    let ids: Vec<Arc<str>> = (0..4).map(|i| Arc::from(format!("tool_{i}"))).collect();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..SUBSCRIBERS)
        .map(|_| tokio::sync::mpsc::unbounded_channel::<Arc<Event>>())
        .unzip();
    let readers: Vec<_> = receivers
        .into_iter()
        .map(|mut rx| {
            tokio::spawn(async move {
                let mut n = 0u64;
                while let Some(event) = rx.recv().await {
                    black_box(&event);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let producer = tokio::spawn(async move {
        for i in 0..EVENTS {
            let id = &ids[(i % 4) as usize];
            let event = Arc::new(Event::new(i + 1, 0, id.clone(), id.clone(), progress(i)));
            for tx in &senders {
                let _ = tx.send(event.clone());
            }
        }
    });
    producer.await.expect("the producer");
    for reader in readers {
        assert_eq!(reader.await.expect("a reader"), EVENTS);
    }
}

fn fanout(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("progress_fanout");
    group.throughput(Throughput::Elements(EVENTS));
    // Each run takes tens of milliseconds: a few equal samples, not criterion's linear ramp.
    group.sample_size(20);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("bus_4_lossless", |b| {
        b.iter(|| rt.block_on(bus_fanout(false)))
    });
    group.bench_function("bus_4_lossless_plus_stalled_display", |b| {
        b.iter(|| rt.block_on(bus_fanout(true)))
    });
    group.bench_function("mpsc_unbounded_4_floor", |b| {
        b.iter(|| rt.block_on(mpsc_fanout()))
    });
    group.finish();
}

criterion_group!(benches, emit, fanout);
criterion_main!(benches);
