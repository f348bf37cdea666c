//! The search: greybox fuzzing over fault plans, rewarded for novelty.
//!
//! A plan is a short list of actions (indexes into the vocabulary). The
//! search keeps a corpus of the plans that reached something new (an
//! abstract cluster state, a change between two states, an error class, an
//! unavailability window: the run's *features*) and proposes mostly
//! mutations of them (insert, delete, replace an action, swap two, splice
//! two plans), favouring plans that found much and were tried little, and
//! actions whose runs found much; now and then a fresh random plan. Each
//! run's features update the corpus and the actions' credit, so the next
//! choice follows what the cluster did. Given the same seed and the same
//! feedback, it makes the same choices.

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A plan that reached something new, kept to be mutated.
#[derive(Debug, Clone)]
struct Kept {
    plan: Vec<usize>,
    /// Features it found first.
    found: usize,
    /// How often it was picked for mutation.
    picked: usize,
}

/// The search's state.
#[derive(Debug)]
pub struct Search {
    rng: ChaCha8Rng,
    max_len: usize,
    corpus: Vec<Kept>,
    seen: BTreeSet<String>,
    /// Per action: features found by the runs that used it, and its uses.
    credit: Vec<(f64, f64)>,
}

/// Share of proposals that are fresh random plans once the corpus has some.
const FRESH: f64 = 0.2;

impl Search {
    /// A search over `actions` actions, plans of at most `max_len`, seeded.
    pub fn new(seed: u64, actions: usize, max_len: usize) -> Search {
        Search {
            rng: ChaCha8Rng::seed_from_u64(seed),
            max_len: max_len.max(1),
            corpus: Vec::new(),
            seen: BTreeSet::new(),
            credit: vec![(0.0, 0.0); actions.max(1)],
        }
    }

    /// Distinct features seen so far.
    pub fn seen(&self) -> usize {
        self.seen.len()
    }

    /// Plans kept in the corpus.
    pub fn corpus_len(&self) -> usize {
        self.corpus.len()
    }

    /// Whether `feature` was seen.
    pub fn has_seen(&self, feature: &str) -> bool {
        self.seen.contains(feature)
    }

    /// The next plan to run.
    pub fn propose(&mut self) -> Vec<usize> {
        if self.corpus.is_empty() || self.rng.gen_bool(FRESH) {
            let len = self.rng.gen_range(2..=self.max_len.max(2));
            return (0..len).map(|_| self.action()).collect();
        }
        let parent = self.pick();
        self.corpus[parent].picked += 1;
        let mut plan = self.corpus[parent].plan.clone();
        let mutations = self.rng.gen_range(1..=3);
        for _ in 0..mutations {
            self.mutate(&mut plan);
        }
        plan
    }

    /// Learns what running `plan` showed; returns the features it found first.
    pub fn learn(&mut self, plan: &[usize], features: &BTreeSet<String>) -> Vec<String> {
        let new: Vec<String> = features
            .iter()
            .filter(|f| !self.seen.contains(*f))
            .cloned()
            .collect();
        self.seen.extend(new.iter().cloned());
        let gain = new.len() as f64;
        for &a in plan {
            if let Some(c) = self.credit.get_mut(a) {
                c.0 += gain;
                c.1 += 1.0;
            }
        }
        if !new.is_empty() {
            self.corpus.push(Kept {
                plan: plan.to_vec(),
                found: new.len(),
                picked: 0,
            });
        }
        new
    }

    /// A corpus entry, weighted by what it found over how often it was tried.
    fn pick(&mut self) -> usize {
        let weights: Vec<f64> = self
            .corpus
            .iter()
            .map(|k| (k.found as f64 + 1.0) / (k.picked as f64 + 1.0))
            .collect();
        self.weighted(&weights)
    }

