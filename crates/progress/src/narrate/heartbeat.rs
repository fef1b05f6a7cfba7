//! Heartbeats: when to say "Still getting the weather…", decided from snapshots, no timer inside.

use std::sync::Arc;

use crate::narrate::Narrator;
use crate::snapshot::{BatchSnapshot, CallSnapshot, CallStatus};

/// One heartbeat to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// When it is due (ms since the batch started: the snapshot's time).
    pub at_ms: u64,
    /// The long-running calls it names, in plan order.
    pub calls: Vec<Arc<str>>,
    /// The sentence: "Still getting the weather…".
    pub text: String,
}

/// Decides when a voice agent says a heartbeat: once a call has run `after_ms`, and no sooner
/// than `every_ms` after the agent last spoke.
///
/// It holds no timer and never sleeps. The executor (or voice layer) asks
/// [`next_due_ms`](Heartbeats::next_due_ms) when to look again, sleeps until then on its own
/// timer (`tokio::time::sleep_until(bus.instant_at(ms))`, which `tokio::time::pause()` makes
/// exact in tests), and calls [`due`](Heartbeats::due) with a fresh snapshot. Anything else the
/// agent says goes through [`spoke`](Heartbeats::spoke), so heartbeats fill silences only.
///
/// ```
/// # use std::sync::Arc;
/// # use volley_progress::{BatchSnapshot, CallSnapshot, CallStatus, StatusCounts};
/// use volley_progress::{Heartbeats, Narrator};
///
/// # let call = CallSnapshot { id: Arc::from("get_weather"), tool: Arc::from("get_weather"),
/// #     status: CallStatus::Running, started_ms: Some(0), ended_ms: None, fraction: 0.0,
/// #     step: None, attempts: 1, estimate_ms: 1_000, error: None, message: None };
/// # let at = |elapsed_ms| BatchSnapshot { seq: 2, elapsed_ms, counts: StatusCounts::default(),
/// #     running: vec![call.id.clone()], fraction: 0.0, eta_ms: 0, finished: false,
/// #     calls: vec![call.clone()], tools: vec![] };
/// let narrator = Narrator::new();
/// let mut heartbeats = Heartbeats::new();
/// heartbeats.after_ms(2_000).every_ms(3_000);
/// heartbeats.spoke(0); // the start sentence
/// assert_eq!(heartbeats.next_due_ms(&at(0)), Some(3_000));
/// assert_eq!(heartbeats.due(&at(2_500), &narrator), None); // too soon after speaking
/// let beat = heartbeats.due(&at(3_000), &narrator).unwrap();
/// assert_eq!(beat.text, "Still getting the weather…");
/// assert_eq!(heartbeats.next_due_ms(&at(3_000)), Some(6_000));
/// ```
#[derive(Debug, Clone)]
pub struct Heartbeats {
    after_ms: u64,
    every_ms: u64,
    last_spoken_ms: Option<u64>,
}

impl Default for Heartbeats {
    fn default() -> Self {
        Heartbeats::new()
    }
}

impl Heartbeats {
    /// Heartbeats with default thresholds, nothing said yet.
    pub fn new() -> Heartbeats {
        Heartbeats {
            after_ms: 2_000,
            every_ms: 3_000,
            last_spoken_ms: None,
        }
    }

    /// How long a call runs before heartbeats name it.
    ///
    /// By default, this is 2,000 ms.
    pub fn after_ms(&mut self, ms: u64) -> &mut Heartbeats {
        self.after_ms = ms;
        self
    }

    /// The least silence before a heartbeat, after the agent last spoke (a heartbeat or anything
    /// else).
    ///
    /// By default, this is 3,000 ms.
    pub fn every_ms(&mut self, ms: u64) -> &mut Heartbeats {
        self.every_ms = ms;
        self
    }

    /// Records that the agent said something at `at_ms` (the start sentence, an answer).
    pub fn spoke(&mut self, at_ms: u64) {
        self.last_spoken_ms = Some(self.last_spoken_ms.map_or(at_ms, |t| t.max(at_ms)));
    }

    /// The heartbeat due at the snapshot's time, if any; when one is, it counts as spoken.
    pub fn due(&mut self, snapshot: &BatchSnapshot, narrator: &Narrator) -> Option<Heartbeat> {
        let now = snapshot.elapsed_ms;
        if self
            .last_spoken_ms
            .is_some_and(|t| now < t.saturating_add(self.every_ms))
        {
            return None;
        }
        let long: Vec<&CallSnapshot> = snapshot
            .calls
            .iter()
            .filter(|c| self.long_since(c).is_some_and(|t| t <= now))
            .collect();
        if long.is_empty() {
            return None;
        }
        self.last_spoken_ms = Some(now);
        Some(Heartbeat {
            at_ms: now,
            calls: long.iter().map(|c| c.id.clone()).collect(),
            text: narrator.heartbeat(long.iter().map(|c| &*c.tool)),
        })
    }

    /// When to look again (ms since the batch started) if no event comes first: when the next
    /// heartbeat would be due with what the snapshot shows. `None` when nothing runs.
    pub fn next_due_ms(&self, snapshot: &BatchSnapshot) -> Option<u64> {
        let long_at = snapshot
            .calls
            .iter()
            .filter_map(|c| self.long_since(c))
            .min()?;
        let quiet_at = self
            .last_spoken_ms
            .map_or(0, |t| t.saturating_add(self.every_ms));
        Some(long_at.max(quiet_at).max(snapshot.elapsed_ms))
    }

    /// When a call in progress becomes long.
    fn long_since(&self, call: &CallSnapshot) -> Option<u64> {
        match call.status {
            CallStatus::Running | CallStatus::Retrying => {
                call.started_ms.map(|s| s.saturating_add(self.after_ms))
            }
            _ => None,
        }
    }
}
