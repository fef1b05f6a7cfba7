#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test

//! The built-in tools, called directly and through the engine.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use volley::executor::{Engine, ErrorKind, Status, Tool, ToolContext, ToolError};
use volley::planner::{Call, Plan};
use volley_cli::tools::{
    CommandTool, EXIT_TRANSIENT, Echo, Glob, Http, ListDir, ReadFile, Shell, Sleep, WriteFile,
    builtin_registry, normalize,
};

fn ctx() -> ToolContext {
    ToolContext::new("test")
}

#[tokio::test]
async fn shell_returns_output_and_exit_code() {
    let out = Shell
        .call(json!({"argv": ["echo", "hello", "$HOME"]}), ctx())
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({"stdout": "hello $HOME\n", "stderr": "", "exit_code": 0}),
        "no shell expansion"
    );

    let out = Shell
        .call(json!({"argv": ["printf '%s' \"$V\" | tr a-z A-Z"], "shell": true, "env": {"V": "quiet"}}), ctx())
        .await
        .unwrap();
    assert_eq!(out["stdout"], "QUIET");

    let out = Shell
        .call(json!({"argv": ["cat"], "stdin": "from stdin"}), ctx())
        .await
        .unwrap();
    assert_eq!(out["stdout"], "from stdin");

    let err = Shell
        .call(
            json!({"argv": ["sh", "-c", "echo oops >&2; exit 3"]}),
            ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert_eq!(err.to_string(), "`sh` exited with code 3: oops");

    let err = Shell
        .call(json!({"argv": ["definitely-not-a-program-volley"]}), ctx())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot start `definitely-not-a-program-volley`: not found"
    );

    let err = Shell
        .call(json!({"argv": ["a", "b"], "shell": true}), ctx())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
}

#[tokio::test]
async fn shell_timeout_kills_the_whole_process_group() {
    // A grandchild holds a FIFO open for writing; the reader sees end-of-file exactly when
    // every writer is dead, so the test waits on the event, not on a clock.
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
    let script = format!("(echo started; exec sleep 30) > {} & wait", fifo.display());
    let err = Shell
        .call(
            json!({"argv": [script], "shell": true, "timeout_ms": 300}),
            ctx(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.to_string().contains("ran past 300 ms and was killed"),
        "{err}"
    );
    // The failsafe only bounds a failing run: `sleep 30` would hold the FIFO for 30 s.
    let text = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the grandchild survived")
        .unwrap();
    assert_eq!(text, "started\n");
}

#[tokio::test]
async fn cancelling_a_call_kills_its_processes() {
    let token = CancellationToken::new();
    let context = ToolContext::new("c").with_cancellation(token.clone());
    let call =
        tokio::spawn(async move { Shell.call(json!({"argv": ["sleep", "30"]}), context).await });
    tokio::task::yield_now().await;
    token.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(result, Err(ToolError::Cancelled)), "{result:?}");
}

fn command(argv: &[&str], stdin_json: bool) -> CommandTool {
    CommandTool {
        name: "lookup".into(),
        description: "test".into(),
        input_schema: json!({"type": "object"}),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        stdin_json,
        cwd: None,
        env: Default::default(),
        access: vec!["write:db/{table}".into()],
        spoken: None,
    }
}

#[tokio::test]
async fn command_tools_fill_placeholders_read_stdin_and_parse_json() {
    // `{{` and `}}` are literal braces.
    let tool = command(
        &[
            "sh",
            "-c",
            "printf '{{\"got\": \"%s\"}}' \"$1\"",
            "sh",
            "{name}",
        ],
        false,
    );
    assert_eq!(
        tool.call(json!({"name": "Ada"}), ctx()).await.unwrap(),
        json!({"got": "Ada"})
    );

    let tool = command(&["cat"], true);
    assert_eq!(
        tool.call(json!({"a": [1, 2]}), ctx()).await.unwrap(),
        json!({"a": [1, 2]})
    );

    let tool = command(&["echo", "not json"], false);
    assert_eq!(
        tool.call(json!({}), ctx()).await.unwrap(),
        json!("not json\n")
    );

    let tool = command(
        &["sh", "-c", &format!("echo busy >&2; exit {EXIT_TRANSIENT}")],
        false,
    );
    let err = tool.call(json!({}), ctx()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.to_string(), "lookup failed temporarily (exit 75): busy");

    let tool = command(&["echo", "{missing}"], false);
    let err = tool.call(json!({}), ctx()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);

    assert_eq!(
        tool.access_keys(&json!({"table": "users"}))[0].to_string(),
        "write:db/users"
    );
    assert!(tool.access_keys(&json!({})).is_empty());
}

