#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! Stress: 64 tasks on 8 slots and 4 locks, 100,000 acquisitions, checked from two sides.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use volley_resources::{LockMode, Priority, Request, ResourceManager};

const TASKS: u64 = 64;
const SLOTS: usize = 8;
const LOCKS: usize = 4;
const ACQUISITIONS: u64 = 100_000;

/// What the holders themselves saw: in flight, and per lock (readers, writer).
#[derive(Default)]
struct Seen {
    in_flight: usize,
    locks: [(u32, bool); LOCKS],
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_on_eight_slots_and_four_locks() {
    let m = ResourceManager::builder()
        .max_concurrency(SLOTS)
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let done = Arc::new(AtomicBool::new(false));
    let granted = Arc::new(AtomicU64::new(0));

    let observer = tokio::spawn({
        let (m, done) = (m.clone(), Arc::clone(&done));
        async move {
            let mut samples = 0u64;
            while !done.load(Ordering::Acquire) {
                let snap = m.snapshot();
                assert!(snap.global.in_use <= SLOTS as f64, "{snap:?}");
                assert!(snap.held <= SLOTS);
                for lock in &snap.locks {
                    match lock.mode {
                        Some(LockMode::Write) => assert_eq!(lock.holders.len(), 1, "{lock:?}"),
                        Some(LockMode::Read) => assert!(!lock.holders.is_empty()),
                        None => assert!(lock.holders.is_empty()),
                    }
                }
                samples += 1;
                tokio::task::yield_now().await;
            }
            samples
        }
    });

    let workers: Vec<_> = (0..TASKS)
        .map(|t| {
            let (m, seen, granted) = (m.clone(), Arc::clone(&seen), Arc::clone(&granted));
            tokio::spawn(async move {
                let per_task = ACQUISITIONS / TASKS + u64::from(t < ACQUISITIONS % TASKS);
                for i in 0..per_task {
                    let lock = ((t + i) % LOCKS as u64) as usize;
                    let mode = if (t + i) % 3 == 0 {
                        LockMode::Write
                    } else {
                        LockMode::Read
                    };
                    let key = format!("k{lock}");
                    let mut request = Request::new()
                        .priority(Priority::ALL[(i % 5) as usize])
                        .lock(volley_resources::AccessKey::new(&key, mode).unwrap());
                    if i % 7 == 0 {
                        // Some requests take two locks, in either order.
                        let other = format!("k{}", (lock + 1 + (t as usize % 2)) % LOCKS);
                        request = request.write(&other).unwrap();
                    }
                    let permit = m.acquire(&request).await.unwrap();
                    {
                        let mut s = seen.lock().unwrap();
                        s.in_flight += 1;
                        assert!(s.in_flight <= SLOTS);
                        for l in request.locks() {
                            let idx: usize = l.key()[1..].parse().unwrap();
                            let (readers, writer) = &mut s.locks[idx];
                            assert!(!*writer, "a writer holds {}", l.key());
                            match l.mode() {
                                LockMode::Read => *readers += 1,
                                LockMode::Write => {
                                    assert_eq!(*readers, 0, "readers hold {}", l.key());
                                    *writer = true;
                                }
                            }
                        }
                    }
                    if i % 2 == 0 {
                        tokio::task::yield_now().await;
                    }
                    {
                        let mut s = seen.lock().unwrap();
                        s.in_flight -= 1;
                        for l in request.locks() {
                            let idx: usize = l.key()[1..].parse().unwrap();
                            match l.mode() {
                                LockMode::Read => s.locks[idx].0 -= 1,
                                LockMode::Write => s.locks[idx].1 = false,
                            }
                        }
                    }
                    drop(permit);
                    granted.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    done.store(true, Ordering::Release);
    let samples = observer.await.unwrap();
    assert!(samples > 0);
    assert_eq!(granted.load(Ordering::Relaxed), ACQUISITIONS);
    assert!(m.snapshot().is_idle(), "{:?}", m.snapshot());
}
