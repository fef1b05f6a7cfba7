use volley_executor::{ErrorKind as K, Status as S};
use volley_planner::Condition;

use super::*;
use crate::aggregator::Config;
use crate::test_support::{O, ok, plan};

/// The calls of every case: two `search` calls, so they are named by id too.
const CALLS: &[(&str, &str)] = &[
    ("find_contact", "find_contact"),
    ("check_crm", "check_crm"),
    ("send_invite", "send_invite"),
    ("get_weather", "get_weather"),
    ("search#1", "search"),
    ("search#2", "search"),
];

/// The sentence for the last outcome, after the others, in a plan with a 5 s deadline.
fn sentence(outcomes: Vec<O>, units: Units) -> String {
    let mut plan = plan(CALLS);
    plan.deadline_ms = Some(5_000);
    plan.calls[2].when = Some(Condition::parse("$check_crm.free").unwrap());
    let outcomes: Vec<_> = outcomes.into_iter().map(O::done).collect();
    let config = Config::default();
    let batch = Batch::new(&config, &plan, &outcomes);
    let last = outcomes.last().unwrap();
    let row = batch.row_of(&last.id).unwrap();
    explain(&batch, row, units).unwrap_or_else(|| "<ok>".to_owned())
}

fn weather() -> O {
    ok(3, "get_weather", "get_weather")
}

fn crm() -> O {
    ok(1, "check_crm", "check_crm")
}

fn invite() -> O {
    ok(2, "send_invite", "send_invite")
}

