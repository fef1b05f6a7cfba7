#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test

//! MCP servers as Volley tools, against servers nobody on the team wrote:
//! `@modelcontextprotocol/server-everything` (npm) and `mcp-server-time` (PyPI), installed by
//! `scripts/mcp-servers.sh` into `.tools/`; plus `fixtures/fake_mcp_server.py` for what real
//! servers will not do on demand (die mid-call, never answer, report cancellations).
//!
//! Outside CI, without the servers (and no network to install them), these tests skip with a
//! loud message; in CI (`CI` set) they fail instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use volley::executor::{Engine, ErrorKind, Registry, Status, Tool, ToolContext};
use volley::planner::{AccessMode, Call, Plan, RetryPolicy};
use volley::progress::EventKind;
use volley_cli::config::{Config, McpServer, StartPolicy};
use volley_cli::mcp::{self, McpError, McpTools};
use volley_cli::setup;

/// A failsafe: every wait in these tests is on an event; this only stops a hang.
const FAILSAFE: Duration = Duration::from_secs(20);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The commands of the two real servers, installing them once if needed; `None` (after a loud
/// message) when they cannot be had outside CI.
fn real_servers() -> Option<&'static (Vec<String>, Vec<String>)> {
    static SERVERS: OnceLock<Option<(Vec<String>, Vec<String>)>> = OnceLock::new();
    SERVERS
        .get_or_init(|| {
            let root = root().canonicalize().unwrap();
            let everything = root.join(
                ".tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
            );
            let time = root.join(".tools/venv/bin/mcp-server-time");
            if !everything.exists() || !time.exists() {
                let _ = std::process::Command::new(root.join("scripts/mcp-servers.sh")).status();
            }
            if everything.exists() && time.exists() {
                return Some((
                    vec![
                        "node".into(),
                        everything.display().to_string(),
                        "stdio".into(),
                    ],
                    vec![time.display().to_string()],
                ));
            }
            let message = "the MCP test servers are not installed and scripts/mcp-servers.sh \
                           could not install them";
            if std::env::var_os("CI").is_some() {
                panic!("{message} (CI must run these tests)");
            }
            eprintln!("\n!!!!!!!! SKIPPED: {message}; these MCP tests did not run !!!!!!!!\n");
            None
        })
        .as_ref()
}

macro_rules! require_servers {
    () => {
        match real_servers() {
            Some(servers) => servers,
            None => return,
        }
    };
}

fn server(command: &[String]) -> McpServer {
    McpServer {
        command: command.to_vec(),
        env: BTreeMap::new(),
        cwd: None,
        start: StartPolicy::Eager,
        max_concurrency: None,
        timeout_ms: None,
    }
}

fn fake(env: &[(&str, &str)]) -> McpServer {
    let script = root().join("crates/cli/tests/fixtures/fake_mcp_server.py");
    let mut config = server(&["python3".into(), script.display().to_string()]);
    config.env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config
}

async fn load(servers: &[(&str, McpServer)]) -> McpTools {
    let servers = servers
        .iter()
        .map(|(name, config)| ((*name).to_owned(), config.clone()))
        .collect();
    tokio::time::timeout(FAILSAFE, mcp::load(&servers))
        .await
        .unwrap()
        .unwrap()
}

/// The one tool whose name starts with `prefix` and contains `needle`: tool names change
/// between versions of server-everything, so they are found, not assumed.
fn find(tools: &McpTools, prefix: &str, needle: &str) -> String {
    let names: Vec<&str> = tools
        .tools
        .iter()
        .map(|t| t.name())
        .filter(|n| n.starts_with(prefix) && n.contains(needle))
        .collect();
    assert_eq!(names.len(), 1, "tools matching {needle}: {names:?}");
    names[0].to_owned()
}

fn engine(tools: &McpTools) -> Engine {
    let mut registry = Registry::new();
    for tool in tools.dyn_tools() {
        registry.register_arc(tool).unwrap();
    }
    Engine::builder(registry)
        .progress(true)
        .max_concurrency(128)
        .build()
}

