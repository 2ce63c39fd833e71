//! Each distinct value's count, from which `describe()` reads its quartiles. Most number
//! columns of sales data hold whole hundredths (units, prices, amounts, margins) over a
//! narrow span, so those values are counted in an array indexed by hundredths; only other
//! values are hashed. At a million rows this is most of `describe()`'s time.

use polars::prelude::PlHashMap;

/// Hundredths the array of counts may span (1 MiB of counts a column).
const SPAN_LIMIT: i64 = 1 << 18;

/// Hundredths the array first spans, around the first value.
const FIRST_SPAN: i64 = 1 << 12;

/// Counts of values by value. NaN and -0.0 are not counted: they order apart from what
/// counting by bits gives, so the caller keeps the values instead.
#[derive(Default)]
pub(super) struct ValueCounts {
    /// `dense[i]` counts the value `(base + i) / 100`.
    base: i64,
    dense: Vec<u32>,
    /// Counts of the other values, by their bits; also of a value whose count in `dense`
    /// is full.
    others: PlHashMap<u64, usize>,
    distinct: usize,
}

impl ValueCounts {
    /// Counts values from the start of `values` while fewer than `limit` are distinct and
    /// none is NaN or -0.0; returns how many it counted.
    pub fn add_while(&mut self, values: &[f64], limit: usize) -> usize {
        for (i, &x) in values.iter().enumerate() {
            if x.is_nan() || (x == 0.0 && x.is_sign_negative()) || self.distinct >= limit {
                return i;
            }
            self.add(x);
        }
        values.len()
    }

    /// Distinct values counted.
    #[cfg(test)]
    fn distinct(&self) -> usize {
        self.distinct
    }

    /// Each distinct value and its count, in ascending order.
    pub fn into_ascending(self) -> Vec<(f64, usize)> {
        let base = self.base;
        let mut out: Vec<(f64, usize)> = self
            .others
            .into_iter()
            .map(|(bits, n)| (f64::from_bits(bits), n))
            .collect();
        out.extend(
            self.dense
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| ((base + i as i64) as f64 / 100.0, *n as usize)),
        );
        out.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        // A value whose array count filled up goes on in `others`: one entry for both.
        out.dedup_by(|next, kept| {
            let same = next.0.to_bits() == kept.0.to_bits();
            if same {
                kept.1 += next.1;
            }
            same
        });
        out
    }

    #[inline]
    fn add(&mut self, x: f64) {
        if let Some(k) = hundredths(x) {
            let i = k.wrapping_sub(self.base);
            if (0..self.dense.len() as i64).contains(&i) || self.cover(k) {
                let slot = &mut self.dense[(k - self.base) as usize];
                if *slot < u32::MAX {
                    self.distinct += usize::from(*slot == 0);
                    *slot += 1;
                    return;
                }
            }
        }
        let n = self.others.entry(x.to_bits()).or_insert(0);
        self.distinct += usize::from(*n == 0);
        *n += 1;
    }

    /// Widens the array to take hundredth `k`, when its span stays within [`SPAN_LIMIT`];
    /// room is left on the side it grows, so that it grows a few times only.
    fn cover(&mut self, k: i64) -> bool {
        if self.dense.is_empty() {
            self.base = k - FIRST_SPAN / 2;
            self.dense = vec![0; FIRST_SPAN as usize];
            return true;
        }
        let end = self.base + self.dense.len() as i64;
        let (low, high) = (self.base.min(k), end.max(k + 1));
        if high - low > SPAN_LIMIT {
            return false;
        }
        let room = (high - low).min(SPAN_LIMIT - (high - low));
        let (low, high) = if k < self.base {
            (low - room, high)
        } else {
            (low, high + room)
        };
        let mut dense = vec![0; (high - low) as usize];
        let at = (self.base - low) as usize;
        dense[at..at + self.dense.len()].copy_from_slice(&self.dense);
        self.base = low;
        self.dense = dense;
        true
    }
}

/// `x` as a whole number of hundredths `k`, when `k / 100` gives `x` back exactly (so no
/// two values share a `k`).
#[inline]
fn hundredths(x: f64) -> Option<i64> {
    let scaled = x * 100.0;
    // Rounded half away from zero; a cast saturates, so infinities and huge values fail.
    let k = (scaled + 0.5_f64.copysign(scaled)) as i64;
    (k.unsigned_abs() < 1 << 53 && k as f64 / 100.0 == x).then_some(k)
}

#[cfg(test)]
mod tests {
    use polars::prelude::InitHashMaps;

    use super::*;

    /// The counts a plain hash of each value's bits gives, in ascending order.
    fn hashed(values: &[f64]) -> Vec<(f64, usize)> {
        let mut counts: PlHashMap<u64, usize> = PlHashMap::new();
        for x in values {
            *counts.entry(x.to_bits()).or_insert(0) += 1;
        }
        let mut out: Vec<(f64, usize)> = counts.into_iter().map(|(b, n)| (f64::from_bits(b), n)).collect();
        out.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    #[test]
    fn counts_equal_hashing_each_value() {
        let mut seed = 11u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        let mut values: Vec<f64> = Vec::new();
        for _ in 0..50_000 {
            let r = next();
            values.push(match r % 7 {
                // Prices and amounts, both signs, over a span that grows past the array's.
                0 => (r % 400_000) as f64 / 100.0 - 1000.0,
                1 => (r % 90) as f64,
                // Not whole hundredths, huge, tiny and infinite values: hashed.
                2 => (r % 1000) as f64 / 1000.0 + 0.0005,
                3 => [1e300, -1e17, 1e-9, f64::INFINITY, f64::NEG_INFINITY, 0.0][(r % 6) as usize],
                4 => 1e6 + (r % 1000) as f64 * 0.01,
                5 => -((r % 5000 + 1) as f64) / 100.0,
                _ => 12345678.91,
            });
        }
        let mut counts = ValueCounts::default();
        assert_eq!(counts.add_while(&values, usize::MAX), values.len());
        let expected = hashed(&values);
        assert_eq!(counts.distinct(), expected.len());
        let got = counts.into_ascending();
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!((g.0.to_bits(), g.1), (e.0.to_bits(), e.1));
        }
    }

    #[test]
    fn stops_at_nan_negative_zero_and_the_limit() {
        let mut counts = ValueCounts::default();
        assert_eq!(counts.add_while(&[1.0, 2.5, f64::NAN, 3.0], 10), 2);
        assert_eq!(counts.add_while(&[-0.0], 10), 0);
        assert_eq!(counts.add_while(&[1.0, 4.0, 5.0, 6.0, 1.0], 4), 3);
        assert_eq!(counts.into_ascending(), [(1.0, 2), (2.5, 1), (4.0, 1), (5.0, 1)]);
    }

    #[test]
    fn hundredths_round_trip_or_refuse() {
        assert_eq!(hundredths(2.57), Some(257));
        assert_eq!(hundredths(-67.6), Some(-6760));
        assert_eq!(hundredths(0.0), Some(0));
        assert_eq!(hundredths(0.125), None);
        assert_eq!(hundredths(f64::INFINITY), None);
        assert_eq!(hundredths(-1e300), None);
    }
}
