#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test

//! The one-call helpers, end to end over the executor's scripted tool.

use serde_json::json;
use volley::executor::testing::ScriptedTool;
use volley::prelude::*;

fn engine() -> Engine {
    let mut registry = Registry::new();
    registry
        .register(
            ScriptedTool::new("find_contact")
                .latency_ms(100)
                .output(json!({"id": 7})),
        )
        .unwrap()
        .register(ScriptedTool::new("check_crm").latency_ms(200))
        .unwrap();
    Engine::new(registry)
}

#[tokio::test(start_paused = true)]
async fn a_plan_runs_with_references_and_every_view_agrees() {
    let plan = Plan::new(vec![
        Call::new("find_contact", json!({"email": "a@b.c"})),
        Call::new("check_crm", json!({"id": "$find_contact.id"})),
    ]);
    let turn = volley::run_plan(&engine(), plan).await.unwrap();
    assert_eq!(turn.outcomes().len(), 2);
    assert!(turn.outcomes().iter().all(|o| o.status == Status::Ok));
    let result = serde_json::to_value(turn.result()).unwrap();
    assert_eq!(result["summary"]["wall_ms"], 300);
    assert_eq!(turn.report().critical_path.len(), 2);
    assert_eq!(turn.timeline().calls.len(), 2);
    assert_eq!(turn.dag().waves().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_openai_answer_gets_one_tool_message_per_call() {
    let answer = json!({"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "find_contact", "arguments": "{}"}},
        {"id": "call_2", "type": "function", "function": {"name": "nope", "arguments": "{}"}}
    ]});
    let turn = volley::run_input(&engine(), &answer.to_string(), InputFormat::Auto)
        .await
        .unwrap();
    let messages = serde_json::to_value(turn.openai()).unwrap();
    assert_eq!(messages[0]["tool_call_id"], "call_1");
    assert_eq!(messages[1]["tool_call_id"], "call_2");
    assert!(
        messages[1]["content"]
            .as_str()
            .unwrap()
            .starts_with("Error: "),
        "{messages}"
    );
    assert_eq!(turn.errors().groups.len(), 1);
}

#[tokio::test]
async fn input_that_is_not_a_plan_is_an_error_listing_every_problem() {
    let err = volley::run_input(
        &engine(),
        r#"{"calls": [{"tool": "a", "args": {"x": "$b"}}]}"#,
        InputFormat::Auto,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, volley::Error::Plan(ref e) if e.len() == 1),
        "{err}"
    );
    assert!(err.to_string().contains("unknown call `b`"));
}
