//! Folding events into snapshots, statistics and the ETA.

use serde_json::json;
use volley_planner::{Call, Plan, Planner};

use super::*;
use crate::eta::Eta;

/// find_contact -> (check_crm, check_calendar) -> send_invite, and get_weather alone.
fn invite_plan() -> (Plan, Roster) {
    let plan = Plan::new(vec![
        Call::new("find_contact", json!({})).estimated_ms(200),
        Call::new("check_crm", json!({"id": "$find_contact.id"})).estimated_ms(300),
        Call::new("check_calendar", json!({"who": "$find_contact.name"})).estimated_ms(500),
        Call::new("send_invite", json!({"slot": "$check_calendar.free"}))
            .after("check_crm")
            .estimated_ms(100),
        Call::new("get_weather", json!({})).estimated_ms(400),
    ]);
    let dag = Planner::new().plan(&plan).unwrap();
    let roster = Roster::new(&plan, &dag).unwrap();
    (plan, roster)
}

/// Events as `(call, at_ms, kind)`.
type Script = Vec<(usize, u64, EventKind)>;

fn started() -> EventKind {
    EventKind::Started { attempt: 1 }
}

/// Applies `(call, at_ms, kind)` in order, numbering events from 1.
fn run(tracker: &mut Tracker, events: &[(usize, u64, EventKind)]) {
    for (seq, (call, at, kind)) in events.iter().enumerate() {
        tracker.apply_at(*call, seq as u64 + 1, *at, kind);
    }
}

fn statuses(snapshot: &BatchSnapshot) -> Vec<CallStatus> {
    snapshot.calls.iter().map(|c| c.status).collect()
}

#[test]
fn events_move_calls_through_their_lifecycle() {
    use CallStatus::*;
    let (_, roster) = invite_plan();
    // (events so far, statuses after them)
    let steps: Vec<(Script, [CallStatus; 5])> = vec![
        (vec![], [Waiting, Waiting, Waiting, Waiting, Waiting]),
        (
            vec![(0, 0, EventKind::Queued), (4, 0, EventKind::Queued)],
            [Queued, Waiting, Waiting, Waiting, Queued],
        ),
        (
            vec![(0, 1, started()), (4, 1, started())],
            [Running, Waiting, Waiting, Waiting, Running],
        ),
        (
            vec![(
                4,
                50,
                EventKind::Retrying {
                    attempt: 2,
                    delay_ms: 100,
                },
            )],
            [Running, Waiting, Waiting, Waiting, Retrying],
        ),
        (
            vec![
                (0, 200, EventKind::Completed),
                (4, 150, EventKind::Started { attempt: 2 }),
            ],
            [Completed, Waiting, Waiting, Waiting, Running],
        ),
        (
            vec![(1, 200, started()), (2, 200, started())],
            [Completed, Running, Running, Waiting, Running],
        ),
        (
            vec![
                (1, 400, EventKind::failed("unavailable", "CRM down")),
                (3, 400, EventKind::skipped("`check_crm` failed")),
                (2, 700, EventKind::TimedOut { after_ms: 500 }),
                (
                    4,
                    600,
                    EventKind::Cancelled {
                        reason: Some("fail_fast".into()),
                    },
                ),
            ],
            [Completed, Failed, TimedOut, Skipped, Cancelled],
        ),
        // The first outcome wins; nothing moves a finished call.
        (
            vec![
                (0, 800, started()),
                (1, 800, EventKind::Completed),
                (3, 800, EventKind::Queued),
            ],
            [Completed, Failed, TimedOut, Skipped, Cancelled],
        ),
    ];
    let mut tracker = Tracker::new(roster);
    let mut seq = 0;
    for (events, expected) in steps {
        for (call, at, kind) in events {
            seq += 1;
            tracker.apply_at(call, seq, at, &kind);
        }
        let snapshot = tracker.snapshot(0);
        assert_eq!(statuses(&snapshot), expected, "after event {seq}");
        let counts = snapshot.counts;
        for status in CallStatus::ALL {
            let n = expected.iter().filter(|&&s| s == status).count() as u32;
            assert_eq!(counts.get(status), n, "{status:?} after event {seq}");
        }
        assert_eq!(counts.total(), 5);
    }
    let snapshot = tracker.snapshot(900);
    assert!(snapshot.finished);
    assert_eq!(snapshot.seq, 16);
    let weather = snapshot.call("get_weather").unwrap();
    assert_eq!(weather.attempts, 2);
    assert_eq!((weather.started_ms, weather.ended_ms), (Some(1), Some(600)));
    assert_eq!(weather.message.as_deref(), Some("fail_fast"));
    let crm = snapshot.call("check_crm").unwrap();
    assert_eq!(crm.error.as_deref(), Some("unavailable"));
    assert_eq!(crm.message.as_deref(), Some("CRM down"));
    let calendar = snapshot.call("check_calendar").unwrap();
    assert_eq!(calendar.error.as_deref(), Some("timed_out"));
    assert_eq!(calendar.message.as_deref(), Some("timed out after 500 ms"));
    assert_eq!(snapshot.eta_ms, 0);
}

