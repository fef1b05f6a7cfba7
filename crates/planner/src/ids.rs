//! A table from call ids to positions, tuned for the planner's hot loop.
//!
//! Resolving every `depends_on` entry and reference is the planner's largest cost on big plans.
//! A general map of `&str` keys costs two cache misses per lookup (the bucket, then the key's
//! bytes); this table keeps ids of up to 16 bytes inline in the slot, so a lookup usually costs
//! one. Longer ids are compared through the plan.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use crate::plan::Call;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// For ids of up to 16 bytes, the bytes themselves (see [`short_key`]).
    key: [u64; 2],
    /// 0 for an empty slot; else 23 bits of the hash, a set bit 8, and in the low byte
    /// the id's length (or 255 for ids longer than 16 bytes, compared through the plan).
    tag: u32,
    /// The call's position.
    index: u32,
}

/// Open addressing with linear probing, about two thirds full at most. Slots are 24 bytes, so
/// a 100,000-call plan's table is 3.6 MB: every byte saved is a cache miss avoided.
pub(crate) struct IdTable<'a> {
    slots: Vec<Slot>,
    calls: &'a [Call],
}

/// Two words that, with the length, identify an id of up to 16 bytes: the first and last 8
/// (or 4) bytes, overlapping, or three bytes for the shortest. Loaded straight from the slice,
/// with no copy through the stack (which would stall the wide compare that follows).
#[inline]
fn short_key(id: &[u8]) -> Option<[u64; 2]> {
    let len = id.len();
    if len > 16 {
        return None;
    }
    if let (Some(first), Some(last)) = (id.first_chunk::<8>(), id.last_chunk::<8>()) {
        return Some([u64::from_le_bytes(*first), u64::from_le_bytes(*last)]);
    }
    if let (Some(first), Some(last)) = (id.first_chunk::<4>(), id.last_chunk::<4>()) {
        return Some([
            u64::from(u32::from_le_bytes(*first)),
            u64::from(u32::from_le_bytes(*last)),
        ]);
    }
    Some(match id {
        [] => [0, 0],
        [a, ..] => {
            let (mid, last) = (id[len / 2], id[len - 1]);
            [
                u64::from(*a) | u64::from(mid) << 8 | u64::from(last) << 16,
                0,
            ]
        }
    })
}

/// The full hash of an id: the slot comes from it, and the tag keeps its high bits.
#[inline]
fn hash_of(id: &[u8], key: Option<[u64; 2]>) -> u64 {
    let h = match key {
        Some([lo, hi]) => {
            let h = (lo ^ id.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hi.rotate_left(29);
            let h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            h ^ (h >> 31)
        }
        None => {
            let mut hasher = FxHasher::default();
            hasher.write(id);
            hasher.finish()
        }
    };
    // Mix so both the slot (high bits via the range reduction) and the tag are well spread.
    h.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn tag_of(hash: u64, len: usize) -> u32 {
    let len_byte = if len <= 16 { len as u32 } else { 0xFF };
    // Low bits: the slot already reflects the high ones.
    (hash as u32 & !0x1FF) | 0x100 | len_byte
}

impl<'a> IdTable<'a> {
    /// An empty table sized for the ids of `calls`.
    pub(crate) fn new(calls: &'a [Call]) -> Self {
        let capacity = (calls.len() + calls.len() / 2).max(16);
        IdTable {
            slots: vec![Slot::default(); capacity],
            calls,
        }
    }

    /// The first slot to probe, from the hash's high bits (range reduction, no modulo).
    #[inline]
    fn home(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.slots.len() as u128) >> 64) as usize
    }

    #[inline]
    fn next(&self, pos: usize) -> usize {
        if pos + 1 == self.slots.len() {
            0
        } else {
            pos + 1
        }
    }

    /// Inserts call `index` under its id; on a duplicate, returns the position that has it.
    pub(crate) fn insert(&mut self, index: usize) -> Result<(), usize> {
        let id = self.calls[index].id.as_bytes();
        let key = short_key(id);
        let hash = hash_of(id, key);
        let tag = tag_of(hash, id.len());
        let mut pos = self.home(hash);
        loop {
            let slot = self.slots[pos];
            if slot.tag == 0 {
                self.slots[pos] = Slot {
                    key: key.unwrap_or_default(),
                    tag,
                    index: index as u32,
                };
                return Ok(());
            }
            if self.matches(&slot, tag, id, key) {
                return Err(slot.index as usize);
            }
            pos = self.next(pos);
        }
    }

    /// The position of the call with this id.
    #[inline]
    pub(crate) fn get(&self, id: &str) -> Option<usize> {
        let id = id.as_bytes();
        let key = short_key(id);
        let hash = hash_of(id, key);
        let tag = tag_of(hash, id.len());
        let mut pos = self.home(hash);
        loop {
            let slot = &self.slots[pos];
            if slot.tag == 0 {
                return None;
            }
            if self.matches(slot, tag, id, key) {
                return Some(slot.index as usize);
            }
            pos = self.next(pos);
        }
    }

    #[inline]
    fn matches(&self, slot: &Slot, tag: u32, id: &[u8], key: Option<[u64; 2]>) -> bool {
        slot.tag == tag
            && match key {
                Some(key) => slot.key == key,
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
    fn short_keys_tell_every_length_apart() {
        // Ids that share their first and last bytes but differ inside, at every length.
        for len in 0..=16 {
            let a: String = (0..len)
                .map(|i| if i == len / 2 { 'x' } else { 'a' })
                .collect();
            let b: String = (0..len)
                .map(|i| if i == len / 2 { 'y' } else { 'a' })
                .collect();
            if len > 0 {
                assert_ne!(
                    short_key(a.as_bytes()),
                    short_key(b.as_bytes()),
                    "length {len}"
                );
            }
            let calls = vec![Call::new("t", serde_json::json!({})).with_id(a.clone())];
            let mut table = IdTable::new(&calls);
            table.insert(0).unwrap();
            assert_eq!(table.get(&a), Some(0));
            if len > 0 {
                assert_eq!(table.get(&b), None, "length {len}");
            }
        }
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
