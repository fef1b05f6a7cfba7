//! `cargo xtask bench executor`: plan-to-outcomes throughput and latency of the engine, each
//! against a floor measured in the same run (a tokio `JoinSet`, a lone `sleep`), and the peak
//! memory of a 1,000,000-call batch.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benches: a panic is a failed run

use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tokio::runtime::{Builder, Runtime};
use volley_executor::{Engine, Registry, Tool, ToolContext, ToolError};
use volley_planner::{Call, Plan, Planner};

/// Returns `null` at once: what the engine costs, with no tool work.
struct Noop;

#[async_trait]
impl Tool for Noop {
    fn name(&self) -> &str {
        "noop"
    }
    fn description(&self) -> &str {
        "does nothing"
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object"})
    }
    async fn call(&self, _: Value, _: ToolContext) -> Result<Value, ToolError> {
        Ok(Value::Null)
    }
}

/// Sleeps `args.ms` milliseconds.
struct Sleep;

#[async_trait]
impl Tool for Sleep {
    fn name(&self) -> &str {
        "sleep"
    }
    fn description(&self) -> &str {
        "sleeps"
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {"ms": {"type": "integer"}}, "required": ["ms"]})
    }
    async fn call(&self, args: Value, _: ToolContext) -> Result<Value, ToolError> {
        let ms = args["ms"].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(Value::Null)
    }
}

/// Two workers on this 2-core machine: the engine and the floors share it alike.
fn runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn engine() -> Engine {
    let mut registry = Registry::new();
    registry.register(Noop).unwrap().register(Sleep).unwrap();
    // No audit sink: nobody listens in a benchmark (the tracing sink is disabled without a
    // subscriber anyway; this keeps the figure about the engine).
    Engine::builder(registry).clear_audit().build()
}

fn independent(calls: usize, tool: &str, args: &Value) -> Plan {
    Plan::new(
        (0..calls)
            .map(|i| Call::new(tool, args.clone()).with_id(format!("c{i}")))
            .collect(),
    )
}

fn chains(chains: usize, length: usize) -> Plan {
    let mut calls = Vec::with_capacity(chains * length);
    for c in 0..chains {
        for k in 0..length {
            let call = Call::new("noop", json!({})).with_id(format!("c{c}_{k}"));
            calls.push(if k == 0 {
                call
            } else {
                call.after(format!("c{c}_{}", k - 1))
            });
        }
    }
    Plan::new(calls)
}

/// Times `run` over fresh plans (made outside the timing) and drops outcomes outside it too.
fn time_runs(rt: &Runtime, engine: &Engine, iters: u64, plan: impl Fn() -> Plan) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let plan = plan();
        let start = Instant::now();
        let outcomes = rt.block_on(async { engine.run(plan).unwrap().wait().await });
        total += start.elapsed();
        assert!(outcomes.iter().all(|o| o.is_ok()));
        drop(outcomes);
    }
    total
}

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let engine = engine();
    let mut group = c.benchmark_group("executor_throughput");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("independent_100k_noop", |b| {
        b.iter_custom(|iters| {
            time_runs(&rt, &engine, iters, || {
                independent(100_000, "noop", &json!({}))
            })
        })
    });
    group.bench_function("joinset_100k_floor", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                rt.block_on(async {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..100_000 {
                        set.spawn(async { Value::Null });
                    }
                    while let Some(done) = set.join_next().await {
                        std::hint::black_box(done.unwrap());
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });
    group.bench_function("planner_only_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let plan = independent(100_000, "noop", &json!({}));
                let start = Instant::now();
                std::hint::black_box(Planner::new().plan(&plan).unwrap());
                total += start.elapsed();
            }
            total
        })
    });
    group.bench_function("planner_only_chains_1000x100", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let plan = chains(1_000, 100);
                let start = Instant::now();
                std::hint::black_box(Planner::new().plan(&plan).unwrap());
                total += start.elapsed();
            }
            total
        })
    });
    group.bench_function("chains_1000x100_noop", |b| {
        b.iter_custom(|iters| time_runs(&rt, &engine, iters, || chains(1_000, 100)))
    });
    group.finish();
}

fn latency(c: &mut Criterion) {
    let rt = runtime();
    let engine = engine();
    let mut group = c.benchmark_group("executor_latency");
    group.bench_function("batch_10_noop", |b| {
        b.iter_custom(|iters| {
            time_runs(&rt, &engine, iters, || independent(10, "noop", &json!({})))
        })
    });
    group.sample_size(20);
    group.bench_function("sleep_10x100ms", |b| {
        b.iter_custom(|iters| {
            time_runs(&rt, &engine, iters, || {
                independent(10, "sleep", &json!({"ms": 100}))
            })
        })
    });
    group.bench_function("lone_sleep_100ms_floor", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(async {
                    tokio::spawn(tokio::time::sleep(Duration::from_millis(100)))
                        .await
                        .unwrap()
                });
            }
            start.elapsed()
        })
    });
    group.sample_size(10);
    group.bench_function("sleep_1000x10ms_limit100", |b| {
        b.iter_custom(|iters| {
            time_runs(&rt, &engine, iters, || {
                let mut plan = independent(1_000, "sleep", &json!({"ms": 10}));
                plan.max_concurrency = Some(100);
                plan
            })
        })
    });
    group.bench_function("ten_sequential_10ms_sleeps_floor", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(async {
                    tokio::spawn(async {
                        for _ in 0..10 {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    })
                    .await
                    .unwrap()
                });
            }
            start.elapsed()
        })
    });
    group.finish();
}

/// A `VmRSS`/`VmHWM` line of `/proc/self/status`, in bytes.
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak memory of a 1,000,000-call batch above what its plan already holds, per call: the
/// process's peak resident set (reset just before the run through `/proc/self/clear_refs`)
/// minus its resident set then. Resident pages, not a counting allocator, so the timing
/// benches run on the plain system allocator.
fn memory(_: &mut Criterion) {
    let rt = runtime();
    let engine = engine();
    let calls = 1_000_000;
    let plan = independent(calls, "noop", &json!({}));
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        println!("executor_memory: cannot reset the peak resident set here; skipped");
        return;
    }
    let before = proc_status_bytes("VmRSS:").unwrap_or(0);
    let outcomes = rt.block_on(async { engine.run(plan).unwrap().wait().await });
    let peak = proc_status_bytes("VmHWM:").unwrap_or(0);
    assert_eq!(outcomes.len(), calls);
    let above = peak.saturating_sub(before);
    println!(
        "executor_memory/peak_per_call_1m: {:.0} bytes per call above the plan \
         ({:.1} MB peak above {:.1} MB resident with the plan built)",
        above as f64 / calls as f64,
        above as f64 / 1e6,
        before as f64 / 1e6
    );
}

criterion_group!(benches, memory, latency, throughput);
criterion_main!(benches);
