//! The router: endpoints, and the layers around them in the order they apply.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::auth::require_token;
use super::batches;
use super::error::ApiError;
use super::sse;
use super::state::Shared;
use super::tool_list::ToolFormat;

/// Every endpoint. From the outside in: the access log, the shutdown gate, then for all but
/// `/healthz` the token check and the body limit.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/v1/batches", axum::routing::post(batches::create))
        .route(
            "/v1/batches/{id}",
            get(batches::status).delete(batches::cancel),
        )
        .route("/v1/batches/{id}/events", get(sse::events))
        .route("/v1/tools", get(tools))
        .method_not_allowed_fallback(method_not_allowed)
        // Unknown paths need the token too: without it, nothing about the server is told.
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(shared.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ));
    let public = Router::new()
        .route("/healthz", get(health))
        .method_not_allowed_fallback(method_not_allowed);
    public
        .merge(api)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(shared.clone(), access_log))
        .with_state(shared)
}

/// `GET /healthz`: 200 while the server takes requests (503 once it shuts down, from the gate).
async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsQuery {
    #[serde(default)]
    format: ToolFormat,
}

/// `GET /v1/tools[?format=anthropic|openai|bedrock]`: `{"tools": […]}` for a model's request.
async fn tools(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<ToolsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::query(&r))?;
    Ok(Json(shared.tools.get(query.format).clone()))
}

async fn not_found() -> ApiError {
    ApiError::no_route()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// 503 for every request once the server shuts down (on connections that were already open).
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.is_shutting_down() {
        return ApiError::shutting_down().into_response();
    }
    next.run(request).await
}

/// One line per request: peer, method, path (without the query), status, time to the
/// response's head. Never a header (the token travels in one) nor a body.
async fn access_log(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.to_string())
        .unwrap_or_else(|| String::from("-"));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    shared.log(format_args!(
        "{peer} \"{method} {path}\" {} {} ms",
        response.status().as_u16(),
        start.elapsed().as_millis()
    ));
    response
}
