//! The audit log: every call's lifecycle (submitted, started, failed attempts, outcome), with
//! its arguments after redaction, to one or more sinks.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use serde::ser::Serializer;
use serde_json::Value;

use crate::error::ErrorKind;
use crate::outcome::{Outcome, Status};

/// What replaces a redacted field's value.
pub const REDACTED: &str = "[redacted]";

/// Receives every call's lifecycle. Called by the batch's driver, in order, synchronously:
/// a sink should be quick (a buffered write, a channel send).
pub trait AuditSink: Send + Sync + 'static {
    /// Records one step of one call.
    fn record(&self, record: &AuditRecord<'_>);

    /// Whether the sink wants records now; the engine builds none for a sink that does not.
    /// By default, always.
    fn enabled(&self) -> bool {
        true
    }
}

/// One step of one call, as one JSON line:
/// `{"batch":3,"at_ms":120,"call":"weather","tool":"get_weather","event":"started","attempt":1,"args":{…}}`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord<'a> {
    /// The batch's id, unique within the engine.
    pub batch: u64,
    /// Milliseconds since the batch started.
    pub at_ms: u64,
    /// The call's id.
    pub call: &'a str,
    /// Its tool.
    pub tool: &'a str,
    /// What happened.
    #[serde(flatten)]
    pub event: AuditEvent<'a>,
}

/// What happened to a call. The `event` field of the JSON.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditEvent<'a> {
    /// The call joined the batch, with its arguments as written (references unresolved).
    Submitted {
        /// The arguments, redacted.
        args: Redacted<'a>,
    },
    /// An attempt started, with the arguments it got.
    Started {
        /// 1 for the first attempt.
        attempt: u32,
        /// The arguments, references resolved, redacted.
        args: Redacted<'a>,
    },
    /// An attempt failed; another follows after `retry_in_ms` when present.
    AttemptFailed {
        /// The attempt that failed.
        attempt: u32,
        /// How.
        kind: ErrorKind,
        /// The error message.
        message: &'a str,
        /// The delay before the next attempt, if there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
    },
    /// The call's one outcome.
    Finished {
        /// How it ended.
        status: Status,
        /// Attempts started.
        attempts: u32,
        /// First start to end, in ms (0 when it never started).
        duration_ms: u64,
        /// The error kind, when not ok.
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<ErrorKind>,
        /// The error message, when not ok.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<&'a str>,
        /// The upstream call that caused it, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        upstream: Option<&'a str>,
    },
}

impl<'a> AuditEvent<'a> {
    /// The `event` name in the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::Submitted { .. } => "submitted",
            AuditEvent::Started { .. } => "started",
            AuditEvent::AttemptFailed { .. } => "attempt_failed",
            AuditEvent::Finished { .. } => "finished",
        }
    }

    pub(crate) fn finished(outcome: &'a Outcome) -> AuditEvent<'a> {
        let error = outcome.error.as_deref();
        AuditEvent::Finished {
            status: outcome.status,
            attempts: outcome.attempts,
            duration_ms: outcome.duration_ms,
            kind: error.map(|e| e.kind),
            message: error.map(|e| e.message.as_str()),
            upstream: error.and_then(|e| e.upstream.as_deref()),
        }
    }
}

/// Arguments with the tool's secret fields replaced by [`REDACTED`] when serialized.
#[derive(Debug, Clone, Copy)]
pub struct Redacted<'a> {
    args: &'a Value,
    fields: &'a [String],
}

impl<'a> Redacted<'a> {
    /// `args` with `fields` (names at any depth) to hide.
    pub fn new(args: &'a Value, fields: &'a [String]) -> Redacted<'a> {
        Redacted { args, fields }
    }

    /// The redacted copy.
    pub fn to_value(&self) -> Value {
        let mut copy = self.args.clone();
        if !self.fields.is_empty() {
            redact(&mut copy, self.fields);
        }
        copy
    }
}

impl Serialize for Redacted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.fields.is_empty() {
            self.args.serialize(s)
        } else {
            self.to_value().serialize(s)
        }
    }
}

/// Replaces the value of every field named in `fields`, at any depth.
pub fn redact(value: &mut Value, fields: &[String]) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if fields.iter().any(|f| f == key) {
                    *item = Value::String(REDACTED.to_owned());
                } else {
                    redact(item, fields);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, fields)),
        _ => {}
    }
}

/// Writes records as `tracing` events (target `volley::audit`, level INFO); the default sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink;

