//! Merged errors: groups by tool and kind, the line for people, the sentence to say.

use serde_json::json;
use volley_aggregator::{Aggregator, ErrorSummary};
use volley_executor::{ErrorKind as K, Outcome, Status as S};
use volley_planner::{Call, Condition, Plan};

use crate::support::{O, ok, plan};

const TIMEOUT: &str = "the attempt ran past its timeout of 3000 ms";

fn summary(aggregator: &Aggregator, plan: &Plan, outcomes: Vec<O>) -> ErrorSummary {
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(O::done).collect();
    aggregator.batch(plan, &outcomes).errors()
}

#[test]
fn the_issue_example_in_one_line_and_one_sentence() {
    let plan = plan(&[
        ("find_contact", "find_contact"),
        ("get_weather", "get_weather"),
        ("check_crm", "check_crm"),
        ("check_calendar", "check_calendar"),
    ]);
    let aggregator = Aggregator::builder()
        .noun("lookup", "lookups")
        .tool_phrase("get_weather", "the weather")
        .tool_phrase("check_crm", "the CRM")
        .build();
    let errors = summary(
        &aggregator,
        &plan,
        vec![
            ok(0, "find_contact", "find_contact").at(0, 100),
            ok(1, "get_weather", "get_weather").at(0, 3_000).failed(
                S::Timeout,
                K::Timeout,
                TIMEOUT,
            ),
            ok(2, "check_crm", "check_crm").at(0, 90).failed(
                S::Error,
                K::Transient,
                "returned 503",
            ),
            ok(3, "check_calendar", "check_calendar").at(0, 100),
        ],
    );
    assert_eq!(
        errors.line,
        "2 of 4 lookups failed: get_weather timed out after 3 s; check_crm failed: returned 503"
    );
    assert_eq!(errors.to_string(), errors.line);
    assert_eq!(
        errors.spoken,
        "2 of 4 lookups didn't work: the weather took too long and the CRM failed."
    );
    assert_eq!(
        (errors.total, errors.unsuccessful, errors.groups.len()),
        (4, 2, 2)
    );
    assert!(!errors.is_empty());
}

