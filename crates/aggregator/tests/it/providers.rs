//! Tool-result messages: golden tests against the real provider shapes, the providers' rules,
//! and a property test that every provider id gets exactly one result.

use proptest::prelude::*;
use serde_json::{Value, json};
use volley_aggregator::{Aggregator, BedrockContent, bedrock_tool_use_id};
use volley_executor::{ErrorKind as K, Outcome, Status as S};
use volley_planner::{InputFormat, Plan, parse};

use crate::support::{O, ok, plan};
use crate::{fixture, fixture_json};

const TIMEOUT: &str = "the attempt ran past its timeout of 3000 ms";

fn outcomes(outcomes: Vec<O>) -> Vec<Outcome> {
    outcomes.into_iter().map(O::done).collect()
}

/// The model's answer in a fixture, as a plan.
fn plan_of(name: &str, format: InputFormat) -> Plan {
    parse(&fixture(name), format).unwrap()
}

/// `value` and `expected` are equal, keys in the same order.
fn assert_same_json(value: &Value, expected: &Value) {
    assert_eq!(value, expected);
    assert_eq!(
        serde_json::to_string(value).unwrap(),
        serde_json::to_string(expected).unwrap(),
        "same keys, in the same order"
    );
}

#[test]
fn anthropic_matches_the_fixture() {
    let plan = plan_of("anthropic-response.json", InputFormat::Anthropic);
    let ids: Vec<&str> = plan.calls.iter().map(|c| c.id.as_str()).collect();
    let outcomes = outcomes(vec![
        ok(0, ids[0], "check_calendar").at(0, 420).output(
            json!({"date": "2025-05-25", "busy": ["09:00-10:00"], "available_slot": "14:00"}),
        ),
        ok(1, ids[1], "search_contacts")
            .at(0, 180)
            .output(json!({"id": "c-42", "email": "john@example.com"})),
        ok(2, ids[2], "get_weather")
            .at(0, 3_000)
            .failed(S::Timeout, K::Timeout, TIMEOUT),
    ]);
    let aggregator = Aggregator::new();
    let message = aggregator.batch(&plan, &outcomes).anthropic();
    assert_same_json(
        &message.to_value(),
        &fixture_json("anthropic-tool-results.json"),
    );
    assert_eq!(
        message.to_json(),
        serde_json::to_string(&message.to_value()).unwrap()
    );
    assert_eq!(message.clone().into_owned(), message);
}

#[test]
fn bedrock_matches_the_fixture() {
    let plan = plan_of("bedrock-converse-response.json", InputFormat::Bedrock);
    let ids: Vec<&str> = plan.calls.iter().map(|c| c.id.as_str()).collect();
    let outcomes = outcomes(vec![
        ok(0, ids[0], "check_calendar")
            .at(0, 420)
            .output(json!({"date": "2025-05-25", "available_slot": "14:00"})),
        ok(1, ids[1], "get_weather")
            .at(0, 3_000)
            .failed(S::Timeout, K::Timeout, TIMEOUT),
    ]);
    let aggregator = Aggregator::new();
    let message = aggregator.batch(&plan, &outcomes).bedrock();
    assert_same_json(
        &message.to_value(),
        &fixture_json("bedrock-tool-results.json"),
    );
    assert_eq!(message.clone().into_owned(), message);
}

#[test]
fn openai_matches_the_fixture() {
    let plan = plan_of("openai-chat-completion.json", InputFormat::OpenAi);
    let ids: Vec<&str> = plan.calls.iter().map(|c| c.id.as_str()).collect();
    let outcomes = outcomes(vec![
        ok(0, ids[0], "check_calendar")
            .at(0, 420)
            .output(json!({"date": "2025-05-25", "available_slot": "14:00"})),
        ok(1, ids[1], "get_weather")
            .at(0, 3_000)
            .failed(S::Timeout, K::Timeout, TIMEOUT),
    ]);
    let aggregator = Aggregator::new();
    let messages = aggregator.batch(&plan, &outcomes).openai();
    let value = serde_json::to_value(&messages).unwrap();
    assert_same_json(&value, &fixture_json("openai-tool-messages.json"));
    assert_eq!(messages[1].to_value(), value[1]);
    assert_eq!(messages[1].clone().into_owned(), messages[1]);
}

/// Outcomes for the Anthropic fixture's calls, out of order, with a skip and a cancellation.
fn anthropic_mixed() -> (Plan, Vec<Outcome>) {
    let plan = plan_of("anthropic-response.json", InputFormat::Anthropic);
    let id = |i: usize| plan.calls[i].id.clone();
    let outcomes = outcomes(vec![
        ok(2, &id(2), "get_weather").at(0, 40).failed(
            S::Cancelled,
            K::Cancelled,
            "cancelled: the batch was cancelled",
        ),
        ok(1, &id(1), "search_contacts")
            .never_ran(40)
            .failed(
                S::Skipped,
                K::DependencyFailed,
                "not run: the call it depends on failed",
            )
            .upstream(&id(0)),
        ok(0, &id(0), "check_calendar").at(0, 30).failed(
            S::Error,
            K::Permanent,
            "calendar offline",
        ),
    ]);
    (plan, outcomes)
}

