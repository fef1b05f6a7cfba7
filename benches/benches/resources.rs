//! `cargo xtask bench resources`: acquire/release costs, with `tokio::sync::Semaphore` as floor.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benches: a panic is a failed run

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;
use volley_resources::{Request, ResourceBackend, ResourceManager};

/// Contended run: this many tasks share `SLOTS` slots, each doing `PAIRS_PER_TASK` pairs.
const TASKS: usize = 64;
const SLOTS: usize = 8;
const PAIRS_PER_TASK: usize = 1_000;
const PAIRS: usize = TASKS * PAIRS_PER_TASK;

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn uncontended(c: &mut Criterion) {
    let rt = current_thread();
    let manager = ResourceManager::builder()
        .max_concurrency(SLOTS)
        .build()
        .unwrap();
    let slot_and_lock = Request::new().write("customers.csv").unwrap();
    let semaphore = Semaphore::new(SLOTS);
    let backend: Arc<dyn ResourceBackend> = Arc::new(manager.clone());

    let mut group = c.benchmark_group("resources_uncontended");
    group.bench_function("acquire_release_slot_and_lock", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let permit = manager.acquire(black_box(&slot_and_lock)).await.unwrap();
                    drop(black_box(permit));
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("try_acquire_release_slot_and_lock", |b| {
        b.iter(|| {
            drop(black_box(
                manager.try_acquire(black_box(&slot_and_lock)).unwrap(),
            ))
        });
    });
    group.bench_function("dyn_backend_acquire_release_slot_and_lock", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let permit = backend.acquire(black_box(&slot_and_lock)).await.unwrap();
                    drop(black_box(permit));
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("floor_tokio_semaphore_acquire_release", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let permit = black_box(&semaphore).acquire().await.unwrap();
                    drop(black_box(permit));
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// Runs `TASKS` tasks doing `PAIRS_PER_TASK` acquire/release pairs each; returns the time.
fn contended_run<F, Fut>(rt: &Runtime, pair: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let pair = pair.clone();
                tokio::spawn(async move {
                    for _ in 0..PAIRS_PER_TASK {
                        pair().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed()
    })
}

fn contended(c: &mut Criterion) {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let manager = ResourceManager::builder()
        .max_concurrency(SLOTS)
        .build()
        .unwrap();
    let slot = Request::new();
    let semaphore = Arc::new(Semaphore::new(SLOTS));

    let mut group = c.benchmark_group("resources_contended");
    group.sample_size(10);
    group.throughput(Throughput::Elements(PAIRS as u64));
    group.bench_function("64_tasks_8_slots_64000_pairs", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (manager, slot) = (manager.clone(), slot.clone());
                    contended_run(&rt, move || {
                        let (manager, slot) = (manager.clone(), slot.clone());
                        async move { drop(manager.acquire(&slot).await.unwrap()) }
                    })
                })
                .sum()
        });
    });
    group.bench_function("floor_tokio_semaphore_64_tasks_8_slots_64000_pairs", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let semaphore = Arc::clone(&semaphore);
                    contended_run(&rt, move || {
                        let semaphore = Arc::clone(&semaphore);
                        async move { drop(semaphore.acquire().await.unwrap()) }
                    })
                })
                .sum()
        });
    });
    group.finish();
}

criterion_group!(benches, uncontended, contended);
criterion_main!(benches);
