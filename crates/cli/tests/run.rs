#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test

//! `volley run`: the output contract, exit codes, provider formats, narration, audit, Ctrl-C,
//! the HTML report, and every bundled example.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `volley` run from the repository root (the examples use paths relative to it).
fn volley() -> Command {
    let mut cmd = Command::cargo_bin("volley").unwrap();
    cmd.current_dir(repo());
    cmd
}

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn the_voice_assistant_example_runs_offline_and_narrates() {
    let out = volley()
        .args([
            "run",
            "examples/voice-assistant.json",
            "--config",
            "examples/voice-assistant.toml",
            "--narrate",
        ])
        .assert()
        .success();
    let output = out.get_output();
    let result = stdout_json(output);
    // The contract: exactly these keys.
    let keys: Vec<&str> = result
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["results", "summary"]);
    let summary_keys: Vec<&str> = result["summary"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        summary_keys,
        [
            "total",
            "ok",
            "failed",
            "timed_out",
            "cancelled",
            "skipped",
            "wall_ms",
            "sequential_ms",
            "speedup",
            "critical_path_ms",
            "peak_concurrency"
        ]
    );
    let ids: Vec<&str> = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["find_contact", "check_crm", "check_calendar", "send_invite"]
    );
    for r in result["results"].as_array().unwrap() {
        assert_eq!(r["status"], "ok", "{r}");
        for key in [
            "id",
            "tool",
            "status",
            "output",
            "attempts",
            "started_ms",
            "duration_ms",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
    }
    assert_eq!(
        result["results"][3]["output"]["title"],
        "Catch-up with John Smith (Acme Corp)"
    );
    assert_eq!(
        result["summary"]["peak_concurrency"], 2,
        "the CRM and calendar checks overlap"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("I'll look up the contact, then check your CRM records and calendar, then send the invite."),
        "{stderr}"
    );
    assert!(stderr.contains("All done."), "{stderr}");
}

#[test]
fn unknown_tools_and_bad_arguments_fail_alone_with_exit_1() {
    let plan = json!({"calls": [
        {"id": "ok", "tool": "echo", "args": {"x": 1}},
        {"id": "ghost", "tool": "sleeep", "args": {"ms": 1}},
        {"id": "bad", "tool": "sleep", "args": {"ms": "soon"}},
        {"id": "after", "tool": "echo", "args": {"v": "$ghost.x"}}
    ]});
    let out = volley()
        .args(["run", "-", "-q"])
        .write_stdin(plan.to_string())
        .assert()
        .code(1);
    let result = stdout_json(out.get_output());
    let r = &result["results"];
    assert_eq!(r[0]["status"], "ok");
    assert_eq!(r[1]["status"], "error");
    assert_eq!(r[1]["error"]["kind"], "unknown_tool");
    assert!(
        r[1]["error"]["message"].as_str().unwrap().contains("sleep"),
        "names the closest tool: {}",
        r[1]
    );
    assert_eq!(r[2]["error"]["kind"], "invalid_arguments");
    assert_eq!(r[3]["status"], "skipped");
    assert_eq!(result["summary"]["failed"], 2);
}

#[test]
fn input_that_is_not_a_plan_exits_2_and_runs_nothing() {
    let plan = r#"{"calls": [{"id": "a", "tool": "echo", "depends_on": ["b"]}, {"id": "b", "tool": "echo", "depends_on": ["a"]}]}"#;
    volley()
        .args(["run", "-"])
        .write_stdin(plan)
        .assert()
        .code(2)
        .stdout("")
        .stderr("error: calls[0] (call `a`): dependency cycle: a -> b -> a\n");
    volley()
        .args(["run", "-"])
        .write_stdin("{not json")
        .assert()
        .code(2);
}

#[test]
fn provider_output_formats_answer_every_call() {
    for (format, check) in [
        ("anthropic", "tool_use_id"),
        ("bedrock", "toolUseId"),
        ("openai", "tool_call_id"),
    ] {
        let out = volley()
            .args([
                "run",
                "examples/anthropic-response.json",
                "-q",
                "--output",
                format,
            ])
            .assert()
            .success();
        let value = stdout_json(out.get_output());
        let text = value.to_string();
        for id in ["toolu_01A", "toolu_01B", "toolu_01C", "toolu_01D"] {
            assert_eq!(text.matches(id).count(), 1, "{format}: {id} once in {text}");
        }
        assert!(text.contains(check), "{format}");
    }
}

