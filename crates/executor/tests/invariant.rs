#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! The invariant: every call gets exactly one outcome, in plan order, consistent with what
//! happened, over random plans with random failures, timeouts, deadlines and cancellations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;
use volley_executor::testing::ScriptedTool;
use volley_executor::{AuditRecord, AuditSink, Engine, ErrorKind, Registry, Status, ToolError};
use volley_planner::{Call, OnDependencyFailure, Plan, RetryPolicy};

/// Counts `finished` records per call.
#[derive(Default)]
struct Finished(Mutex<HashMap<String, u32>>);

impl AuditSink for Finished {
    fn record(&self, record: &AuditRecord<'_>) {
        if record.event.name() == "finished" {
            *self
                .0
                .lock()
                .unwrap()
                .entry(record.call.to_owned())
                .or_default() += 1;
        }
    }
}

const TOOLS: [&str; 8] = [
    "instant", "slow", "flaky", "broken", "boom", "hang", "stubborn", "missing",
];

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(ScriptedTool::new("instant")).unwrap();
    r.register(ScriptedTool::new("slow").latency_ms(120))
        .unwrap();
    r.register(
        ScriptedTool::new("flaky")
            .latency_ms(30)
            .fail_on(1, ToolError::transient("503")),
    )
    .unwrap();
    r.register(
        ScriptedTool::new("broken")
            .latency_ms(20)
            .fail_permanently("no"),
    )
    .unwrap();
    r.register(ScriptedTool::new("boom").latency_ms(10).panic_on(1, "boom"))
        .unwrap();
    r.register(
        ScriptedTool::new("hang")
            .latency_ms(5_000)
            .timeout(Duration::from_millis(80)),
    )
    .unwrap();
    r.register(
        ScriptedTool::new("stubborn")
            .latency_ms(400)
            .ignore_cancellation(),
    )
    .unwrap();
    r
}

#[derive(Debug, Clone)]
struct Spec {
    tool: usize,
    deps: Vec<usize>,
    by_reference: bool,
    run_anyway: bool,
    retry: bool,
}

#[derive(Debug, Clone)]
struct Case {
    calls: Vec<Spec>,
    strategy: usize,
    limit: Option<usize>,
    fail_fast: bool,
    deadline: Option<u64>,
    cancel_at: Option<u64>,
    cancel_one: Option<(usize, u64)>,
}

