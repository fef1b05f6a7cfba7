//! A table from call ids to positions, tuned for the planner's hot loop.
//!
//! Resolving every `depends_on` entry and reference is the planner's largest cost on big plans.
//! A general map of `&str` keys costs two cache misses per lookup (the bucket, then the key's
//! bytes); this table keeps ids of up to 16 bytes inline in the slot, so a lookup usually costs
//! one. Longer ids are compared through the plan.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use crate::plan::Call;

const INLINE: usize = 16;

#[derive(Clone, Copy, Default)]
#[repr(align(32))]
struct Slot {
    /// The id's hash with the low bit set; 0 marks an empty slot.
    tag: u64,
    /// The call's position.
    index: u32,
    len: u32,
    inline: [u8; INLINE],
}

/// Open addressing with linear probing, at most half full.
pub(crate) struct IdTable<'a> {
    slots: Vec<Slot>,
    mask: usize,
    /// `64 - log2(capacity)`: the slot is taken from the hash's high bits.
    shift: u32,
    calls: &'a [Call],
}

/// The id zero-padded to the inline size, if it fits.
#[inline]
fn padded(id: &[u8]) -> Option<[u8; INLINE]> {
    let mut key = [0u8; INLINE];
    key.get_mut(..id.len())?.copy_from_slice(id);
    Some(key)
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish() | 1
}

impl<'a> IdTable<'a> {
    /// An empty table sized for the ids of `calls`.
    pub(crate) fn new(calls: &'a [Call]) -> Self {
        let capacity = (calls.len() * 2).next_power_of_two().max(16);
        IdTable {
            slots: vec![Slot::default(); capacity],
            mask: capacity - 1,
            shift: 64 - capacity.trailing_zeros(),
            calls,
        }
    }

    /// Inserts call `index` under its id; on a duplicate, returns the position that has it.
    pub(crate) fn insert(&mut self, index: usize) -> Result<(), usize> {
        let id = self.calls[index].id.as_bytes();
        let tag = hash(id);
        let mut pos = self.home(tag);
        loop {
            let slot = self.slots[pos];
            if slot.tag == 0 {
                let inline = padded(id).unwrap_or_default();
                self.slots[pos] = Slot {
                    tag,
                    index: index as u32,
                    len: id.len() as u32,
                    inline,
                };
                return Ok(());
            }
            if self.matches(&slot, tag, id) {
                return Err(slot.index as usize);
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// The first slot to probe: Fibonacci hashing spreads the tag's bits over the table.
    #[inline]
    fn home(&self, tag: u64) -> usize {
        (tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The position of the call with this id.
    pub(crate) fn get(&self, id: &str) -> Option<usize> {
        let id = id.as_bytes();
        let tag = hash(id);
        let mut pos = self.home(tag);
        loop {
            let slot = &self.slots[pos];
            if slot.tag == 0 {
                return None;
            }
            if self.matches(slot, tag, id) {
                return Some(slot.index as usize);
            }
            pos = (pos + 1) & self.mask;
        }
    }

    #[inline]
    fn matches(&self, slot: &Slot, tag: u64, id: &[u8]) -> bool {
        slot.tag == tag
            && slot.len as usize == id.len()
            && match padded(id) {
                // Fixed-size compares: no call to memcmp.
                Some(key) => slot.inline == key,
                None => self.calls[slot.index as usize].id.as_bytes() == id,
            }
    }

    /// Every id in the table (for "did you mean" hints).
    pub(crate) fn ids(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.slots
            .iter()
            .filter(|s| s.tag != 0)
            .map(|s| self.calls[s.index as usize].id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_short_and_long_ids_and_reports_duplicates() {
        let long = "an_id_much_longer_than_sixteen_bytes";
        let calls: Vec<Call> = ["a", "b", long, "a", "é#1"]
            .iter()
            .map(|id| Call::new("t", serde_json::json!({})).with_id(*id))
            .collect();
        let mut table = IdTable::new(&calls);
        assert_eq!(table.insert(0), Ok(()));
        assert_eq!(table.insert(1), Ok(()));
        assert_eq!(table.insert(2), Ok(()));
        assert_eq!(table.insert(3), Err(0));
        assert_eq!(table.insert(4), Ok(()));
        assert_eq!(table.get("a"), Some(0));
        assert_eq!(table.get(long), Some(2));
        assert_eq!(table.get("é#1"), Some(4));
        assert_eq!(table.get("an_id_much_longer_than_sixteen_bytez"), None);
        assert_eq!(table.get("c"), None);
        let mut ids: Vec<&str> = table.ids().collect();
        ids.sort();
        assert_eq!(ids, ["a", long, "b", "é#1"]);
    }

    #[test]
    fn many_ids_resolve_to_their_positions() {
        let calls: Vec<Call> = (0..5_000)
            .map(|i| Call::new("t", serde_json::json!({})).with_id(format!("call-{i}")))
            .collect();
        let mut table = IdTable::new(&calls);
        for i in 0..calls.len() {
            table.insert(i).unwrap();
        }
        for i in 0..calls.len() {
            assert_eq!(table.get(&format!("call-{i}")), Some(i));
        }
        assert_eq!(table.get("call-5000"), None);
    }
}
