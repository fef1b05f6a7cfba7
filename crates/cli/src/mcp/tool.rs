//! One tool of an MCP server as a Volley tool.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use rmcp::RoleClient;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotification,
    CancelledNotificationParam, ClientRequest, ErrorCode, RequestId, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, ServiceError};
use serde_json::Value;
use volley::executor::{Tool, ToolContext, ToolError};
use volley::planner::AccessKey;

use super::error::tail;
use super::server::{Connection, Server};

/// How long a cancelled call waits for `notifications/cancelled` to be written.
const CANCEL_SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// A tool of an MCP server, named `mcp__<server>__<tool>`.
///
/// Every tool of a server shares its connection: calls are multiplexed on it, each with its
/// own progress token. Annotations: `readOnlyHint: true` reads the key `mcp:<server>`; a tool
/// that may write (not read-only; destructive unless it says `destructiveHint: false`) writes
/// it, so within a batch its calls are ordered with that server's other calls in plan order;
/// an explicit `destructiveHint: true` also makes its calls run alone (`concurrency_safe`).
pub struct McpTool {
    name: String,
    remote: String,
    description: String,
    input_schema: Value,
    access: Access,
    exclusive: bool,
    server: Arc<Server>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    None,
}

impl std::fmt::Debug for McpTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTool")
            .field("name", &self.name)
            .field("server", &self.server.name)
            .finish()
    }
}

impl McpTool {
    pub(crate) fn new(server: Arc<Server>, tool: &rmcp::model::Tool) -> McpTool {
        let annotations = tool.annotations.as_ref();
        let read_only = annotations.and_then(|a| a.read_only_hint) == Some(true);
        let destructive = annotations.and_then(|a| a.destructive_hint);
        let access = if read_only {
            Access::Read
        } else if destructive != Some(false) {
            Access::Write
        } else {
            Access::None
        };
        let description = tool
            .description
            .as_deref()
            .or(tool.title.as_deref())
            .unwrap_or("")
            .to_owned();
        McpTool {
            name: tool_name(&server.name, &tool.name),
            remote: tool.name.to_string(),
            description,
            input_schema: Value::Object((*tool.input_schema).clone()),
            access,
            exclusive: !read_only && destructive == Some(true),
            server,
        }
    }

    /// The tool's name on its server.
    pub fn remote_name(&self) -> &str {
        &self.remote
    }

    /// The server's name.
    pub fn server_name(&self) -> &str {
        &self.server.name
    }

    fn failure(&self, what: &str) -> String {
        format!(
            "MCP server `{}`, tool `{}`: {what}",
            self.server.name, self.remote
        )
    }

    fn died(&self, connection: &Connection) -> ToolError {
        ToolError::transient(self.failure(&format!(
            "the server exited or closed the connection during the call (it is restarted on the \
             next call){}",
            tail(&connection.stderr_tail())
        )))
    }

    async fn call_on(
        &self,
        connection: &Connection,
        args: Value,
        ctx: &ToolContext,
    ) -> Result<Value, ToolError> {
        let arguments = match args {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => {
                return Err(ToolError::invalid_arguments(format!(
                    "an MCP tool takes an object, not {other}"
                )));
            }
        };
        let mut params = CallToolRequestParams::new(self.remote.clone());
        params.arguments = arguments;
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let mut handle = match connection
            .peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
        {
            Ok(handle) => handle,
            Err(_) => return Err(self.died(connection)),
        };
        // From here the request is out: dropping this future (the engine's grace period ran
        // out) still tells the server to stop.
        let mut cancel_on_drop = CancelOnDrop {
            peer: Some(connection.peer.clone()),
            id: handle.id.clone(),
        };
        let route = connection
            .routes
            .register(handle.progress_token.clone(), ctx.reporter().clone());
        let response = tokio::select! {
            biased;
            response = &mut handle.rx => Some(response),
            () = ctx.cancelled() => None,
        };
        drop(route); // progress from now on is ignored
        cancel_on_drop.peer = None;
        let Some(response) = response else {
            let _ = tokio::time::timeout(
                CANCEL_SEND_TIMEOUT,
                handle.cancel(Some(
                    "cancelled by Volley (the call was cancelled or timed out)".into(),
                )),
            )
            .await;
            return Err(ToolError::Cancelled);
        };
        match response {
            Ok(Ok(ServerResult::CallToolResult(result))) => {
                connection.answered.store(true, Ordering::Relaxed);
                self.output(result)
            }
            Ok(Ok(_)) => Err(ToolError::permanent(
                self.failure("the server answered `tools/call` with another kind of result"),
            )),
            Ok(Err(ServiceError::McpError(error))) => {
                connection.answered.store(true, Ordering::Relaxed);
                let message = self.failure(&error.message);
                if error.code == ErrorCode::INVALID_PARAMS {
                    Err(ToolError::invalid_arguments(message))
                } else {
                    Err(ToolError::permanent(message))
                }
            }
            Ok(Err(ServiceError::TransportClosed | ServiceError::TransportSend(_))) | Err(_) => {
                Err(self.died(connection))
            }
            Ok(Err(other)) => Err(ToolError::transient(self.failure(&other.to_string()))),
        }
    }

