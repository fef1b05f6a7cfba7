//! `cargo xtask bench aggregator`: aggregating 100,000 outcomes into a batch result and an
//! Anthropic message, against floors measured in the same run: serializing every output to
//! text (what the message must at least do: its content is JSON as text), and cloning every
//! output (what a batch result that owned its outputs would cost; it borrows them instead).
//!
//! Outputs are dropped outside the timing (`iter_with_large_drop`) in every bench alike: the
//! caller owns them.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use volley_aggregator::Aggregator;
use volley_benches::inputs::SplitMix;
use volley_benches::random_dag;
use volley_executor::{CallError, ErrorKind, Outcome, Status};
use volley_planner::{Plan, Planner};

/// Outcomes for every call of `plan`: each starts when its dependencies are done and runs
/// 10 to 1,000 ms; about 2% fail, 1% time out and 2% are skipped (naming a dependency).
fn outcomes(plan: &Plan, seed: u64) -> Vec<Outcome> {
    let mut rng = SplitMix::new(seed);
    let mut ends: Vec<u64> = Vec::with_capacity(plan.calls.len());
    let mut out = Vec::with_capacity(plan.calls.len());
    for (i, call) in plan.calls.iter().enumerate() {
        let deps: Vec<usize> = call
            .depends_on
            .iter()
            .filter_map(|d| d.strip_prefix('c').and_then(|n| n.parse().ok()))
            .collect();
        let start = deps.iter().map(|&d| ends[d]).max().unwrap_or(0);
        let duration = 10 + rng.below(991) as u64;
        let roll = rng.below(100);
        let (status, output, error, started) = match roll {
            0..=1 => (
                Status::Error,
                None,
                Some(CallError::new(
                    ErrorKind::Transient,
                    "HTTP 503 Service Unavailable",
                )),
                true,
            ),
            2 => (
                Status::Timeout,
                None,
                Some(CallError::new(
                    ErrorKind::Timeout,
                    "the attempt ran past its timeout of 1000 ms",
                )),
                true,
            ),
            3..=4 if !deps.is_empty() => (
                Status::Skipped,
                None,
                Some(
                    CallError::new(ErrorKind::DependencyFailed, "not run")
                        .caused_by(format!("c{}", deps[0])),
                ),
                false,
            ),
            _ => (
                Status::Ok,
                Some(json!({
                    "id": i,
                    "name": format!("contact {i}"),
                    "score": (roll as f64) / 100.0,
                    "tags": ["crm", "vip"],
                })),
                None,
                true,
            ),
        };
        let end = if started { start + duration } else { start };
        ends.push(end);
        out.push(Outcome {
            index: i,
            id: Arc::from(call.id.as_str()),
            tool: Arc::from(call.tool.as_str()),
            status,
            output,
            error: error.map(Box::new),
            attempts: u32::from(started),
            queued_at_ms: started.then_some(start),
            started_at_ms: started.then_some(start),
            ended_at_ms: end,
            duration_ms: end - start,
        });
    }
    out
}

/// The floor: every output serialized to text.
fn serialize_outputs(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| {
            serde_json::to_string(o.output.as_ref().unwrap_or(&Value::Null)).unwrap_or_default()
        })
        .collect()
}

/// A second reference: every output cloned.
fn clone_outputs(outcomes: &[Outcome]) -> Vec<Value> {
    outcomes
        .iter()
        .map(|o| o.output.clone().unwrap_or(Value::Null))
        .collect()
}

fn aggregator(c: &mut Criterion) {
    let mut group = c.benchmark_group("aggregator");
    group.sample_size(20);
    let calls = 100_000;
    let plan = random_dag(calls, 3, 42);
    let dag = Planner::new()
        .plan(&plan)
        .expect("the generated plan is valid");
    let outcomes = outcomes(&plan, 7);
    let aggregator = Aggregator::new();

    group.bench_function(BenchmarkId::new("result_and_anthropic", calls), |b| {
        b.iter_with_large_drop(|| {
            let batch = aggregator
                .batch(black_box(&plan), black_box(&outcomes))
                .with_dag(&dag);
            (batch.result(), batch.anthropic())
        })
    });
    group.bench_function(BenchmarkId::new("result", calls), |b| {
        b.iter_with_large_drop(|| {
            aggregator
                .batch(black_box(&plan), black_box(&outcomes))
                .with_dag(&dag)
                .result()
        })
    });
    group.bench_function(BenchmarkId::new("anthropic", calls), |b| {
        b.iter_with_large_drop(|| {
            aggregator
                .batch(black_box(&plan), black_box(&outcomes))
                .anthropic()
        })
    });
    group.bench_function(BenchmarkId::new("serialize_outputs_floor", calls), |b| {
        b.iter_with_large_drop(|| serialize_outputs(black_box(&outcomes)))
    });
    group.bench_function(BenchmarkId::new("clone_outputs", calls), |b| {
        b.iter_with_large_drop(|| clone_outputs(black_box(&outcomes)))
    });
    group.finish();
}

criterion_group!(benches, aggregator);
criterion_main!(benches);
