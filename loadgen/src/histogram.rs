//! A small log-linear latency histogram: about 1 % precision from 1 µs to hours, fixed memory,
//! mergeable (each simulated gateway keeps its own, the report adds them up).

/// Sub-buckets per power of two: 128 gives a relative error under 1 %.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Powers of two covered above the linear range (2^7 µs .. 2^(7+40) µs).
const GROUPS: usize = 40;

#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; (GROUPS + 1) * SUB as usize], total: 0, max: 0 }
    }
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let group = 63 - v.leading_zeros() - SUB_BITS + 1; // 1 for [128, 256), ...
    let sub = (v >> (group - 1)) - SUB; // 0..SUB
    ((group as u64) * SUB + sub).min(((GROUPS + 1) as u64) * SUB - 1) as usize
}

/// The largest value that falls in bucket `i`.
fn upper(i: usize) -> u64 {
    let (group, sub) = (i as u64 / SUB, i as u64 % SUB);
    if group == 0 {
        return sub;
    }
    ((SUB + sub + 1) << (group - 1)) - 1
}

impl Histogram {
    /// Records one value (microseconds, say).
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1), as the upper bound of its bucket; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_one_percent() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        for (q, want) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.999, 99_900.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - want).abs() / want < 0.01, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.quantile(1.0), 100_000);
        assert_eq!(h.max(), 100_000);
        assert_eq!(h.len(), 100_000);
    }

    #[test]
    fn small_values_exact_and_merge_adds() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        a.record(3);
        b.record(3);
        b.record(100);
        a.merge(&b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.quantile(0.5), 3);
        assert_eq!(a.quantile(1.0), 100);
        assert_eq!(Histogram::default().quantile(0.5), 0);
    }

    #[test]
    fn buckets_are_ordered() {
        let mut last = 0;
        for v in [1u64, 127, 128, 129, 255, 256, 1000, 65_536, 10_000_000, u64::MAX / 2] {
            let i = index(v);
            assert!(i >= last, "{v}");
            assert!(upper(i) >= v.min(upper(i)), "{v}");
            last = i;
        }
    }
}