    /// An action, weighted by the novelty its runs found (untried ones
    /// count as promising).
    fn action(&mut self) -> usize {
        let weights: Vec<f64> = self
            .credit
            .iter()
            .map(|&(found, uses)| 1.0 + if uses == 0.0 { 2.0 } else { found / uses })
            .collect();
        self.weighted(&weights)
    }

    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.rng.gen_range(0.0..total.max(f64::MIN_POSITIVE));
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    fn mutate(&mut self, plan: &mut Vec<usize>) {
        match self.rng.gen_range(0..5) {
            0 if plan.len() < self.max_len => {
                let at = self.rng.gen_range(0..=plan.len());
                let a = self.action();
                plan.insert(at, a);
            }
            1 if plan.len() > 1 => {
                let at = self.rng.gen_range(0..plan.len());
                plan.remove(at);
            }
            2 if plan.len() > 1 => {
                let (i, j) = (
                    self.rng.gen_range(0..plan.len()),
                    self.rng.gen_range(0..plan.len()),
                );
                plan.swap(i, j);
            }
            3 if self.corpus.len() > 1 => {
                let other = self.rng.gen_range(0..self.corpus.len());
                let tail = self.corpus[other].plan.clone();
                let cut = self.rng.gen_range(0..=plan.len());
                let from = self.rng.gen_range(0..=tail.len());
                plan.truncate(cut);
                plan.extend_from_slice(&tail[from..]);
                plan.truncate(self.max_len);
                if plan.is_empty() {
                    let a = self.action();
                    plan.push(a);
                }
            }
            _ => {
                if plan.is_empty() {
                    let a = self.action();
                    plan.push(a);
                } else {
                    let at = self.rng.gen_range(0..plan.len());
                    plan[at] = self.action();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(plan: &[usize]) -> BTreeSet<String> {
        // A toy system: a feature per action, and one per ordered pair of
        // neighbours (what a sequence reached).
        let mut f: BTreeSet<String> = plan.iter().map(|a| format!("a{a}")).collect();
        for w in plan.windows(2) {
            f.insert(format!("{}-{}", w[0], w[1]));
        }
        f
    }

    fn drive(seed: u64, runs: usize) -> (Vec<Vec<usize>>, usize) {
        let mut s = Search::new(seed, 12, 5);
        let mut plans = Vec::new();
        for _ in 0..runs {
            let p = s.propose();
            assert!(!p.is_empty() && p.len() <= 5 && p.iter().all(|&a| a < 12));
            s.learn(&p, &features(&p));
            plans.push(p);
        }
        (plans, s.seen())
    }

    #[test]
    fn the_same_seed_and_feedback_make_the_same_choices() {
        assert_eq!(drive(7, 50), drive(7, 50));
        assert_ne!(drive(7, 50).0, drive(8, 50).0);
    }

    #[test]
    fn only_plans_that_found_something_new_are_kept() {
        let mut s = Search::new(1, 4, 3);
        let f = features(&[1, 2]);
        assert_eq!(s.learn(&[1, 2], &f).len(), 3);
        assert!(s.learn(&[1, 2], &f).is_empty());
        assert_eq!(s.corpus_len(), 1);
        assert!(s.has_seen("1-2") && s.seen() == 3);
    }

    #[test]
    fn novelty_guidance_reaches_a_rare_sequence_sooner_than_blind_draws() {
        // A feature only the exact sequence 3, 7, 11 reaches, behind
        // features that reward its parts: the guided search (which learns)
        // against the same search never told anything (blind draws).
        let target = |p: &[usize]| p.windows(3).any(|w| w == [3, 7, 11]);
        let runs_to_find = |seed: u64, guided: bool| {
            let mut s = Search::new(seed, 12, 6);
            (1..=20_000)
                .find(|_| {
                    let p = s.propose();
                    if guided {
                        s.learn(&p, &features(&p));
                    }
                    target(&p)
                })
                .unwrap_or(20_000)
        };
        let guided: usize = (0..8).map(|seed| runs_to_find(seed, true)).sum();
        let blind: usize = (0..8).map(|seed| runs_to_find(seed, false)).sum();
        assert!(guided < blind, "guided {guided} runs, blind {blind}");
    }
}
