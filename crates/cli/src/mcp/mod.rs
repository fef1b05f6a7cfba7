//! Tools of MCP servers as Volley tools.
//!
//! Each `[mcp.servers.NAME]` is a program Volley starts and talks to over its stdio with the
//! official SDK (`rmcp`). [`load`] starts the servers, lists their tools and returns one
//! [`McpTool`] per tool, named `mcp__<server>__<tool>`, plus the [`McpServers`] handle that
//! shuts them down. The tools of a server share one connection: calls are multiplexed on it
//! (no per-server lock), each with its own progress token, whose `notifications/progress`
//! become the call's progress events. A cancelled or timed-out call sends
//! `notifications/cancelled` and returns at once, whatever the server does. A server that dies
//! fails its calls in flight as transient, and the next call restarts it; one that dies again
//! before answering anything after a restart is not restarted again.
//!
//! `start = "eager"` (the default) keeps the connection of the listing open; `"lazy"` stops
//! the server once its tools are listed and starts it again on the first call. See
//! `docs/mcp.md`.

mod error;
mod server;
mod tool;

use std::collections::BTreeMap;
use std::sync::Arc;

use volley::executor::Tool;

pub use error::McpError;
pub use tool::{McpTool, tool_name};

use crate::config::{McpServer, StartPolicy};
use server::Server;

/// The MCP tools of a configuration and the servers behind them.
#[derive(Debug, Default)]
pub struct McpTools {
    /// One tool per tool of each server, in server then listing order.
    pub tools: Vec<Arc<McpTool>>,
    /// The servers, to shut them down.
    pub servers: McpServers,
}

impl McpTools {
    /// The tools as the registry takes them.
    pub fn dyn_tools(&self) -> Vec<Arc<dyn Tool>> {
        self.tools
            .iter()
            .map(|t| t.clone() as Arc<dyn Tool>)
            .collect()
    }
}

/// The started MCP servers. Dropping it (and every tool) kills the processes; [`shutdown`]
/// closes them as the MCP stdio transport asks (stdin closed, then SIGTERM, then SIGKILL).
///
/// [`shutdown`]: McpServers::shutdown
#[derive(Debug, Default, Clone)]
pub struct McpServers {
    servers: Vec<Arc<Server>>,
}

impl McpServers {
    /// Closes every server's connection and waits for the processes to exit. Calls still in
    /// flight fail; a later call starts its server again.
    pub async fn shutdown(&self) {
        futures::future::join_all(self.servers.iter().map(|s| s.stop())).await;
    }

    /// The server names.
    pub fn names(&self) -> Vec<&str> {
        self.servers.iter().map(|s| s.name.as_str()).collect()
    }
}

/// Starts the configured servers (concurrently), lists their tools, and stops the `lazy` ones
/// again. The first server that cannot start or list its tools is the error; the others are
/// shut down.
pub async fn load(servers: &BTreeMap<String, McpServer>) -> Result<McpTools, McpError> {
    let started = futures::future::join_all(servers.iter().map(|(name, config)| async move {
        let server = Arc::new(Server::new(name, config));
        let listed = list(&server).await;
        if config.start == StartPolicy::Lazy {
            server.stop().await;
        }
        (server, listed)
    }))
    .await;
    let all = McpServers {
        servers: started.iter().map(|(s, _)| s.clone()).collect(),
    };
    let mut tools = Vec::new();
    for (server, listed) in started {
        match listed {
            Ok(listed) => tools.extend(
                listed
                    .iter()
                    .map(|tool| Arc::new(McpTool::new(server.clone(), tool))),
            ),
            Err(e) => {
                all.shutdown().await;
                return Err(e);
            }
        }
    }
    Ok(McpTools {
        tools,
        servers: all,
    })
}

async fn list(server: &Server) -> Result<Vec<rmcp::model::Tool>, McpError> {
    let connection = server.start().await?;
    connection
        .peer
        .list_all_tools()
        .await
        .map_err(|e| McpError::List {
            server: server.name.clone(),
            problem: e.to_string(),
        })
}
