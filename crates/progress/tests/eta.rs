#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! The ETA on simulated batches with known durations: its error at 25%, 50% and 75% of the
//! batch. `cargo test -p volley-progress --test eta -- --nocapture` prints the table recorded in
//! `docs/benchmarks.md`.

use serde_json::json;
use volley_planner::{Call, Plan, Planner};
use volley_progress::{Estimator, Event, EventKind, Roster, Tracker};

/// One call of a simulated batch.
#[derive(Clone)]
struct Sim {
    tool: &'static str,
    deps: Vec<usize>,
    /// The plan's `estimated_ms` (None: the planner's default, 1 s).
    hint: Option<u64>,
    /// How long it really takes.
    true_ms: u64,
}

fn sim(tool: &'static str, deps: &[usize], hint: Option<u64>, true_ms: u64) -> Sim {
    Sim {
        tool,
        deps: deps.to_vec(),
        hint,
        true_ms,
    }
}

/// A deterministic jitter in `[1 - spread, 1 + spread]`.
struct Jitter(u64);

impl Jitter {
    fn next(&mut self, spread: f64) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let unit = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        1.0 - spread + 2.0 * spread * unit
    }
}

/// What a checkpoint saw.
#[derive(Debug, Clone, Copy)]
struct Point {
    at_ms: u64,
    eta_ms: u64,
    true_ms: u64,
}

impl Point {
    /// The ETA's error as a share of the batch's duration, in percent (signed: + is late).
    fn error_pct(&self, total: u64) -> f64 {
        (self.eta_ms as f64 - self.true_ms as f64) / total as f64 * 100.0
    }
}

/// Runs the batch on a synthetic clock (unlimited concurrency: a call starts when its
/// dependencies complete) and asks the tracker for the ETA at 25%, 50% and 75% of it.
/// With `progress`, running calls report their true fraction every 100 ms.
fn simulate(calls: &[Sim], estimator: &Estimator, progress: bool) -> (u64, [Point; 3], Tracker) {
    let plan = Plan::new(
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let args = json!({ "deps": c.deps.iter().map(|d| format!("${}", d + 1)).collect::<Vec<_>>(), "i": i });
                let mut call = Call::new(c.tool, args).with_id(format!("c{i}"));
                call.estimated_ms = c.hint;
                call
            })
            .collect(),
    );
    let dag = Planner::new().plan(&plan).unwrap();
    let mut start = vec![0u64; calls.len()];
    let mut end = vec![0u64; calls.len()];
    for &u in dag.topological_order() {
        let u = u as usize;
        start[u] = calls[u].deps.iter().map(|&d| end[d]).max().unwrap_or(0);
        end[u] = start[u] + calls[u].true_ms;
    }
    let total = end.iter().copied().max().unwrap_or(0);
    // (at, rank, call, kind): at one instant, completions come before the starts they allow.
    let mut script: Vec<(u64, u8, usize, EventKind)> = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        script.push((start[i], 1, i, EventKind::Queued));
        script.push((start[i], 2, i, EventKind::Started { attempt: 1 }));
        if progress {
            let mut t = start[i] + 100;
            while t < end[i] {
                let f = (t - start[i]) as f64 / c.true_ms as f64;
                script.push((t, 3, i, EventKind::progress(f, None)));
                t += 100;
            }
        }
        script.push((end[i], 0, i, EventKind::Completed));
    }
    script.sort_by_key(|(at, rank, i, _)| (*at, *rank, *i));
    let mut tracker = Tracker::with_estimator(Roster::new(&plan, &dag).unwrap(), estimator.clone());
    let mut next = 0;
    let points = [0.25, 0.5, 0.75].map(|share| {
        let at = (total as f64 * share).round() as u64;
        while next < script.len() && script[next].0 <= at {
            let (t, _, i, kind) = &script[next];
            let event = Event::new(
                next as u64 + 1,
                *t,
                format!("c{i}"),
                calls[*i].tool,
                kind.clone(),
            );
            assert!(tracker.apply(&event));
            next += 1;
        }
        Point {
            at_ms: at,
            eta_ms: tracker.eta(at).remaining_ms,
            true_ms: total - at,
        }
    });
    for (t, _, i, kind) in &script[next..] {
        tracker.apply(&Event::new(
            0,
            *t,
            format!("c{i}"),
            calls[*i].tool,
            kind.clone(),
        ));
    }
    assert!(tracker.is_finished());
    (total, points, tracker)
}

/// find_contact -> (check_crm, check_calendar) -> send_invite, get_weather alongside.
fn invite(hints: [Option<u64>; 5], truth: [u64; 5]) -> Vec<Sim> {
    vec![
        sim("find_contact", &[], hints[0], truth[0]),
        sim("check_crm", &[0], hints[1], truth[1]),
        sim("check_calendar", &[0], hints[2], truth[2]),
        sim("send_invite", &[1, 2], hints[3], truth[3]),
        sim("get_weather", &[], hints[4], truth[4]),
    ]
}

