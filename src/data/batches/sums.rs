//! Batches summed by their keys, exactly (floats in whole cents), so the sums of sums are
//! what the rows would give.

use polars::prelude::*;

use crate::data::coded::{Coded, Key, SCALE, cents_of, sums_by_codes};

/// The narrowed batches summed by their keys (every column that is not a float), each
/// float column in whole cents (as `tools::frame` sums), so the sums of sums are exact.
/// Each batch's keys are coded (a dictionary per column), its rows summed per code tuple,
/// then each tuple's codes translated to the file's and its sums added there: a hash per
/// distinct key of the batch, additions per row.
pub(super) struct Sums {
    /// The narrowed columns, in order, with their types.
    order: Vec<(String, DataType)>,
    keys: Vec<String>,
    values: Vec<String>,
    /// Each key column's values over the file, and the code of each.
    dictionaries: Vec<(Vec<Key>, PlHashMap<Key, u32>)>,
    /// Per tuple of codes, the cents of each value column.
    groups: PlHashMap<Vec<u32>, Vec<i64>>,
}

impl Sums {
    pub(super) fn of(frame: &DataFrame) -> Sums {
        let (values, keys): (Vec<&Column>, Vec<&Column>) = frame.columns().iter().partition(|c| c.dtype().is_float());
        let names = |cs: Vec<&Column>| -> Vec<String> { cs.iter().map(|c| c.name().to_string()).collect() };
        let keys = names(keys);
        Sums {
            order: frame
                .columns()
                .iter()
                .map(|c| (c.name().to_string(), c.dtype().clone()))
                .collect(),
            dictionaries: keys.iter().map(|_| Default::default()).collect(),
            keys,
            values: names(values),
            groups: PlHashMap::new(),
        }
    }

    pub(super) fn add(&mut self, frame: DataFrame) -> PolarsResult<()> {
        let mut coded = Vec::with_capacity(self.keys.len());
        for k in &self.keys {
            // Narrowing leaves keys as text or integers; any other type would not come back
            // from its codes as it was.
            let column = frame.column(k)?;
            let Some(c) = Coded::of(column)? else {
                polars_bail!(ComputeError: "column `{k}` of type {} cannot be summed by", column.dtype());
            };
            coded.push(c);
        }
        let cents = self
            .values
            .iter()
            .map(|v| cents_of(frame.column(v)?))
            .collect::<PolarsResult<Vec<_>>>()?;
        // The batch's codes as the file's.
        let global: Vec<Vec<u32>> = coded
            .iter()
            .zip(&mut self.dictionaries)
            .map(|(c, (values, codes))| {
                c.dictionary
                    .iter()
                    .map(|key| {
                        *codes.entry(key.clone()).or_insert_with(|| {
                            values.push(key.clone());
                            values.len() as u32 - 1
                        })
                    })
                    .collect()
            })
            .collect();
        let width = self.values.len();
        let keys: Vec<&Coded> = coded.iter().collect();
        let cents: Vec<&[i64]> = cents.iter().map(Vec::as_slice).collect();
        for (codes, sums) in sums_by_codes(&keys, &cents) {
            let key: Vec<u32> = codes.iter().zip(&global).map(|(&c, g)| g[c as usize]).collect();
            let total = self.groups.entry(key).or_insert_with(|| vec![0; width]);
            for (t, s) in total.iter_mut().zip(sums) {
                *t += s;
            }
        }
        Ok(())
    }

    /// One row per key, in key order, with the sums back in units.
    pub(super) fn finish(self) -> PolarsResult<DataFrame> {
        let mut groups: Vec<(Vec<&Key>, Vec<i64>)> = self
            .groups
            .into_iter()
            .map(|(codes, sums)| {
                let keys = codes
                    .iter()
                    .zip(&self.dictionaries)
                    .map(|(&c, (values, _))| &values[c as usize])
                    .collect();
                (keys, sums)
            })
            .collect();
        groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let height = groups.len();
        let mut columns = Vec::with_capacity(self.order.len());
        for (name, dtype) in &self.order {
            let column = if let Some(k) = self.keys.iter().position(|k| k == name) {
                let keys = groups.iter().map(|(keys, _)| keys[k]);
                let column = match dtype {
                    DataType::String => Column::new(name.into(), keys.map(|key| key.text()).collect::<Vec<_>>()),
                    _ => Column::new(name.into(), keys.map(|key| key.int()).collect::<Vec<_>>()),
                };
                column.cast(dtype)?
            } else {
                let v = self.values.iter().position(|v| v == name).expect("a key or a value");
                let units: Vec<f64> = groups.iter().map(|(_, sums)| sums[v] as f64 / SCALE).collect();
                Column::new(name.into(), units)
            };
            columns.push(column);
        }
        DataFrame::new(height, columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_give_back_text_and_integer_keys_and_refuse_others() {
        let batch = |units: &[i32], brands: &[&str], profit: &[f64]| {
            df! { "units" => units, "brand" => brands, "profit" => profit }.unwrap()
        };
        let first = batch(&[1, 2, 1], &["A", "B", "A"], &[1.25, 2.5, 0.25]);
        let mut sums = Sums::of(&first);
        sums.add(first).unwrap();
        sums.add(batch(&[2, 3], &["B", "A"], &[0.5, 4.0])).unwrap();
        let frame = sums.finish().unwrap();
        let expected = df! {
            "units" => [1i32, 2, 3],
            "brand" => ["A", "B", "A"],
            "profit" => [1.5, 3.0, 4.0],
        }
        .unwrap();
        assert!(frame.equals(&expected), "{frame}");
        // A key of another type is an error, not keys made up from its text.
        let flags = df! { "flag" => [true, false], "profit" => [1.0, 2.0] }.unwrap();
        let mut sums = Sums::of(&flags);
        assert!(sums.add(flags).unwrap_err().to_string().contains("`flag` of type bool"));
    }
}
