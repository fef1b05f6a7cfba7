#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test

//! `volley serve`: every endpoint, status and stream over real HTTP on loopback.
//!
//! Each test starts a server in-process on `127.0.0.1:0` with the built-in tools and talks to
//! it with reqwest. Nothing sleeps to wait: tests wait on responses and on event streams, with
//! a timeout only as a failsafe. Running batches use the `sleep` tool with a long delay and are
//! always cancelled.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use volley::executor::Engine;
use volley_cli::serve::{Server, ServerBuilder, Token};

const TOKEN: &str = "test-token-5f0c1e2d3c4b5a69";
const WRONG_TOKEN: &str = "test-token-5f0c1e2d3c4b5a6a";
/// Only a failsafe: every wait in these tests ends on a response or a stream's end.
const FAILSAFE: Duration = Duration::from_secs(30);

/// A child process holds a copy of every socket open when it was forked, until it execs: the
/// test that checks that shutdown closes the port must not overlap the tests that spawn `volley`.
static SPAWNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(FAILSAFE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {FAILSAFE:?}"))
}

/// A server on a loopback port, its log lines, and a way to shut it down.
struct Harness {
    base: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<std::io::Result<()>>>,
    logs: Arc<Mutex<Vec<String>>>,
}

async fn start() -> Harness {
    start_with(|_| {}).await
}

async fn start_with(configure: impl FnOnce(&mut ServerBuilder)) -> Harness {
    let registry = volley_cli::tools::builtin_registry().unwrap();
    let engine = Engine::builder(registry).clear_audit().build();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let mut builder = Server::builder(engine);
    builder.token(Token::new(TOKEN).unwrap()).log({
        let logs = logs.clone();
        move |line| logs.lock().unwrap().push(line.to_owned())
    });
    configure(&mut builder);
    let server = builder.build().unwrap();
    assert!(!format!("{server:?}").contains(TOKEN));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    Harness {
        base,
        client: reqwest::Client::new(),
        stop: Some(stop),
        served: Some(served),
        logs,
    }
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        answer(self.request(reqwest::Method::GET, path)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        answer(self.request(reqwest::Method::DELETE, path)).await
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        answer(self.request(reqwest::Method::POST, path).body(body)).await
    }

    /// Starts a batch; returns its id.
    async fn start_batch(&self, plan: &Value) -> String {
        self.start_batch_at("/v1/batches", plan).await
    }

    async fn start_batch_at(&self, path: &str, plan: &Value) -> String {
        let (status, body) = self.post(path, plan.to_string()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Opens a batch's event stream, resuming after `last_event_id` if given.
    async fn events(&self, id: &str, last_event_id: Option<&str>) -> EventStream {
        let mut request = self.request(reqwest::Method::GET, &format!("/v1/batches/{id}/events"));
        if let Some(last) = last_event_id {
            request = request.header("Last-Event-ID", last);
        }
        let response = within("events", request.send()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// Every message of a batch's event stream, to its end.
    async fn all_events(&self, id: &str, last_event_id: Option<&str>) -> Vec<Message> {
        let mut stream = self.events(id, last_event_id).await;
        within("the whole event stream", stream.rest()).await
    }

    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Shuts the server down; returns once `serve` did.
    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).unwrap();
        }
        if let Some(served) = self.served.take() {
            within("shutdown", served).await.unwrap().unwrap();
        }
        for line in self.logs() {
            assert!(
                !line.contains(TOKEN) && !line.contains(WRONG_TOKEN),
                "a token in the log: {line}"
            );
        }
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = within("a response", request.send()).await.unwrap();
    let status = response.status();
    let text = within("a body", response.text()).await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct Message {
    id: Option<String>,
    event: String,
    data: Value,
}

impl Message {
    /// The numeric id of a progress or snapshot event.
    fn seq(&self) -> u64 {
        self.id.as_deref().unwrap().parse().unwrap()
    }
}

/// Reads an SSE body as it arrives: `id:`, `event:` and `data:` lines, blank-line separated;
/// comments (keep-alives) skipped.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// The next message; `None` at the end of the stream.
    async fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(message) = parse_block(&block) {
                    return Some(message);
                }
                continue;
            }
            match self.response.chunk().await.unwrap() {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => {
                    assert!(self.buffer.trim().is_empty(), "cut short: {}", self.buffer);
                    return None;
                }
            }
        }
    }

    /// The next message, which must come.
    async fn expect(&mut self) -> Message {
        within("the next event", self.next())
            .await
            .expect("the stream ended early")
    }

    /// Reads until a message of type `event` for call `call`; returns what was read.
    async fn until(&mut self, event: &str, call: &str) -> Vec<Message> {
        let mut read = Vec::new();
        loop {
            let message = self.expect().await;
            let found = message.event == event && message.data["call"] == call;
            read.push(message);
            if found {
                return read;
            }
        }
    }

    /// Everything to the end.
    async fn rest(&mut self) -> Vec<Message> {
        let mut read = Vec::new();
        while let Some(message) = self.next().await {
            read.push(message);
        }
        read
    }
}