impl AuditSink for TracingSink {
    fn record(&self, r: &AuditRecord<'_>) {
        match &r.event {
            AuditEvent::Submitted { args } => tracing::info!(
                target: "volley::audit", batch = r.batch, at_ms = r.at_ms, call = r.call,
                tool = r.tool, event = "submitted", args = %args.to_value()
            ),
            AuditEvent::Started { attempt, args } => tracing::info!(
                target: "volley::audit", batch = r.batch, at_ms = r.at_ms, call = r.call,
                tool = r.tool, event = "started", attempt, args = %args.to_value()
            ),
            AuditEvent::AttemptFailed {
                attempt,
                kind,
                message,
                retry_in_ms,
            } => tracing::info!(
                target: "volley::audit", batch = r.batch, at_ms = r.at_ms, call = r.call,
                tool = r.tool, event = "attempt_failed", attempt, kind = kind.as_str(),
                message, retry_in_ms
            ),
            AuditEvent::Finished {
                status,
                attempts,
                duration_ms,
                kind,
                message,
                upstream,
            } => tracing::info!(
                target: "volley::audit", batch = r.batch, at_ms = r.at_ms, call = r.call,
                tool = r.tool, event = "finished", status = status.as_str(), attempts,
                duration_ms, kind = kind.map(ErrorKind::as_str), message, upstream
            ),
        }
    }

    fn enabled(&self) -> bool {
        tracing::enabled!(target: "volley::audit", tracing::Level::INFO)
    }
}

/// Appends records to a JSON Lines file, one `write` per record, so each record reaches the
/// operating system before the engine goes on: a panicking tool, a cancelled batch or a
/// crashing process loses nothing already recorded. [`JsonLinesSink::sync`] also asks the disk
/// to persist each record (slower; for power loss).
#[derive(Debug)]
pub struct JsonLinesSink {
    path: PathBuf,
    file: Mutex<File>,
    sync: bool,
    failures: AtomicU64,
}

impl JsonLinesSink {
    /// Opens `path` for appending, creating it if needed.
    ///
    /// # Errors
    /// The I/O error of opening the file.
    pub fn append(path: impl AsRef<Path>) -> io::Result<JsonLinesSink> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(JsonLinesSink {
            path,
            file: Mutex::new(file),
            sync: false,
            failures: AtomicU64::new(0),
        })
    }

    /// Whether each record is also synced to disk (`fsync`). By default, it is not.
    #[must_use]
    pub fn sync(mut self, each_record: bool) -> JsonLinesSink {
        self.sync = each_record;
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many records could not be written (each also logged with `tracing`).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    fn write(&self, line: &[u8]) -> io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(line)?;
        file.flush()?;
        if self.sync {
            file.sync_data()?;
        }
        Ok(())
    }
}

impl AuditSink for JsonLinesSink {
    fn record(&self, record: &AuditRecord<'_>) {
        let result = serde_json::to_vec(record)
            .map_err(io::Error::other)
            .and_then(|mut line| {
                line.push(b'\n');
                self.write(&line)
            });
        if let Err(error) = result {
            self.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(target: "volley::audit", path = %self.path.display(), %error, "cannot write an audit record");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_hides_named_fields_at_any_depth() {
        let args = json!({"user": "ann", "password": "hunter2",
            "nested": {"token": "t", "list": [{"password": "p"}]}});
        let fields = ["password".to_owned(), "token".to_owned()];
        let shown = Redacted::new(&args, &fields).to_value();
        assert_eq!(
            shown,
            json!({"user": "ann", "password": "[redacted]",
                "nested": {"token": "[redacted]", "list": [{"password": "[redacted]"}]}})
        );
        assert_eq!(args["password"], "hunter2", "the original is untouched");
    }

    #[test]
    fn records_serialize_flat_with_their_event_name() {
        let args = json!({"city": "Paris", "key": "secret"});
        let fields = ["key".to_owned()];
        let record = AuditRecord {
            batch: 3,
            at_ms: 120,
            call: "weather",
            tool: "get_weather",
            event: AuditEvent::Started {
                attempt: 1,
                args: Redacted::new(&args, &fields),
            },
        };
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            r#"{"batch":3,"at_ms":120,"call":"weather","tool":"get_weather","event":"started","attempt":1,"args":{"city":"Paris","key":"[redacted]"}}"#
        );
        let failed = AuditEvent::AttemptFailed {
            attempt: 2,
            kind: ErrorKind::Transient,
            message: "503",
            retry_in_ms: Some(200),
        };
        assert_eq!(failed.name(), "attempt_failed");
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            json!({"event": "attempt_failed", "attempt": 2, "kind": "transient", "message": "503", "retry_in_ms": 200})
        );
    }
}
