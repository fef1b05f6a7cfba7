//! Progress for Volley: what is happening while tools run, for people: live events for a web UI,
//! snapshots for terminal bars, an ETA, and sentences for a voice agent.
//!
//! The executor owns one [`Bus`] per batch, built from a [`Roster`] (the plan's calls, read once
//! from the [`Plan`](volley_planner::Plan) and its [`Dag`](volley_planner::Dag)). It
//! [emits](Bus::emit) an [`Event`] for each step of each call (queued, started, progress,
//! retrying, completed, failed, timed out, cancelled, skipped) and hands each tool a
//! [`Reporter`] for `progress(0.4, "fetching page 2")`. Events carry a per-batch `seq`, the time
//! since the batch started and the call's id and tool; never its arguments or output unless the
//! call opted in ([`Roster::reveal`]). Their JSON is stable (`docs/progress-events.md`).
//!
//! [`LosslessSubscriber`]s (results, audit log) receive every event in order, from a log the
//! bus appends each event to once; display [`Subscriber`]s have a bounded channel, are told
//! when they [lagged](Received::Lagged), and can [resync](Subscriber::resync) from a
//! [`BatchSnapshot`]. Emitting never waits for a subscriber.
//!
//! The bus folds every event into a [`Tracker`]: per call status, times, fraction, step and
//! attempts; per batch counts, running calls, a fraction weighted by estimates and an [`Eta`]
//! (the remaining critical path given what runs and what waits); [`ToolStats`] by tool. An
//! [`Estimator`] learns per-tool durations online across batches. A [`Narrator`] turns the plan
//! and snapshots into sentences, timed by [`Heartbeats`], with words from a [`Phrasebook`].
//!
//! ```
//! use volley_planner::{parse, InputFormat, Planner};
//! use volley_progress::{Bus, EventKind, Narrator, Roster, ToolPhrase};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let plan = parse(r#"{"calls": [
//!     {"tool": "check_calendar", "args": {}, "estimated_ms": 300},
//!     {"tool": "get_weather", "args": {"city": "Paris"}, "estimated_ms": 500}
//! ]}"#, InputFormat::Auto)?;
//! let dag = Planner::new().plan(&plan)?;
//!
//! let narrator = Narrator::builder()
//!     .phrase("check_calendar", ToolPhrase::new("check your calendar"))
//!     .build();
//! assert_eq!(
//!     narrator.start(&plan, &dag),
//!     "Let me check your calendar and get the weather at the same time."
//! );
//!
//! let bus = Bus::new(Roster::new(&plan, &dag)?);
//! let mut audit = bus.subscribe_lossless();
//! bus.emit(1, EventKind::Started { attempt: 1 });
//! bus.reporter(1).unwrap().progress(0.5, "asking the forecast service");
//! bus.emit(1, EventKind::failed("unavailable", "the weather service did not answer"));
//! bus.emit(0, EventKind::Started { attempt: 1 });
//! bus.emit(0, EventKind::Completed);
//! bus.close();
//!
//! let first = audit.recv().await.unwrap();
//! assert!(first.to_json().starts_with(r#"{"seq":1,"at_ms":0,"call":"get_weather","#));
//! let mut received = 1;
//! while audit.recv().await.is_some() {
//!     received += 1;
//! }
//! assert_eq!(received, 5);
//!
//! let snapshot = bus.snapshot();
//! assert!(snapshot.finished);
//! let outcome = narrator.outcome_with(&snapshot, |call| {
//!     (&*call.id == "check_calendar").then(|| "your calendar is clear".to_owned())
//! });
//! assert_eq!(outcome, "I couldn't get the weather, but your calendar is clear.");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod bus;
mod error;
mod estimate;
mod eta;
mod event;
mod log;
mod narrate;
mod reporter;
mod roster;
mod snapshot;
mod stats;
mod subscriber;
mod tracker;

pub use crate::bus::{Bus, BusBuilder, DEFAULT_WINDOW};
pub use crate::error::ProgressError;
pub use crate::estimate::Estimator;
pub use crate::eta::Eta;
pub use crate::event::{Event, EventKind};
pub use crate::narrate::{
    Heartbeat, Heartbeats, Narrator, NarratorBuilder, Phrasebook, PhrasebookBuilder, ToolPhrase,
    english_gerund,
};
pub use crate::reporter::{MAX_STEP_BYTES, Reporter};
pub use crate::roster::Roster;
pub use crate::snapshot::{BatchSnapshot, CallSnapshot, CallStatus, StatusCounts};
pub use crate::stats::{ToolStats, percentile};
pub use crate::subscriber::{LosslessSubscriber, Received, Subscriber, TryRecvError};
pub use crate::tracker::Tracker;
