//! `POST /v1/batches`, `GET /v1/batches/{id}`, `DELETE /v1/batches/{id}`, and the task that
//! publishes each batch's result.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, watch};
use volley::aggregator::{Aggregator, Batch};
use volley::executor::Status;
use volley::planner::{Dag, InputFormat, ParseOptions, Plan, Planner, parse_and_plan_with};
use volley::progress::BatchSnapshot;

use super::error::ApiError;
use super::id::BatchId;
use super::replay::replay;
use super::state::{BatchStatus, Entry, Finished, Output, Shared};

/// The longest `GET /v1/batches/{id}?wait_ms=` waits.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateQuery {
    #[serde(default)]
    output: Output,
    /// The body's shape, as `volley run --input-format`.
    #[serde(default)]
    input_format: InputFormat,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusQuery {
    wait_ms: Option<u64>,
}

/// 202's body.
#[derive(Serialize)]
struct Accepted {
    id: String,
    status: BatchStatus,
    events: String,
}

/// What `GET` and `DELETE` answer.
#[derive(Serialize)]
pub(crate) struct View {
    id: String,
    status: BatchStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<BatchSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
}

impl View {
    async fn of(entry: &Entry) -> View {
        match entry.finished() {
            Some(finished) => View::finished(entry, &finished),
            None => View {
                id: entry.id.to_string(),
                status: BatchStatus::Running,
                snapshot: entry.handle.snapshot().await,
                result: None,
            },
        }
    }

    pub(crate) fn finished(entry: &Entry, finished: &Finished) -> View {
        View {
            id: entry.id.to_string(),
            status: finished.status,
            snapshot: None,
            result: Some(finished.result.clone()),
        }
    }
}

/// `POST /v1/batches`: plans the body and starts it; 202 with the id.
///
/// Only input that cannot be planned is refused (400, the planner's lines as details): an
/// unknown tool or arguments its schema rejects fail that call alone, as in `volley run`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<CreateQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::query(&r))?;
    let body = body.map_err(|r| ApiError::body(&r, shared.config.max_body_bytes))?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::invalid_request(format!("the body is not UTF-8: {e}")))?;
    // A model's call whose arguments cannot be read fails alone inside the batch.
    let lenient = ParseOptions {
        lenient_arguments: true,
    };
    let (mut plan, _) = parse_and_plan_with(text, query.input_format, &Planner::new(), lenient)
        .map_err(|errors| ApiError::invalid_plan(&errors))?;
    // `Engine::plan` adds the tools' access keys (which can add edges) to `plan`: the
    // aggregator needs the plan and graph the batch runs with. The batch itself gets the plan
    // as read (`run` adds the keys again otherwise).
    let to_run = plan.clone();
    let dag = shared
        .engine
        .plan(&mut plan)
        .map_err(|errors| ApiError::invalid_plan(&errors))?;
    let permit = shared
        .slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::too_many_batches(shared.config.max_batches))?;
    let id =
        BatchId::random().map_err(|e| ApiError::internal(format!("no random batch id: {e}")))?;
    let handle = shared
        .engine
        .run(to_run)
        .map_err(|e| ApiError::internal(format!("the batch did not start: {e}")))?;
    let (publish, finished) = watch::channel(None);
    let entry = match shared.store.insert(id, handle.clone(), finished) {
        Ok(entry) => entry,
        Err(e) => {
            handle.cancel();
            return Err(ApiError::internal(format!("no random batch id: {e}")));
        }
    };
    shared.log(format_args!(
        "batch {}: started, {} call(s)",
        entry.id,
        plan.calls.len()
    ));
    // Spawned before anything awaits: whatever happens to this request, the batch's result
    // is published and its slot given back.
    let watcher = Watcher {
        shared: shared.clone(),
        entry: entry.clone(),
        plan,
        dag,
        output: query.output,
        permit,
        publish,
    };
    tokio::spawn(watcher.run());

    let id = entry.id.to_string();
    let accepted = Accepted {
        events: format!("/v1/batches/{id}/events"),
        status: BatchStatus::Running,
        id,
    };
    let location = format!("/v1/batches/{}", accepted.id);
    Ok((StatusCode::ACCEPTED, [(LOCATION, location)], Json(accepted)).into_response())
}

