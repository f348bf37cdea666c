//! The search: greybox fuzzing over fault plans, rewarded for novelty.
//!
//! A plan is a mode (what stays switched on while it plays: for a system
//! with failpoints, none or one failpoint armed on every node) and a short
//! list of actions (indexes into the vocabulary). The
//! search keeps a corpus of the plans that reached something new (an
//! abstract cluster state, a change between two states, an error class, an
//! unavailability window: the run's *features*) and proposes mostly
//! mutations of them (insert, delete, replace an action, tweak one into a
//! neighbour that differs in one field, swap two, splice two plans, change
//! the mode) and now and then a kept plan again unchanged (real processes
//! are not deterministic: the same plan can reach next time what it
//! missed, as a fuzzer of a flaky target calibrates an input by running it
//! again), favouring plans that found much and were tried little, and
//! actions and modes whose runs found much; now and then a fresh random
//! plan. Before any of that it plays its seed plans, if given (a fuzzer's
//! seed inputs: the classic faults, `actions::seeds`). Each
//! run's features update the corpus and its actions' and mode's credit, so the next
//! choice follows what the cluster did. Given the same seed and the same
//! feedback, it makes the same choices.

use std::collections::{BTreeSet, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What one run plays: a mode and actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The mode, an index into the modes the search was given (0 when it
    /// was given none).
    pub mode: usize,
    /// The actions, indexes into the vocabulary, in order.
    pub actions: Vec<usize>,
}

/// A plan that reached something new, kept to be mutated.
#[derive(Debug, Clone)]
struct Kept {
    plan: Plan,
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
    /// Per mode: the same credit as the actions'.
    modes: Vec<(f64, f64)>,
    /// Per action: the actions one edit away (none unless given).
    neighbours: Vec<Vec<usize>>,
    /// Plans still to play before any other (none unless given).
    seeds: VecDeque<Plan>,
}

/// Share of proposals that are fresh random plans once the corpus has some.
const FRESH: f64 = 0.2;

/// Chance that a mutation changes the plan's mode (when there are modes).
const MODE_CHANGE: f64 = 0.15;

/// Share of corpus picks played again unchanged rather than mutated: the
/// same faults meet other timings on the next try, and a plan that found
/// much is picked often, so it is tried again sooner than a mutation would
/// happen to give it back.
const REPLAY: f64 = 0.25;

/// Draw weights from credit (features found, uses): one plus the features
/// per use, untried counting as two.
fn promise(credit: &[(f64, f64)]) -> Vec<f64> {
    credit
        .iter()
        .map(|&(found, uses)| 1.0 + if uses == 0.0 { 2.0 } else { found / uses })
        .collect()
}

/// Counts one use that found `gain` features in a credit (an action's or
/// a mode's), when there is one.
fn use_once(credit: Option<&mut (f64, f64)>, gain: f64) {
    if let Some((found, uses)) = credit {
        *found += gain;
        *uses += 1.0;
    }
}

impl Search {
    /// A search over `actions` actions, plans of at most `max_len`, seeded.
    pub fn new(seed: u64, actions: usize, max_len: usize) -> Search {
        Search {
            rng: ChaCha8Rng::seed_from_u64(seed),
            max_len: max_len.max(1),
            corpus: Vec::new(),
            seen: BTreeSet::new(),
            credit: vec![(0.0, 0.0); actions.max(1)],
            modes: vec![(0.0, 0.0)],
            neighbours: Vec::new(),
            seeds: VecDeque::new(),
        }
    }

    /// The same search choosing each plan's mode among `modes` (at least
    /// one: the first is usually "nothing switched on").
    pub fn with_modes(mut self, modes: usize) -> Search {
        self.modes = vec![(0.0, 0.0); modes.max(1)];
        self
    }

    /// The same search, told which actions are one edit away from each
    /// (`actions::neighbours`): a *tweak* then moves one action of a plan
    /// to a neighbour, keeping the plan's shape.
    pub fn with_neighbours(mut self, neighbours: Vec<Vec<usize>>) -> Search {
        self.neighbours = neighbours;
        self
    }

    /// The same search, playing first the seed plans (each a sequence of
    /// actions), in order, with no mode: what it learns from their runs
    /// starts its corpus.
    pub fn with_seeds(mut self, seeds: &[Vec<usize>]) -> Search {
        self.seeds = seeds
            .iter()
            .map(|actions| Plan {
                mode: 0,
                actions: actions.clone(),
            })
            .collect();
        self
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
    pub fn propose(&mut self) -> Plan {
        if let Some(seed) = self.seeds.pop_front() {
            return seed;
        }
        if self.corpus.is_empty() || self.rng.gen_bool(FRESH) {
            let len = self.rng.gen_range(2..=self.max_len.max(2));
            let mode = self.mode();
            let actions = (0..len).map(|_| self.action()).collect();
            return Plan { mode, actions };
        }
        let parent = self.pick();
        self.corpus[parent].picked += 1;
        let mut plan = self.corpus[parent].plan.clone();
        if self.rng.gen_bool(REPLAY) {
            return plan;
        }
        let mutations = self.rng.gen_range(1..=3);
        for _ in 0..mutations {
            if self.modes.len() > 1 && self.rng.gen_bool(MODE_CHANGE) {
                plan.mode = self.mode();
            } else {
                self.mutate(&mut plan.actions);
            }
        }
        plan
    }

    /// Learns what running `plan` showed; returns the features it found first.
    pub fn learn(&mut self, plan: &Plan, features: &BTreeSet<String>) -> Vec<String> {
        let new: Vec<String> = features
            .iter()
            .filter(|f| !self.seen.contains(*f))
            .cloned()
            .collect();
        self.seen.extend(new.iter().cloned());
        let gain = new.len() as f64;
        for &a in &plan.actions {
            use_once(self.credit.get_mut(a), gain);
        }
        use_once(self.modes.get_mut(plan.mode), gain);
        if !new.is_empty() {
            self.corpus.push(Kept {
                plan: plan.clone(),
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
        let weights = promise(&self.credit);
        self.weighted(&weights)
    }

    /// A mode, weighted the same way.
    fn mode(&mut self) -> usize {
        let weights = promise(&self.modes);
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

    /// Moves one action of `plan` (not empty) to one of its neighbours, or
    /// draws a new one when it has none.
    fn tweak(&mut self, plan: &mut [usize]) {
        let at = self.rng.gen_range(0..plan.len());
        match self.neighbours.get(plan[at]).filter(|n| !n.is_empty()) {
            Some(near) => plan[at] = near[self.rng.gen_range(0..near.len())],
            None => plan[at] = self.action(),
        }
    }

    fn mutate(&mut self, plan: &mut Vec<usize>) {
        match self.rng.gen_range(0..6) {
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
                let tail = self.corpus[other].plan.actions.clone();
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
            4 if !plan.is_empty() => self.tweak(plan),
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

    fn features(plan: &Plan) -> BTreeSet<String> {
        // A toy system: a feature per action, and one per ordered pair of
        // neighbours (what a sequence reached).
        let a = &plan.actions;
        let mut f: BTreeSet<String> = a.iter().map(|a| format!("a{a}")).collect();
        for w in a.windows(2) {
            f.insert(format!("{}-{}", w[0], w[1]));
        }
        f
    }

    fn plan(actions: &[usize]) -> Plan {
        Plan {
            mode: 0,
            actions: actions.to_vec(),
        }
    }

    fn drive(seed: u64, runs: usize) -> (Vec<Plan>, usize) {
        let mut s = Search::new(seed, 12, 5).with_modes(3);
        let mut plans = Vec::new();
        for _ in 0..runs {
            let p = s.propose();
            let a = &p.actions;
            assert!(!a.is_empty() && a.len() <= 5 && a.iter().all(|&a| a < 12));
            assert!(p.mode < 3);
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
    fn a_kept_plan_is_sometimes_played_again_unchanged() {
        // One kept plan, then nothing new: a mutation seldom gives the same
        // five actions back, a replay always does.
        let kept = plan(&[3, 7, 11, 2, 5]);
        let mut s = Search::new(5, 12, 6).with_modes(3);
        s.learn(&kept, &features(&kept));
        let again = (0..400).filter(|_| s.propose() == kept).count();
        assert!(
            again > 60,
            "{again} of 400 proposals replayed the kept plan"
        );
    }

    #[test]
    fn only_plans_that_found_something_new_are_kept() {
        let mut s = Search::new(1, 4, 3);
        let f = features(&plan(&[1, 2]));
        assert_eq!(s.learn(&plan(&[1, 2]), &f).len(), 3);
        assert!(s.learn(&plan(&[1, 2]), &f).is_empty());
        assert_eq!(s.corpus_len(), 1);
        assert!(s.has_seen("1-2") && s.seen() == 3);
    }

    #[test]
    fn novelty_guidance_reaches_a_rare_sequence_sooner_than_blind_draws() {
        // A feature only the exact sequence 3, 7, 11 reaches, behind
        // features that reward its parts: the guided search (which learns)
        // against the same search never told anything (blind draws).
        let target = |p: &Plan| p.actions.windows(3).any(|w| w == [3, 7, 11]);
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

    #[test]
    fn seed_plans_come_first_in_order_and_start_the_corpus() {
        let mut s = Search::new(3, 12, 5)
            .with_modes(3)
            .with_seeds(&[vec![9], vec![4, 7, 2]]);
        let first = s.propose();
        assert_eq!(
            first,
            Plan {
                mode: 0,
                actions: vec![9]
            }
        );
        s.learn(&first, &features(&first));
        assert_eq!(
            s.propose(),
            Plan {
                mode: 0,
                actions: vec![4, 7, 2]
            },
            "a seed plays all its actions, in order"
        );
        s.learn(&plan(&[4, 7, 2]), &BTreeSet::new());
        assert_eq!(
            s.corpus_len(),
            1,
            "only the seed that found something is kept"
        );
        // The kept seed is mutated: its action turns up more often than in
        // the same search whose seed found nothing (fresh draws only; equal
        // counts if the seed were not kept).
        let mut forgot = Search::new(3, 12, 5)
            .with_modes(3)
            .with_seeds(&[vec![9], vec![4, 7, 2]]);
        for _ in 0..2 {
            let p = forgot.propose();
            forgot.learn(&p, &BTreeSet::new());
        }
        let with_nine = |s: &mut Search| {
            (0..200)
                .filter(|_| s.propose().actions.contains(&9))
                .count()
        };
        let (kept, not_kept) = (with_nine(&mut s), with_nine(&mut forgot));
        assert!(
            2 * kept > 3 * not_kept,
            "kept {kept} of 200, not kept {not_kept}"
        );
    }

    #[test]
    fn a_tweak_moves_one_action_to_a_neighbour() {
        // Actions 0..8 in two families of four; neighbours within a family.
        let family: Vec<Vec<usize>> = (0..8)
            .map(|a| (0..8).filter(|&b| b != a && b / 4 == a / 4).collect())
            .collect();
        let mut s = Search::new(3, 8, 4).with_neighbours(family);
        let plan = [1, 6, 3];
        let mut reached = BTreeSet::new();
        for _ in 0..200 {
            let mut p = plan;
            s.tweak(&mut p);
            let moved: Vec<usize> = (0..3).filter(|&i| p[i] != plan[i]).collect();
            assert_eq!(moved.len(), 1, "{p:?}");
            let i = moved[0];
            assert_eq!(p[i] / 4, plan[i] / 4, "{p:?}: left its family");
            reached.insert(p);
        }
        assert_eq!(
            reached.len(),
            9,
            "each position to each of its 3 neighbours"
        );
    }

    #[test]
    fn modes_whose_runs_find_more_are_drawn_more() {
        // Mode 1's runs each reach something new; modes 0 and 2 only what
        // their actions reach.
        let mut s = Search::new(5, 6, 3).with_modes(3);
        let mut drawn = [0usize; 3];
        for run in 0..600 {
            let p = s.propose();
            let mut f = features(&p);
            if p.mode == 1 {
                f.insert(format!("mode 1, run {run}"));
            }
            s.learn(&p, &f);
            if run >= 300 {
                drawn[p.mode] += 1;
            }
        }
        assert!(
            drawn[1] > drawn[0] + drawn[2],
            "mode 1 drawn {} times, 0 and 2 {} and {}",
            drawn[1],
            drawn[0],
            drawn[2]
        );
        let mut single = Search::new(5, 6, 3);
        assert!(
            (0..50).all(|_| single.propose().mode == 0),
            "no modes, mode 0"
        );
    }
}