#[test]
fn progress_sets_fraction_and_step_only_while_running() {
    let (_, roster) = invite_plan();
    let mut tracker = Tracker::new(roster);
    run(
        &mut tracker,
        &[
            (4, 0, EventKind::progress(0.3, Some("too early"))),
            (4, 0, started()),
            (4, 10, EventKind::progress(0.4, Some("fetching page 2"))),
            (4, 20, EventKind::progress(0.6, None)),
        ],
    );
    let call = tracker.call(4).unwrap();
    assert_eq!(call.fraction, 0.6);
    assert_eq!(
        call.step.as_deref(),
        Some("fetching page 2"),
        "a step stays until replaced"
    );
    run(
        &mut tracker,
        &[(
            4,
            30,
            EventKind::Retrying {
                attempt: 2,
                delay_ms: 10,
            },
        )],
    );
    let call = tracker.call(4).unwrap();
    assert_eq!((call.fraction, call.step.as_deref()), (0.0, None));
    run(&mut tracker, &[(4, 40, EventKind::Completed)]);
    assert_eq!(tracker.call(4).unwrap().fraction, 1.0);
}

#[test]
fn batch_fraction_is_weighted_by_estimates() {
    let (_, roster) = invite_plan();
    // Estimates: 200, 300, 500, 100, 400 (total 1500).
    for (events, now, expected) in [
        (vec![], 0, 0.0),
        (
            vec![(0, 0, started()), (0, 200, EventKind::Completed)],
            200,
            200.0 / 1500.0,
        ),
        // get_weather reported half: 200 of its 400.
        (
            vec![(4, 0, started()), (4, 100, EventKind::progress(0.5, None))],
            100,
            200.0 / 1500.0,
        ),
        // No report: the elapsed share of its estimate, 100 of 400…
        (vec![(4, 0, started())], 100, 100.0 / 1500.0),
        // …capped at 0.9 of it when it overruns.
        (vec![(4, 0, started())], 10_000, 360.0 / 1500.0),
        // Failed and skipped calls are over: they count as done.
        (
            vec![
                (0, 0, EventKind::failed("x", "y")),
                (3, 0, EventKind::skipped("z")),
            ],
            0,
            300.0 / 1500.0,
        ),
    ] {
        let mut tracker = Tracker::new(roster.clone());
        run(&mut tracker, &events);
        let fraction = tracker.snapshot(now).fraction;
        assert!(
            (fraction - expected).abs() < 1e-9,
            "{fraction} != {expected} for {events:?}"
        );
    }
}

#[test]
fn tool_stats_by_tool_with_percentiles_and_failure_rate() {
    let plan = Plan::new(vec![
        Call::new("search", json!({"q": 1})),
        Call::new("search", json!({"q": 2})),
        Call::new("search", json!({"q": 3})),
        Call::new("search", json!({"q": 4})),
        Call::new("fetch", json!({})),
        Call::new("fetch", json!({})),
    ]);
    let dag = Planner::new().plan(&plan).unwrap();
    let mut tracker = Tracker::new(Roster::new(&plan, &dag).unwrap());
    run(
        &mut tracker,
        &[
            (0, 0, started()),
            (1, 0, started()),
            (2, 0, started()),
            (3, 0, started()),
            (4, 0, started()),
            (0, 100, EventKind::Completed),
            (1, 300, EventKind::Completed),
            (2, 200, EventKind::Completed),
            (3, 50, EventKind::failed("bad_request", "no")),
            (4, 10, EventKind::TimedOut { after_ms: 10 }),
            (5, 10, EventKind::Cancelled { reason: None }),
        ],
    );
    let stats = tracker.tool_stats();
    assert_eq!(stats.len(), 2);
    let search = &stats[0];
    assert_eq!(&*search.tool, "search");
    assert_eq!((search.count, search.completed, search.failed), (4, 3, 1));
    assert_eq!(search.mean_ms, Some(200));
    assert_eq!(
        (search.p50_ms, search.p90_ms, search.p99_ms),
        (Some(200), Some(300), Some(300))
    );
    assert_eq!(search.failure_rate, 0.25);
    let fetch = &stats[1];
    assert_eq!((fetch.count, fetch.failed, fetch.mean_ms), (1, 1, None));
    assert_eq!(fetch.failure_rate, 1.0);
    // The tracker learned the search durations as it went.
    assert_eq!(tracker.estimator().observations("search"), 3);
    assert_eq!(tracker.estimator().stats("fetch").unwrap().failed, 1);
}

#[test]
fn apply_finds_calls_by_id_and_ignores_strangers() {
    let (_, roster) = invite_plan();
    let mut tracker = Tracker::new(roster);
    assert!(tracker.apply(&Event::new(1, 5, "get_weather", "get_weather", started())));
    assert!(!tracker.apply(&Event::new(2, 6, "nobody", "x", started())));
    assert_eq!(tracker.counts().running, 1);
    // Only events of the batch's calls count.
    assert_eq!((tracker.seq(), tracker.last_at_ms()), (1, 5));
}