/// Three rounds of (three searches in parallel -> read the results), unknown tools: the
/// planner's default estimate of 1 s, while searches take ~1.8 s and reads ~0.6 s.
fn research(jitter: &mut Jitter) -> Vec<Sim> {
    let mut calls = Vec::new();
    let mut previous: Option<usize> = None;
    for _ in 0..3 {
        let deps: Vec<usize> = previous.into_iter().collect();
        let first = calls.len();
        for _ in 0..3 {
            calls.push(sim(
                "search",
                &deps,
                None,
                (1_800.0 * jitter.next(0.2)) as u64,
            ));
        }
        calls.push(sim(
            "read",
            &[first, first + 1, first + 2],
            None,
            (600.0 * jitter.next(0.2)) as u64,
        ));
        previous = Some(calls.len() - 1);
    }
    calls
}

/// One row of the table: the ETA's error at 25%, 50% and 75% of the batch, in percent of the
/// batch's duration (signed: + is late), over one or more runs.
struct Row {
    scenario: &'static str,
    runs: Vec<(u64, [Point; 3])>,
}

impl Row {
    fn one(scenario: &'static str, total: u64, points: [Point; 3]) -> Row {
        Row {
            scenario,
            runs: vec![(total, points)],
        }
    }

    /// Mean absolute error at each checkpoint, in percent.
    fn mean_abs(&self) -> [f64; 3] {
        [0, 1, 2].map(|k| {
            let sum: f64 = self
                .runs
                .iter()
                .map(|(t, p)| p[k].error_pct(*t).abs())
                .sum();
            sum / self.runs.len() as f64
        })
    }

    /// Worst absolute error at each checkpoint, in percent.
    fn worst(&self) -> [f64; 3] {
        [0, 1, 2].map(|k| {
            self.runs
                .iter()
                .map(|(t, p)| p[k].error_pct(*t).abs())
                .fold(0.0, f64::max)
        })
    }

    fn cells(&self) -> Vec<String> {
        if let [(total, points)] = self.runs.as_slice() {
            return points
                .iter()
                .map(|p| {
                    format!(
                        "{:+.1}% ({:+} ms)",
                        p.error_pct(*total),
                        p.eta_ms as i64 - p.true_ms as i64
                    )
                })
                .collect();
        }
        let (mean, worst) = (self.mean_abs(), self.worst());
        (0..3)
            .map(|k| format!("{:.1}% (worst {:.1}%)", mean[k], worst[k]))
            .collect()
    }
}

fn report(rows: &[Row]) {
    println!("\n| scenario | runs | ETA error at 25% | at 50% | at 75% |");
    println!("|---|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {} |",
            row.scenario,
            row.runs.len(),
            row.cells().join(" | ")
        );
    }
}

#[test]
fn eta_error_on_simulated_batches() {
    let mut rows = Vec::new();
    let exact = [200, 300, 500, 100, 400];

    // 1. Every estimate right: the ETA is exact.
    let calls = invite(exact.map(Some), exact);
    let (total, points, _) = simulate(&calls, &Estimator::new(), false);
    assert_eq!(total, 800);
    for p in points {
        assert_eq!(
            p.eta_ms, p.true_ms,
            "exact estimates give an exact ETA at {}",
            p.at_ms
        );
    }
    rows.push(Row::one(
        "invite (5 calls, 3 waves), exact estimates",
        total,
        points,
    ));

    // 2. Estimates 30-50% off either way.
    let truth = [280, 180, 700, 60, 560];
    let calls = invite(exact.map(Some), truth);
    let (total, points, _) = simulate(&calls, &Estimator::new(), false);
    let off = Row::one("invite, estimates 30-50% off", total, points);

    // 3. The same with tools reporting progress: the rate they show corrects the estimates.
    let (total, points, _) = simulate(&calls, &Estimator::new(), true);
    let reported = Row::one("invite, 30-50% off, progress reported", total, points);
    let max = |row: &Row| row.mean_abs().into_iter().fold(0.0, f64::max);
    assert!(max(&reported) < max(&off), "progress reports help");
    rows.push(off);
    rows.push(reported);

    // 4-6. Research batches over 20 random draws of the durations (±20%).
    let mut unknown = Row {
        scenario: "research (12 calls, 6 waves), unknown tools: 1 s default, learned in the batch",
        runs: vec![],
    };
    let mut learned = Row {
        scenario: "research, tools learned from an earlier batch",
        runs: vec![],
    };
    let mut learned_progress = Row {
        scenario: "research, learned, progress reported",
        runs: vec![],
    };
    for seed in 1..=20 {
        let mut jitter = Jitter(seed);
        let calls = research(&mut jitter);
        let (total, points, first_run) = simulate(&calls, &Estimator::new(), false);
        unknown.runs.push((total, points));
        // The next batch starts from what the first one taught.
        let mut estimator = Estimator::new();
        estimator.observe_snapshot(&first_run.snapshot(total));
        let calls = research(&mut jitter);
        let (total, points, _) = simulate(&calls, &estimator, false);
        learned.runs.push((total, points));
        let (total, points, _) = simulate(&calls, &estimator, true);
        learned_progress.runs.push((total, points));
    }
    assert!(
        max(&learned) < max(&unknown),
        "learning across batches helps"
    );
    assert!(
        max(&learned) < 10.0,
        "learned estimates are within 10% on average"
    );
    assert!(
        max(&learned_progress) <= max(&learned) + 0.5,
        "progress reports do not hurt"
    );
    rows.push(unknown);
    rows.push(learned);
    rows.push(learned_progress);

    report(&rows);
}
