#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test

//! Reading models' answers, from the real provider shapes in `../shared/fixtures`.

use serde_json::{Value, json};
use volley_planner::{InputFormat, Source, detect, parse};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../../../shared/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn calls(text: &str, format: InputFormat) -> Vec<(String, String, Value)> {
    parse(text, format)
        .unwrap()
        .calls
        .into_iter()
        .map(|c| (c.id, c.tool, c.args))
        .collect()
}

#[test]
fn fixtures_are_detected_and_read() {
    let cases = [
        (
            "anthropic-response.json",
            InputFormat::Anthropic,
            Source::Anthropic,
            3,
            "toolu_01A09q90qw90lq917835lq9",
        ),
        (
            "bedrock-converse-response.json",
            InputFormat::Bedrock,
            Source::Bedrock,
            2,
            "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
        ),
        (
            "openai-chat-completion.json",
            InputFormat::OpenAi,
            Source::OpenAi,
            2,
            "call_abc123",
        ),
    ];
    for (file, format, source, count, first_id) in cases {
        let text = fixture(file);
        assert_eq!(
            detect(&serde_json::from_str(&text).unwrap()),
            Some(format),
            "{file}"
        );
        let plan = parse(&text, InputFormat::Auto).unwrap();
        assert_eq!(plan.source, source, "{file}");
        assert_eq!(plan.calls.len(), count, "{file}");
        assert_eq!(plan.calls[0].id, first_id, "{file}");
        assert_eq!(plan.calls[0].tool, "check_calendar", "{file}");
        assert_eq!(plan.calls[0].args, json!({"date": "2025-05-25"}), "{file}");
    }
}

#[test]
fn partial_shapes_are_accepted() {
    let anthropic: Value = serde_json::from_str(&fixture("anthropic-response.json")).unwrap();
    let content = anthropic["content"].to_string();
    assert_eq!(calls(&content, InputFormat::Auto).len(), 3);

    let openai: Value = serde_json::from_str(&fixture("openai-chat-completion.json")).unwrap();
    let message = openai["choices"][0]["message"].to_string();
    let read = calls(&message, InputFormat::Auto);
    assert_eq!(
        read[1],
        (
            "call_def456".into(),
            "get_weather".into(),
            json!({"location": "New York"})
        )
    );

    let bedrock: Value = serde_json::from_str(&fixture("bedrock-converse-response.json")).unwrap();
    let message = bedrock["output"]["message"].to_string();
    assert_eq!(calls(&message, InputFormat::Auto).len(), 2);
    let content = bedrock["output"]["message"]["content"].to_string();
    assert_eq!(calls(&content, InputFormat::Auto).len(), 2);
}

#[test]
fn answers_without_tool_calls_are_empty_plans() {
    let text =
        json!({"role": "assistant", "content": [{"type": "text", "text": "Hello"}]}).to_string();
    assert!(parse(&text, InputFormat::Auto).unwrap().calls.is_empty());
    let text =
        json!({"choices": [{"message": {"role": "assistant", "content": "Hi"}}]}).to_string();
    assert!(parse(&text, InputFormat::Auto).unwrap().calls.is_empty());
}

#[test]
fn broken_provider_calls_are_named() {
    let cases = [
        (
            json!({"content": [{"type": "tool_use", "name": "a", "input": {}}]}),
            "content[0].id: a tool call needs `id`",
        ),
        (
            json!({"content": [{"type": "tool_use", "id": "toolu_1", "input": {}}]}),
            "content[0].name (call `toolu_1`): a tool call needs `name`",
        ),
        (
            json!({"content": [{"type": "tool_use", "id": "toolu_1", "name": "a", "input": [1]}]}),
            "content[0].input (call `toolu_1`): expected an object, found an array",
        ),
        (
            json!({"choices": [{"message": {"tool_calls": [{"id": "call_1", "function": {"name": "a", "arguments": 5}}]}}]}),
            "choices[0].message.tool_calls[0].function.arguments (call `call_1`): expected a JSON string, found the number 5",
        ),
        (
            json!({"output": {"message": {"content": [{"toolUse": {"toolUseId": "t1", "name": "a", "input": {"x": "$t9"}}}]}}}),
            "calls[0].args.x (call `t1`): unknown call `t9`; did you mean `t1`? (in reference `$t9`; write `$$` for a literal `$`)",
        ),
        (
            json!({"something": "else"}),
            "input: cannot tell what this is",
        ),
    ];
    for (input, expected) in cases {
        let errors = parse(&input.to_string(), InputFormat::Auto).unwrap_err();
        let first = errors.iter().next().unwrap().to_string();
        assert!(
            first.starts_with(expected),
            "{input}:\n  got {first}\n want {expected}"
        );
    }
}

#[test]
fn provider_calls_reference_each_other_by_id_or_unique_tool_name() {
    let text = json!({"content": [
        {"type": "tool_use", "id": "toolu_1", "name": "find_contact", "input": {"email": "a@b.c"}},
        {"type": "tool_use", "id": "toolu_2", "name": "check_crm", "input": {"id": "$find_contact.id"}},
        {"type": "tool_use", "id": "toolu_3", "name": "send", "input": {"crm": "$toolu_2"}}
    ]})
    .to_string();
    let (plan, dag) =
        volley_planner::parse_and_plan(&text, InputFormat::Auto, &volley_planner::Planner::new())
            .unwrap();
    assert_eq!(plan.calls.len(), 3);
    assert_eq!(dag.waves().len(), 3);
}