#[test]
fn the_other_examples_run() {
    let out = volley()
        .args(["run", "examples/code-analysis.json", "-q"])
        .assert()
        .success();
    let result = stdout_json(out.get_output());
    let summary = &result["results"][5]["output"];
    assert!(
        summary["library_roots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "crates/planner/src/lib.rs")
    );
    assert!(summary["workspace_manifest_bytes"].as_u64().unwrap() > 0);

    let out = volley()
        .args(["run", "examples/write-then-read.json", "-q"])
        .assert()
        .success();
    let result = stdout_json(out.get_output());
    assert_eq!(
        result["results"][1]["output"]["content"],
        "{\"mode\": \"fast\", \"retries\": 3}"
    );
}

#[test]
fn the_audit_log_records_every_call() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    volley()
        .args(["run", "examples/anthropic-response.json", "-q", "--audit"])
        .arg(&audit)
        .assert()
        .success();
    let text = std::fs::read_to_string(&audit).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for id in ["toolu_01A", "toolu_01B", "toolu_01C", "toolu_01D"] {
        assert!(
            records.iter().any(|r| r.to_string().contains(id)),
            "{id} not in the audit log"
        );
    }
}

#[test]
fn ctrl_c_cancels_the_batch_and_still_prints_every_outcome() {
    let bin = assert_cmd::cargo::cargo_bin("volley");
    let plan = json!({"calls": [
        {"id": "quick", "tool": "echo", "args": {}},
        {"id": "long1", "tool": "sleep", "args": {"ms": 60000}},
        {"id": "long2", "tool": "sleep", "args": {"ms": 60000}},
        {"id": "after", "tool": "echo", "args": {"x": "$long1.slept_ms"}}
    ]});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    std::fs::write(&path, plan.to_string()).unwrap();
    let mut child = StdCommand::new(bin)
        .args(["run", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (on the event, not a clock) until both sleeps have started.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut started = 0;
    let mut line = String::new();
    while started < 2 {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "volley exited early"
        );
        if line.contains("▶ long") {
            started += 1;
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let result = stdout_json(&output);
    let statuses: Vec<&str> = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    // Calls that had not started are cancelled too: the batch was, before they could run.
    assert_eq!(statuses, ["ok", "cancelled", "cancelled", "cancelled"]);
}

#[test]
fn the_report_is_a_self_contained_page_that_renders() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    volley()
        .args([
            "run",
            "examples/voice-assistant.json",
            "--config",
            "examples/voice-assistant.toml",
            "-q",
            "--report",
        ])
        .arg(&report)
        .assert()
        .success();
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        !html.contains("http://")
            || html
                .matches("http://")
                .all(|_| html.contains("http://www.w3.org/2000/svg"))
    );
    assert!(!html.contains("<script src"), "no external scripts");
    assert!(html.contains("\"critical\":true"));

    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|b| {
            StdCommand::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        if std::env::var_os("CI").is_some() {
            panic!("CI must install chromium (.ci/run does) to check the report renders");
        }
        eprintln!(
            "\n*** SKIPPED: no chromium on this machine; the report's rendering was not checked ***\n"
        );
        return;
    };
    let profile = dir.path().join("profile");
    let screenshot = dir.path().join("report.png");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let url = format!("file://{}", report.display());
    let dom = StdCommand::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=2000", "--dump-dom", &url])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("data-rendered=\"true\""),
        "the page's script did not finish:\n{dom}"
    );
    assert_eq!(
        dom.matches("class=\"bar critical\"").count() + dom.matches("class=\"bar\"").count(),
        4
    );
    let shot = StdCommand::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args([
            "--window-size=1200,800",
            &format!("--screenshot={}", screenshot.display()),
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
    if let Some(keep) = std::env::var_os("VOLLEY_KEEP_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }
}

#[test]
fn a_call_whose_arguments_are_not_json_fails_alone_and_still_gets_a_result() {
    let answer = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "echo", "arguments": "{\"x\": 1}"}},
        {"id": "call_2", "type": "function", "function": {"name": "echo", "arguments": "{\"x\": "}}
    ]});
    let out = volley()
        .args(["run", "-", "-q", "--output", "openai"])
        .write_stdin(answer.to_string())
        .assert()
        .code(1);
    let messages = stdout_json(out.get_output());
    assert_eq!(messages[0]["tool_call_id"], "call_1");
    assert_eq!(messages[1]["tool_call_id"], "call_2");
    let content = messages[1]["content"].as_str().unwrap();
    assert!(
        content.starts_with("Error: ") && content.contains("not valid JSON"),
        "{content}"
    );
    // `volley plan` still refuses such input outright.
    volley()
        .args(["plan", "-"])
        .write_stdin(answer.to_string())
        .assert()
        .code(2);
}
