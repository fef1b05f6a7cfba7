//! `http`: one HTTP request with a maintained client (reqwest, rustls).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use serde_json::{Value, json};
use volley::executor::{Tool, ToolContext, ToolError};

use super::parse_args;

/// The most bytes of a response body kept.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Sends a request; returns status, headers and body (JSON when it parses). Non-2xx is a
/// failure; 429 and 5xx are transient, so the retry policy applies.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

impl Http {
    /// A tool with its own connection pool.
    pub fn new() -> Http {
        let client = reqwest::Client::builder()
            .user_agent(concat!("volley/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Http { client }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<Value>,
}

fn get() -> String {
    "GET".into()
}

#[async_trait]
impl Tool for Http {
    fn name(&self) -> &str {
        "http"
    }
    fn description(&self) -> &str {
        "Send an HTTP request. `body` is sent as JSON (or as text when it is a string). Returns \
         status, headers and body (parsed when it is JSON). Non-2xx responses are errors; 429 \
         and 5xx are retried under the retry policy."
    }
    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]},
                "url": {"type": "string", "pattern": "^https?://"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "body": {}
            },
            "required": ["url"],
            "additionalProperties": false
        })
    }
    fn spoken(&self) -> Option<&str> {
        Some("fetch the page")
    }
    fn redact(&self) -> &[&str] {
        &[
            "authorization",
            "Authorization",
            "cookie",
            "Cookie",
            "x-api-key",
        ]
    }
    async fn call(&self, args: Value, ctx: ToolContext) -> Result<Value, ToolError> {
        let args: Args = parse_args(args)?;
        let method = reqwest::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| {
                ToolError::invalid_arguments(format!("unknown method `{}`", args.method))
            })?;
        let mut headers = HeaderMap::new();
        for (name, value) in &args.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ToolError::invalid_arguments(format!("bad header name `{name}`")))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                ToolError::invalid_arguments(format!("bad value for header `{name}`"))
            })?;
            headers.insert(name, value);
        }
        let mut request = self
            .client
            .request(method.clone(), &args.url)
            .headers(headers);
        request = match args.body {
            None | Some(Value::Null) => request,
            Some(Value::String(text)) => request.body(text),
            Some(other) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(other.to_string()),
        };
        let what = format!("{method} {}", args.url);
        let send = async {
            let response = request.send().await.map_err(|e| send_error(&what, &e))?;
            let status = response.status();
            let retry_after = retry_after(response.headers());
            let headers: BTreeMap<String, String> = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let bytes = response.bytes().await.map_err(|e| send_error(&what, &e))?;
            let kept = &bytes[..bytes.len().min(MAX_BODY)];
            let text = String::from_utf8_lossy(kept);
            let body: Value = serde_json::from_slice(kept).unwrap_or_else(|_| json!(text));
            Ok::<_, ToolError>((status, retry_after, headers, body, text.into_owned()))
        };
        let (status, retry_after, headers, body, text) = tokio::select! {
            result = send => result?,
            () = ctx.cancelled() => return Err(ToolError::Cancelled),
        };
        if status.is_success() {
            return Ok(json!({"status": status.as_u16(), "headers": headers, "body": body}));
        }
        let excerpt: String = text.chars().take(300).collect();
        let message = format!(
            "{what} returned {status}{}",
            if excerpt.is_empty() {
                String::new()
            } else {
                format!(": {excerpt}")
            }
        );
        if status.as_u16() == 429 || status.is_server_error() {
            Err(match retry_after {
                Some(delay) => ToolError::transient_after(message, delay),
                None => ToolError::transient(message),
            })
        } else {
            Err(ToolError::permanent(message))
        }
    }
}

fn send_error(what: &str, e: &reqwest::Error) -> ToolError {
    let message = format!("{what} failed: {e}");
    if e.is_builder() {
        ToolError::invalid_arguments(message)
    } else if e.is_timeout() {
        ToolError::timeout(message)
    } else {
        // Connection refused or reset, DNS: often passing.
        ToolError::transient(message)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not followed).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
