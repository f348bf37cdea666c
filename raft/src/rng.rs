//! The core's only randomness: a tiny seeded generator (SplitMix64), so the
//! same seed always gives the same election timeouts.

/// A SplitMix64 generator: the same seed always draws the same numbers.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator seeded from the configured seed and the node id, so nodes
    /// sharing a seed still draw different timeouts.
    pub(crate) fn new(seed: u64, id: u64) -> Rng {
        Rng(seed ^ id.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[lo, hi)` (or `lo` when the range is empty).
    pub(crate) fn range(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % u64::from(hi - lo)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_range_and_repeat_for_a_seed() {
        let mut a = Rng::new(7, 1);
        let mut b = Rng::new(7, 1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let x = a.range(15, 30);
            assert_eq!(x, b.range(15, 30));
            assert!((15..30).contains(&x));
            seen.insert(x);
        }
        assert_eq!(seen.len(), 15);
        assert_ne!(
            Rng::new(7, 1).range(0, 1 << 30),
            Rng::new(7, 2).range(0, 1 << 30)
        );
    }
}
