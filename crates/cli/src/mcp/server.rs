//! One MCP server: its process, its connection (shared by every call), restarts, shutdown.

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::tools::process::GroupGuard;
use rmcp::model::{JsonRpcMessage, ProgressNotificationParam, ProgressToken, ServerNotification};
use rmcp::service::{Peer, RunningService, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::{TokioChildProcess, Transport};
use rmcp::{RoleClient, ServiceExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;
use volley::executor::{Progress, ToolError};

use super::error::{McpError, tail};
use crate::config::McpServer;

/// How long a server may take from spawn to the end of the MCP handshake.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many of the last stderr lines an error quotes.
const STDERR_LINES: usize = 10;
/// How long shutdown waits for a server to exit after its stdin closes (then it is killed).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// An MCP server as Volley holds it: its configuration, the current connection if started, a
/// per-server concurrency limit, and the restart rule.
pub(crate) struct Server {
    pub(crate) name: String,
    config: McpServer,
    /// The current connection. Only read to clone the `Arc`, never held across an await, so a
    /// restart can swap it while calls on the old one finish or fail.
    current: RwLock<Option<Arc<Connection>>>,
    /// Serialises starts, so calls that find the server dead together restart it once.
    starting: tokio::sync::Mutex<()>,
    pub(crate) limit: Option<Arc<Semaphore>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("name", &self.name).finish()
    }
}

impl Server {
    pub(crate) fn new(name: &str, config: &McpServer) -> Server {
        Server {
            name: name.to_owned(),
            config: config.clone(),
            current: RwLock::new(None),
            starting: tokio::sync::Mutex::new(()),
            limit: config.max_concurrency.map(|n| Arc::new(Semaphore::new(n))),
        }
    }

    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.config.timeout_ms.map(Duration::from_millis)
    }

    /// The command as one line, for messages.
    pub(crate) fn command_line(&self) -> String {
        self.config.command.join(" ")
    }

    fn current(&self) -> Option<Arc<Connection>> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_current(&self, connection: Option<Arc<Connection>>) {
        match self.current.write() {
            Ok(mut guard) => *guard = connection,
            Err(poisoned) => *poisoned.into_inner() = connection,
        }
    }

    /// Starts the server and makes it the current connection.
    pub(crate) async fn start(&self) -> Result<Arc<Connection>, McpError> {
        let _starting = self.starting.lock().await;
        let connection = Arc::new(self.spawn().await?);
        self.set_current(Some(connection.clone()));
        Ok(connection)
    }

    /// The connection for a call: the current one while it lives; else a new one when the
    /// server was never started, was stopped, or died after answering at least one call (a
    /// restart); else (it died again before answering anything after a restart) an error.
    pub(crate) async fn connection(&self) -> Result<Arc<Connection>, ToolError> {
        if let Some(connection) = self.current()
            && !connection.is_closed()
        {
            return Ok(connection);
        }
        let _starting = self.starting.lock().await;
        // Another call may have restarted it while this one waited.
        let current = self.current();
        if let Some(connection) = &current
            && !connection.is_closed()
        {
            return Ok(connection.clone());
        }
        if let Some(dead) = &current
            && dead.restarted
            && !dead.answered.load(Ordering::Relaxed)
        {
            return Err(ToolError::permanent(format!(
                "MCP server `{}` (`{}`) exited again after a restart, before answering any call; \
                 it is not restarted again{}",
                self.name,
                self.command_line(),
                tail(&dead.stderr_tail())
            )));
        }
        let restarted = current.is_some();
        let mut connection = self
            .spawn()
            .await
            .map_err(|e| ToolError::transient(e.to_string()))?;
        connection.restarted = restarted;
        let connection = Arc::new(connection);
        self.set_current(Some(connection.clone()));
        Ok(connection)
    }

    /// Closes the current connection: stdin closed, then SIGTERM, then SIGKILL, as the MCP
    /// stdio transport specifies. Calls on it fail; a later call starts the server again.
    pub(crate) async fn stop(&self) {
        let connection = {
            let _starting = self.starting.lock().await;
            let connection = self.current();
            self.set_current(None);
            connection
        };
        if let Some(connection) = connection {
            connection.close().await;
        }
    }

    async fn spawn(&self) -> Result<Connection, McpError> {
        let argv = &self.config.command;
        let mut command = tokio::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .envs(&self.config.env)
            // Its own process group, killed whole when the connection goes (a server started
            // through `npx` or a shell leaves no grandchild behind); and the backstop against
            // orphans: whoever drops the process kills it.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cwd) = &self.config.cwd {
            command.current_dir(cwd);
        }
        let (transport, stderr) = TokioChildProcess::builder(command)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| McpError::Spawn {
                server: self.name.clone(),
                command: self.command_line(),
                problem: e.to_string(),
                stderr: Vec::new(),
            })?;
        let group = GroupGuard::new(transport.id());
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let reader = stderr.map(|stderr| {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
                    if lines.len() == STDERR_LINES {
                        lines.pop_front();
                    }
                    lines.push_back(line);
                }
            })
        });
        let routes = Routes::default();
        let transport = Routed {
            inner: transport,
            routes: routes.clone(),
        };
        let initialize_error =
            |problem: String, lines: &Arc<Mutex<VecDeque<String>>>| McpError::Initialize {
                server: self.name.clone(),
                command: self.command_line(),
                problem,
                stderr: snapshot(lines),
            };
        let service = match tokio::time::timeout(START_TIMEOUT, ().serve(transport)).await {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => {
                // The process is gone or going: let its last stderr lines arrive.
                if let Some(reader) = reader {
                    let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
                }
                return Err(initialize_error(e.to_string(), &lines));
            }
            Err(_) => {
                return Err(initialize_error(
                    format!("no answer to `initialize` within {START_TIMEOUT:?}"),
                    &lines,
                ));
            }
        };
        Ok(Connection {
            peer: service.peer().clone(),
            service: tokio::sync::Mutex::new(Some(service)),
            routes,
            stderr: lines,
            answered: AtomicBool::new(false),
            restarted: false,
            _group: group,
        })
    }
}