/// Waits for a batch to end and publishes its result.
struct Watcher {
    shared: Arc<Shared>,
    entry: Arc<Entry>,
    plan: Plan,
    dag: Dag,
    output: Output,
    permit: OwnedSemaphorePermit,
    publish: watch::Sender<Option<Arc<Finished>>>,
}

impl Watcher {
    async fn run(self) {
        let handle = &self.entry.handle;
        // Make the progress bus now, so that its events (and the replay window that
        // `Last-Event-ID` resumes from) start with the batch.
        let _ = handle.snapshot().await;
        let outcomes = handle.wait().await;
        let cancelled =
            self.entry.cancel_requested() && outcomes.iter().any(|o| o.status == Status::Cancelled);
        let status = if cancelled {
            BatchStatus::Cancelled
        } else {
            BatchStatus::Done
        };
        if handle.bus().is_none()
            && let Some(bus) = replay(&self.plan, &self.dag, &outcomes)
        {
            self.entry.set_replayed(bus);
        }
        let aggregator = Aggregator::new();
        let batch = aggregator.batch(&self.plan, &outcomes).with_dag(&self.dag);
        let summary = batch.summary();
        let result = render(self.output, &batch);
        // The slot is free before anyone can see the result: a client that read it may start
        // another batch at once.
        drop(self.permit);
        self.shared.store.finished(self.entry.id);
        self.publish
            .send_replace(Some(Arc::new(Finished { status, result })));
        self.shared.log(format_args!(
            "batch {}: {} in {} ms: {} ok, {} failed, {} timed out, {} cancelled, {} skipped",
            self.entry.id,
            if cancelled { "cancelled" } else { "done" },
            summary.wall_ms,
            summary.ok,
            summary.failed,
            summary.timed_out,
            summary.cancelled,
            summary.skipped
        ));
    }
}

/// The result in the shape asked for at `POST`.
fn render(output: Output, batch: &Batch<'_>) -> Value {
    let value = match output {
        Output::Json => serde_json::to_value(batch.result()),
        Output::Anthropic => Ok(batch.anthropic().to_value()),
        Output::Bedrock => Ok(batch.bedrock().to_value()),
        Output::Openai => serde_json::to_value(batch.openai()),
    };
    // Plain data with string keys: serializing cannot fail, but say so if it ever does.
    value.unwrap_or_else(|e| json!({"error": format!("the result could not be serialized: {e}")}))
}

/// The batch with this id, or 404.
pub(crate) fn lookup(shared: &Shared, id: &str) -> Result<Arc<Entry>, ApiError> {
    shared.store.get(id).ok_or_else(ApiError::no_batch)
}

/// `GET /v1/batches/{id}[?wait_ms=N]`: the status, the snapshot while it runs, the result
/// once done. With `wait_ms`, waits up to that long (at most [`MAX_WAIT`]) for the end first.
pub(crate) async fn status(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Json<View>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::query(&r))?;
    let entry = lookup(&shared, &id)?;
    if let Some(ms) = query.wait_ms {
        let wait = Duration::from_millis(ms).min(MAX_WAIT);
        let _ = tokio::time::timeout(wait, entry.wait()).await;
    }
    Ok(Json(View::of(&entry).await))
}

/// `DELETE /v1/batches/{id}`: cancels the batch and answers once it is over (within the
/// engine's grace period), with its result. A finished batch is left as it is.
pub(crate) async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<View>, ApiError> {
    let entry = lookup(&shared, &id)?;
    if entry.finished().is_none() {
        shared.log(format_args!("batch {}: cancel requested", entry.id));
        entry.cancel();
    }
    match entry.wait().await {
        Some(finished) => Ok(Json(View::finished(&entry, &finished))),
        None => Err(ApiError::internal("the batch's result was lost")),
    }
}
