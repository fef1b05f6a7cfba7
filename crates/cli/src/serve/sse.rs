//! `GET /v1/batches/{id}/events`: the progress stream as Server-Sent Events, resumable with
//! `Last-Event-ID`, ending with the result.
//!
//! Each progress event is `id: <seq>`, `event: <type>`, `data: <event JSON>`. A client that
//! falls behind, or resumes from an event the bus no longer keeps, gets `event: snapshot`
//! (`id: <snapshot seq>`) and the events after it. The last event is `event: result`,
//! `id: result`, with `{"id", "status", "result"}`; then the stream ends. A client that
//! reconnects with `Last-Event-ID: result` already has everything: 204 tells it (and a
//! browser's `EventSource`) to stop.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use volley::progress::{BatchSnapshot, Event, Received, Subscriber};

use super::batches::{View, lookup};
use super::error::ApiError;
use super::state::{Entry, Shared};

/// The id of the `result` event.
pub(crate) const RESULT_ID: &str = "result";

/// Where a client resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// After the event with this seq (0: from the start).
    After(u64),
    /// After the result: nothing is left.
    Done,
}

fn resume(headers: &HeaderMap) -> Result<Resume, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(Resume::After(0));
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == RESULT_ID {
        return Ok(Resume::Done);
    }
    if text.is_empty() {
        return Ok(Resume::After(0));
    }
    text.parse().map(Resume::After).map_err(|_| {
        ApiError::invalid_request(format!(
            "Last-Event-ID must be an event id this stream sent (a number, or `{RESULT_ID}`)"
        ))
    })
}

/// The handler.
pub(crate) async fn events(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let entry = lookup(&shared, &id)?;
    let after = match resume(&headers)? {
        Resume::After(seq) => seq,
        Resume::Done => return Ok(StatusCode::NO_CONTENT.into_response()),
    };
    let bus = entry.bus().await;
    let stream = EventStream {
        entry,
        subscriber: bus.map(|bus| bus.subscribe_from(after)),
        done: false,
    };
    let mut response = Sse::new(stream.into_stream())
        .keep_alive(KeepAlive::default())
        .into_response();
    // Reverse proxies (nginx) buffer responses unless told not to: events must flow as they come.
    response.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// One client's stream: the bus's events, then the result.
struct EventStream {
    entry: Arc<Entry>,
    /// `None` once the bus closed (or if the batch never had one).
    subscriber: Option<Subscriber>,
    done: bool,
}

impl EventStream {
    fn into_stream(self) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send {
        futures::stream::unfold(self, |mut stream| async move {
            let event = stream.next().await?;
            Some((Ok(event), stream))
        })
    }

    async fn next(&mut self) -> Option<SseEvent> {
        if let Some(subscriber) = &mut self.subscriber {
            match subscriber.recv().await {
                Some(Received::Event(event)) => return Some(progress(&event)),
                // Fell behind, or resumed from before the replay window: start again from
                // where the batch stands, and carry on after it.
                Some(Received::Lagged { .. }) => return Some(snapshot(&subscriber.resync())),
                None => self.subscriber = None,
            }
        }
        if self.done {
            return None;
        }
        self.done = true;
        Some(match self.entry.wait().await {
            Some(finished) => {
                let view = View::finished(&self.entry, &finished);
                let data = serde_json::to_string(&view).unwrap_or_else(|_| String::from("{}"));
                SseEvent::default().id(RESULT_ID).event("result").data(data)
            }
            None => SseEvent::default()
                .event("error")
                .data(ApiError::internal("the batch's result was lost").to_json()),
        })
    }
}

fn progress(event: &Event) -> SseEvent {
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.kind.name())
        .data(event.to_json())
}

fn snapshot(snapshot: &BatchSnapshot) -> SseEvent {
    SseEvent::default()
        .id(snapshot.seq.to_string())
        .event("snapshot")
        .data(snapshot.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_id_is_a_seq_or_result() {
        let resume_from = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("last-event-id", HeaderValue::from_static(value));
            resume(&headers).ok()
        };
        assert_eq!(resume(&HeaderMap::new()).ok(), Some(Resume::After(0)));
        assert_eq!(resume_from("17"), Some(Resume::After(17)));
        assert_eq!(resume_from(" 17 "), Some(Resume::After(17)));
        assert_eq!(resume_from(""), Some(Resume::After(0)));
        assert_eq!(resume_from("result"), Some(Resume::Done));
        assert_eq!(resume_from("-1"), None);
        assert_eq!(resume_from("abc"), None);
    }
}