fn snapshot(lines: &Mutex<VecDeque<String>>) -> Vec<String> {
    lines
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .cloned()
        .collect()
}

/// One live connection to a server process: the rmcp peer every call shares (JSON-RPC is
/// multiplexed, so calls need no lock), and the progress routes of the calls in flight.
pub(crate) struct Connection {
    pub(crate) peer: Peer<RoleClient>,
    service: tokio::sync::Mutex<Option<RunningService<RoleClient, ()>>>,
    pub(crate) routes: Routes,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Whether it answered a call: a connection that dies after that may be restarted.
    pub(crate) answered: AtomicBool,
    /// Whether it replaced one that died.
    restarted: bool,
    /// Kills the server's process group when the connection is dropped (after a polite
    /// close, or at once when Volley exits).
    _group: GroupGuard,
}

impl Connection {
    /// Whether the process exited or the connection was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.peer.is_transport_closed()
    }

    /// The last lines the process wrote on stderr.
    pub(crate) fn stderr_tail(&self) -> Vec<String> {
        snapshot(&self.stderr)
    }

    async fn close(&self) {
        if let Some(mut service) = self.service.lock().await.take() {
            let _ = service.close_with_timeout(SHUTDOWN_TIMEOUT * 3).await;
        }
    }
}

/// Where each call's progress goes, by the progress token rmcp put on its request. A call
/// removes its route when it ends, so later notifications for it are dropped.
#[derive(Clone, Default)]
pub(crate) struct Routes(Arc<Mutex<HashMap<ProgressToken, Route>>>);

struct Route {
    progress: Progress,
    /// The last fraction reported, kept when the server sends no `total`.
    fraction: f64,
}

impl Routes {
    /// Routes `token`'s notifications to `progress` until the guard drops.
    pub(crate) fn register(&self, token: ProgressToken, progress: Progress) -> RouteGuard {
        self.lock().insert(
            token.clone(),
            Route {
                progress,
                fraction: 0.0,
            },
        );
        RouteGuard {
            routes: self.clone(),
            token,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, Route>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn report(&self, params: &ProgressNotificationParam) {
        let mut routes = self.lock();
        let Some(route) = routes.get_mut(&params.progress_token) else {
            return; // after the result or a cancel, or a token we never sent: ignored.
        };
        if let Some(total) = params.total.filter(|t| *t > 0.0) {
            let fraction = params.progress / total;
            if fraction.is_finite() {
                route.fraction = fraction.clamp(0.0, 1.0);
            }
        }
        let step = params.message.as_deref().unwrap_or("");
        route.progress.report(route.fraction, step);
    }
}

/// Removes a call's progress route when dropped.
pub(crate) struct RouteGuard {
    routes: Routes,
    token: ProgressToken,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        self.routes.lock().remove(&self.token);
    }
}

/// The child process's transport, routing `notifications/progress` as each is read, in the
/// order of the wire: rmcp hands notifications to the client handler on tasks of their own, so
/// a call's last progress could otherwise land after its result and be dropped.
struct Routed {
    inner: TokioChildProcess,
    routes: Routes,
}

impl Transport<RoleClient> for Routed {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let message = self.inner.receive().await;
        if let Some(JsonRpcMessage::Notification(notification)) = &message
            && let ServerNotification::ProgressNotification(progress) = &notification.notification
        {
            self.routes.report(&progress.params);
        }
        message
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
