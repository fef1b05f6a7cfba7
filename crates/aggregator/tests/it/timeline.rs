//! The timeline: lanes, waves, the critical path, JSON for the CLI's Gantt chart.

use proptest::prelude::*;
use serde_json::{Value, json};
use volley_aggregator::{Aggregator, Bar};
use volley_executor::{ErrorKind as K, Outcome, Status as S};
use volley_planner::{Call, Plan, Planner};

use crate::support::{O, ok};

#[test]
fn bars_have_lanes_waves_and_the_critical_path() {
    let plan = Plan::new(vec![
        Call::new("find_contact", json!({})),
        Call::new("check_crm", json!({"contact": "$find_contact.id"})),
        Call::new("check_calendar", json!({})),
        Call::new(
            "send_invite",
            json!({"to": "$check_crm.email", "at": "$check_calendar.free"}),
        ),
        Call::new("notify", json!({"about": "$send_invite.id"})),
    ]);
    let dag = Planner::new().plan(&plan).unwrap();
    let outcomes: Vec<Outcome> = vec![
        ok(0, "find_contact", "find_contact").at(0, 200),
        ok(1, "check_crm", "check_crm").at(200, 450),
        ok(2, "check_calendar", "check_calendar").at(0, 600),
        ok(3, "send_invite", "send_invite")
            .at(650, 700)
            .queued(600)
            .failed(S::Error, K::Permanent, "mail server down"),
        ok(4, "notify", "notify")
            .never_ran(700)
            .failed(S::Skipped, K::DependencyFailed, "not run")
            .upstream("send_invite"),
    ]
    .into_iter()
    .map(O::done)
    .collect();
    let timeline = Aggregator::new()
        .batch(&plan, &outcomes)
        .with_dag(&dag)
        .timeline();
    assert_eq!(
        (timeline.wall_ms, timeline.lanes, timeline.waves),
        (700, 2, 4)
    );
    assert_eq!(
        timeline.critical_path,
        ["check_calendar".into(), "send_invite".into()]
    );
    // (id, lane, wave, critical)
    let bars: Vec<(&str, Option<usize>, Option<usize>, bool)> = timeline
        .calls
        .iter()
        .map(|b| (&*b.id, b.lane, b.wave, b.critical))
        .collect();
    assert_eq!(
        bars,
        [
            ("find_contact", Some(0), Some(1), false),
            // Free from 200 ms: check_crm takes find_contact's lane.
            ("check_crm", Some(0), Some(2), false),
            ("check_calendar", Some(1), Some(1), true),
            ("send_invite", Some(0), Some(3), true),
            ("notify", None, Some(4), false),
        ]
    );
    let invite = serde_json::to_value(&timeline.calls[3]).unwrap();
    assert_eq!(
        invite,
        json!({"id": "send_invite", "tool": "send_invite", "status": "error", "lane": 0, "wave": 3,
               "queued_ms": 600, "start_ms": 650, "end_ms": 700, "attempts": 1, "critical": true})
    );
    let value: Value = serde_json::from_str(&timeline.to_json()).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["wall_ms", "lanes", "waves", "critical_path", "calls"]
    );
    assert_eq!(value["calls"][4]["lane"], Value::Null);
}

/// Whether two bars ran at the same time: `[start, end)`, a zero-length bar at its instant.
fn overlap(a: &Bar, b: &Bar) -> bool {
    let span = |bar: &Bar| {
        let start = 2 * bar.start_ms.unwrap();
        let end = (2 * bar.end_ms).max(start + 1);
        (start, end)
    };
    let ((a0, a1), (b0, b1)) = (span(a), span(b));
    a0 < b1 && b0 < a1
}

proptest! {
    /// Calls that ran at the same time never share a lane, and the run uses as many lanes as
    /// its peak concurrency.
    #[test]
    fn concurrent_calls_never_share_a_lane(
        spans in proptest::collection::vec((0u64..50, 0u64..20, any::<bool>()), 0..40),
    ) {
        let plan = crate::support::plan(
            &(0..spans.len()).map(|_| ("", "t")).collect::<Vec<_>>(),
        );
        let outcomes: Vec<Outcome> = spans
            .iter()
            .enumerate()
            .map(|(i, &(start, len, started))| {
                let outcome = ok(i, &plan.calls[i].id, "t");
                if started { outcome.at(start, start + len) } else { outcome.never_ran(start) }
            })
            .map(O::done)
            .collect();
        let aggregator = Aggregator::new();
        let batch = aggregator.batch(&plan, &outcomes);
        let timeline = batch.timeline();
        prop_assert_eq!(timeline.lanes, batch.summary().peak_concurrency);
        for (i, a) in timeline.calls.iter().enumerate() {
            prop_assert_eq!(a.lane.is_some(), a.start_ms.is_some());
            if let Some(lane) = a.lane {
                prop_assert!(lane < timeline.lanes);
            }
            for b in &timeline.calls[i + 1..] {
                if a.lane.is_some() && a.lane == b.lane {
                    prop_assert!(!overlap(a, b), "{:?} and {:?} share lane {:?}", a, b, a.lane);
                }
            }
        }
    }
}