fn case() -> impl Strategy<Value = Case> {
    let spec = (
        0..TOOLS.len(),
        prop::collection::vec(0usize..64, 0..3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(tool, deps, by_reference, run_anyway, retry)| Spec {
            tool,
            deps,
            by_reference,
            run_anyway,
            retry,
        });
    (
        prop::collection::vec(spec, 1..25),
        0usize..5,
        prop::option::of(1usize..6),
        any::<bool>(),
        prop::option::of(0u64..600),
        prop::option::of(0u64..600),
        prop::option::of((0usize..25, 0u64..300)),
    )
        .prop_map(
            |(calls, strategy, limit, fail_fast, deadline, cancel_at, cancel_one)| Case {
                calls,
                strategy,
                limit,
                fail_fast,
                deadline,
                cancel_at,
                cancel_one,
            },
        )
}

fn plan_of(case: &Case) -> Plan {
    let calls = case
        .calls
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let id = format!("c{i}");
            let deps: Vec<usize> = if i == 0 {
                Vec::new()
            } else {
                let mut d: Vec<usize> = spec.deps.iter().map(|d| d % i).collect();
                d.sort_unstable();
                d.dedup();
                d
            };
            let args = if spec.by_reference {
                json!({"inputs": deps.iter().map(|d| format!("$c{d}")).collect::<Vec<_>>()})
            } else {
                json!({})
            };
            let mut call = Call::new(TOOLS[spec.tool], args).with_id(id);
            if !spec.by_reference {
                call.depends_on = deps.iter().map(|d| format!("c{d}")).collect();
            }
            if spec.run_anyway {
                call.on_dependency_failure = OnDependencyFailure::Run;
            }
            if spec.retry {
                call.retry = Some(RetryPolicy {
                    max_attempts: 2,
                    backoff_ms: 15,
                    max_backoff_ms: 15,
                });
            }
            call
        })
        .collect();
    let mut plan = Plan::new(calls);
    plan.strategy = volley_planner::Strategy::ALL[case.strategy];
    plan.max_concurrency = case.limit;
    plan.fail_fast = case.fail_fast;
    plan.deadline_ms = case.deadline;
    plan
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let finished = Arc::new(Finished::default());
        let engine = Engine::builder(registry())
            .clear_audit()
            .audit(finished.clone())
            .grace_period(Duration::from_millis(50))
            .seed(1)
            .build();
        let plan = plan_of(case);
        let deps: Vec<Vec<String>> = plan
            .calls
            .iter()
            .map(|c| {
                let mut d = c.depends_on.clone();
                if let Some(inputs) = c.args.get("inputs").and_then(|v| v.as_array()) {
                    d.extend(inputs.iter().map(|v| v.as_str().unwrap()[1..].to_owned()));
                }
                d
            })
            .collect();
        let ids: Vec<String> = plan.calls.iter().map(|c| c.id.clone()).collect();
        let batch = engine.run(plan).unwrap();
        let start = tokio::time::Instant::now();
        let mut events: Vec<(u64, Option<usize>)> = Vec::new();
        if let Some(at) = case.cancel_at {
            events.push((at, None));
        }
        if let Some((i, at)) = case.cancel_one {
            events.push((at, Some(i % ids.len())));
        }
        events.sort_unstable();
        for (at, which) in events {
            tokio::time::sleep_until(start + Duration::from_millis(at)).await;
            match which {
                None => batch.cancel(),
                Some(i) => {
                    let _ = batch.cancel_call(&ids[i]).await;
                }
            }
        }
        let outcomes = tokio::time::timeout(Duration::from_secs(60), batch.wait())
            .await
            .expect("every batch ends");

        prop_assert_eq!(outcomes.len(), ids.len());
        let counts = finished.0.lock().unwrap().clone();
        for (i, o) in outcomes.iter().enumerate() {
            prop_assert_eq!(o.index, i);
            prop_assert_eq!(&*o.id, ids[i].as_str());
            prop_assert_eq!(
                counts.get(&ids[i]).copied(),
                Some(1),
                "one audit outcome for {}",
                &ids[i]
            );
            prop_assert_eq!(o.status == Status::Ok, o.output.is_some());
            prop_assert_eq!(o.status == Status::Ok, o.error.is_none());
            prop_assert_eq!(o.attempts > 0, o.started_at_ms.is_some(), "{:?}", o);
            if let (Some(q), Some(s)) = (o.queued_at_ms, o.started_at_ms) {
                prop_assert!(q <= s);
            }
            if let Some(s) = o.started_at_ms {
                prop_assert!(s <= o.ended_at_ms);
            }
            if o.error_kind() == Some(ErrorKind::DependencyFailed) {
                let up = o.error.as_ref().unwrap().upstream.clone().unwrap();
                prop_assert!(
                    deps[i].contains(&up),
                    "{} skipped for a non-dependency {}",
                    &ids[i],
                    up
                );
                let upstream = outcomes.get(&up).unwrap();
                prop_assert!(upstream.status != Status::Ok);
            }
            if o.status == Status::Ok {
                for d in &deps[i] {
                    let dep = outcomes.get(d).unwrap();
                    prop_assert!(dep.ended_at_ms <= o.started_at_ms.unwrap());
                }
            }
            if TOOLS[case.calls[i].tool] == "missing" {
                prop_assert_eq!(o.error_kind(), Some(ErrorKind::UnknownTool));
            }
        }
        if let Some(deadline) = case.deadline {
            prop_assert!(
                outcomes.elapsed_ms() <= deadline.max(1) + 1,
                "{} > {}",
                outcomes.elapsed_ms(),
                deadline
            );
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_call_gets_exactly_one_consistent_outcome(case in case()) {
        check(&case)?;
    }
}