#[test]
fn every_status_says_what_happened_and_why() {
    let cases: Vec<(&str, Vec<O>, &str, &str)> = vec![
        ("success", vec![weather().at(0, 10)], "<ok>", "<ok>"),
        (
            "the engine's timeout",
            vec![weather().at(0, 3_000).failed(
                S::Timeout,
                K::Timeout,
                "the attempt ran past its timeout of 3000 ms",
            )],
            "get_weather timed out after 3000 ms",
            "get_weather timed out after 3 s",
        ),
        (
            "a timeout after retries",
            vec![weather().at(0, 9_300).attempts(3).failed(
                S::Timeout,
                K::Timeout,
                "the attempt ran past its timeout of 3000 ms",
            )],
            "get_weather timed out after 3 attempts (9300 ms)",
            "get_weather timed out after 3 attempts (9.3 s)",
        ),
        (
            "the tool's own timeout says what timed out",
            vec![weather().at(0, 1_200).failed(
                S::Timeout,
                K::Timeout,
                "the weather API did not answer",
            )],
            "get_weather timed out after 1200 ms: the weather API did not answer",
            "get_weather timed out after 1.2 s: the weather API did not answer",
        ),
        (
            "the deadline while it ran",
            vec![weather().at(0, 5_000).failed(
                S::Timeout,
                K::DeadlineExceeded,
                "the batch deadline of 5000 ms passed while it ran",
            )],
            "get_weather timed out: the batch deadline of 5000 ms passed while it ran",
            "get_weather timed out: the batch deadline of 5000 ms passed while it ran",
        ),
        (
            "a permanent error",
            vec![crm().at(0, 80).failed(S::Error, K::Permanent, "HTTP 503")],
            "check_crm failed: HTTP 503",
            "check_crm failed: HTTP 503",
        ),
        (
            "a transient error after retries",
            vec![
                crm()
                    .at(0, 800)
                    .attempts(3)
                    .failed(S::Error, K::Transient, "HTTP 503"),
            ],
            "check_crm failed after 3 attempts: HTTP 503",
            "check_crm failed after 3 attempts: HTTP 503",
        ),
        (
            "invalid arguments",
            vec![crm().never_ran(0).failed(
                S::Error,
                K::InvalidArguments,
                "missing field `contact`",
            )],
            "check_crm was called with invalid arguments: missing field `contact`",
            "check_crm was called with invalid arguments: missing field `contact`",
        ),
        (
            "an unknown tool",
            vec![crm().never_ran(0).failed(
                S::Error,
                K::UnknownTool,
                "no tool named `check_crm` is available; did you mean `check_crm2`?",
            )],
            "check_crm failed: no tool named `check_crm` is available; did you mean `check_crm2`?",
            "check_crm failed: no tool named `check_crm` is available; did you mean `check_crm2`?",
        ),
        (
            "resources that can never be granted",
            vec![crm().never_ran(0).failed(
                S::Error,
                K::ResourceUnavailable,
                "it asks for 64 GiB of memory; the capacity is 16 GiB",
            )],
            "check_crm could not run: it asks for 64 GiB of memory; the capacity is 16 GiB",
            "check_crm could not run: it asks for 64 GiB of memory; the capacity is 16 GiB",
        ),
        (
            "cancelled by fail-fast",
            vec![
                crm().at(0, 80).failed(S::Error, K::Permanent, "HTTP 503"),
                weather()
                    .at(0, 80)
                    .failed(
                        S::Cancelled,
                        K::Cancelled,
                        "cancelled: the call `check_crm` failed and the batch is fail_fast",
                    )
                    .upstream("check_crm"),
            ],
            "get_weather was cancelled by fail-fast: check_crm failed, and the batch stops at its first failure",
            "get_weather was cancelled by fail-fast: check_crm failed, and the batch stops at its first failure",
        ),
        (
            "cancelled by the deadline",
            vec![weather().never_ran(5_000).failed(
                S::Cancelled,
                K::Cancelled,
                "cancelled: the batch deadline passed",
            )],
            "get_weather was cancelled by the batch deadline (5000 ms)",
            "get_weather was cancelled by the batch deadline (5 s)",
        ),
        (
            "the batch cancelled by the user",
            vec![weather().at(0, 40).failed(
                S::Cancelled,
                K::Cancelled,
                "cancelled: the batch was cancelled",
            )],
            "get_weather was cancelled by the user (the whole batch was cancelled)",
            "get_weather was cancelled by the user (the whole batch was cancelled)",
        ),
        (
            "the call cancelled by the user",
            vec![
                weather()
                    .at(0, 40)
                    .failed(S::Cancelled, K::Cancelled, "cancelled on request"),
            ],
            "get_weather was cancelled by the user",
            "get_weather was cancelled by the user",
        ),
        (
            "the engine shut down",
            vec![weather().at(0, 40).failed(
                S::Cancelled,
                K::Cancelled,
                "cancelled: the engine stopped (its runtime shut down) before the call finished",
            )],
            "get_weather was cancelled: the engine shut down before it finished",
            "get_weather was cancelled: the engine shut down before it finished",
        ),
        (
            "a cancellation the aggregator does not know: the executor's words",
            vec![weather().at(0, 40).failed(
                S::Cancelled,
                K::Cancelled,
                "the tool stopped on cancellation",
            )],
            "get_weather was cancelled: the tool stopped on cancellation",
            "get_weather was cancelled: the tool stopped on cancellation",
        ),
        (
            "skipped because a dependency failed",
            vec![
                crm().at(0, 80).failed(S::Error, K::Permanent, "HTTP 503"),
                invite()
                    .never_ran(80)
                    .failed(
                        S::Skipped,
                        K::DependencyFailed,
                        "not run: the call `check_crm` it depends on failed",
                    )
                    .upstream("check_crm"),
            ],
            "send_invite was skipped because check_crm failed",
            "send_invite was skipped because check_crm failed",
        ),
        (
            "skipped down a chain: the root cause first",
            vec![
                ok(0, "find_contact", "find_contact").at(0, 3_000).failed(
                    S::Timeout,
                    K::Timeout,
                    "the attempt ran past its timeout of 3000 ms",
                ),
                crm()
                    .never_ran(3_000)
                    .failed(
                        S::Skipped,
                        K::DependencyFailed,
                        "not run: the call `find_contact` it depends on timed out",
                    )
                    .upstream("find_contact"),
                invite()
                    .never_ran(3_000)
                    .failed(
                        S::Skipped,
                        K::DependencyFailed,
                        "not run: the call `check_crm` it depends on was skipped",
                    )
                    .upstream("check_crm"),
            ],
            "send_invite was skipped because find_contact timed out (so check_crm, which it needs, was skipped)",
            "send_invite was skipped because find_contact timed out (so check_crm, which it needs, was skipped)",
        ),
        (
            "skipped because of a tool called twice: named by id too",
            vec![
                ok(4, "search#1", "search").at(0, 10).failed(
                    S::Error,
                    K::Permanent,
                    "index offline",
                ),
                invite()
                    .never_ran(10)
                    .failed(
                        S::Skipped,
                        K::DependencyFailed,
                        "not run: the call `search#1` it depends on failed",
                    )
                    .upstream("search#1"),
            ],
            "send_invite was skipped because search (call `search#1`) failed",
            "send_invite was skipped because search (call `search#1`) failed",
        ),
        (
            "skipped by its condition",
            vec![
                crm().at(0, 80).output(serde_json::json!({"free": false})),
                invite()
                    .never_ran(80)
                    .failed(
                        S::Skipped,
                        K::ConditionFalse,
                        "not run: its condition `$check_crm.free` is false",
                    )
                    .upstream("check_crm"),
            ],
            "send_invite was skipped because its condition `$check_crm.free` was false",
            "send_invite was skipped because its condition `$check_crm.free` was false",
        ),
        (
            "skipped by the deadline",
            vec![invite().never_ran(5_000).failed(
                S::Skipped,
                K::DeadlineExceeded,
                "not run: the batch deadline of 5000 ms passed before it started",
            )],
            "send_invite was skipped because the batch deadline (5000 ms) passed before it could start",
            "send_invite was skipped because the batch deadline (5 s) passed before it could start",
        ),
        (
            "skipped for a reason the aggregator does not know",
            vec![invite().never_ran(0).failed(
                S::Skipped,
                K::Permanent,
                "not run: the moon was full",
            )],
            "send_invite was skipped: the moon was full",
            "send_invite was skipped: the moon was full",
        ),
    ];
    for (name, outcomes, model, people) in cases {
        assert_eq!(
            sentence(outcomes.clone(), Units::Model),
            model,
            "{name} (model)"
        );
        assert_eq!(sentence(outcomes, Units::People), people, "{name} (people)");
    }
}

#[test]
fn a_call_without_an_outcome_says_so() {
    let plan = plan(CALLS);
    let outcomes = vec![ok(0, "find_contact", "find_contact").at(0, 10).done()];
    let config = Config::default();
    let batch = Batch::new(&config, &plan, &outcomes);
    assert_eq!(
        explain(&batch, 3, Units::Model).unwrap(),
        "get_weather has no result: the executor reported none, so it may not have run"
    );
    assert_eq!(batch.outcome(3).status, S::Cancelled);
    assert_eq!(batch.outcome(3).message(), Some(crate::batch::NO_OUTCOME));
}

#[test]
fn messages_for_people_are_capped_and_messages_for_the_model_are_not() {
    let long = "x".repeat(500);
    let outcomes = vec![crm().at(0, 1).failed(S::Error, K::Permanent, &long)];
    assert_eq!(
        sentence(outcomes.clone(), Units::Model),
        format!("check_crm failed: {long}")
    );
    let people = sentence(outcomes, Units::People);
    assert!(people.len() < 200 && people.ends_with('…'), "{people}");
}