#[test]
fn anthropic_answers_every_tool_use_once_in_order_with_results_first() {
    let (plan, outcomes) = anthropic_mixed();
    let response = fixture_json("anthropic-response.json");
    let tool_use_ids: Vec<&str> = response["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    let aggregator = Aggregator::new();
    let message = aggregator.batch(&plan, &outcomes).anthropic().to_value();
    assert_eq!(message["role"], "user");
    let blocks = message["content"].as_array().unwrap();
    let ids: Vec<&str> = blocks
        .iter()
        .map(|b| b["tool_use_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, tool_use_ids, "one result per tool_use, in its order");
    assert!(
        blocks.iter().all(|b| b["type"] == "tool_result"),
        "nothing but results"
    );
    let contents: Vec<(&str, &Value)> = blocks
        .iter()
        .map(|b| (b["content"].as_str().unwrap(), &b["is_error"]))
        .collect();
    assert_eq!(
        contents,
        [
            ("check_calendar failed: calendar offline", &json!(true)),
            (
                // The cause is named by its tool and, as it differs, its id.
                "search_contacts was skipped because check_calendar \
                 (call `toolu_01A09q90qw90lq917835lq9`) failed",
                &json!(true)
            ),
            (
                "get_weather was cancelled by the user (the whole batch was cancelled)",
                &json!(true)
            ),
        ]
    );
}

#[test]
fn missing_duplicate_and_added_outcomes_keep_one_result_per_call() {
    let plan = plan(&[("a", "alpha"), ("b", "beta"), ("c", "gamma")]);
    let outcomes = outcomes(vec![
        ok(2, "c", "gamma").at(0, 5).output(json!("first")),
        ok(2, "c", "gamma").at(0, 9).output(json!("second")),
        ok(3, "added", "delta").at(0, 5),
        // An outcome numbered wrongly is still matched by its id.
        ok(7, "a", "alpha").at(0, 5).output(json!(1)),
    ]);
    let aggregator = Aggregator::new();
    let batch = aggregator.batch(&plan, &outcomes);
    assert_eq!(batch.missing().collect::<Vec<_>>(), ["b"]);
    assert_eq!(batch.ignored(), 1);
    let anthropic = batch.anthropic();
    let rows: Vec<(&str, &str, bool)> = anthropic
        .content
        .iter()
        .map(|r| (&*r.tool_use_id, r.content.as_str(), r.is_error))
        .collect();
    assert_eq!(
        rows,
        [
            ("a", "1", false),
            (
                "b",
                "beta has no result: the executor reported none, so it may not have run",
                true
            ),
            ("c", "first", false),
        ]
    );
    assert_eq!(batch.openai().len(), 3);
    assert_eq!(batch.bedrock().content.len(), 3);
    // The batch result has the added call too, after the plan's.
    let ids: Vec<String> = batch
        .result()
        .results
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(ids, ["a", "b", "c", "added"]);
}

#[test]
fn outputs_are_text_and_large_ones_are_cut() {
    let plan = plan(&[("s", "s"), ("n", "n"), ("big", "big"), ("e", "e")]);
    let big = json!({"rows": "x".repeat(5_000)});
    let outcomes = outcomes(vec![
        ok(0, "s", "s").at(0, 1).output(json!("It is sunny.")),
        ok(1, "n", "n").at(0, 1).output(json!([1, 2.5, null])),
        ok(2, "big", "big").at(0, 1).output(big.clone()),
        ok(3, "e", "e")
            .at(0, 1)
            .failed(S::Error, K::Permanent, &"y".repeat(5_000)),
    ]);
    let aggregator = Aggregator::builder().max_output_bytes(1_000).build();
    let batch = aggregator.batch(&plan, &outcomes);
    let anthropic = batch.anthropic();
    assert_eq!(anthropic.content[0].content, "It is sunny.");
    assert_eq!(anthropic.content[1].content, "[1,2.5,null]");
    for block in &anthropic.content[2..] {
        assert!(
            block.content.len() <= 1_000,
            "{} bytes",
            block.content.len()
        );
        assert!(
            block.content.contains("\n[truncated: cut "),
            "{}",
            block.content
        );
    }
    assert!(anthropic.content[2].content.starts_with(r#"{"rows":"xxx"#));
    assert!(anthropic.content[3].content.starts_with("e failed: yyy"));
    // Bedrock: a small object is `json`, anything else or a cut object is `text`.
    let bedrock = batch.bedrock();
    assert_eq!(
        bedrock.content[0].content,
        BedrockContent::Text("It is sunny.".into())
    );
    assert!(matches!(&bedrock.content[2].content, BedrockContent::Text(t) if t.len() <= 1_000));
    let openai = batch.openai();
    assert!(openai[3].content.starts_with("Error: e failed: yyy"));
    // The batch result keeps whole outputs unless asked.
    assert_eq!(batch.result().results[2].output.as_deref(), Some(&big));
    let cutting = Aggregator::builder()
        .max_output_bytes(1_000)
        .truncate_results(true)
        .build();
    let result = cutting.batch(&plan, &outcomes).result();
    let cut = result.results[2].output.as_ref().unwrap().as_str().unwrap();
    assert!(cut.len() <= 1_000 && cut.contains("[truncated: cut "));
    assert_eq!(
        result.results[0].output.as_deref(),
        Some(&json!("It is sunny."))
    );
}

#[test]
fn bedrock_ids_are_kept_when_valid_and_mapped_deterministically_otherwise() {
    let long = "a".repeat(65);
    let sixty_four = "b".repeat(64);
    let cases: &[(&str, Option<&str>)] = &[
        (
            "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
            Some("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"),
        ),
        ("call-1_A", Some("call-1_A")),
        (&sixty_four, Some(&sixty_four)),
        ("search#2", None),
        ("", None),
        (&long, None),
        ("héllo wörld", None),
    ];
    let mut seen = std::collections::HashSet::new();
    for &(id, kept) in cases {
        let mapped = bedrock_tool_use_id(id);
        let valid = (1..=64).contains(&mapped.len())
            && mapped
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        assert!(valid, "{id:?} -> {mapped:?}");
        if let Some(kept) = kept {
            assert_eq!(mapped, kept);
        }
        assert_eq!(bedrock_tool_use_id(id), mapped, "deterministic");
        assert!(
            seen.insert(mapped.into_owned()),
            "{id:?}: distinct ids stay distinct"
        );
    }
    // FNV-1a of `search#2`, computed independently (it must not change between versions).
    assert_eq!(bedrock_tool_use_id("search#2"), "search_2_cfa9ca1b5e7ff264");
    // `search_2` is a valid id of its own; `search#2` maps elsewhere.
    assert_ne!(
        bedrock_tool_use_id("search#2"),
        bedrock_tool_use_id("search_2")
    );
}

/// A status and a plausible error for it.
fn end_with(outcome: O, status: u8) -> O {
    match status % 5 {
        0 => outcome.output(json!({"n": 1})),
        1 => outcome.failed(S::Error, K::Transient, "HTTP 503"),
        2 => outcome.failed(S::Timeout, K::Timeout, TIMEOUT),
        3 => outcome.failed(S::Cancelled, K::Cancelled, "cancelled on request"),
        _ => outcome
            .never_ran(10)
            .failed(S::Skipped, K::DependencyFailed, "not run")
            .upstream("c0"),
    }
}

proptest! {
    /// For any outcomes (missing, repeated, added, any status, any order), every provider call
    /// id gets exactly one result, in plan order.
    #[test]
    fn every_provider_id_gets_exactly_one_result(
        calls in proptest::collection::vec((0u8..3, 0u8..5, 0usize..3), 0..24),
        added in 0usize..3,
        seed in any::<u64>(),
    ) {
        let ids: Vec<String> = (0..calls.len()).map(|i| format!("c{i}")).collect();
        let tools = ["alpha", "beta", "gamma"];
        let plan = plan(
            &ids.iter()
                .zip(&calls)
                .map(|(id, &(_, _, t))| (id.as_str(), tools[t]))
                .collect::<Vec<_>>(),
        );
        let mut list = Vec::new();
        for (i, &(copies, status, t)) in calls.iter().enumerate() {
            for _ in 0..copies {
                list.push(end_with(ok(i, &ids[i], tools[t]).at(0, 10), status).done());
            }
        }
        for k in 0..added {
            list.push(ok(calls.len() + k, &format!("added{k}"), "alpha").at(0, 5).done());
        }
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..list.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            list.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let aggregator = Aggregator::new();
        let batch = aggregator.batch(&plan, &list);

        let anthropic = batch.anthropic();
        let got: Vec<&str> = anthropic.content.iter().map(|b| &*b.tool_use_id).collect();
        prop_assert_eq!(&got, &ids);
        let openai = batch.openai();
        let got: Vec<&str> = openai.iter().map(|m| &*m.tool_call_id).collect();
        prop_assert_eq!(&got, &ids);
        let bedrock = batch.bedrock();
        let got: Vec<&str> = bedrock.content.iter().map(|b| &*b.tool_use_id).collect();
        prop_assert_eq!(&got, &ids);
        for block in &anthropic.content {
            prop_assert!(!block.content.is_empty());
        }
        // The batch result: the plan's calls in order, then the added ones.
        let result = batch.result();
        prop_assert_eq!(result.results.len(), ids.len() + added);
        for (r, id) in result.results.iter().zip(&ids) {
            prop_assert_eq!(&*r.id, id.as_str());
        }
        let s = &result.summary;
        prop_assert_eq!(s.ok + s.failed + s.timed_out + s.cancelled + s.skipped, s.total);
    }
}
