//! A small bounded memo shared across threads, for values derived from content hashes
//! (token counts, summaries): the same input always gives the same value, so entries never
//! go stale, and clearing when full only costs recomputation.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

pub struct Memo<K, V> {
    map: Mutex<HashMap<K, V>>,
    limit: usize,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    pub fn new(limit: usize) -> Self {
        Memo {
            map: Mutex::new(HashMap::new()),
            limit,
        }
    }

    /// The memoized value, or `compute`'s (computed outside the lock).
    pub fn get_or_insert_with(&self, key: K, compute: impl FnOnce() -> V) -> V {
        if let Some(v) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return v.clone();
        }
        let value = compute();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.limit {
            map.clear();
        }
        map.insert(key, value.clone());
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_and_stays_bounded() {
        let memo = Memo::new(2);
        let mut calls = 0;
        assert_eq!(
            memo.get_or_insert_with(1, || {
                calls += 1;
                10
            }),
            10
        );
        assert_eq!(
            memo.get_or_insert_with(1, || {
                calls += 1;
                11
            }),
            10
        );
        assert_eq!(calls, 1);
        memo.get_or_insert_with(2, || 20);
        memo.get_or_insert_with(3, || 30);
        assert!(memo.map.lock().unwrap().len() <= 2);
    }
}
