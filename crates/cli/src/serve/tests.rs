#![allow(clippy::unwrap_used)] // tests: a panic is a failing test

//! What the HTTP tests cannot reach deterministically: the shutdown gate on connections that
//! are already open, batches that start during a shutdown, and retention by age.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use volley::executor::Engine;
use volley::planner::{Call, Plan};

use super::id::BatchId;
use super::state::Store;
use super::{ServeError, Server, ServerBuilder, Token};

fn engine() -> Engine {
    Engine::builder(crate::tools::builtin_registry().unwrap())
        .clear_audit()
        .build()
}

fn plan(tool: &str, args: Value) -> Plan {
    Plan::new(vec![Call::new(tool, args)])
}

#[tokio::test]
async fn once_shutdown_begins_every_request_gets_503() {
    let server = Server::builder(engine())
        .token(Token::new("0123456789abcdef").unwrap())
        .quiet()
        .build()
        .unwrap();
    let shared = server.shared.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // The listener stays open: this is the moment between the shutdown's start and axum's
    // closing of connections that were already open.
    let served = tokio::spawn(server.serve(listener, std::future::pending()));
    let client = reqwest::Client::new();
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    shared.begin_shutdown();
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    assert_eq!(health.headers()["connection"], "close");
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["error"]["code"], "shutting_down");
    let post = client
        .post(format!("{base}/v1/batches"))
        .bearer_auth("0123456789abcdef")
        .body(r#"{"calls": [{"tool": "echo", "args": {}}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 503);
    served.abort();
}

#[tokio::test]
async fn a_batch_that_starts_during_shutdown_is_cancelled_at_once() {
    let engine = engine();
    let store = Store::new(10, Duration::from_secs(60));
    let (_publish, finished) = watch::channel(None);
    let running = engine.run(plan("sleep", json!({"ms": 600_000}))).unwrap();
    let before = store
        .insert(
            BatchId::random().unwrap(),
            running.clone(),
            finished.clone(),
        )
        .unwrap();
    let closing = store.close();
    assert_eq!(closing.len(), 1);
    assert_eq!(closing[0].id, before.id);
    assert!(
        !before.cancel_requested(),
        "close() leaves cancelling to its caller"
    );

    let late = engine.run(plan("sleep", json!({"ms": 600_000}))).unwrap();
    let after = store
        .insert(BatchId::random().unwrap(), late.clone(), finished)
        .unwrap();
    assert!(after.cancel_requested());
    let outcomes = tokio::time::timeout(Duration::from_secs(30), late.wait())
        .await
        .unwrap();
    assert_eq!(outcomes[0].status, volley::executor::Status::Cancelled);
    running.cancel();
}

#[tokio::test(start_paused = true)]
async fn finished_batches_are_kept_for_a_while_and_running_ones_always() {
    let engine = engine();
    let store = Store::new(10, Duration::from_secs(60));
    let keep = |store: &Store| {
        let handle = engine.run(plan("echo", json!({}))).unwrap();
        let (_publish, finished) = watch::channel(None);
        store
            .insert(BatchId::random().unwrap(), handle, finished)
            .unwrap()
            .id
            .to_string()
    };
    let done = keep(&store);
    let running = keep(&store);
    store.finished(BatchId::parse(&done).unwrap());

    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(store.get(&done).is_some());
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(store.get(&done).is_none(), "kept past its time");
    assert!(
        store.get(&running).is_some(),
        "a running batch is never dropped"
    );
}

#[test]
fn a_server_needs_a_token_or_an_explicit_choice_to_run_without() {
    let build = |configure: fn(&mut ServerBuilder)| {
        let mut builder = Server::builder(engine());
        configure(&mut builder);
        builder.build().map(|_| ())
    };
    let token = || Token::new("0123456789abcdef").unwrap();
    assert_eq!(build(|_| {}), Err(ServeError::NoAuthentication));
    assert_eq!(
        build(|b| {
            b.token(Token::new("0123456789abcdef").unwrap())
                .insecure_no_auth();
        }),
        Err(ServeError::ConflictingAuthentication)
    );
    assert_eq!(
        build(|b| {
            b.insecure_no_auth().max_batches(0);
        }),
        Err(ServeError::ZeroLimit {
            setting: "max_batches"
        })
    );
    assert_eq!(
        build(|b| {
            b.insecure_no_auth().max_body_bytes(0);
        }),
        Err(ServeError::ZeroLimit {
            setting: "max_body_bytes"
        })
    );
    assert!(
        build(|b| {
            b.insecure_no_auth();
        })
        .is_ok()
    );
    let mut builder = Server::builder(engine());
    builder.token(token());
    assert!(!format!("{builder:?}").contains("0123456789abcdef"));
    let message = ServeError::NoAuthentication.to_string();
    assert!(message.contains("--insecure-no-auth") && message.contains("VOLLEY_TOKEN"));
}

#[tokio::test]
async fn without_authentication_asked_for_explicitly_no_token_is_needed() {
    let server = Server::builder(engine())
        .insecure_no_auth()
        .quiet()
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    let tools = reqwest::get(format!("{base}/v1/tools")).await.unwrap();
    assert_eq!(tools.status(), 200);
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
}
