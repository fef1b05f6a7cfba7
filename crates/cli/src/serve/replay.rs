//! A progress bus for a batch that ended before it had one.
//!
//! The engine makes a batch's bus on demand unless it was built with
//! `EngineBuilder::progress(true)`; the server asks for it as each batch starts, but a batch of
//! instant tools can be over first. Its outcomes are then replayed into a closed bus, one event
//! per step each call went through, as the engine's own catch-up does for a late subscriber, so
//! every event stream shows every call's end before the result.

use std::sync::Arc;

use volley::executor::{Outcome, Status};
use volley::planner::{Dag, Plan};
use volley::progress::{Bus, EventKind, Roster};

/// A closed bus holding each call's steps; `None` if the plan makes no roster.
pub(crate) fn replay(plan: &Plan, dag: &Dag, outcomes: &[Outcome]) -> Option<Bus> {
    let bus = Bus::new(Roster::new(plan, dag).ok()?);
    for outcome in outcomes {
        let i = outcome.index;
        if outcome.queued_at_ms.is_some() || outcome.attempts > 0 {
            bus.emit(i, EventKind::Queued);
        }
        if outcome.attempts > 0 && outcome.started_at_ms.is_some() {
            bus.emit(
                i,
                EventKind::Started {
                    attempt: outcome.attempts,
                },
            );
        }
        bus.emit(i, terminal(outcome));
    }
    bus.close();
    Some(bus)
}

/// The event that ends a call with this outcome.
fn terminal(outcome: &Outcome) -> EventKind {
    let message = outcome.message().unwrap_or("");
    match outcome.status {
        Status::Ok => EventKind::Completed,
        Status::Error => EventKind::failed(
            outcome.error_kind().map_or("error", |k| k.as_str()),
            message,
        ),
        Status::Timeout => EventKind::TimedOut {
            after_ms: outcome.duration_ms,
        },
        Status::Cancelled => EventKind::Cancelled {
            reason: (!message.is_empty()).then(|| Arc::from(message)),
        },
        Status::Skipped => EventKind::skipped(message),
    }
}
