//! Outcomes and calls for tests, shared by the unit tests and (through `#[path]`) the
//! integration tests: it uses only the planner's and the executor's public types.
#![allow(dead_code)] // each test binary uses a different part

use std::sync::Arc;

use serde_json::{Value, json};
use volley_executor::{CallError, ErrorKind, Outcome, Status};
use volley_planner::{Call, Plan};

/// An outcome under construction.
#[derive(Debug, Clone)]
pub struct O(pub Outcome);

/// A successful outcome of call `index`, output `{}`, one attempt, at time 0.
pub fn ok(index: usize, id: &str, tool: &str) -> O {
    O(Outcome {
        index,
        id: Arc::from(id),
        tool: Arc::from(tool),
        status: Status::Ok,
        output: Some(json!({})),
        error: None,
        attempts: 1,
        queued_at_ms: Some(0),
        started_at_ms: Some(0),
        ended_at_ms: 0,
        duration_ms: 0,
    })
}

impl O {
    /// Queued and started at `start`, ended at `end`.
    pub fn at(mut self, start: u64, end: u64) -> O {
        self.0.queued_at_ms = Some(start);
        self.0.started_at_ms = Some(start);
        self.0.ended_at_ms = end;
        self.0.duration_ms = end - start;
        self
    }

    /// Queued at `queued` (before it started).
    pub fn queued(mut self, queued: u64) -> O {
        self.0.queued_at_ms = Some(queued);
        self
    }

    /// Never started; got its outcome at `end`.
    pub fn never_ran(mut self, end: u64) -> O {
        self.0.queued_at_ms = None;
        self.0.started_at_ms = None;
        self.0.ended_at_ms = end;
        self.0.duration_ms = 0;
        self.0.attempts = 0;
        self
    }

    /// This output.
    pub fn output(mut self, output: Value) -> O {
        self.0.output = Some(output);
        self
    }

    /// Ended with this status, kind and message (and no output).
    pub fn failed(mut self, status: Status, kind: ErrorKind, message: &str) -> O {
        self.0.status = status;
        self.0.output = None;
        self.0.error = Some(Box::new(CallError::new(kind, message)));
        self
    }

    /// Its error names this upstream call.
    pub fn upstream(mut self, id: &str) -> O {
        if let Some(error) = self.0.error.as_mut() {
            error.upstream = Some(id.to_owned());
        }
        self
    }

    /// Took `n` attempts.
    pub fn attempts(mut self, n: u32) -> O {
        self.0.attempts = n;
        self
    }

    /// The outcome.
    pub fn done(self) -> Outcome {
        self.0
    }
}

/// A plan of `(id, tool)` calls with default settings.
pub fn plan(calls: &[(&str, &str)]) -> Plan {
    Plan::new(
        calls
            .iter()
            .map(|(id, tool)| Call::new(*tool, json!({})).with_id(*id))
            .collect(),
    )
}
