//! `volley serve`: an HTTP API that runs plans for agents written in any language.
//!
//! A [`Server`] wraps an [`Engine`] (and so its registry, limits and audit log). Build it with
//! [`Server::builder`], then [`Server::serve`] it on a bound listener until a shutdown future
//! resolves. The endpoints (`docs/http-api.md` has every shape, status and a curl example):
//!
//! | endpoint | answers |
//! |---|---|
//! | `POST /v1/batches[?output=json\|anthropic\|bedrock\|openai][&input_format=…]` | 202 `{"id", "status", "events"}`: a plan or a model's response started |
//! | `GET /v1/batches/{id}[?wait_ms=N]` | `{"id", "status", "snapshot"?, "result"?}` |
//! | `GET /v1/batches/{id}/events` | Server-Sent Events: progress, resumable with `Last-Event-ID`, then `result` |
//! | `DELETE /v1/batches/{id}` | cancels it; answers with the final `{"id", "status", "result"}` |
//! | `GET /v1/tools[?format=anthropic\|openai\|bedrock]` | `{"tools": […]}` for a model's request |
//! | `GET /healthz` | `{"status": "ok"}`, the one endpoint without a token |
//!
//! Errors are `{"error": {"code", "message", "details"?}}`: 400 for input that cannot be
//! planned (the details are `volley plan`'s lines), 401 without the bearer token, 404, 413
//! past the body limit, 429 when every batch slot is taken, 503 while shutting down.
//!
//! Shutting down refuses new connections and requests, cancels every running batch, lets
//! each event stream deliver its batch's result, then returns.
//!
//! ```
//! use volley_cli::serve::{Server, Token};
//! use volley::executor::Engine;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::new(volley_cli::tools::builtin_registry()?);
//! let server = Server::builder(engine)
//!     .token(Token::new("a-long-random-secret-token")?)
//!     .quiet()
//!     .build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}", listener.local_addr()?);
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(server.serve(listener, async { let _ = stopped.await; }));
//!
//! let health = reqwest::get(format!("{url}/healthz")).await?;
//! assert_eq!(health.status(), 200);
//! let tools = reqwest::get(format!("{url}/v1/tools")).await?;
//! assert_eq!(tools.status(), 401); // no token
//!
//! stop.send(()).ok();
//! running.await??;
//! # Ok(())
//! # }
//! ```

mod auth;
mod batches;
mod error;
mod id;
mod replay;
mod routes;
mod sse;
mod state;
mod tool_list;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use volley::executor::Engine;

use self::auth::Auth;
pub use self::auth::{MIN_TOKEN_LEN, Token};
pub use self::batches::MAX_WAIT;
use self::state::{Config, Log, Shared, Store};
use self::tool_list::ToolLists;

