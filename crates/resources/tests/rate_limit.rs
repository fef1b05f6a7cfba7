#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! Per-tool rate limits under paused tokio time: exact, and never blocking other tools.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use volley_resources::{Dimension, Priority, RateLimit, Request, ResourceManager, TryAcquireError};

fn crm() -> Request {
    Request::new().tool("crm")
}

#[tokio::test(start_paused = true)]
async fn a_hundred_per_second_grants_500_plus_or_minus_the_burst_in_5_seconds() {
    const BURST: u64 = 10;
    let m = ResourceManager::builder()
        .rate_limit("crm", RateLimit::per_second(100).burst(BURST as u32))
        .build()
        .unwrap();
    let granted = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(5);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (m, granted) = (m.clone(), Arc::clone(&granted));
            tokio::spawn(async move {
                loop {
                    let _permit = m.acquire(&crm()).await.unwrap();
                    if Instant::now() >= end {
                        break;
                    }
                    granted.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let granted = granted.load(Ordering::Relaxed);
    assert!(
        (500 - BURST..=500 + BURST).contains(&granted),
        "granted {granted}"
    );
    assert!(m.snapshot().is_idle());
}

#[tokio::test(start_paused = true)]
async fn try_acquire_says_how_long_to_wait() {
    let m = ResourceManager::builder()
        .rate_limit("crm", RateLimit::per_second(2).burst(1))
        .build()
        .unwrap();
    drop(m.try_acquire(&crm()).unwrap());
    let limited = |retry_after| TryAcquireError::RateLimited {
        tool: "crm".into(),
        retry_after,
    };
    assert_eq!(
        m.try_acquire(&crm()).unwrap_err(),
        limited(Duration::from_millis(500))
    );
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(
        m.try_acquire(&crm()).unwrap_err(),
        limited(Duration::from_millis(300))
    );
    tokio::time::advance(Duration::from_millis(300)).await;
    drop(m.try_acquire(&crm()).unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_rate_token_is_spent_only_when_the_whole_request_is_granted() {
    let m = ResourceManager::builder()
        .rate_limit("crm", RateLimit::per_minute(1))
        .build()
        .unwrap();
    let lock = m.try_acquire(&Request::new().write("k").unwrap()).unwrap();
    // Refused for the lock: the single token of the minute must still be there.
    assert_eq!(
        m.try_acquire(&crm().write("k").unwrap()).unwrap_err(),
        TryAcquireError::Busy {
            dimension: Dimension::Lock { key: "k".into() }
        }
    );
    let start = Instant::now();
    let waiting = tokio::spawn({
        let m = m.clone();
        async move {
            drop(m.acquire(&crm().write("k").unwrap()).await.unwrap());
            Instant::now()
        }
    });
    tokio::task::yield_now().await;
    drop(lock);
    assert_eq!(
        waiting.await.unwrap(),
        start,
        "granted at once, no rate wait"
    );
    assert!(matches!(
        m.try_acquire(&crm()).unwrap_err(),
        TryAcquireError::RateLimited { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_request_waiting_on_its_rate_does_not_hold_up_other_tools() {
    let m = ResourceManager::builder()
        .max_concurrency(1)
        .bypass_limit(0)
        .rate_limit("crm", RateLimit::per_second(1))
        .build()
        .unwrap();
    let start = Instant::now();
    drop(m.acquire(&crm()).await.unwrap());
    let second = tokio::spawn({
        let m = m.clone();
        async move {
            drop(m.acquire(&crm()).await.unwrap());
            Instant::now()
        }
    });
    tokio::task::yield_now().await;
    let snap = m.snapshot();
    let tool = snap.tools.iter().find(|t| t.tool == "crm").unwrap();
    assert_eq!(tool.waiting, 1);
    let rate = tool.rate_limit.as_ref().unwrap();
    assert_eq!(rate.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(rate.limit, RateLimit::per_second(1));
    // Same global slot, strict order, yet another tool goes at once and does not wait.
    let search = m.acquire(&Request::new().tool("search")).await.unwrap();
    assert_eq!(Instant::now(), start);
    drop(search);
    assert_eq!(second.await.unwrap() - start, Duration::from_secs(1));
    assert!(m.snapshot().is_idle());
}

#[tokio::test(start_paused = true)]
async fn rate_limited_waiters_are_served_by_priority() {
    let m = ResourceManager::builder()
        .rate_limit("crm", RateLimit::per_second(1))
        .build()
        .unwrap();
    let start = Instant::now();
    drop(m.try_acquire(&crm()).unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (name, p) in [
        ("background", Priority::Background),
        ("normal", Priority::Normal),
        ("critical", Priority::Critical),
    ] {
        let (m, log) = (m.clone(), Arc::clone(&log));
        tasks.push(tokio::spawn(async move {
            drop(m.acquire(&crm().priority(p)).await.unwrap());
            log.lock().unwrap().push((name, Instant::now() - start));
        }));
        tokio::task::yield_now().await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = Duration::from_secs;
    assert_eq!(
        *log.lock().unwrap(),
        [
            ("critical", secs(1)),
            ("normal", secs(2)),
            ("background", secs(3))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_waiter_that_owns_the_rate_timer_hands_it_over() {
    let m = ResourceManager::builder()
        .rate_limit("crm", RateLimit::per_second(1))
        .build()
        .unwrap();
    let start = Instant::now();
    drop(m.try_acquire(&crm()).unwrap());
    let owner = tokio::spawn({
        let m = m.clone();
        async move { drop(m.acquire(&crm()).await.unwrap()) }
    });
    tokio::task::yield_now().await;
    let next = tokio::spawn({
        let m = m.clone();
        async move {
            drop(m.acquire(&crm()).await.unwrap());
            Instant::now()
        }
    });
    tokio::task::yield_now().await;
    assert_eq!(m.snapshot().waiting, 2);
    owner.abort();
    assert!(owner.await.unwrap_err().is_cancelled());
    let granted_at = tokio::time::timeout(Duration::from_secs(5), next)
        .await
        .expect("the other waiter must not be stranded")
        .unwrap();
    assert_eq!(granted_at - start, Duration::from_secs(1));
    assert!(m.snapshot().is_idle());
}
