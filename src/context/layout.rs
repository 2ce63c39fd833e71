//! Cache-aware prompt layout. Providers cache prompt prefixes (OpenAI from 1,024 tokens, in
//! 128-token steps; Anthropic up to a breakpoint the request places, from a minimum that
//! depends on the model), so a prompt is laid out from its most stable content to its most
//! volatile: what never changes between runs of a step first, what a run or a budget
//! change alters last. A prefix survives a change up to the first item the change touched.

use serde::{Deserialize, Serialize};

use crate::flow::ContextSource;
use crate::models::{CacheMode, CacheRule};

/// How often an item's text changes, from never to every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stability {
    /// Persona and task: fixed by the flow.
    Identity,
    /// Tool descriptions: fixed by the flow's tool list.
    Tools,
    /// The dataset's description: fixed while the data is.
    Dataset,
    /// Tool results, earlier steps' answers, memory: new with every run.
    Volatile,
}

impl Stability {
    pub fn of(source: &ContextSource) -> Stability {
        match source {
            ContextSource::Agent | ContextSource::Task => Stability::Identity,
            ContextSource::Tools => Stability::Tools,
            ContextSource::Dataset => Stability::Dataset,
            ContextSource::Results | ContextSource::Step(_) | ContextSource::Memory => Stability::Volatile,
        }
    }
}

/// Where each position of `sources` goes in the prompt: by stability, the flow's declared
/// order kept within a class.
pub fn layout_order(sources: &[&ContextSource]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| Stability::of(sources[i]));
    order
}

/// Tokens of the longest prefix a provider's cache can serve or keep from `shared` tokens:
/// nothing under the rule's minimum, then whole steps (OpenAI: 128 tokens) or, at a
/// breakpoint, all of it.
pub fn cacheable(shared: usize, rule: CacheRule) -> usize {
    if shared < rule.min_tokens {
        return 0;
    }
    match rule.mode {
        CacheMode::Automatic { step } => {
            let step = step.max(1);
            rule.min_tokens + (shared - rule.min_tokens) / step * step
        }
        CacheMode::Breakpoints => shared,
    }
}

/// What a prompt does with the provider's cache: tokens read from it and tokens written to
/// it (billed at the write price where the provider charges for writes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheUse {
    pub read: usize,
    pub written: usize,
}

/// For each prompt (as tokens, in the order sent), what the provider's cache would read
/// and write, the cache empty before the first.
///
/// - Automatic caching (OpenAI, Gemini): a prompt reads its longest common prefix with any
///   earlier one, made [`cacheable`], and writes the rest of its own cacheable length.
/// - Breakpoints (Anthropic): prompt `k` caches up to `breakpoints[k]` tokens when that
///   reaches the minimum; it reads the longest earlier entry that its own prefix repeats and
///   its breakpoint covers, and writes the rest up to its breakpoint.
pub fn cache_use(prompts: &[Vec<u32>], breakpoints: &[usize], rule: CacheRule) -> Vec<CacheUse> {
    let marks: Vec<usize> = prompts
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let at = breakpoints.get(k).copied().unwrap_or(0).min(p.len());
            if at >= rule.min_tokens { at } else { 0 }
        })
        .collect();
    prompts
        .iter()
        .enumerate()
        .map(|(k, prompt)| match rule.mode {
            CacheMode::Automatic { .. } => {
                let shared = prompts[..k]
                    .iter()
                    .map(|earlier| common_prefix(prompt, earlier))
                    .max()
                    .unwrap_or(0);
                let read = cacheable(shared, rule);
                CacheUse {
                    read,
                    written: cacheable(prompt.len(), rule).saturating_sub(read),
                }
            }
            CacheMode::Breakpoints => {
                let mark = marks[k];
                let read = (0..k)
                    .filter(|&j| marks[j] > 0 && marks[j] <= mark && common_prefix(prompt, &prompts[j]) >= marks[j])
                    .map(|j| marks[j])
                    .max()
                    .unwrap_or(0);
                CacheUse {
                    read,
                    written: mark - read,
                }
            }
        })
        .collect()
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_classes_come_first_in_declared_order() {
        let sources = [
            ContextSource::Results,
            ContextSource::Agent,
            ContextSource::Step("a".into()),
            ContextSource::Dataset,
            ContextSource::Task,
            ContextSource::Tools,
            ContextSource::Memory,
        ];
        let refs: Vec<&ContextSource> = sources.iter().collect();
        assert_eq!(layout_order(&refs), [1, 4, 5, 3, 0, 2, 6]);
    }

    #[test]
    fn the_cache_serves_whole_steps_from_1024_tokens() {
        let openai = CacheRule::default();
        assert_eq!(cacheable(0, openai), 0);
        assert_eq!(cacheable(1023, openai), 0);
        assert_eq!(cacheable(1024, openai), 1024);
        assert_eq!(cacheable(1151, openai), 1024);
        assert_eq!(cacheable(1152, openai), 1152);
        assert_eq!(cacheable(5000, openai), 1024 + 31 * 128);
        let claude = CacheRule {
            min_tokens: 4096,
            mode: CacheMode::Breakpoints,
        };
        assert_eq!(cacheable(4095, claude), 0);
        assert_eq!(cacheable(4100, claude), 4100);
    }

    #[test]
    fn each_prompt_reuses_its_longest_prefix_with_an_earlier_one() {
        let base: Vec<u32> = (0..3000).collect();
        let mut second = base[..2000].to_vec();
        second.extend(9000..9500);
        let mut third = base[..1100].to_vec();
        third.extend(7000..8000);
        let unrelated: Vec<u32> = (5..3000).collect();
        let used = cache_use(&[base, second, third, unrelated], &[], CacheRule::default());
        let read: Vec<usize> = used.iter().map(|u| u.read).collect();
        assert_eq!(read, [0, 1024 + 7 * 128, 1024, 0]);
        assert_eq!(used[0].written, 1024 + 15 * 128, "the first prompt's cacheable length");
    }

    #[test]
    fn breakpoints_cache_only_where_placed_and_long_enough() {
        let rule = CacheRule {
            min_tokens: 1024,
            mode: CacheMode::Breakpoints,
        };
        let stable: Vec<u32> = (0..1500).collect();
        let run = |tail: u32| -> Vec<u32> { stable.iter().copied().chain(tail..tail + 300).collect() };
        let prompts = [run(10_000), run(20_000), (0..800).collect::<Vec<u32>>()];
        let used = cache_use(&prompts, &[1500, 1500, 800], rule);
        assert_eq!(
            used[0],
            CacheUse { read: 0, written: 1500 },
            "the first run writes its prefix"
        );
        assert_eq!(used[1], CacheUse { read: 1500, written: 0 }, "the second reads it");
        assert_eq!(used[2], CacheUse::default(), "a short prefix gets no breakpoint");
        let unmarked = cache_use(&prompts, &[0, 0, 0], rule);
        assert!(unmarked.iter().all(|u| *u == CacheUse::default()));
    }
}
