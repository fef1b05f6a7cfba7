//! `cargo xtask bench mcp`: 100 `echo` calls to `@modelcontextprotocol/server-everything` over
//! one stdio connection, all at once against one after another, in the same run (the
//! sequential figure is the floor). Needs the server installed by `scripts/mcp-servers.sh`;
//! without it the bench says so and measures nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use volley_cli::config::{McpServer, StartPolicy};
use volley_cli::mcp::{self, McpTool};
use volley_executor::{Tool, ToolContext};

fn server_everything() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script =
        root.join(".tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    script.is_file().then_some(script)
}

fn mcp(c: &mut Criterion) {
    let Some(script) = server_everything() else {
        eprintln!(
            "\n*** mcp bench SKIPPED: run scripts/mcp-servers.sh to install server-everything ***\n"
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let config = McpServer {
        command: vec!["node".into(), script.display().to_string(), "stdio".into()],
        env: BTreeMap::new(),
        cwd: None,
        start: StartPolicy::Eager,
        max_concurrency: None,
        timeout_ms: None,
    };
    let servers = BTreeMap::from([("everything".to_owned(), config)]);
    let loaded = runtime
        .block_on(mcp::load(&servers))
        .expect("server-everything starts");
    let echo: Arc<McpTool> = loaded
        .tools
        .iter()
        .find(|t| t.name().starts_with("mcp__everything__") && t.name().ends_with("echo"))
        .expect("server-everything has an echo tool")
        .clone();
    let call = |i: usize| {
        let echo = echo.clone();
        async move {
            echo.call(
                json!({"message": format!("hello {i}")}),
                ToolContext::new("bench"),
            )
            .await
        }
    };

    let mut group = c.benchmark_group("mcp");
    group.sample_size(20);
    group.bench_function("echo_100_sequential_floor", |b| {
        b.iter(|| {
            runtime.block_on(async {
                for i in 0..100 {
                    call(i).await.expect("echo answers");
                }
            })
        })
    });
    group.bench_function("echo_100_concurrent_one_connection", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let results = futures::future::join_all((0..100).map(call)).await;
                assert!(results.iter().all(Result::is_ok));
            })
        })
    });
    group.finish();
    runtime.block_on(loaded.servers.shutdown());
}

criterion_group!(benches, mcp);
criterion_main!(benches);
