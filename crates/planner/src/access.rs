//! Ordering from access keys: calls touching one key, at least one writing, run in plan order.

use rustc_hash::FxHashMap;

use crate::plan::{AccessKey, AccessMode};

/// Tracks, per key, the last writer and the readers since; each new access waits only for what
/// it conflicts with, so the edges stay linear in the number of accesses.
#[derive(Debug, Default, Clone)]
pub struct AccessTracker {
    keys: FxHashMap<String, KeyState>,
}

#[derive(Debug, Default, Clone)]
struct KeyState {
    last_writer: Option<usize>,
    readers_since: Vec<usize>,
}

impl AccessTracker {
    /// Records that call `call` (later in the plan than every call recorded so far) accesses
    /// `key`; `wait_for` is told each earlier call it must wait for.
    ///
    /// A reader waits for the last writer; a writer waits for the readers since the last writer,
    /// or for the last writer if none read since. Transitively, that orders every conflicting pair.
    pub fn record(&mut self, call: usize, key: &AccessKey, mut wait_for: impl FnMut(usize)) {
        let state = match self.keys.get_mut(key.key.as_str()) {
            Some(state) => state,
            None => self.keys.entry(key.key.clone()).or_default(),
        };
        match key.mode {
            AccessMode::Read => {
                if let Some(writer) = state.last_writer.filter(|&w| w != call) {
                    wait_for(writer);
                }
                if state.readers_since.last() != Some(&call) {
                    state.readers_since.push(call);
                }
            }
            AccessMode::Write => {
                if state.readers_since.is_empty() {
                    if let Some(writer) = state.last_writer.filter(|&w| w != call) {
                        wait_for(writer);
                    }
                } else {
                    for &reader in state.readers_since.iter().filter(|&&r| r != call) {
                        wait_for(reader);
                    }
                }
                state.readers_since.clear();
                state.last_writer = Some(call);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(accesses: &[(usize, &str)]) -> Vec<(usize, usize)> {
        let mut tracker = AccessTracker::default();
        let mut out = Vec::new();
        for &(call, key) in accesses {
            let key: AccessKey = key.parse().unwrap();
            tracker.record(call, &key, |earlier| out.push((earlier, call)));
        }
        out
    }

    #[test]
    fn orders_conflicts_and_lets_readers_share() {
        type Case<'a> = (&'a [(usize, &'a str)], &'a [(usize, usize)]);
        let cases: &[Case<'_>] = &[
            // write then read: the read waits.
            (&[(0, "write:f"), (1, "read:f")], &[(0, 1)]),
            // readers share, then a writer waits for both.
            (
                &[(0, "read:f"), (1, "read:f"), (2, "write:f")],
                &[(0, 2), (1, 2)],
            ),
            // write, write: ordered; a later read waits only for the last writer.
            (
                &[(0, "f"), (1, "write:f"), (2, "read:f")],
                &[(0, 1), (1, 2)],
            ),
            // different keys never conflict.
            (&[(0, "write:a"), (1, "write:b"), (2, "read:c")], &[]),
            // a call reading and writing one key does not wait for itself.
            (&[(0, "read:f"), (0, "write:f"), (1, "read:f")], &[(0, 1)]),
        ];
        for (accesses, expected) in cases {
            assert_eq!(edges(accesses), *expected, "{accesses:?}");
        }
    }
}