    /// `isError` → a failure with the server's text; else `structuredContent`, or the content
    /// blocks.
    fn output(&self, result: CallToolResult) -> Result<Value, ToolError> {
        if result.is_error == Some(true) {
            let text: Vec<String> = result
                .content
                .iter()
                .map(|block| match block.as_text() {
                    Some(text) => text.text.clone(),
                    None => serde_json::to_string(block).unwrap_or_default(),
                })
                .collect();
            return Err(ToolError::permanent(self.failure(&text.join("\n"))));
        }
        if let Some(structured) = result.structured_content {
            return Ok(structured);
        }
        serde_json::to_value(&result.content)
            .map_err(|e| ToolError::permanent(self.failure(&format!("unreadable content: {e}"))))
    }
}

#[async_trait]
impl Tool for McpTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn input_schema(&self) -> Value {
        self.input_schema.clone()
    }

    async fn call(&self, args: Value, ctx: ToolContext) -> Result<Value, ToolError> {
        let _permit = match &self.server.limit {
            Some(limit) => tokio::select! {
                permit = limit.clone().acquire_owned() => Some(permit.map_err(|_| {
                    ToolError::permanent(self.failure("the server was shut down"))
                })?),
                () = ctx.cancelled() => return Err(ToolError::Cancelled),
            },
            None => None,
        };
        let connection = tokio::select! {
            connection = self.server.connection() => connection?,
            () = ctx.cancelled() => return Err(ToolError::Cancelled),
        };
        self.call_on(&connection, args, &ctx).await
    }

    fn timeout(&self) -> Option<Duration> {
        self.server.timeout()
    }

    fn access_keys(&self, _args: &Value) -> Vec<AccessKey> {
        let key = format!("mcp:{}", self.server.name);
        match self.access {
            Access::Read => vec![AccessKey::read(key)],
            Access::Write => vec![AccessKey::write(key)],
            Access::None => Vec::new(),
        }
    }

    fn concurrency_safe(&self) -> bool {
        !self.exclusive
    }
}

/// Sends `notifications/cancelled` for a request whose call was dropped before its answer.
struct CancelOnDrop {
    peer: Option<Peer<RoleClient>>,
    id: RequestId,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(peer) = self.peer.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let notification = CancelledNotification::new(CancelledNotificationParam::new(
            Some(self.id.clone()),
            Some("cancelled by Volley (the call was dropped)".into()),
        ));
        runtime.spawn(async move {
            let _ = peer.send_notification(notification.into()).await;
        });
    }
}

/// `mcp__<server>__<tool>`, with characters a model's API refuses replaced by `_` and cut to
/// 64 characters.
pub fn tool_name(server: &str, tool: &str) -> String {
    let name: String = format!("mcp__{server}__{tool}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    name
}

#[cfg(test)]
mod tests {
    use super::tool_name;

    #[test]
    fn names_follow_the_claude_code_convention_and_stay_valid() {
        let cases = [
            ("time", "get_current_time", "mcp__time__get_current_time"),
            ("everything", "get-sum", "mcp__everything__get-sum"),
            ("fs", "read.file/v2", "mcp__fs__read_file_v2"),
        ];
        for (server, tool, expected) in cases {
            assert_eq!(tool_name(server, tool), expected);
        }
        assert_eq!(tool_name("s", &"x".repeat(100)).len(), 64);
    }
}
