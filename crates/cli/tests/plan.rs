#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test

//! `volley plan`: the JSON contract, the formats and the exit codes.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};

fn volley() -> Command {
    Command::cargo_bin("volley").unwrap()
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn fixture(name: &str) -> PathBuf {
    repo("../shared/fixtures").join(name)
}

fn plan_json(input: &str) -> Value {
    let out = volley()
        .args(["plan", "-", "--format", "json"])
        .write_stdin(input)
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn json_output_is_the_documented_contract() {
    let out = volley()
        .args(["plan", "--format", "json"])
        .arg(repo("examples/voice-assistant.json"))
        .assert()
        .success();
    let value: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        value,
        json!({
            "calls": 4,
            "waves": [["find_contact"], ["check_crm", "check_calendar"], ["send_invite"]],
            "critical_path": ["find_contact", "check_crm", "send_invite"],
            "estimated_ms": 1150,
            "edges": [
                ["find_contact", "check_crm"],
                ["find_contact", "check_calendar"],
                ["find_contact", "send_invite"],
                ["check_crm", "send_invite"],
                ["check_calendar", "send_invite"]
            ]
        })
    );
    // Exactly these keys, in this order: programs read this.
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["calls", "waves", "critical_path", "estimated_ms", "edges"]
    );
}

#[test]
fn empty_plan_is_valid_and_says_so() {
    assert_eq!(
        plan_json(r#"{"calls": []}"#),
        json!({"calls": 0, "waves": [], "critical_path": [], "estimated_ms": 0, "edges": []})
    );
    volley()
        .args(["plan", "-"])
        .write_stdin(r#"{"calls": []}"#)
        .assert()
        .success()
        .stdout(predicate::str::contains("Empty plan: 0 calls, 0 waves"));
}

#[test]
fn text_output_shows_waves_critical_path_and_total() {
    volley()
        .arg("plan")
        .arg(repo("examples/voice-assistant.json"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "4 calls in 3 waves, estimated 1.1 s on the critical path",
        ))
        .stdout(predicate::str::contains("Wave 2:"))
        .stdout(predicate::str::contains(
            "Critical path: find_contact -> check_crm -> send_invite (1.1 s)",
        ));
}

#[test]
fn invalid_plans_exit_2_with_one_line_per_problem() {
    let input = r#"{"calls": [
        {"tool": "a", "args": {"x": "$missing.id"}},
        {"tool": "b", "dependson": ["a"], "priority": "urgent"}
    ]}"#;
    let out = volley()
        .args(["plan", "-"])
        .write_stdin(input)
        .assert()
        .code(2)
        .stdout("");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "error: calls[0].args.x (call `a`): unknown call `missing` (in reference `$missing.id`; write `$$` for a literal `$`)",
            "error: calls[1].dependson (call `b`): unknown call field `dependson`; did you mean `depends_on`?",
            "error: calls[1].priority (call `b`): `urgent` is not one of `critical`, `high`, `normal`, `low`, `background`",
        ]
    );
}

#[test]
fn cycles_exit_2_naming_the_cycle() {
    let input = r#"{"calls": [
        {"id": "a", "tool": "t", "depends_on": ["b"]},
        {"id": "b", "tool": "t", "args": {"x": "$a"}}
    ]}"#;
    volley()
        .args(["plan", "-", "--format", "json"])
        .write_stdin(input)
        .assert()
        .code(2)
        .stderr("error: calls[0] (call `a`): dependency cycle: a -> b -> a\n");
}

#[test]
fn malformed_json_reports_line_and_column() {
    volley()
        .args(["plan", "-"])
        .write_stdin("{\"calls\": [\n  {\"tool\": \"a\",}\n]}")
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: input: invalid JSON at line 2, column 16: ",
        ));
}

#[test]
fn a_missing_file_exits_2() {
    volley()
        .args(["plan", "no/such/plan.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: cannot read no/such/plan.json: ",
        ));
}

#[test]
fn provider_responses_are_detected_and_keep_their_ids() {
    for (file, ids) in [
        (
            "anthropic-response.json",
            vec![
                "toolu_01A09q90qw90lq917835lq9",
                "toolu_01B22x17ab34cd56ef78gh9",
                "toolu_01C33y28bc45de67fg89hi0",
            ],
        ),
        (
            "bedrock-converse-response.json",
            vec![
                "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                "tooluse_Qv3bdRk7TNq0sA8yH2wX1g",
            ],
        ),
        (
            "openai-chat-completion.json",
            vec!["call_abc123", "call_def456"],
        ),
    ] {
        let out = volley()
            .args(["plan", "--format", "json"])
            .arg(fixture(file))
            .assert()
            .success();
        let value: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(value["calls"], json!(ids.len()), "{file}");
        assert_eq!(value["waves"], json!([ids]), "{file}");
    }
}

#[test]
fn input_format_can_be_forced() {
    // An OpenAI message read as an Anthropic one has no tool_use blocks: an error, not a guess.
    volley()
        .args(["plan", "--input-format", "anthropic"])
        .arg(fixture("openai-chat-completion.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "an Anthropic message has a `content` array",
        ));
    volley()
        .args(["plan", "--input-format", "openai", "--format", "json"])
        .arg(fixture("openai-chat-completion.json"))
        .assert()
        .success();
}

#[test]
fn unparseable_openai_arguments_name_the_call() {
    let input = json!({"choices": [{"message": {"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": "{\"x\": 1}"}},
        {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{\"x\": "}}
    ]}}]});
    volley()
        .args(["plan", "-"])
        .write_stdin(input.to_string())
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: choices[0].message.tool_calls[1].function.arguments (call `call_2`): the arguments are not valid JSON",
        ));
}

#[test]
fn mermaid_and_dot_draw_every_edge() {
    let mermaid = volley()
        .args(["plan", "--format", "mermaid"])
        .arg(repo("examples/voice-assistant.json"))
        .assert()
        .success();
    let text = String::from_utf8(mermaid.get_output().stdout.clone()).unwrap();
    assert!(text.starts_with("flowchart LR\n"));
    assert_eq!(text.matches(" --> ").count(), 5);
    let dot = volley()
        .args(["plan", "--format", "dot"])
        .arg(repo("examples/voice-assistant.json"))
        .assert()
        .success();
    let text = String::from_utf8(dot.get_output().stdout.clone()).unwrap();
    assert!(text.starts_with("digraph plan {"));
    assert_eq!(text.matches(" -> ").count(), 5);
    assert!(
        text.contains("n0 -> n1 [penwidth=3];"),
        "critical edge in bold:\n{text}"
    );
}