/// The default body limit of `POST /v1/batches`: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// How many batches run at once by default.
pub const DEFAULT_MAX_BATCHES: usize = 16;
/// How many finished batches are kept by default.
pub const DEFAULT_RETAIN_BATCHES: usize = 256;
/// How long a finished batch is kept by default: 15 minutes.
pub const DEFAULT_RETAIN_FOR: Duration = Duration::from_secs(15 * 60);
/// How long a shutdown waits by default for streams and batches to end: 30 seconds.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a server cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeError {
    /// Neither a token nor an explicit choice to run without one.
    NoAuthentication,
    /// A token and the choice to run without one, both.
    ConflictingAuthentication,
    /// The token is not acceptable; `reason` says why (it never contains the token).
    InvalidToken {
        /// What is wrong with it.
        reason: String,
    },
    /// A limit that must be at least 1 is 0.
    ZeroLimit {
        /// The setting.
        setting: &'static str,
    },
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::NoAuthentication => f.write_str(
                "no token: give --token or set VOLLEY_TOKEN (clients then send \
                 `Authorization: Bearer TOKEN`). Without a token anyone who can connect can run \
                 tools, `shell` included; if that is really what you want, say \
                 --insecure-no-auth",
            ),
            ServeError::ConflictingAuthentication => {
                f.write_str("a token and --insecure-no-auth contradict each other: choose one")
            }
            ServeError::InvalidToken { reason } => write!(f, "the token is not usable: {reason}"),
            ServeError::ZeroLimit { setting } => write!(f, "{setting} must be at least 1"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Builds a [`Server`].
#[derive(Debug)]
pub struct ServerBuilder {
    engine: Engine,
    token: Option<Token>,
    insecure: bool,
    config: Config,
}

impl ServerBuilder {
    /// Requires `Authorization: Bearer TOKEN` on every endpoint but `GET /healthz`.
    ///
    /// By default, no token: [`build`](ServerBuilder::build) fails unless
    /// [`insecure_no_auth`](ServerBuilder::insecure_no_auth) was asked for.
    pub fn token(&mut self, token: Token) -> &mut ServerBuilder {
        self.token = Some(token);
        self
    }

    /// Serves without authentication: anyone who can connect can run every tool. Only for a
    /// socket nobody else can reach.
    ///
    /// By default, this is off.
    pub fn insecure_no_auth(&mut self) -> &mut ServerBuilder {
        self.insecure = true;
        self
    }

    /// The largest request body accepted; larger ones get 413.
    ///
    /// By default, [`DEFAULT_MAX_BODY_BYTES`] (1 MiB).
    pub fn max_body_bytes(&mut self, bytes: usize) -> &mut ServerBuilder {
        self.config.max_body_bytes = bytes;
        self
    }

    /// How many batches may run at once; a `POST` past that gets 429.
    ///
    /// By default, [`DEFAULT_MAX_BATCHES`] (16).
    pub fn max_batches(&mut self, batches: usize) -> &mut ServerBuilder {
        self.config.max_batches = batches;
        self
    }

    /// How many finished batches are kept for `GET` (the oldest go first). 0 keeps none: the
    /// result then reaches only those streaming events, waiting or cancelling when it comes.
    ///
    /// By default, [`DEFAULT_RETAIN_BATCHES`] (256).
    pub fn retain_batches(&mut self, batches: usize) -> &mut ServerBuilder {
        self.config.retain_batches = batches;
        self
    }

    /// How long a finished batch is kept after it finished.
    ///
    /// By default, [`DEFAULT_RETAIN_FOR`] (15 minutes).
    pub fn retain_for(&mut self, time: Duration) -> &mut ServerBuilder {
        self.config.retain_for = time;
        self
    }

    /// How long [`Server::serve`] waits, once shutdown begins, for open streams and cancelled
    /// batches to end before it returns anyway.
    ///
    /// By default, [`DEFAULT_DRAIN_TIMEOUT`] (30 s).
    pub fn drain_timeout(&mut self, time: Duration) -> &mut ServerBuilder {
        self.config.drain_timeout = time;
        self
    }

    /// Sends log lines (one per request, per batch start and end, and for the shutdown) to
    /// `sink`. Lines never contain a header, a body or the token.
    ///
    /// By default, they go to stderr, prefixed with `volley serve: `.
    pub fn log(&mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> &mut ServerBuilder {
        self.config.log = Log::to(Arc::new(sink));
        self
    }

    /// Logs nothing.
    ///
    /// By default, lines go to stderr.
    pub fn quiet(&mut self) -> &mut ServerBuilder {
        self.config.log = Log::off();
        self
    }

    /// The server.
    ///
    /// # Errors
    /// [`ServeError::NoAuthentication`] without a token nor `insecure_no_auth`;
    /// [`ServeError::ConflictingAuthentication`] with both; [`ServeError::ZeroLimit`] for a
    /// body limit or batch limit of 0.
    pub fn build(&self) -> Result<Server, ServeError> {
        let auth = match (&self.token, self.insecure) {
            (Some(token), false) => Auth::Token(token.clone()),
            (None, true) => Auth::Insecure,
            (None, false) => return Err(ServeError::NoAuthentication),
            (Some(_), true) => return Err(ServeError::ConflictingAuthentication),
        };
        if self.config.max_body_bytes == 0 {
            return Err(ServeError::ZeroLimit {
                setting: "max_body_bytes",
            });
        }
        if self.config.max_batches == 0 {
            return Err(ServeError::ZeroLimit {
                setting: "max_batches",
            });
        }
        let mut config = self.config.clone();
        config.auth = auth;
        // A semaphore holds at most this many permits; nobody runs that many batches at once.
        config.max_batches = config.max_batches.min(Semaphore::MAX_PERMITS);
        let shared = Shared {
            tools: ToolLists::new(self.engine.registry()),
            engine: self.engine.clone(),
            store: Store::new(config.retain_batches, config.retain_for),
            slots: Arc::new(Semaphore::new(config.max_batches)),
            shutting_down: AtomicBool::new(false),
            config,
        };
        Ok(Server {
            shared: Arc::new(shared),
        })
    }
}

/// The HTTP API over one engine. Cheap to clone.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A builder for a server running this engine's tools.
    pub fn builder(engine: Engine) -> ServerBuilder {
        ServerBuilder {
            engine,
            token: None,
            insecure: false,
            config: Config {
                auth: Auth::Insecure,
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                max_batches: DEFAULT_MAX_BATCHES,
                retain_batches: DEFAULT_RETAIN_BATCHES,
                retain_for: DEFAULT_RETAIN_FOR,
                drain_timeout: DEFAULT_DRAIN_TIMEOUT,
                log: Log::stderr(),
            },
        }
    }

    /// Serves requests on `listener` until `shutdown` resolves, then shuts down gracefully:
    /// the listener is closed (new connections are refused), requests on open connections get
    /// 503, every running batch is cancelled, event streams deliver their batch's result and
    /// end. Returns once every connection is closed and every batch is over, or after the
    /// [drain timeout](ServerBuilder::drain_timeout).
    ///
    /// # Errors
    /// An I/O error of the listener.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let shared = self.shared;
        let app =
            routes::router(shared.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let (began, shutdown_began) = oneshot::channel::<()>();
        let signal = {
            let shared = shared.clone();
            async move {
                shutdown.await;
                shared.begin_shutdown();
                let _ = began.send(());
            }
        };
        let drained = async {
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .into_future()
                .await?;
            shared.idle().await;
            Ok(())
        };
        let deadline = async {
            if shutdown_began.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(shared.config.drain_timeout).await;
        };
        tokio::select! {
            result = drained => result,
            () = deadline => {
                shared.log(format_args!(
                    "shutdown: streams or batches still open after {} ms; closing anyway",
                    shared.config.drain_timeout.as_millis()
                ));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