#[test]
fn snapshots_serialize_for_the_http_api() {
    let (_, roster) = invite_plan();
    let mut tracker = Tracker::new(roster);
    run(
        &mut tracker,
        &[
            (4, 0, started()),
            (4, 100, EventKind::progress(0.5, Some("asking"))),
        ],
    );
    let snapshot = tracker.snapshot(100);
    let value: serde_json::Value = serde_json::from_str(&snapshot.to_json()).unwrap();
    assert_eq!(value["seq"], 2);
    assert_eq!(value["running"], json!(["get_weather"]));
    assert_eq!(value["counts"]["running"], 1);
    assert_eq!(
        value["calls"][4],
        json!({"id": "get_weather", "tool": "get_weather", "status": "running", "started_ms": 0,
               "fraction": 0.5, "step": "asking", "attempts": 1, "estimate_ms": 400})
    );
    let back: BatchSnapshot = serde_json::from_str(&snapshot.to_json()).unwrap();
    assert_eq!(back, snapshot);
}

/// ETA by hand on the invite plan: find_contact 200 -> check_calendar 500 -> send_invite 100.
#[test]
fn eta_is_the_remaining_critical_path() {
    let (_, roster) = invite_plan();
    let ids = |eta: &Eta| eta.path.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // (events, now, remaining, path)
    for (events, now, remaining, path) in [
        (
            vec![],
            0,
            800,
            vec!["find_contact", "check_calendar", "send_invite"],
        ),
        // find_contact ran 50 of 200: 150 + 500 + 100.
        (
            vec![(0, 0, started())],
            50,
            750,
            vec!["find_contact", "check_calendar", "send_invite"],
        ),
        // It overran (300 of 200): max(0, 300 / 10, 10) = 30 more.
        (
            vec![(0, 0, started())],
            300,
            630,
            vec!["find_contact", "check_calendar", "send_invite"],
        ),
        // It reported 0.75 after 150 of 200: by rate 50, by estimate 50: 50 + 600.
        (
            vec![(0, 0, started()), (0, 150, EventKind::progress(0.75, None))],
            150,
            650,
            vec!["find_contact", "check_calendar", "send_invite"],
        ),
        // Done at 200; calendar started and ran 100: 400 + 100.
        (
            vec![
                (0, 0, started()),
                (4, 0, started()),
                (0, 200, EventKind::Completed),
                (1, 200, started()),
                (2, 200, started()),
            ],
            300,
            500,
            vec!["check_calendar", "send_invite"],
        ),
        // find_contact failed: everything that needs it is skipped; only the weather remains.
        (
            vec![
                (0, 0, started()),
                (4, 0, started()),
                (0, 100, EventKind::failed("x", "y")),
            ],
            100,
            300,
            vec!["get_weather"],
        ),
        // Retrying: 80 ms of delay left + a whole attempt.
        (
            vec![(
                0,
                0,
                EventKind::Retrying {
                    attempt: 2,
                    delay_ms: 100,
                },
            )],
            20,
            80 + 200 + 500 + 100,
            vec!["find_contact", "check_calendar", "send_invite"],
        ),
    ] {
        let mut tracker = Tracker::new(roster.clone());
        run(&mut tracker, &events);
        let eta = tracker.eta(now);
        assert_eq!(
            (eta.remaining_ms, ids(&eta)),
            (remaining, path.iter().map(|s| s.to_string()).collect()),
            "{events:?} at {now}"
        );
        assert_eq!(eta.finish_at_ms, now + remaining);
    }
}

#[test]
fn eta_respects_max_concurrency_and_learned_estimates() {
    let mut plan = Plan::new(
        (0..4)
            .map(|i| Call::new("search", json!({ "q": i })).estimated_ms(100))
            .collect(),
    );
    plan.max_concurrency = Some(2);
    let dag = Planner::new().plan(&plan).unwrap();
    let roster = Roster::new(&plan, &dag).unwrap();
    let tracker = Tracker::new(roster.clone());
    // Four calls of 100 on two slots: 200, not the critical path's 100.
    assert_eq!(tracker.eta(0).remaining_ms, 200);

    // Seeded with what earlier batches learned: 300 each.
    let mut estimator = Estimator::new();
    estimator.observe("search", 300);
    let mut tracker = Tracker::with_estimator(roster, estimator);
    assert_eq!(tracker.eta(0).remaining_ms, 600);
    // A call of this batch completes in 100: the estimate moves to 200 for the others.
    run(
        &mut tracker,
        &[(0, 0, started()), (0, 100, EventKind::Completed)],
    );
    assert_eq!(tracker.estimate_ms(1), 200);
    assert_eq!(tracker.eta(100).remaining_ms, 300);
}
