#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! Parallel sub-agents through a scripted runner.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use volley_executor::testing::ScriptedTool;
use volley_executor::{
    Engine, Registry, Status, SubagentRunner, SubagentTask, SubagentTool, ToolContext, ToolError,
};
use volley_planner::{Call, Plan};

/// Each task's input scripts it: `"sleep:<ms>"`, `"fail:<message>"`, `"hang"`, `"panic"`.
/// It records the tools it was given.
#[derive(Clone, Default)]
struct Scripted {
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A task's label and the tools it was given.
type Seen = (String, Vec<String>);

#[async_trait]
impl SubagentRunner for Scripted {
    async fn run(
        &self,
        task: SubagentTask,
        tools: Registry,
        ctx: ToolContext,
    ) -> Result<Value, ToolError> {
        let names = tools.names().into_iter().map(str::to_owned).collect();
        self.seen.lock().unwrap().push((task.label.clone(), names));
        let (verb, rest) = task.input.split_once(':').unwrap_or((&task.input, ""));
        match verb {
            "sleep" => {
                let ms: u64 = rest.parse().unwrap();
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                    () = ctx.cancelled() => return Err(ToolError::Cancelled),
                }
                Ok(json!(format!("{} done", task.label)))
            }
            "fail" => Err(ToolError::permanent(rest)),
            "panic" => panic!("scripted"),
            _ => Ok(Value::Null),
        }
    }
}

fn setup(runner: Scripted) -> Engine {
    let mut tools = Registry::new();
    tools
        .register(ScriptedTool::new("search"))
        .unwrap()
        .register(ScriptedTool::new("read_file"))
        .unwrap();
    let mut registry = tools.clone();
    registry
        .register(SubagentTool::new(runner, tools).max_depth(2))
        .unwrap();
    Engine::new(registry)
}

fn task(label: &str, input: &str) -> Value {
    json!({"label": label, "input": input})
}

#[tokio::test(start_paused = true)]
async fn tasks_run_in_parallel_and_results_keep_the_input_order() {
    let runner = Scripted::default();
    let engine = setup(runner.clone());
    let args = json!({"tasks": [
        task("slow", "sleep:300"),
        task("bad", "fail:no access"),
        {"label": "narrow", "input": "sleep:100", "allowed_tools": ["search"], "max_turns": 3},
        task("crash", "panic"),
    ]});
    let outcomes = engine
        .run(Plan::new(vec![Call::new("run_subagents", args)]))
        .unwrap()
        .wait()
        .await;
    assert_eq!(outcomes[0].status, Status::Ok);
    assert_eq!(outcomes[0].ended_at_ms, 300, "in parallel");
    let output = outcomes[0].output.as_ref().unwrap();
    let labels: Vec<&str> = output["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["slow", "bad", "narrow", "crash"]);
    assert_eq!(output["results"][0]["output"], "slow done");
    assert_eq!(output["results"][0]["duration_ms"], 300);
    assert_eq!(output["results"][1]["error"], "no access");
    assert_eq!(output["results"][3]["error"], "the sub-agent panicked");
    assert_eq!(
        (output["succeeded"].clone(), output["failed"].clone()),
        (json!(2), json!(2))
    );
    let seen = runner.seen.lock().unwrap().clone();
    let tools_of = |label: &str| seen.iter().find(|(l, _)| l == label).unwrap().1.clone();
    assert_eq!(tools_of("narrow"), ["search"]);
    // Depth 0 of 2: sub-agents get the tool again, one level deeper.
    assert_eq!(tools_of("slow"), ["search", "read_file", "run_subagents"]);
}

#[tokio::test(start_paused = true)]
async fn the_limit_and_fail_fast_apply() {
    let engine = setup(Scripted::default());
    let args = json!({"max_concurrent": 2, "fail_fast": true, "tasks": [
        task("a", "sleep:100"),
        task("b", "sleep:50"),
        task("c", "fail:boom"),
        task("d", "sleep:100"),
        task("e", "sleep:10"),
    ]});
    let outcomes = engine
        .run(Plan::new(vec![Call::new("run_subagents", args)]))
        .unwrap()
        .wait()
        .await;
    let results = outcomes[0].output.as_ref().unwrap()["results"].clone();
    let summary: Vec<(bool, String)> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ok"].as_bool().unwrap(),
                r["error"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (false, "cancelled".to_owned()),
            (true, String::new()),
            (false, "boom".to_owned()),
            (
                false,
                "not started: the task `c` failed (fail_fast)".to_owned()
            ),
            (
                false,
                "not started: the task `c` failed (fail_fast)".to_owned()
            ),
        ]
    );
    assert_eq!(
        outcomes[0].ended_at_ms, 50,
        "b ended at 50, then c failed at once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_registry_at_the_depth_limit_never_holds_the_tool() {
    let mut tools = Registry::new();
    tools.register(ScriptedTool::new("search")).unwrap();
    let tool = SubagentTool::new(Scripted::default(), tools);
    let t = SubagentTask {
        label: "x".into(),
        input: String::new(),
        allowed_tools: Some(vec!["run_subagents".into(), "search".into()]),
        max_turns: None,
    };
    assert_eq!(
        tool.registry_for(&t).names(),
        ["search"],
        "the default depth is 1"
    );
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_invalid_arguments() {
    let engine = setup(Scripted::default());
    let outcomes = engine
        .run(Plan::new(vec![Call::new(
            "run_subagents",
            json!({"tasks": [{"label": "x"}]}),
        )]))
        .unwrap()
        .wait()
        .await;
    assert_eq!(
        outcomes[0].error_kind(),
        Some(volley_executor::ErrorKind::InvalidArguments)
    );
}
