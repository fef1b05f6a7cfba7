#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! Who goes first: priority, then arrival order, with a bounded bypass.

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use volley_resources::{
    DEFAULT_BYPASS_LIMIT, Dimension, Priority, Request, ResourceManager, TryAcquireError,
};

type Log = Arc<Mutex<Vec<&'static str>>>;

/// Spawns a task that acquires `request`, logs `name` when granted and releases at once;
/// returns after the task is queued.
async fn enqueue(
    m: &ResourceManager,
    log: &Log,
    name: &'static str,
    request: Request,
) -> JoinHandle<()> {
    let before = m.snapshot().waiting;
    let task = tokio::spawn({
        let (m, log) = (m.clone(), Arc::clone(log));
        async move {
            let _permit = m.acquire(&request).await.unwrap();
            log.lock().unwrap().push(name);
        }
    });
    tokio::task::yield_now().await;
    assert_eq!(m.snapshot().waiting, before + 1, "{name} should be waiting");
    task
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_by_priority_then_arrival() {
    let m = ResourceManager::builder()
        .max_concurrency(1)
        .build()
        .unwrap();
    let log = Log::default();
    let holder = m.try_acquire(&Request::new()).unwrap();
    let at = |p| Request::new().priority(p);
    let mut tasks = Vec::new();
    for (name, p) in [
        ("background-1", Priority::Background),
        ("normal-1", Priority::Normal),
        ("critical-1", Priority::Critical),
        ("normal-2", Priority::Normal),
        ("low-1", Priority::Low),
        ("background-2", Priority::Background),
        ("high-1", Priority::High),
        ("critical-2", Priority::Critical),
    ] {
        tasks.push(enqueue(&m, &log, name, at(p)).await);
    }
    drop(holder);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        *log.lock().unwrap(),
        [
            "critical-1",
            "critical-2",
            "high-1",
            "normal-1",
            "normal-2",
            "low-1",
            "background-1",
            "background-2"
        ]
    );
    assert!(m.snapshot().is_idle());
}

#[tokio::test(start_paused = true)]
async fn a_large_request_is_overtaken_at_most_bypass_limit_times() {
    let m = ResourceManager::builder().cpu_cores(4.0).build().unwrap();
    let log = Log::default();
    let half = m.try_acquire(&Request::new().cpu(2.0)).unwrap();
    let big = enqueue(&m, &log, "big", Request::new().cpu(4.0)).await;
    let small = Request::new().cpu(1.0);
    // Small requests fit in the two free cores and may pass the big one, K times.
    for _ in 0..DEFAULT_BYPASS_LIMIT {
        drop(m.try_acquire(&small).unwrap());
    }
    assert_eq!(
        m.try_acquire(&small).unwrap_err(),
        TryAcquireError::Busy {
            dimension: Dimension::Cpu
        }
    );
    // From now on small requests queue behind the big one...
    let queued_small = enqueue(&m, &log, "small", small.clone()).await;
    // ...but a request that competes for nothing the big one needs still passes.
    drop(
        m.try_acquire(&Request::new().global_slot(false).write("x").unwrap())
            .unwrap(),
    );
    drop(half);
    big.await.unwrap();
    queued_small.await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["big", "small"]);
}

#[tokio::test(start_paused = true)]
async fn a_bypass_limit_of_zero_is_strict_order_but_priority_still_wins() {
    let m = ResourceManager::builder()
        .cpu_cores(4.0)
        .bypass_limit(0)
        .build()
        .unwrap();
    let log = Log::default();
    let half = m.try_acquire(&Request::new().cpu(2.0)).unwrap();
    let big = enqueue(
        &m,
        &log,
        "big",
        Request::new().cpu(4.0).priority(Priority::Low),
    )
    .await;
    assert!(
        m.try_acquire(&Request::new().cpu(1.0).priority(Priority::Low))
            .is_err()
    );
    assert!(
        m.try_acquire(&Request::new().cpu(1.0).priority(Priority::Background))
            .is_err()
    );
    // More urgent requests are ahead of it in the queue order, so they are not held back.
    drop(
        m.try_acquire(&Request::new().cpu(1.0).priority(Priority::Normal))
            .unwrap(),
    );
    drop(half);
    big.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_writer_is_not_starved_by_a_stream_of_readers() {
    let m = ResourceManager::builder().bypass_limit(2).build().unwrap();
    let log = Log::default();
    let read = Request::new().read("f").unwrap();
    let first_reader = m.try_acquire(&read).unwrap();
    let writer = enqueue(&m, &log, "writer", Request::new().write("f").unwrap()).await;
    // Overlapping readers would keep the lock shared forever; only 2 may pass the writer.
    let r2 = m.try_acquire(&read).unwrap();
    let r3 = m.try_acquire(&read).unwrap();
    assert_eq!(
        m.try_acquire(&read).unwrap_err(),
        TryAcquireError::Busy {
            dimension: Dimension::Lock { key: "f".into() }
        }
    );
    let late_reader = enqueue(&m, &log, "reader", read.clone()).await;
    drop((first_reader, r2, r3));
    writer.await.unwrap();
    late_reader.await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["writer", "reader"]);
}

#[tokio::test(start_paused = true)]
async fn a_freed_slot_goes_to_the_queue_not_to_a_newcomer() {
    let m = ResourceManager::builder()
        .max_concurrency(1)
        .bypass_limit(0)
        .build()
        .unwrap();
    let log = Log::default();
    let holder = m.try_acquire(&Request::new()).unwrap();
    let first = enqueue(&m, &log, "first", Request::new()).await;
    drop(holder);
    // The slot was handed to the waiter during the release: the newcomer finds it busy.
    assert_eq!(
        m.try_acquire(&Request::new()).unwrap_err(),
        TryAcquireError::Busy {
            dimension: Dimension::Global
        }
    );
    first.await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["first"]);
}
