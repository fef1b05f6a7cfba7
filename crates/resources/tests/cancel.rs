#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! Cancel-safety: a dropped `acquire` future leaves nothing held and nothing queued.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use volley_resources::{Request, ResourceManager};

fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test(start_paused = true)]
async fn a_future_dropped_while_waiting_leaves_the_snapshot_clean() {
    let m = ResourceManager::builder()
        .max_concurrency(1)
        .build()
        .unwrap();
    let holder = m.try_acquire(&Request::new()).unwrap();
    let request = Request::new().cpu(1.0).write("k").unwrap();
    let timed_out = tokio::time::timeout(Duration::from_millis(10), m.acquire(&request)).await;
    assert!(timed_out.is_err());
    let snap = m.snapshot();
    assert_eq!((snap.held, snap.waiting), (1, 0));
    assert!(snap.locks.is_empty());
    assert_eq!(snap.cpu.waiting, 0);
    drop(holder);
    assert!(m.snapshot().is_idle());
    drop(m.try_acquire(&request).unwrap());
}

#[tokio::test]
async fn a_future_granted_but_never_polled_again_releases_on_drop() {
    let m = ResourceManager::builder()
        .max_concurrency(1)
        .build()
        .unwrap();
    let holder = m.try_acquire(&Request::new()).unwrap();
    let request = Request::new().write("k").unwrap();
    let mut waiting = m.acquire(&request);
    assert!(poll_once(&mut waiting).is_pending());
    drop(holder);
    // The release granted the waiter: the slot and the lock are now its.
    let snap = m.snapshot();
    assert_eq!((snap.held, snap.waiting), (1, 0));
    assert_eq!(snap.locks[0].key, "k");
    drop(waiting);
    assert!(m.snapshot().is_idle());
}

#[tokio::test]
async fn dropping_a_waiter_that_held_others_back_lets_them_go() {
    let m = ResourceManager::builder()
        .cpu_cores(4.0)
        .bypass_limit(0)
        .build()
        .unwrap();
    let _half = m.try_acquire(&Request::new().cpu(2.0)).unwrap();
    let big_request = Request::new().cpu(4.0);
    let mut big = m.acquire(&big_request);
    assert!(poll_once(&mut big).is_pending());
    let small_request = Request::new().cpu(1.0);
    let mut small = m.acquire(&small_request);
    assert!(
        poll_once(&mut small).is_pending(),
        "waits behind the big one"
    );
    drop(big);
    assert!(
        matches!(poll_once(&mut small), Poll::Ready(Ok(_))),
        "the cancel must re-run the queue"
    );
}

#[tokio::test]
async fn dropping_every_waiter_in_any_order_leaves_nothing() {
    let m = ResourceManager::builder()
        .max_concurrency(2)
        .build()
        .unwrap();
    let requests: Vec<Request> = (0..6)
        .map(|i| Request::new().write(&format!("k{}", i % 3)).unwrap())
        .collect();
    let mut futures: Vec<_> = requests.iter().map(|r| m.acquire(r)).collect();
    let mut permits = Vec::new();
    for f in &mut futures {
        if let Poll::Ready(p) = poll_once(f) {
            permits.push(p.unwrap());
        }
    }
    assert_eq!(permits.len(), 2);
    // Drop waiters from the middle, then the permits, then the rest.
    drop(futures.swap_remove(3));
    drop(futures.swap_remove(1));
    drop(permits);
    drop(futures);
    assert!(m.snapshot().is_idle());
}