#[test]
fn failures_are_grouped_by_tool_and_kind_in_plan_order() {
    let plan = plan(&[
        ("s1", "search"),
        ("s2", "search"),
        ("s3", "search"),
        ("s4", "search"),
        ("s5", "search"),
        ("fetch", "fetch"),
        ("f2", "fetch"),
    ]);
    let errors = summary(
        &Aggregator::new(),
        &plan,
        vec![
            ok(0, "s1", "search")
                .at(0, 2_900)
                .failed(S::Timeout, K::Timeout, TIMEOUT),
            ok(1, "s2", "search")
                .at(0, 50)
                .failed(S::Error, K::Permanent, "index offline"),
            ok(2, "s3", "search")
                .at(0, 3_000)
                .failed(S::Timeout, K::Timeout, TIMEOUT),
            ok(3, "s4", "search")
                .at(0, 50)
                .failed(S::Error, K::Permanent, "index offline"),
            ok(4, "s5", "search")
                .at(0, 50)
                .failed(S::Error, K::Permanent, "quota exceeded"),
            ok(5, "fetch", "fetch")
                .never_ran(2_900)
                .failed(S::Skipped, K::DependencyFailed, "not run")
                .upstream("s1"),
            ok(6, "f2", "fetch")
                .never_ran(2_900)
                .failed(S::Skipped, K::DependencyFailed, "not run")
                .upstream("s1"),
        ],
    );
    let groups: Vec<(&str, K, S, Vec<&str>, &str)> = errors
        .groups
        .iter()
        .map(|g| {
            (
                &*g.tool,
                g.kind,
                g.status,
                g.ids.iter().map(|id| &**id).collect(),
                g.line.as_str(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (
                "search",
                K::Timeout,
                S::Timeout,
                vec!["s1", "s3"],
                "search timed out after up to 3 s (2 calls)"
            ),
            (
                "search",
                K::Permanent,
                S::Error,
                vec!["s2", "s4", "s5"],
                "search failed: index offline (and 2 more calls)"
            ),
            (
                "fetch",
                K::DependencyFailed,
                S::Skipped,
                vec!["fetch", "f2"],
                "fetch was skipped because search (call `s1`) timed out (2 calls)"
            ),
        ]
    );
    assert_eq!(
        errors.line,
        "7 of 7 calls failed: search timed out after up to 3 s (2 calls); \
         search failed: index offline (and 2 more calls); \
         fetch was skipped because search (call `s1`) timed out (2 calls)"
    );
    assert_eq!(
        errors.spoken,
        "None of the 7 calls worked: search took too long, search failed and fetch couldn't run."
    );
}

#[test]
fn the_spoken_sentence_never_says_arguments_outputs_ids_or_messages() {
    let secret = "sk-live-5f3a9c";
    let mut call = Call::new(
        "charge_card",
        json!({"card": "4111 1111 1111 1111", "key": secret}),
    );
    call.id = "toolu_01SECRETID".into();
    let plan = Plan::new(vec![call, Call::new("lookup", json!({})).with_id("x")]);
    let errors = summary(
        &Aggregator::new(),
        &plan,
        vec![
            ok(0, "toolu_01SECRETID", "charge_card").at(0, 10).failed(
                S::Error,
                K::Permanent,
                &format!("401 Unauthorized: invalid key {secret} for 4111 1111 1111 1111"),
            ),
            ok(1, "x", "lookup")
                .at(0, 10)
                .output(json!({"token": secret})),
        ],
    );
    assert_eq!(
        errors.spoken,
        "1 of 2 calls didn't work: charge card failed."
    );
    for leak in [secret, "4111", "toolu_01SECRETID", "Unauthorized"] {
        assert!(
            !errors.spoken.contains(leak),
            "{leak} in {:?}",
            errors.spoken
        );
    }
    // The line for people quotes the message (it is for logs and operators).
    assert!(errors.line.contains("401 Unauthorized"));
}

#[test]
fn headlines_and_sentences_for_each_shape_of_batch() {
    let empty = Plan::default();
    let one = plan(&[("a", "get_weather")]);
    let three = plan(&[("a", "a_tool"), ("b", "b_tool"), ("c", "c_tool")]);
    let mut conditional = plan(&[("a", "check"), ("b", "act")]);
    conditional.calls[1].when = Some(Condition::parse("$a.busy").unwrap());
    let fail = |o: O| o.at(0, 10).failed(S::Error, K::Permanent, "boom");
    let six = plan(&[
        ("a", "t1"),
        ("b", "t2"),
        ("c", "t3"),
        ("d", "t4"),
        ("e", "t5"),
        ("f", "t5"),
    ]);
    let cases: Vec<(&str, &Plan, Vec<O>, &str, &str)> = vec![
        (
            "no calls",
            &empty,
            vec![],
            "no calls to run",
            "There was nothing to do.",
        ),
        (
            "all succeeded",
            &three,
            vec![
                ok(0, "a", "a_tool"),
                ok(1, "b", "b_tool"),
                ok(2, "c", "c_tool"),
            ],
            "all 3 calls succeeded",
            "Everything worked.",
        ),
        (
            "one call, succeeded",
            &one,
            vec![ok(0, "a", "get_weather")],
            "the call succeeded",
            "Everything worked.",
        ),
        (
            "one call, failed",
            &one,
            vec![fail(ok(0, "a", "get_weather"))],
            "1 of 1 call failed: get_weather failed: boom",
            "The call didn't work: get weather failed.",
        ),
        (
            "a condition skip is no failure",
            &conditional,
            vec![
                ok(0, "a", "check").output(json!({"busy": false})),
                ok(1, "b", "act")
                    .never_ran(0)
                    .failed(
                        S::Skipped,
                        K::ConditionFalse,
                        "not run: its condition `$a.busy` is false",
                    )
                    .upstream("a"),
            ],
            "1 of 2 calls succeeded; 1 skipped because its condition was false",
            "Everything worked.",
        ),
        (
            "more groups than a sentence names",
            &six,
            vec![
                fail(ok(0, "a", "t1")),
                fail(ok(1, "b", "t2")),
                ok(2, "c", "t3").at(0, 5).failed(
                    S::Cancelled,
                    K::Cancelled,
                    "cancelled on request",
                ),
                fail(ok(3, "d", "t4")),
                fail(ok(4, "e", "t5")),
                ok(5, "f", "t5"),
            ],
            "5 of 6 calls failed: t1 failed: boom; t2 failed: boom; t3 was cancelled by the user; \
             t4 failed: boom; t5 failed: boom",
            "5 of 6 calls didn't work: t1 failed, t2 failed, t3 was cancelled and 2 other calls didn't work.",
        ),
    ];
    let aggregator = Aggregator::new();
    for (name, plan, outcomes, line, spoken) in cases {
        let errors = summary(&aggregator, plan, outcomes);
        assert_eq!(errors.line, line, "{name}");
        assert_eq!(errors.spoken, spoken, "{name}");
    }
}

#[test]
fn the_summary_serializes_for_programs() {
    let plan = plan(&[("a", "get_weather")]);
    let errors = summary(
        &Aggregator::new(),
        &plan,
        vec![
            ok(0, "a", "get_weather")
                .at(0, 3_000)
                .failed(S::Timeout, K::Timeout, TIMEOUT),
        ],
    );
    assert_eq!(
        serde_json::to_value(&errors).unwrap(),
        json!({
            "total": 1,
            "unsuccessful": 1,
            "groups": [{"tool": "get_weather", "kind": "timeout", "status": "timeout", "ids": ["a"],
                        "line": "get_weather timed out after 3 s"}],
            "line": "1 of 1 call failed: get_weather timed out after 3 s",
            "spoken": "The call didn't work: get weather took too long."
        })
    );
}