#[tokio::test]
async fn file_tools_read_write_list_and_glob() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/config.json");
    let p = path.to_str().unwrap();
    let out = WriteFile
        .call(json!({"path": p, "content": "{\"a\": 1}"}), ctx())
        .await
        .unwrap();
    assert_eq!(out["bytes_written"], 8);
    let out = ReadFile.call(json!({"path": p}), ctx()).await.unwrap();
    assert_eq!(out["content"], "{\"a\": 1}");
    let err = ReadFile
        .call(
            json!({"path": dir.path().join("nope").to_str().unwrap()}),
            ctx(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().ends_with("nope: no such file or directory"),
        "{err}"
    );

    std::fs::write(dir.path().join("sub/b.txt"), "b").unwrap();
    let out = ListDir
        .call(
            json!({"path": dir.path().join("sub").to_str().unwrap()}),
            ctx(),
        )
        .await
        .unwrap();
    let names: Vec<&str> = out["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b.txt", "config.json"]);
    assert_eq!(out["entries"][0]["type"], "file");

    let pattern = format!("{}/**/*.json", dir.path().display());
    let out = Glob.call(json!({"pattern": pattern}), ctx()).await.unwrap();
    assert_eq!(out["matches"], json!([p]));
    let err = Glob
        .call(json!({"pattern": "a[b"}), ctx())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArguments);
}

#[test]
fn file_tools_declare_normalised_access_keys() {
    let a = ReadFile.access_keys(&json!({"path": "./x/../config.json"}));
    let b = WriteFile.access_keys(&json!({"path": "config.json", "content": ""}));
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        a[0].to_string(),
        format!("read:{}", cwd.join("config.json").display())
    );
    assert_eq!(b[0].key, a[0].key);
    assert_eq!(
        normalize("/a/b/../c/./d"),
        std::path::PathBuf::from("/a/c/d")
    );
}

#[tokio::test]
async fn a_write_then_a_read_of_one_file_in_one_batch_reads_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, "old").unwrap();
    let p = path.to_str().unwrap();
    let engine = Engine::new(builtin_registry().unwrap());
    // The read comes first in no wave: access keys order it after the write.
    let plan = Plan::new(vec![
        Call::new("sleep", json!({"ms": 50})).with_id("slow"),
        Call::new("write_file", json!({"path": p, "content": "new"})).after("slow"),
        Call::new("read_file", json!({"path": p})),
    ]);
    let outcomes = engine.run(plan).unwrap().wait().await;
    assert!(
        outcomes.iter().all(|o| o.status == Status::Ok),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[2].output.as_ref().unwrap()["content"], "new");
}

#[tokio::test(start_paused = true)]
async fn echo_and_sleep() {
    assert_eq!(
        Echo.call(json!({"x": [1]}), ctx()).await.unwrap(),
        json!({"x": [1]})
    );
    let start = tokio::time::Instant::now();
    assert_eq!(
        Sleep.call(json!({"ms": 250}), ctx()).await.unwrap(),
        json!({"slept_ms": 250})
    );
    assert_eq!(start.elapsed(), Duration::from_millis(250));
}

/// A one-shot HTTP server on 127.0.0.1 answering each connection with `response`.
async fn serve(responses: Vec<&'static str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for response in responses {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 8192];
            let _ = socket.read(&mut buf).await.unwrap();
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn http_returns_json_and_classifies_failures() {
    let url = serve(vec![
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}",
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy",
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ])
    .await;
    let http = Http::new();
    let out = http
        .call(
            json!({"url": format!("{url}/a"), "method": "POST", "body": {"q": 1}}),
            ctx(),
        )
        .await
        .unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"], json!({"ok": true}));

    let err = http
        .call(json!({"url": format!("{url}/b")}), ctx())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(
        matches!(err, ToolError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(2))
    );
    assert_eq!(
        err.to_string(),
        format!("GET {url}/b returned 503 Service Unavailable: busy")
    );

    let err = http
        .call(json!({"url": format!("{url}/c")}), ctx())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
}

#[test]
fn every_builtin_lists_an_object_schema() {
    let registry = builtin_registry().unwrap();
    let specs = registry.list();
    assert_eq!(specs.len(), 8);
    for spec in specs {
        assert_eq!(
            spec.input_schema["type"],
            Value::from("object"),
            "{}",
            spec.name
        );
        assert!(!spec.description.is_empty());
    }
}
