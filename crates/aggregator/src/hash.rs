//! A fast hasher for the aggregator's own lookups (ids and tool names it reads, never keys an
//! attacker picks to collide: the worst case is a slower lookup, not a wrong one).
//!
//! The Fx hash of rustc and Firefox, a few lines, so the crate needs no hashing dependency,
//! finished with murmur3's mix: Fx's low bits depend only on the low bytes of a key (the
//! first characters of `c1`, `c2`… `c99999`), and hashbrown picks buckets by the low bits.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with the Fx hash.
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A `HashSet` with the Fx hash.
pub(crate) type FxHashSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// The Fx hash: rotate, xor a word, multiply.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Fixed-size reads only: a variable-length copy would call `memcpy` for every key.
        let mut bytes = bytes;
        while let Some((word, rest)) = bytes.split_first_chunk::<8>() {
            self.add(u64::from_le_bytes(*word));
            bytes = rest;
        }
        if let Some((word, rest)) = bytes.split_first_chunk::<4>() {
            self.add(u64::from(u32::from_le_bytes(*word)));
            bytes = rest;
        }
        for &byte in bytes {
            self.add(u64::from(byte));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_maps_work() {
        let build = BuildHasherDefault::<FxHasher>::default();
        assert_eq!(build.hash_one("check_crm"), build.hash_one("check_crm"));
        assert_ne!(build.hash_one("check_crm"), build.hash_one("check_cr"));
        // Keys that differ only past the first word, or in a short tail.
        assert_ne!(
            build.hash_one("toolu_01A09q90"),
            build.hash_one("toolu_01A09q91")
        );
        let mut map: FxHashMap<String, usize> = FxHashMap::default();
        for i in 0..1_000 {
            map.insert(format!("c{i}"), i);
        }
        assert!((0..1_000).all(|i| map[&format!("c{i}")] == i));
        // Keys that share their first bytes still spread over the low bits.
        let low: FxHashSet<u64> = (0..1_000)
            .map(|i| build.hash_one(format!("c{i}")) & 0x3ff)
            .collect();
        assert!(low.len() > 500, "{} distinct low 10-bit values", low.len());
    }
}
