//! Cache-aware prompt layout. Providers cache prompt prefixes (OpenAI from 1,024 tokens, in
//! 128-token steps), so a prompt is laid out from its most stable content to its most
//! volatile: what never changes between runs of a step first, what a run or a budget
//! change alters last. A prefix survives a change up to the first item the change touched.

use crate::flow::ContextSource;

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

/// Tokens of the longest prefix OpenAI's prompt cache can serve from `shared` tokens that
/// match an earlier request: nothing under 1,024, then whole 128-token steps.
pub fn cacheable(shared: usize) -> usize {
    const MIN: usize = 1024;
    const STEP: usize = 128;
    if shared < MIN {
        0
    } else {
        MIN + (shared - MIN) / STEP * STEP
    }
}

/// For each prompt (as tokens, in the order sent), the tokens the provider's prefix cache
/// could serve: its longest common prefix with any earlier prompt, made [`cacheable`].
pub fn cached_prefixes(prompts: &[Vec<u32>]) -> Vec<usize> {
    prompts
        .iter()
        .enumerate()
        .map(|(k, prompt)| {
            let shared = prompts[..k]
                .iter()
                .map(|earlier| common_prefix(prompt, earlier))
                .max()
                .unwrap_or(0);
            cacheable(shared)
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
        assert_eq!(cacheable(0), 0);
        assert_eq!(cacheable(1023), 0);
        assert_eq!(cacheable(1024), 1024);
        assert_eq!(cacheable(1151), 1024);
        assert_eq!(cacheable(1152), 1152);
        assert_eq!(cacheable(5000), 1024 + 31 * 128);
    }

    #[test]
    fn each_prompt_reuses_its_longest_prefix_with_an_earlier_one() {
        let base: Vec<u32> = (0..3000).collect();
        let mut second = base[..2000].to_vec();
        second.extend(9000..9500);
        let mut third = base[..1100].to_vec();
        third.extend(7000..8000);
        let unrelated: Vec<u32> = (5..3000).collect();
        assert_eq!(
            cached_prefixes(&[base, second, third, unrelated]),
            [0, 1024 + 7 * 128, 1024, 0]
        );
    }
}
