//! A text column as dictionary codes: each row's code and the distinct values in the order
//! first seen. The baseline's describe(), the data profile and the tools' rollup each need
//! a text column's distinct values; a value of up to 12 bytes is held whole in its 16-byte
//! view, so it is looked up by the view as a number, without hashing or comparing text.

use polars::prelude::*;

/// Codes of a text column; `values[code]` is the value (`None`: missing).
#[derive(Debug, Clone, PartialEq)]
pub struct Dictionary<'a> {
    pub codes: Vec<u32>,
    pub values: Vec<Option<&'a str>>,
}

impl<'a> Dictionary<'a> {
    pub fn of(text: &'a StringChunked) -> Dictionary<'a> {
        let mut short: PlHashMap<u128, u32> = PlHashMap::new();
        let mut long: PlHashMap<&'a str, u32> = PlHashMap::new();
        let mut missing: Option<u32> = None;
        let mut values: Vec<Option<&'a str>> = Vec::new();
        let mut codes = Vec::with_capacity(text.len());
        let has_nulls = text.null_count() > 0;
        let mut add = |value: Option<&'a str>| {
            values.push(value);
            values.len() as u32 - 1
        };
        for chunk in text.downcast_iter() {
            for (j, view) in chunk.views().iter().enumerate() {
                let code = if has_nulls && chunk.get(j).is_none() {
                    *missing.get_or_insert_with(|| add(None))
                } else if view.length <= 12 {
                    *short.entry(view.as_u128()).or_insert_with(|| add(Some(chunk.value(j))))
                } else {
                    let value = chunk.value(j);
                    *long.entry(value).or_insert_with(|| add(Some(value)))
                };
                codes.push(code);
            }
        }
        Dictionary { codes, values }
    }

    /// How many rows hold each value, by code.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.values.len()];
        for &c in &self.codes {
            counts[c as usize] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_first_sight_and_tell_long_values_apart() {
        let long_a = "Starbucks Cold Brew";
        let long_b = "Starbucks Cold Brew Oat";
        let rows = [
            Some("Tea"),
            Some(long_a),
            None,
            Some("twelve bytes"),
            Some(long_b),
            Some("Tea"),
            None,
            Some(long_a),
            Some(""),
        ];
        let column = StringChunked::from_iter(rows);
        let d = Dictionary::of(&column);
        assert_eq!(
            d.values,
            [
                Some("Tea"),
                Some(long_a),
                None,
                Some("twelve bytes"),
                Some(long_b),
                Some("")
            ]
        );
        assert_eq!(d.codes, [0, 1, 2, 3, 4, 0, 2, 1, 5]);
        assert_eq!(d.counts(), [2, 2, 2, 1, 1, 1]);
        // Every row's value is its code's.
        for (row, value) in rows.iter().enumerate() {
            assert_eq!(d.values[d.codes[row] as usize], *value);
        }
    }
}
