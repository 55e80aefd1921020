//! A small latency sketch (DDSketch-like: logarithmic buckets, 4% relative accuracy from
//! 0.1 ms to 10 s) with one extra bucket for "no answer in time". Fixed memory, merging is
//! adding arrays, and quantiles are read from it a few times a second, never per call.

/// Bucket `i` holds latencies up to `GAMMA^(i + FIRST)` microseconds.
const GAMMA: f64 = 1.04;
/// ln(100 µs) / ln(GAMMA), rounded down: the first bucket's exponent.
const FIRST: i32 = 117;
/// Buckets up to 10 s, plus one for "beyond" (a call cut off before it answered).
pub const BUCKETS: usize = 295;
const BEYOND: usize = BUCKETS;

#[derive(Clone)]
pub struct Sketch {
    counts: [u32; BUCKETS + 1],
    total: u32,
}

impl Default for Sketch {
    fn default() -> Self {
        Self {
            counts: [0; BUCKETS + 1],
            total: 0,
        }
    }
}

impl Sketch {
    /// One answer that took `us` microseconds.
    pub fn add_us(&mut self, us: u64) {
        let i = ((us.max(1) as f64).ln() / GAMMA.ln()).ceil() as i32 - FIRST;
        self.counts[i.clamp(0, BUCKETS as i32 - 1) as usize] += 1;
        self.total += 1;
    }

    /// One call cut off before it answered: its latency is somewhere above its wait.
    pub fn add_beyond(&mut self) {
        self.counts[BEYOND] += 1;
        self.total += 1;
    }

    pub fn total(&self) -> u32 {
        self.total
    }

    pub fn merge(&mut self, other: &Sketch) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
    }

    /// The quantile at each of `qs` (ascending) in milliseconds (the upper edge of its
    /// bucket; infinite when it falls among the calls that never answered, `None` without
    /// data), in one pass over the buckets: the model's
    /// refresh reads a dozen quantiles from two sketches per partner, and a pass each was
    /// most of its cost.
    pub fn quantiles_ms<const N: usize>(&self, qs: &[f64; N]) -> [Option<f64>; N] {
        let mut out = [None; N];
        if self.total == 0 {
            return out;
        }
        let ranks = qs.map(|q| (q * self.total as f64).ceil().max(1.0) as u64);
        let mut seen = 0u64;
        let mut next = 0;
        for (i, c) in self.counts[..BUCKETS].iter().enumerate() {
            if *c == 0 {
                continue;
            }
            seen += *c as u64;
            while next < N && seen >= ranks[next] {
                out[next] = Some(GAMMA.powi(i as i32 + FIRST) / 1000.0);
                next += 1;
            }
            if next == N {
                return out;
            }
        }
        for o in &mut out[next..] {
            *o = Some(f64::INFINITY);
        }
        out
    }

    /// The `q` quantile alone (tests read one at a time).
    #[cfg(test)]
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.quantiles_ms(&[q])[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_four_percent_and_cut_calls_count_as_slow() {
        let mut s = Sketch::default();
        assert_eq!(s.quantile_ms(0.5), None);
        for ms in 1..=100u64 {
            s.add_us(ms * 1000);
        }
        let p50 = s.quantile_ms(0.5).unwrap();
        assert!((50.0..=52.0).contains(&p50), "{p50}");
        let p99 = s.quantile_ms(0.99).unwrap();
        assert!((99.0..=103.0).contains(&p99), "{p99}");
        // Ten more that never answered: the top 9% is now "beyond".
        for _ in 0..10 {
            s.add_beyond();
        }
        assert!(s.quantile_ms(0.95).unwrap().is_infinite());
        assert!(s.quantile_ms(0.9).unwrap().is_finite());
        // One pass gives what a pass per quantile gives.
        let qs = [0.1, 0.5, 0.9, 0.95, 0.99];
        assert_eq!(s.quantiles_ms(&qs), qs.map(|q| s.quantile_ms(q)));
        assert_eq!(Sketch::default().quantiles_ms(&qs), [None; 5]);
        let mut other = Sketch::default();
        other.add_us(20_000_000); // past the last bucket: counted in it
        s.merge(&other);
        assert_eq!(s.total(), 111);
    }
}
