//! The ready queue: which ready call gets the next free slot.
//!
//! Keys order calls by (priority tier, longest remaining critical path first, plan order),
//! packed in one `u128` so comparing two is one instruction. The calls ready when the batch
//! starts are sorted once (an already-ordered plan sorts in linear time) and drained from the
//! front; calls that become ready later go to a binary heap. `pop` takes the smaller head.
//! Cancelled calls are not removed: the driver skips keys whose call is no longer ready.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use volley_planner::{Priority, Strategy};

/// A packed key: tier (bits 96..), `u64::MAX - remaining_ms` (bits 32..96), call (bits 0..32).
pub(crate) type Key = u128;

/// The key of call `index` under `strategy`.
pub(crate) fn key(strategy: Strategy, tier: u8, remaining_ms: u64, index: u32) -> Key {
    let (tier, remaining) = match strategy {
        Strategy::Parallel | Strategy::Hybrid | Strategy::Priority => (tier, remaining_ms),
        Strategy::Latency => (0, remaining_ms),
        Strategy::Sequential => (0, 0),
    };
    (u128::from(tier) << 96) | (u128::from(u64::MAX - remaining) << 32) | u128::from(index)
}

/// The call a key is for.
pub(crate) fn call_of(key: Key) -> u32 {
    (key & 0xFFFF_FFFF) as u32
}

/// The tier a key is in.
pub(crate) fn tier_of(key: Key) -> u8 {
    (key >> 96) as u8
}

/// 0 for `critical` … 4 for `background`.
pub(crate) fn tier(priority: Priority) -> u8 {
    match priority {
        Priority::Critical => 0,
        Priority::High => 1,
        Priority::Normal => 2,
        Priority::Low => 3,
        Priority::Background => 4,
    }
}

/// The resource manager's priority for a planner priority.
pub(crate) fn resource_priority(priority: Priority) -> volley_resources::Priority {
    match priority {
        Priority::Critical => volley_resources::Priority::Critical,
        Priority::High => volley_resources::Priority::High,
        Priority::Normal => volley_resources::Priority::Normal,
        Priority::Low => volley_resources::Priority::Low,
        Priority::Background => volley_resources::Priority::Background,
    }
}

/// Ready calls, smallest key first.
#[derive(Debug, Default)]
pub(crate) struct ReadyQueue {
    /// The initially ready calls, sorted; `head` is the next one.
    sorted: Vec<Key>,
    head: usize,
    later: BinaryHeap<Reverse<Key>>,
}

impl ReadyQueue {
    /// A queue of these keys (sorted here).
    pub(crate) fn with_initial(mut keys: Vec<Key>) -> ReadyQueue {
        keys.sort_unstable();
        ReadyQueue {
            sorted: keys,
            head: 0,
            later: BinaryHeap::new(),
        }
    }

    pub(crate) fn push(&mut self, key: Key) {
        self.later.push(Reverse(key));
    }

    pub(crate) fn peek(&self) -> Option<Key> {
        let first = self.sorted.get(self.head).copied();
        let second = self.later.peek().map(|r| r.0);
        match (first, second) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Key> {
        let first = self.sorted.get(self.head).copied();
        let second = self.later.peek().map(|r| r.0);
        match (first, second) {
            (Some(a), Some(b)) if b < a => self.later.pop().map(|r| r.0),
            (Some(a), _) => {
                self.head += 1;
                if self.head == self.sorted.len() {
                    self.sorted = Vec::new();
                    self.head = 0;
                }
                Some(a)
            }
            (None, Some(_)) => self.later.pop().map(|r| r.0),
            (None, None) => None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head >= self.sorted.len() && self.later.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.sorted = Vec::new();
        self.head = 0;
        self.later.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_by_tier_then_remaining_then_plan_order() {
        // (tier, remaining, index) for each strategy, and the order expected.
        let calls = [
            (2u8, 100u64, 0u32),
            (2, 500, 1),
            (0, 10, 2),
            (2, 500, 3),
            (4, 900, 4),
        ];
        for (strategy, expected) in [
            (Strategy::Parallel, vec![2, 1, 3, 0, 4]),
            (Strategy::Priority, vec![2, 1, 3, 0, 4]),
            (Strategy::Latency, vec![4, 1, 3, 0, 2]),
            (Strategy::Sequential, vec![0, 1, 2, 3, 4]),
        ] {
            let keys: Vec<Key> = calls
                .iter()
                .map(|&(t, r, i)| key(strategy, t, r, i))
                .collect();
            let mut queue = ReadyQueue::with_initial(keys);
            let order: Vec<u32> = std::iter::from_fn(|| queue.pop()).map(call_of).collect();
            assert_eq!(order, expected, "{strategy}");
        }
    }

    #[test]
    fn later_calls_merge_with_the_initial_run() {
        let k = |i| key(Strategy::Sequential, 0, 0, i);
        let mut queue = ReadyQueue::with_initial(vec![k(1), k(5), k(9)]);
        queue.push(k(3));
        queue.push(k(0));
        assert_eq!(queue.peek().map(call_of), Some(0));
        let mut order = Vec::new();
        while let Some(key) = queue.pop() {
            order.push(call_of(key));
            if call_of(key) == 5 {
                queue.push(k(6));
            }
        }
        assert_eq!(order, [0, 1, 3, 5, 6, 9]);
        assert!(queue.is_empty());
        assert_eq!(tier_of(key(Strategy::Priority, 3, 0, 1)), 3);
    }
}
