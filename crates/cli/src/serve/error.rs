//! Error responses: `{"error": {"code", "message", "details"?}}` with the matching status.

use axum::Json;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::header::{CONNECTION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use volley::planner::PlanErrors;

/// An error answer. `code` is stable and machine-readable; `message` is for people.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    details: &'a [String],
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    fn header(mut self, name: HeaderName, value: &'static str) -> ApiError {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// 401: no bearer token, or the wrong one.
    pub(crate) fn unauthorized(token_given: bool) -> ApiError {
        if token_given {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the bearer token is not the server's",
            )
            .header(
                WWW_AUTHENTICATE,
                r#"Bearer realm="volley", error="invalid_token""#,
            )
        } else {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs `Authorization: Bearer TOKEN`",
            )
            .header(WWW_AUTHENTICATE, r#"Bearer realm="volley""#)
        }
    }

    /// 404 for a batch id: unknown, malformed, or finished longer ago than the retention.
    pub(crate) fn no_batch() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no batch has this id (finished batches are kept for a limited time)",
        )
    }

    /// 404 for a path no endpoint has.
    pub(crate) fn no_route() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no endpoint has this path",
        )
    }

    /// 405.
    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take this method",
        )
    }

    /// 400: the input is not a plan (the planner's lines are the details).
    pub(crate) fn invalid_plan(errors: &PlanErrors) -> ApiError {
        let details: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let message = match details.len() {
            1 => "the input cannot be planned: 1 problem".to_owned(),
            n => format!("the input cannot be planned: {n} problems"),
        };
        ApiError {
            details,
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_plan", message)
        }
    }

    /// 400: a query parameter, header or body that is not what the endpoint takes.
    pub(crate) fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 400 from axum's query parser (an unknown parameter or value).
    pub(crate) fn query(rejection: &QueryRejection) -> ApiError {
        ApiError::invalid_request(rejection.body_text())
    }

    /// 413 for a body over the limit; 400 for one that could not be read.
    pub(crate) fn body(rejection: &BytesRejection, limit: usize) -> ApiError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than this server's limit of {limit} bytes"),
            )
        } else {
            ApiError::invalid_request(rejection.body_text())
        }
    }

    /// 429: every batch slot is taken.
    pub(crate) fn too_many_batches(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_batches",
            format!(
                "{limit} batches are running, the most this server runs at once; retry when one \
                 finishes"
            ),
        )
        .header(RETRY_AFTER, "1")
    }

    /// 503: the server is shutting down.
    pub(crate) fn shutting_down() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down and takes no new requests",
        )
        .header(CONNECTION, "close")
    }

    /// 500.
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The body's JSON, for the SSE `error` event.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(&self.envelope()).unwrap_or_else(|_| String::from("{}"))
    }

    fn envelope(&self) -> Body<'_> {
        Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                details: &self.details,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.envelope())).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
