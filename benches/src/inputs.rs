//! Deterministic inputs: the same seed gives the same plan on every machine.

use volley_planner::{Call, Plan};

/// A small, fast, deterministic generator (SplitMix64), so benches need no `rand`.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A plan of `calls` calls where each call depends (through `depends_on`) on up to
/// `deps_per_call` distinct earlier calls among the previous 1,000, so there are about
/// `calls * deps_per_call` edges. Estimates vary from 10 to 1,000 ms.
pub fn random_dag(calls: usize, deps_per_call: usize, seed: u64) -> Plan {
    let mut rng = SplitMix::new(seed);
    let mut out = Vec::with_capacity(calls);
    for i in 0..calls {
        let mut call = Call::new("tool", serde_json::Value::Object(Default::default()))
            .with_id(format!("c{i}"))
            .estimated_ms(10 + rng.below(991) as u64);
        let window = i.min(1_000);
        let wanted = deps_per_call.min(window);
        let mut picked: Vec<usize> = Vec::with_capacity(wanted);
        while picked.len() < wanted {
            let d = i - 1 - rng.below(window);
            if !picked.contains(&d) {
                picked.push(d);
            }
        }
        call.depends_on = picked.into_iter().map(|d| format!("c{d}")).collect();
        out.push(call);
    }
    Plan::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_about_deps_per_call_each() {
        let plan = random_dag(10_000, 3, 1);
        let edges: usize = plan.calls.iter().map(|c| c.depends_on.len()).sum();
        // Calls 0, 1 and 2 have only 0, 1 and 2 earlier calls to depend on.
        assert_eq!(edges, 3 * 10_000 - 6);
        assert_eq!(random_dag(50, 3, 9), random_dag(50, 3, 9));
    }
}
