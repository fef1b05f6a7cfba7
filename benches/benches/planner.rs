//! `cargo xtask bench planner`: planning already-parsed DAGs, against a hand-written Kahn pass
//! over the same graph measured in the same run (the floor).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use volley_benches::random_dag;
use volley_planner::{Graph, Planner};

/// The floor: Kahn's algorithm over the planner's own graph, computing only waves.
fn kahn_waves(graph: &Graph) -> usize {
    let n = graph.node_count();
    let mut indegree = vec![0u32; n];
    for u in 0..n as u32 {
        for &v in graph.neighbors_slice(u) {
            indegree[v as usize] += 1;
        }
    }
    let mut queue: Vec<u32> = (0..n as u32)
        .filter(|&i| indegree[i as usize] == 0)
        .collect();
    let mut wave = vec![1u32; n];
    let mut head = 0;
    while head < queue.len() {
        let u = queue[head] as usize;
        head += 1;
        for &v in graph.neighbors_slice(u as u32) {
            let v = v as usize;
            wave[v] = wave[v].max(wave[u] + 1);
            indegree[v] -= 1;
            if indegree[v] == 0 {
                queue.push(v as u32);
            }
        }
    }
    wave.into_iter().max().unwrap_or(0) as usize
}

fn planner(c: &mut Criterion) {
    let mut group = c.benchmark_group("planner");
    group.sample_size(20);
    for calls in [1_000usize, 10_000, 100_000] {
        let plan = random_dag(calls, 3, 42);
        let dag = Planner::new()
            .plan(&plan)
            .expect("the generated plan is valid");
        group.bench_with_input(BenchmarkId::new("plan", calls), &plan, |b, plan| {
            b.iter(|| {
                Planner::new()
                    .plan(black_box(plan))
                    .map(|d| d.waves().len())
            })
        });
        group.bench_with_input(
            BenchmarkId::new("kahn_floor", calls),
            dag.graph(),
            |b, graph| b.iter(|| kahn_waves(black_box(graph))),
        );
    }
    group.finish();
}

criterion_group!(benches, planner);
criterion_main!(benches);