fn call(id: &str, tool: &str, args: Value) -> Call {
    Call::new(tool, args).with_id(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_the_tools_of_both_servers_with_schemas_and_annotations() {
    let (everything, time) = require_servers!();
    let tools = load(&[("everything", server(everything)), ("time", server(time))]).await;
    let names: Vec<&str> = tools.tools.iter().map(|t| t.name()).collect();
    for name in ["mcp__time__get_current_time", "mcp__time__convert_time"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let echo = find(&tools, "mcp__everything__", "echo");
    let sum = find(&tools, "mcp__everything__", "sum");
    let tool = tools.tools.iter().find(|t| t.name() == sum).unwrap();
    assert_eq!(tool.server_name(), "everything");
    assert!(!tool.description().is_empty());
    assert_eq!(tool.input_schema()["type"], "object");
    assert!(tool.input_schema()["properties"]["a"].is_object());
    // readOnlyHint: true → reads the server's key and may run beside anything.
    let keys = tool.access_keys(&json!({}));
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].mode, AccessMode::Read);
    assert_eq!(keys[0].key, "mcp:everything");
    assert!(tool.concurrency_safe());
    assert!(names.contains(&echo.as_str()));
    assert_eq!(tools.servers.names(), ["everything", "time"]);
    tools.servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_of_a_configuration_includes_mcp_tools_with_their_policies() {
    let (_, time) = require_servers!();
    let text = format!(
        "[mcp.servers.time]\ncommand = {}\nstart = \"lazy\"\ntimeout_ms = 4000\n\
         [tools.mcp__time__convert_time]\ntimeout_ms = 1500\n",
        serde_json::to_string(time).unwrap()
    );
    let config = Config::parse(&text, Path::new("volley.toml")).unwrap();
    let (registry, servers) = setup::registry_async(&config).await.unwrap();
    assert!(registry.contains("shell"), "the built-ins stay");
    let get = registry.get("mcp__time__get_current_time").unwrap();
    assert_eq!(get.timeout(), Some(Duration::from_millis(4000)));
    let convert = registry.get("mcp__time__convert_time").unwrap();
    assert_eq!(convert.timeout(), Some(Duration::from_millis(1500)));
    // Lazy: stopped after the listing, started again by the first call.
    let engine = setup::engine(&config, registry, None).unwrap();
    let batch = engine
        .run(Plan::new(vec![call(
            "now",
            "mcp__time__get_current_time",
            json!({"timezone": "UTC"}),
        )]))
        .unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    let now = outcomes.get("now").unwrap();
    assert_eq!(now.status, Status::Ok, "{:?}", now.error);
    // structuredContent is the output.
    let output = now.output.as_ref().unwrap();
    assert_eq!(output["timezone"], "UTC", "{output}");
    assert!(output["datetime"].is_string(), "{output}");
    servers.shutdown().await;

    // The sync variant works from a multi-threaded runtime too.
    let registry = setup::registry(&config).unwrap();
    assert!(registry.contains("mcp__time__convert_time"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_get_sum_calls_on_one_connection() {
    let (everything, _) = require_servers!();
    let tools = load(&[("everything", server(everything))]).await;
    let sum = find(&tools, "mcp__everything__", "sum");
    let calls = (0..20)
        .map(|i| call(&format!("sum{i}"), &sum, json!({"a": i, "b": 1000})))
        .collect();
    let batch = engine(&tools).run(Plan::new(calls)).unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    for i in 0..20 {
        let outcome = outcomes.get(&format!("sum{i}")).unwrap();
        assert_eq!(outcome.status, Status::Ok, "{:?}", outcome.error);
        // No structuredContent: the output is the content blocks.
        let text = outcome.output.as_ref().unwrap()[0]["text"]
            .as_str()
            .unwrap();
        assert!(text.contains(&format!("{}", i + 1000)), "{text}");
    }
    // Every call overlapped another: they were in flight together on the one connection.
    let mut spans: Vec<(u64, u64)> = outcomes
        .iter()
        .map(|o| (o.started_at_ms.unwrap(), o.ended_at_ms))
        .collect();
    spans.sort_unstable();
    let last_start = spans.iter().map(|s| s.0).max().unwrap();
    let first_end = spans.iter().map(|s| s.1).min().unwrap();
    assert!(
        last_start <= first_end,
        "all 20 started before any ended: {spans:?}"
    );
    tools.servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_notifications_become_progress_events_of_the_call() {
    let (everything, _) = require_servers!();
    let tools = load(&[("everything", server(everything))]).await;
    let long = find(&tools, "mcp__everything__", "long");
    let batch = engine(&tools)
        .run(Plan::new(vec![call(
            "long",
            &long,
            json!({"duration": 0.8, "steps": 4}),
        )]))
        .unwrap();
    let mut events = batch.subscribe_lossless().await.unwrap();
    let mut fractions = Vec::new();
    let collect = async {
        while let Some(event) = events.recv().await {
            match &event.kind {
                EventKind::Progress { fraction, .. } => fractions.push(*fraction),
                kind if kind.is_terminal() => break,
                _ => {}
            }
        }
    };
    tokio::time::timeout(FAILSAFE, collect).await.unwrap();
    assert_eq!(fractions, [0.25, 0.5, 0.75, 1.0]);
    let outcomes = batch.wait().await;
    assert_eq!(outcomes.get("long").unwrap().status, Status::Ok);
    tools.servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_long_running_call_returns_at_once_and_tells_the_server() {
    let (everything, _) = require_servers!();
    let tools = load(&[("everything", server(everything)), ("fake", fake(&[]))]).await;
    let long = find(&tools, "mcp__everything__", "long");
    let echo = find(&tools, "mcp__everything__", "echo");
    let engine = engine(&tools);
    let batch = engine
        .run(Plan::new(vec![
            call("long", &long, json!({"duration": 60, "steps": 600})),
            call("hang", "mcp__fake__hang", json!({})),
        ]))
        .unwrap();
    let mut events = batch.subscribe_lossless().await.unwrap();
    // Cancel once the long call has reported progress (it is surely running on the server).
    let first_progress = async {
        while let Some(event) = events.recv().await {
            if &*event.call == "long" && matches!(event.kind, EventKind::Progress { .. }) {
                return;
            }
        }
        panic!("no progress before the end");
    };
    tokio::time::timeout(FAILSAFE, first_progress)
        .await
        .unwrap();
    batch.cancel_call("long").await.unwrap();
    batch.cancel_call("hang").await.unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    for id in ["long", "hang"] {
        assert_eq!(outcomes.get(id).unwrap().status, Status::Cancelled, "{id}");
    }
    assert!(
        outcomes.elapsed_ms() < 30_000,
        "the server did not hold the batch"
    );

    // The fake server saw `notifications/cancelled` for its request (it answers in order).
    let batch = engine
        .run(Plan::new(vec![call(
            "seen",
            "mcp__fake__cancelled",
            json!({}),
        )]))
        .unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    let seen = outcomes.get("seen").unwrap().output.clone().unwrap();
    assert_eq!(seen["ids"].as_array().unwrap().len(), 1, "{seen}");

    // The real server still answers on the same connection.
    let batch = engine
        .run(Plan::new(vec![call(
            "echo",
            &echo,
            json!({"message": "still here"}),
        )]))
        .unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    let echo = outcomes.get("echo").unwrap();
    assert_eq!(echo.status, Status::Ok, "{:?}", echo.error);
    tools.servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_timeout_times_out_and_the_server_keeps_serving() {
    let (everything, _) = require_servers!();
    let mut config = server(everything);
    config.timeout_ms = Some(300);
    let tools = load(&[("everything", config)]).await;
    let long = find(&tools, "mcp__everything__", "long");
    let sum = find(&tools, "mcp__everything__", "sum");
    let batch = engine(&tools)
        .run(Plan::new(vec![
            call("long", &long, json!({"duration": 60, "steps": 2})),
            call("sum", &sum, json!({"a": 1, "b": 2})),
        ]))
        .unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    let timed_out = outcomes.get("long").unwrap();
    assert_eq!(timed_out.status, Status::Timeout, "{:?}", timed_out.error);
    assert!(timed_out.duration_ms < 10_000, "{}", timed_out.duration_ms);
    assert_eq!(outcomes.get("sum").unwrap().status, Status::Ok);
    tools.servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_is_error_result_is_a_failed_call_with_the_servers_text() {
    let (_, time) = require_servers!();
    let tools = load(&[("time", server(time))]).await;
    let batch = engine(&tools)
        .run(Plan::new(vec![call(
            "mars",
            "mcp__time__get_current_time",
            json!({"timezone": "Mars/Olympus_Mons"}),
        )]))
        .unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    let mars = outcomes.get("mars").unwrap();
    assert_eq!(mars.status, Status::Error);
    assert_eq!(mars.error_kind(), Some(ErrorKind::Permanent));
    let message = mars.message().unwrap();
    assert!(
        message.starts_with("MCP server `time`, tool `get_current_time`: "),
        "{message}"
    );
    assert!(message.contains("Mars/Olympus_Mons"), "{message}");
    tools.servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_exits_mid_call_fails_the_calls_in_flight_as_transient_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("crashed-once");
    let tools = load(&[(
        "fake",
        fake(&[("FAKE_CRASH_ONCE", marker.to_str().unwrap())]),
    )])
    .await;
    let engine = engine(&tools);
    // The crash takes the hanging call down with it.
    let batch = engine
        .run(Plan::new(vec![
            call("hang", "mcp__fake__hang", json!({})),
            call("crash", "mcp__fake__crash", json!({})),
        ]))
        .unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    for id in ["hang", "crash"] {
        let outcome = outcomes.get(id).unwrap();
        assert_eq!(outcome.error_kind(), Some(ErrorKind::Transient), "{id}");
        let message = outcome.message().unwrap();
        assert!(message.contains("MCP server `fake`"), "{message}");
    }
    let crash = outcomes.get("crash").unwrap().message().unwrap();
    assert!(
        crash.contains("crashing on purpose"),
        "stderr quoted: {crash}"
    );

    // A retry restarts it; this time it survives.
    let mut retried = call("again", "mcp__fake__crash", json!({}));
    retried.retry = Some(RetryPolicy {
        max_attempts: 2,
        backoff_ms: 1,
        max_backoff_ms: 1,
    });
    let batch = engine.run(Plan::new(vec![retried])).unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    let again = outcomes.get("again").unwrap();
    assert_eq!(again.status, Status::Ok, "{:?}", again.error);
    assert_eq!(again.output.as_ref().unwrap()[0]["text"], "survived");
    tools.servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_keeps_dying_is_restarted_once_then_given_up() {
    let tools = load(&[("fake", fake(&[]))]).await;
    let mut crash = call("crash", "mcp__fake__crash", json!({}));
    crash.retry = Some(RetryPolicy {
        max_attempts: 5,
        backoff_ms: 1,
        max_backoff_ms: 1,
    });
    let batch = engine(&tools).run(Plan::new(vec![crash])).unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    let crash = outcomes.get("crash").unwrap();
    assert_eq!(crash.error_kind(), Some(ErrorKind::Permanent));
    // 1: the first server dies; 2: the restarted one dies; 3: not restarted again.
    assert_eq!(crash.attempts, 3);
    let message = crash.message().unwrap();
    assert!(
        message.contains("exited again after a restart"),
        "{message}"
    );
    tools.servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_command_does_not_exist_is_an_error_naming_it() {
    let servers = BTreeMap::from([(
        "ghost".to_owned(),
        server(&["/nonexistent/mcp-server".into(), "--stdio".into()]),
    )]);
    let error = mcp::load(&servers).await.unwrap_err();
    assert!(matches!(error, McpError::Spawn { .. }), "{error:?}");
    assert_eq!(error.server(), "ghost");
    let message = error.to_string();
    assert!(
        message.starts_with("MCP server `ghost`: cannot run `/nonexistent/mcp-server --stdio`: "),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_exits_at_start_up_is_an_error_with_its_stderr() {
    let (_, time) = require_servers!();
    let mut command = time.clone();
    command.extend(["--local-timezone".into(), "Not/AZone".into()]);
    let servers = BTreeMap::from([("time".to_owned(), server(&command))]);
    let error = tokio::time::timeout(FAILSAFE, mcp::load(&servers))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, McpError::Initialize { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("MCP server `time` (`"), "{message}");
    assert!(message.contains("--local-timezone Not/AZone"), "{message}");
    assert!(
        message.contains("invalid --local-timezone"),
        "stderr quoted: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_server_max_concurrency_limits_calls_in_flight() {
    let mut config = fake(&[]);
    config.max_concurrency = Some(1);
    let tools = load(&[("fake", config)]).await;
    // One hanging call holds the only slot: the other never reaches the server.
    let engine = engine(&tools);
    let batch = engine
        .run(Plan::new(vec![
            call("first", "mcp__fake__hang", json!({})),
            call("second", "mcp__fake__hang", json!({})),
        ]))
        .unwrap();
    // The engine polls new calls inline in `run`, so both may have started already: begin
    // from a snapshot taken together with the subscription, then follow the events.
    let (snapshot, mut events) = batch.bus().unwrap().subscribe_lossless_with_snapshot();
    let already = snapshot.calls.iter().filter(|c| c.attempts > 0).count();
    let both_started = async {
        let mut started = already;
        if started == 2 {
            return;
        }
        while let Some(event) = events.recv().await {
            if matches!(event.kind, EventKind::Started { .. }) {
                started += 1;
                if started == 2 {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(FAILSAFE, both_started).await.unwrap();
    batch.cancel();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    assert_eq!(outcomes.count(Status::Cancelled), 2);
    let batch = engine
        .run(Plan::new(vec![call(
            "seen",
            "mcp__fake__cancelled",
            json!({}),
        )]))
        .unwrap();
    let outcomes = tokio::time::timeout(FAILSAFE, batch.wait()).await.unwrap();
    let seen = outcomes.get("seen").unwrap().output.clone().unwrap();
    assert_eq!(
        seen["ids"].as_array().unwrap().len(),
        1,
        "one request was sent: {seen}"
    );
    tools.servers.shutdown().await;
}

/// The speed measurement of `docs/mcp.md`: 100 `echo` calls over one connection, all at once
/// against one after another, in one run. Prints the ratio; asserts only that multiplexing
/// wins (timings on shared CI machines are too noisy for more).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_concurrent_echo_calls_share_one_connection() {
    // Speed is measured by `cargo xtask bench mcp`; this checks the behaviour: 100 calls in
    // flight at once on one connection, every answer paired with its own request.
    let (everything, _) = require_servers!();
    let tools = load(&[("everything", server(everything))]).await;
    let echo = find(&tools, "mcp__everything__", "echo");
    let echo = tools
        .tools
        .iter()
        .find(|t| t.name() == echo)
        .unwrap()
        .clone();
    let results = tokio::time::timeout(
        FAILSAFE,
        futures::future::join_all((0..100).map(|i| {
            echo.call(
                json!({"message": format!("hello {i}")}),
                ToolContext::new(format!("c{i}")),
            )
        })),
    )
    .await
    .unwrap();
    for (i, result) in results.iter().enumerate() {
        let text = result.as_ref().unwrap().to_string();
        assert!(
            text.contains(&format!("hello {i}\"")) || text.contains(&format!("hello {i}\\\"")),
            "{i}: {text}"
        );
    }
    tools.servers.shutdown().await;
}

#[test]
fn volley_run_calls_mcp_tools_from_the_configuration() {
    // Both servers start (eager and lazy); the plan calls the time server, whose tool names are
    // stable (server-everything's are not).
    let Some((everything, time)) = real_servers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[mcp.servers.everything]\ncommand = {}\n[mcp.servers.time]\ncommand = {}\nstart = \"lazy\"\n",
        serde_json::to_string(everything).unwrap(),
        serde_json::to_string(time).unwrap()
    );
    std::fs::write(dir.path().join("volley.toml"), config).unwrap();
    let plan = json!({"calls": [
        {"id": "now", "tool": "mcp__time__get_current_time", "args": {"timezone": "UTC"}},
        {"id": "tokyo", "tool": "mcp__time__convert_time",
         "args": {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}}
    ]});
    let output = assert_cmd::Command::cargo_bin("volley")
        .unwrap()
        .current_dir(dir.path())
        .args(["run", "-", "--quiet"])
        .write_stdin(plan.to_string())
        .timeout(FAILSAFE)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(&stdout).unwrap();
    let text = result.to_string();
    assert!(text.contains("\"timezone\":\"UTC\""), "{text}");
    assert!(text.contains("21:00"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_a_server_down_leaves_no_grandchild_behind() {
    // A server started through a shell that leaves a child of its own running (as `npx` does):
    // the child holds a FIFO open, and the reader sees end-of-file exactly when it is dead.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let reader = {
        let fifo = fifo.clone();
        // A thread of its own (not spawn_blocking): a failing run must not wait for it.
        let (sender, receiver) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::open(fifo).unwrap(), &mut text)
                .unwrap();
            let _ = sender.send(text);
        });
        receiver
    };
    let script = root().join("crates/cli/tests/fixtures/fake_mcp_server.py");
    let line = format!(
        "(echo started; exec sleep 300) > {} & exec python3 {}",
        fifo.display(),
        script.display()
    );
    let config = server(&["sh".into(), "-c".into(), line]);
    let tools = load(&[("fake", config)]).await;
    tools.servers.shutdown().await;
    drop(tools);
    let text = tokio::time::timeout(FAILSAFE, reader)
        .await
        .expect("the server's child outlived the shutdown")
        .unwrap();
    assert_eq!(text, "started\n");
}
