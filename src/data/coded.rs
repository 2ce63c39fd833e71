//! Key columns as small integer codes and amounts as whole cents: what grouped sums are
//! computed on, exactly and in any order, by the tools' rollup and by a file read in
//! batches.

use polars::prelude::*;

use super::dictionary::Dictionary;

/// Amounts are summed as whole cents (money has two decimals, units are counts).
pub const SCALE: f64 = 100.0;

/// A group key as read back from a frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Text(String),
    Int(i64),
}

impl Key {
    pub fn text(&self) -> String {
        match self {
            Key::Text(s) => s.clone(),
            Key::Int(i) => i.to_string(),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Key::Int(i) => *i,
            Key::Text(s) => s.parse().unwrap_or_default(),
        }
    }
}

/// `x` in whole cents, rounded half away from zero (as `tools::frame`'s polars expression
/// computes it), on one value.
pub fn to_cents(x: f64) -> i64 {
    let scaled = x * SCALE;
    (if scaled >= 0.0 { scaled + 0.5 } else { scaled - 0.5 }) as i64
}

/// A column's values in whole cents, as [`cents`] converts them; a missing value counts 0,
/// as a sum skips it.
pub fn cents_of(column: &Column) -> PolarsResult<Vec<i64>> {
    let floats = column.cast(&DataType::Float64)?;
    let floats = floats.f64()?;
    let mut out = Vec::with_capacity(floats.len());
    for chunk in floats.downcast_iter() {
        let values = chunk.values().as_slice();
        match chunk.validity() {
            None => out.extend(values.iter().map(|&x| to_cents(x))),
            Some(valid) => out.extend(
                values
                    .iter()
                    .zip(valid.iter())
                    .map(|(&x, ok)| if ok { to_cents(x) } else { 0 }),
            ),
        }
    }
    Ok(out)
}

/// A key column dictionary-coded: its distinct values in ascending order (a missing value
/// first, as polars sorts nulls) and each row's index into them, so codes order as keys do.
#[derive(Debug, Clone)]
pub struct Coded {
    pub dictionary: Vec<Key>,
    pub codes: Vec<u32>,
}

impl Coded {
    /// Codes for a text or integer column; `None` for any other type.
    pub fn of(column: &Column) -> PolarsResult<Option<Coded>> {
        let dtype = column.dtype();
        if dtype == &DataType::String {
            let dictionary = Dictionary::of(column.str()?);
            Ok(Some(Coded::renumbered(
                dictionary.codes,
                &dictionary.values,
                |v: Option<&str>| Key::Text(v.unwrap_or_default().to_string()),
            )))
        } else if dtype.is_integer() {
            let cast = column.cast(&DataType::Int64)?;
            Ok(Some(Coded::from_values(cast.i64()?.iter(), |v: Option<i64>| {
                Key::Int(v.unwrap_or_default())
            })))
        } else {
            Ok(None)
        }
    }

    /// Codes in first-seen order, then renumbered so that they follow the values' order.
    fn from_values<T: Copy + Ord + std::hash::Hash>(
        values: impl Iterator<Item = Option<T>>,
        key: impl Fn(Option<T>) -> Key,
    ) -> Coded {
        let mut seen: PlHashMap<Option<T>, u32> = PlHashMap::new();
        let mut distinct: Vec<Option<T>> = Vec::new();
        let mut codes: Vec<u32> = Vec::with_capacity(values.size_hint().0);
        for v in values {
            codes.push(*seen.entry(v).or_insert_with(|| {
                distinct.push(v);
                distinct.len() as u32 - 1
            }));
        }
        Coded::renumbered(codes, &distinct, key)
    }

    /// `codes` into `values` (in first-seen order), renumbered so that codes order as the
    /// values do; `None` first, as nulls sort first.
    fn renumbered<T: Copy + Ord>(mut codes: Vec<u32>, values: &[Option<T>], key: impl Fn(Option<T>) -> Key) -> Coded {
        let mut order: Vec<u32> = (0..values.len() as u32).collect();
        order.sort_unstable_by_key(|&c| values[c as usize]);
        let mut renumber = vec![0u32; values.len()];
        for (rank, &first_seen) in order.iter().enumerate() {
            renumber[first_seen as usize] = rank as u32;
        }
        for c in &mut codes {
            *c = renumber[*c as usize];
        }
        Coded {
            dictionary: order.iter().map(|&c| key(values[c as usize])).collect(),
            codes,
        }
    }
}

/// The rows' cents summed per tuple of codes, one tuple a distinct combination of `keys`
/// (each column's codes, row by row), in the keys' order: each row's codes combined into
/// one index (mixed radix, so indices order as the code tuples do) and its cents added at
/// that index, in a dense table when the key space is small, else in a hash table. Each
/// group comes back as its codes, one per key, and its sums, one per value column.
pub fn sums_by_codes(keys: &[&Coded], cents: &[&[i64]]) -> Vec<(Vec<u32>, Vec<i64>)> {
    let sizes: Vec<u64> = keys.iter().map(|c| c.dictionary.len().max(1) as u64).collect();
    let rows = keys.first().map_or(0, |c| c.codes.len());
    let index = |row: usize| -> u64 {
        keys.iter()
            .zip(&sizes)
            .fold(0u64, |acc, (c, n)| acc * n + c.codes[row] as u64)
    };
    let space: u64 = sizes.iter().product();
    let width = cents.len();
    let found: Vec<(u64, Vec<i64>)> = if space <= 1 << 20 {
        let mut counts = vec![0u32; space as usize];
        let mut sums = vec![0i64; space as usize * width];
        for row in 0..rows {
            let i = index(row) as usize;
            counts[i] += 1;
            for (j, c) in cents.iter().enumerate() {
                sums[i * width + j] += c[row];
            }
        }
        (0..space as usize)
            .filter(|&i| counts[i] > 0)
            .map(|i| (i as u64, sums[i * width..(i + 1) * width].to_vec()))
            .collect()
    } else {
        let mut table: PlHashMap<u64, Vec<i64>> = PlHashMap::new();
        for row in 0..rows {
            let sums = table.entry(index(row)).or_insert_with(|| vec![0; width]);
            for (j, c) in cents.iter().enumerate() {
                sums[j] += c[row];
            }
        }
        let mut found: Vec<(u64, Vec<i64>)> = table.into_iter().collect();
        found.sort_unstable_by_key(|(i, _)| *i);
        found
    };
    found
        .into_iter()
        .map(|(mut i, sums)| {
            let mut codes = vec![0u32; sizes.len()];
            for (slot, n) in sizes.iter().enumerate().rev() {
                codes[slot] = (i % n) as u32;
                i /= n;
            }
            (codes, sums)
        })
        .collect()
}