fn parse_block(block: &str) -> Option<Message> {
    let (mut id, mut event, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_owned()),
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value),
            "" => {} // a comment
            other => panic!("unexpected SSE field {other:?} in {block:?}"),
        }
    }
    let event = event?;
    let data = serde_json::from_str(&data.join("\n")).unwrap();
    Some(Message { id, event, data })
}

/// A plan of echo calls, the second reading the first.
fn echo_plan() -> Value {
    json!({"calls": [
        {"id": "first", "tool": "echo", "args": {"n": 1}},
        {"id": "second", "tool": "echo", "args": {"from_first": "$first.n"}}
    ]})
}

/// A plan that runs until cancelled.
fn long_plan() -> Value {
    json!({"calls": [
        {"id": "nap", "tool": "sleep", "args": {"ms": 600_000}},
        {"id": "rest", "tool": "sleep", "args": {"ms": 600_000}}
    ]})
}

fn statuses(result: &Value) -> Vec<&str> {
    result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn health_answers_without_a_token() {
    let mut server = start().await;
    let response = within("health", server.client.get(server.url("/healthz")).send())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn every_endpoint_but_health_needs_the_token() {
    let mut server = start().await;
    let id = server.start_batch(&echo_plan()).await;
    let endpoints = [
        ("POST", "/v1/batches".to_owned()),
        ("GET", format!("/v1/batches/{id}")),
        ("GET", format!("/v1/batches/{id}/events")),
        ("DELETE", format!("/v1/batches/{id}")),
        ("GET", "/v1/tools".to_owned()),
        ("GET", "/v1/unknown".to_owned()),
    ];
    for (method, path) in &endpoints {
        let method: reqwest::Method = method.parse().unwrap();
        let url = server.url(path);
        let attempts = [
            (None, r#"Bearer realm="volley""#),
            (
                Some(format!("Bearer {WRONG_TOKEN}")),
                r#"Bearer realm="volley", error="invalid_token""#,
            ),
            (Some(format!("Basic {TOKEN}")), r#"Bearer realm="volley""#),
            (
                Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
                r#"Bearer realm="volley", error="invalid_token""#,
            ),
        ];
        for (authorization, challenge) in attempts {
            let mut request = server.client.request(method.clone(), &url).body("{}");
            if let Some(authorization) = &authorization {
                request = request.header("Authorization", authorization);
            }
            let response = within("401", request.send()).await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
            assert_eq!(response.headers()["www-authenticate"], challenge);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        }
    }
    // The right token opens every door (the unknown path is then a 404).
    let (status, _) = server.get("/v1/tools").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server.get("/v1/unknown").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
    // Nothing the unauthenticated requests sent was run.
    assert_eq!(
        server
            .logs()
            .iter()
            .filter(|l| l.contains(": started"))
            .count(),
        1
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_batch_streams_its_events_then_its_result() {
    let mut server = start().await;
    let response = within(
        "post",
        server
            .request(reqwest::Method::POST, "/v1/batches")
            .body(echo_plan().to_string())
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(keys(&accepted), ["id", "status", "events"]);
    let id = accepted["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert_eq!(accepted["status"], "running");
    assert_eq!(accepted["events"], format!("/v1/batches/{id}/events"));
    assert_eq!(location, format!("/v1/batches/{id}"));

    let messages = server.all_events(id, None).await;
    let (result, progress) = messages.split_last().unwrap();
    // Progress: ids are the events' seq, increasing; the event name is the type.
    let mut last_seq = 0;
    for message in progress {
        assert_eq!(message.seq(), message.data["seq"].as_u64().unwrap());
        assert!(message.seq() > last_seq, "{messages:?}");
        last_seq = message.seq();
        assert_eq!(message.event, message.data["type"].as_str().unwrap());
    }
    let steps = |call: &str| -> Vec<&str> {
        progress
            .iter()
            .filter(|m| m.data["call"] == call)
            .map(|m| m.event.as_str())
            .collect()
    };
    assert_eq!(steps("first"), ["queued", "started", "completed"]);
    assert_eq!(steps("second"), ["queued", "started", "completed"]);
    // Then the result, and the end.
    assert_eq!(result.event, "result");
    assert_eq!(result.id.as_deref(), Some("result"));
    assert_eq!(keys(&result.data), ["id", "status", "result"]);
    assert_eq!(result.data["id"], id);
    assert_eq!(result.data["status"], "done");
    let batch = &result.data["result"];
    assert_eq!(statuses(batch), ["ok", "ok"]);
    assert_eq!(batch["results"][1]["output"], json!({"from_first": 1}));
    assert_eq!(batch["summary"]["ok"], 2);

    // GET tells the same.
    let (status, body) = server.get(&location).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&body), ["id", "status", "result"]);
    assert_eq!(body, result.data);

    // A client that connects after the end gets the kept events and the result at once.
    let late = server.all_events(id, None).await;
    assert_eq!(late.len(), messages.len());
    assert_eq!(late.last().unwrap().data, result.data);
    server.shutdown().await;
}

#[tokio::test]
async fn a_running_batch_shows_its_snapshot_and_wait_ms_waits_for_the_end() {
    let mut server = start().await;
    let id = server.start_batch(&long_plan()).await;
    let mut events = server.events(&id, None).await;
    events.until("started", "nap").await;
    let (status, body) = server.get(&format!("/v1/batches/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&body), ["id", "status", "snapshot"]);
    assert_eq!(body["status"], "running");
    assert_eq!(body["snapshot"]["calls"][0]["id"], "nap");
    assert_eq!(body["snapshot"]["finished"], false);
    // A short wait returns while it still runs…
    let (_, body) = server.get(&format!("/v1/batches/{id}?wait_ms=1")).await;
    assert_eq!(body["status"], "running");
    server.delete(&format!("/v1/batches/{id}")).await;

    // …and a long one with the result, as soon as the batch is over.
    let quick = server
        .start_batch(&json!({"calls": [{"tool": "sleep", "args": {"ms": 50}}]}))
        .await;
    let (status, body) = server
        .get(&format!("/v1/batches/{quick}?wait_ms=30000"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "done");
    assert_eq!(
        body["result"]["results"][0]["output"],
        json!({"slept_ms": 50})
    );
    let (status, body) = server.get(&format!("/v1/batches/{quick}?wait=1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn resuming_with_last_event_id_sends_only_later_events() {
    let mut server = start().await;
    let id = server.start_batch(&long_plan()).await;
    // Read part of a running batch's stream, then drop the connection.
    let mut events = server.events(&id, None).await;
    let seen = events.until("started", "nap").await;
    drop(events);
    let last = seen.last().unwrap().seq();

    let mut resumed = server.events(&id, Some(&last.to_string())).await;
    server.delete(&format!("/v1/batches/{id}")).await;
    let rest = within("the resumed stream", resumed.rest()).await;
    let (result, progress) = rest.split_last().unwrap();
    assert!(!progress.is_empty());
    assert!(
        progress
            .iter()
            .all(|m| m.event != "snapshot" && m.seq() > last),
        "{rest:?}"
    );
    assert_eq!(result.event, "result");
    assert_eq!(result.data["status"], "cancelled");

    // The whole stream is the part seen, then the rest: nothing lost, nothing twice.
    let whole = server.all_events(&id, None).await;
    let ids = |messages: &[Message]| -> Vec<Option<String>> {
        messages.iter().map(|m| m.id.clone()).collect()
    };
    assert_eq!(ids(&whole), [ids(&seen), ids(&rest)].concat());

    // After the result nothing is left: 204 (which also stops a browser's EventSource).
    let response = within(
        "204",
        server
            .request(reqwest::Method::GET, &format!("/v1/batches/{id}/events"))
            .header("Last-Event-ID", "result")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = within(
        "400",
        server
            .request(reqwest::Method::GET, &format!("/v1/batches/{id}/events"))
            .header("Last-Event-ID", "yesterday")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn resuming_from_before_the_replay_window_starts_with_a_snapshot() {
    let mut server = start().await;
    // 400 calls make 1,200 events, more than the bus keeps (1,024).
    let calls: Vec<Value> = (0..400)
        .map(|i| json!({"id": format!("c{i}"), "tool": "echo", "args": {}}))
        .collect();
    let id = server.start_batch(&json!({"calls": calls})).await;
    let (_, done) = server.get(&format!("/v1/batches/{id}?wait_ms=30000")).await;
    assert_eq!(done["status"], "done");

    let messages = server.all_events(&id, Some("1")).await;
    let snapshot = &messages[0];
    assert_eq!(snapshot.event, "snapshot", "{:?}", &messages[..3]);
    assert_eq!(snapshot.seq(), snapshot.data["seq"].as_u64().unwrap());
    assert_eq!(snapshot.data["counts"]["completed"], 400);
    assert_eq!(snapshot.data["finished"], true);
    for message in &messages[1..messages.len() - 1] {
        assert!(message.seq() > snapshot.seq());
    }
    let result = messages.last().unwrap();
    assert_eq!(result.event, "result");
    assert_eq!(result.data["result"]["summary"]["ok"], 400);
    server.shutdown().await;
}

#[tokio::test]
async fn deleting_a_running_batch_cancels_it_and_its_stream_ends_with_the_result() {
    let mut server = start().await;
    let id = server.start_batch(&long_plan()).await;
    let mut events = server.events(&id, None).await;
    events.until("started", "nap").await;

    let (status, body) = server.delete(&format!("/v1/batches/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(keys(&body), ["id", "status", "result"]);
    assert_eq!(body["status"], "cancelled");
    assert_eq!(statuses(&body["result"]), ["cancelled", "cancelled"]);

    // The subscriber sees the calls cancelled, then the same result.
    let rest = within("the stream after DELETE", events.rest()).await;
    let (result, progress) = rest.split_last().unwrap();
    for call in ["nap", "rest"] {
        assert!(
            progress
                .iter()
                .any(|m| m.event == "cancelled" && m.data["call"] == call),
            "{rest:?}"
        );
    }
    assert_eq!(result.event, "result");
    assert_eq!(result.data, body);

    // Cancelling again changes nothing; GET agrees.
    let (status, again) = server.delete(&format!("/v1/batches/{id}")).await;
    assert_eq!((status, &again), (StatusCode::OK, &body));
    assert_eq!(server.get(&format!("/v1/batches/{id}")).await.1, body);
    // A batch that finished by itself is not "cancelled" by a late DELETE.
    let quick = server.start_batch(&echo_plan()).await;
    server.all_events(&quick, None).await;
    let (_, late) = server.delete(&format!("/v1/batches/{quick}")).await;
    assert_eq!(late["status"], "done");
    assert!(server.logs().iter().any(|l| l.contains("cancel requested")));
    server.shutdown().await;
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let mut server = start_with(|b| {
        b.max_body_bytes(2_048);
    })
    .await;
    let plan =
        |size: usize| json!({"calls": [{"tool": "echo", "args": {"pad": "x".repeat(size)}}]});
    let (status, body) = server.post("/v1/batches", plan(4_096).to_string()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2048 bytes")
    );
    // The same plan, smaller, runs.
    server.start_batch(&plan(1_000)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn batches_past_the_limit_get_429() {
    let mut server = start_with(|b| {
        b.max_batches(1);
    })
    .await;
    let running = server.start_batch(&long_plan()).await;
    let response = within(
        "429",
        server
            .request(reqwest::Method::POST, "/v1/batches")
            .body(echo_plan().to_string())
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_batches");
    // Once the running batch is over (its result is out), its slot is free.
    server.delete(&format!("/v1/batches/{running}")).await;
    server.start_batch(&echo_plan()).await;
    server.shutdown().await;
}

/// What `volley plan` prints on stderr for `input`, without the `error: ` prefixes.
fn volley_plan_errors(input: &str) -> Vec<String> {
    let out = assert_cmd::Command::cargo_bin("volley")
        .unwrap()
        .args(["plan", "-"])
        .write_stdin(input)
        .assert()
        .code(2);
    String::from_utf8(out.get_output().stderr.clone())
        .unwrap()
        .lines()
        .map(|line| line.strip_prefix("error: ").unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn malformed_plans_get_400_with_the_planner_messages() {
    let _alone = SPAWNING.lock().await;
    let mut server = start().await;
    let inputs = [
        "{\"calls\": [",
        r#"{"calls": [{"id": "a", "tool": "echo", "args": {"x": "$b.y"}},
                      {"id": "b", "tool": "echo", "args": {"y": "$a.x"}}]}"#,
        r#"{"calls": [{"id": "a", "tool": "echo", "args": {"x": "$nowhere.y"}},
                      {"id": "b", "tool": "echo", "args": {}, "depends_on": ["a", "ghost"]}]}"#,
        r#"{"calls": [{"tool": "echo", "argz": {}}], "strategy": "fastest"}"#,
        r#"{"hello": "world"}"#,
    ];
    for input in inputs {
        let expected = volley_plan_errors(input);
        let (status, body) = server.post("/v1/batches", input).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{input}");
        assert_eq!(body["error"]["code"], "invalid_plan");
        assert_eq!(body["error"]["details"], json!(expected), "{input}");
        assert!(!expected.is_empty());
    }
    // Not UTF-8, or a query the endpoint does not take: 400 too.
    let (status, body) = server.post("/v1/batches", vec![0xff, 0xfe]).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_request"))
    );
    for query in ["output=xml", "input_format=yaml", "ouput=anthropic"] {
        let (status, body) = server
            .post(&format!("/v1/batches?{query}"), echo_plan().to_string())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request");
    }
    assert!(!server.logs().iter().any(|l| l.contains(": started")));
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_tools_and_bad_arguments_fail_alone() {
    let mut server = start().await;
    let id = server
        .start_batch(&json!({"calls": [
            {"id": "fine", "tool": "echo", "args": {"x": 1}},
            {"id": "typo", "tool": "ecko", "args": {}},
            {"id": "bad", "tool": "sleep", "args": {"ms": "soon"}}
        ]}))
        .await;
    let result = server.all_events(&id, None).await.pop().unwrap();
    let batch = &result.data["result"];
    assert_eq!(statuses(batch), ["ok", "error", "error"]);
    let typo = batch["results"][1]["error"]["message"].as_str().unwrap();
    assert!(typo.contains("ecko"), "{typo}");
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_batches_get_404() {
    let mut server = start().await;
    let unknown = "0123456789abcdef0123456789abcdef";
    for path in [
        format!("/v1/batches/{unknown}"),
        format!("/v1/batches/{unknown}/events"),
        "/v1/batches/not-an-id".to_owned(),
        "/v1/batches/not-an-id/events".to_owned(),
    ] {
        let (status, body) = server.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let (status, _) = server.delete(&format!("/v1/batches/{unknown}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A method an endpoint does not take: 405, in the same shape.
    let (status, body) = answer(server.request(reqwest::Method::PUT, "/v1/tools")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::METHOD_NOT_ALLOWED, &json!("method_not_allowed"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn finished_batches_are_kept_up_to_the_retention_count() {
    let mut server = start_with(|b| {
        b.retain_batches(1);
    })
    .await;
    let first = server.start_batch(&echo_plan()).await;
    server.all_events(&first, None).await;
    assert_eq!(
        server.get(&format!("/v1/batches/{first}")).await.0,
        StatusCode::OK
    );
    let second = server.start_batch(&echo_plan()).await;
    server.all_events(&second, None).await;
    assert_eq!(
        server.get(&format!("/v1/batches/{first}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get(&format!("/v1/batches/{second}")).await.0,
        StatusCode::OK
    );
    server.shutdown().await;
}

#[tokio::test]
async fn output_anthropic_answers_with_the_anthropic_message() {
    let mut server = start().await;
    let response = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude",
        "content": [
            {"type": "text", "text": "Two things at once."},
            {"type": "tool_use", "id": "toolu_01", "name": "echo", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_02", "name": "missing_tool", "input": {}}
        ],
        "stop_reason": "tool_use"
    });
    let id = server
        .start_batch_at("/v1/batches?output=anthropic", &response)
        .await;
    let (_, body) = server.get(&format!("/v1/batches/{id}?wait_ms=30000")).await;
    assert_eq!(body["status"], "done");
    let message = &body["result"];
    assert_eq!(message["role"], "user");
    let blocks = message["content"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0]["type"], "tool_result");
    assert_eq!(blocks[0]["tool_use_id"], "toolu_01");
    assert_eq!(blocks[0]["content"], r#"{"city":"Paris"}"#);
    assert_eq!(blocks[1]["tool_use_id"], "toolu_02");
    assert_eq!(blocks[1]["is_error"], true);

    // OpenAI: one `tool` message per call.
    let id = server
        .start_batch_at(
            "/v1/batches?output=openai&input_format=volley",
            &echo_plan(),
        )
        .await;
    let (_, body) = server.get(&format!("/v1/batches/{id}?wait_ms=30000")).await;
    let messages = body["result"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "tool");
    assert_eq!(messages[0]["tool_call_id"], "first");
    server.shutdown().await;
}

#[tokio::test]
async fn tools_are_listed_with_their_schemas() {
    let mut server = start().await;
    let (status, body) = server.get("/v1/tools").await;
    assert_eq!(status, StatusCode::OK);
    let tools = body["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "shell",
            "http",
            "read_file",
            "write_file",
            "list_dir",
            "glob",
            "echo",
            "sleep"
        ]
    );
    let sleep = tools.iter().find(|t| t["name"] == "sleep").unwrap();
    assert_eq!(keys(sleep), ["name", "description", "input_schema"]);
    assert_eq!(sleep["input_schema"]["required"], json!(["ms"]));
    assert!(!sleep["description"].as_str().unwrap().is_empty());

    let (_, openai) = server.get("/v1/tools?format=openai").await;
    let sleep = &openai["tools"][7];
    assert_eq!(sleep["type"], "function");
    assert_eq!(sleep["function"]["name"], "sleep");
    assert_eq!(sleep["function"]["parameters"]["required"], json!(["ms"]));
    let (_, bedrock) = server.get("/v1/tools?format=bedrock").await;
    let sleep = &bedrock["tools"][7]["toolSpec"];
    assert_eq!(sleep["name"], "sleep");
    assert_eq!(sleep["inputSchema"]["json"]["required"], json!(["ms"]));
    let (status, _) = server.get("/v1/tools?format=gemini").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_cancels_running_batches_and_streams_still_get_their_results() {
    let _alone = SPAWNING.lock().await;
    let mut server = start().await;
    let id = server.start_batch(&long_plan()).await;
    let mut events = server.events(&id, None).await;
    events.until("started", "nap").await;

    let stop = server.stop.take().unwrap();
    stop.send(()).unwrap();
    let rest = within("the stream during shutdown", events.rest()).await;
    let result = rest.last().unwrap();
    assert_eq!(result.event, "result");
    assert_eq!(result.data["status"], "cancelled");
    assert_eq!(statuses(&result.data["result"]), ["cancelled", "cancelled"]);

    // `serve` returns once every stream and batch is over; the port is closed by then.
    server.shutdown().await;
    let refused = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://")).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("shutting down") && l.contains("1 running batch(es) cancelled")),
        "{:?}",
        server.logs()
    );
}

#[tokio::test]
async fn the_token_never_appears_in_logs() {
    let mut server = start().await;
    let id = server.start_batch(&echo_plan()).await;
    server.all_events(&id, None).await;
    for token in [TOKEN, WRONG_TOKEN] {
        let url = server.url(&format!("/v1/batches/{id}?wait_ms=1"));
        let _ = server
            .client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let _ = server
            .client
            .post(server.url("/v1/batches"))
            .header("Authorization", format!("Basic {token}"))
            .body(token)
            .send()
            .await
            .unwrap();
    }
    let logs = server.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("\"GET /v1/batches/") && l.contains(" 401 "))
    );
    assert!(logs.iter().any(|l| l.contains(" 200 ")));
    // `shutdown` checks every line for either token.
    server.shutdown().await;
}

#[test]
fn the_command_refuses_to_serve_without_a_token() {
    let _alone = SPAWNING.blocking_lock();
    let out = assert_cmd::Command::cargo_bin("volley")
        .unwrap()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env_remove("VOLLEY_TOKEN")
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(stderr.contains("--insecure-no-auth"), "{stderr}");
    assert!(stderr.contains("VOLLEY_TOKEN"), "{stderr}");

    let out = assert_cmd::Command::cargo_bin("volley")
        .unwrap()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("VOLLEY_TOKEN", "hunter2")
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(stderr.contains("at least 16"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn the_command_serves_until_sigterm() {
    let _alone = SPAWNING.blocking_lock();
    // With an MCP server configured, its tools are listed beside the built-ins.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("volley.toml");
    let fake =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_mcp_server.py");
    std::fs::write(
        &config,
        format!(
            "[mcp.servers.fake]\ncommand = [\"python3\", {:?}]\n",
            fake.display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("volley"))
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("VOLLEY_TOKEN", TOKEN)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let address = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    assert!(line.contains("bearer token required"), "{line}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let health = within("health", client.get(format!("{address}/healthz")).send())
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let tools = within(
            "tools",
            client
                .get(format!("{address}/v1/tools"))
                .bearer_auth(TOKEN)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(tools.status(), StatusCode::OK);
        let listed = tools.text().await.unwrap();
        assert!(
            listed.contains("\"mcp__fake__"),
            "MCP tools listed: {listed}"
        );
        assert!(
            listed.contains("\"read_file\""),
            "built-ins listed: {listed}"
        );
    });

    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let (exited, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait().unwrap()));
    let status = exit.recv_timeout(FAILSAFE).unwrap_or_else(|_| {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        panic!("volley serve did not stop within {FAILSAFE:?} of SIGTERM")
    });
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(!rest.contains(TOKEN), "{rest}");
}
