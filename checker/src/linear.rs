//! The linearizability search: Wing & Gong's depth-first search with Lowe's
//! cache of (linearized set, state), over one object's operations.
//!
//! Calls and returns sit in a doubly linked list ordered by history position.
//! The search walks the list: at a call it tries to place that operation next
//! (the model accepts it and the resulting configuration is not in the cache),
//! lifts it out of the list and starts over from the head; at a return it has
//! run out of candidates that may precede that operation, so it backtracks.
//! Operations that ended `info` return "at infinity": they may be placed at
//! any point after their call, and the search succeeds as soon as every
//! operation with a known outcome is placed.
//!
//! The cache key is an incrementally updated Zobrist hash of the linearized
//! set mixed with a hash of the state; full sets (stored compactly, see
//! [`crate::linset`]) and states are compared on a hash match, so the search
//! stays exact. Memory is bounded (see [`crate::cache`]): the cache only
//! prunes, so clearing it when it cannot grow keeps the answer exact.
//!
//! Exact prunings on top of the classic search:
//! - an `info` operation that would change nothing is not placed (leaving it
//!   out of the linearization is always at least as good);
//! - a read-only operation (a read, a mismatched cas) is placed as soon as it
//!   is a candidate that fits the state, and its alternatives are not
//!   explored: any linearization can move it to that point, since it changes
//!   no state wherever it stands;
//! - at each configuration, operations with a known outcome are tried before
//!   `info` ones, which are placed only when the others are stuck;
//! - equal `info` operations are placed in call order: of several crashed
//!   `write 3`, only the earliest not yet placed is a candidate. Proof: two
//!   `info` operations a and b with equal model operations and
//!   call(a) < call(b) both return at infinity, so their only real-time
//!   constraint is to come after their call. In any linearization that places
//!   b but not a, or b before a, exchange their names: a now stands where b
//!   stood (after call(b) > call(a)), b where a stood (later still) or
//!   nowhere, and every model step sees the same operation. So if any
//!   linearization exists, one exists that uses each class of equal `info`
//!   operations as a prefix in call order, and the search only builds those;
//! - a configuration is dominated by one seen before with the same required
//!   operations placed, the same state, and a subset of its `info`
//!   operations placed: every way to finish from it also finishes from the
//!   one seen (which has the same candidates, the same state, and more
//!   `info` operations left), so if that one failed, so does this; and if
//!   that one is an ancestor on the search's path, whatever succeeds from
//!   here succeeds from it without the detour, and the search tries that
//!   from the ancestor.
//!
//! A search is resumable ([`Searcher::run`] takes a step allowance), so a
//! scheduler can interleave many keys and stop at the first that fails.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rustc_hash::FxBuildHasher;

pub use crate::cache::Memory;
use crate::cache::{Cache, Config};
use crate::linset::{WindowedBits, Windows};
use crate::model::Model;
pub use crate::search_op::SearchOp;

/// Limits on one search.
#[derive(Debug)]
pub struct Budget<'a> {
    /// Give up (unknown) after this instant.
    pub deadline: Option<Instant>,
    /// Give up (unknown) when this is set: another part already decided.
    pub cancel: Option<&'a AtomicBool>,
    /// The memory the searches sharing this budget may hold together.
    pub memory: Memory<'a>,
    /// Use the exact prunings (off: the classic Wing–Gong/Lowe search, kept
    /// as the baseline the benchmarks compare against).
    pub prune: bool,
}

impl Default for Budget<'_> {
    fn default() -> Self {
        Budget {
            deadline: None,
            cancel: None,
            memory: Memory {
                limit: 1 << 30,
                in_use: None,
            },
            prune: true,
        }
    }
}

/// Why a search stopped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The deadline of the check passed before an answer.
    Timeout,
    /// It was cancelled from outside.
    Cancelled,
}

/// Where an unsuccessful search got furthest: the operation with the latest
/// return that some configuration reached but none could get past. Every
/// operation returning before it was placed in those configurations; no
/// configuration could place it.
#[derive(Debug, Clone)]
pub struct Stuck<S> {
    /// The operation (index into the search's operations).
    pub op: usize,
    /// Up to a few of the configurations stuck there, with distinct states:
    /// the operations in linearization order and the state reached.
    pub paths: Vec<(Vec<usize>, S)>,
}

/// The outcome of one search.
#[derive(Debug, Clone)]
pub enum SearchResult<S> {
    /// Some order of the operations respects real time and the model.
    Linearizable,
    /// None exists; where the search got furthest.
    NotLinearizable(Stuck<S>),
    /// The budget ran out first.
    Unknown(Stopped),
}

/// Statistics of one search.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchStats {
    /// Steps the DFS took.
    pub steps: u64,
    /// Operations placed (configurations explored).
    pub placements: u64,
    /// Configurations in the cache at the end.
    pub cache_entries: usize,
    /// Times the cache was cleared to stay within its budget.
    pub cache_resets: u32,
}

const MAX_PATHS: usize = 6;
const HEAD: usize = 0;
/// No class: the operation has a known outcome.
const NO_CLASS: u32 = u32::MAX;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A resumable search over one object's operations.
pub struct Searcher<'m, M: Model> {
    model: &'m M,
    ops: Vec<SearchOp<M::Op>>,
    tail: usize,
    of: Vec<usize>,
    is_call: Vec<bool>,
    ret_entry: Vec<usize>,
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Position of each operation in its bitset (required or `info`).
    slot: Vec<u32>,
    /// The required operations placed, by call order.
    req: WindowedBits,
    /// The `info` operations placed, by call order.
    info: WindowedBits,
    /// Per `info` operation: its class of equal operations and its rank there.
    class_of: Vec<u32>,
    rank: Vec<u32>,
    /// Per class: how many of its operations are placed (always the first).
    class_placed: Vec<u32>,
    zobrist: Vec<u64>,
    /// Zobrist hash of the required operations placed.
    set_hash: u64,
    /// Zobrist hash of the `info` operations placed.
    info_hash: u64,
    cache: Cache<M::State>,
    /// Bytes of the per-operation arrays, charged when the search first runs.
    fixed_bytes: usize,
    charged: bool,
    state: M::State,
    stack: Vec<Frame<M::State>>,
    remaining: usize,
    /// Operations that ended `info` not placed yet.
    unknown_left: usize,
    /// The furthest return entry any configuration got stuck at.
    stuck_entry: usize,
    stuck_paths: Vec<(Vec<usize>, M::State)>,
    entry: usize,
    /// 0: trying operations with a known outcome; 1: trying `info` ones.
    phase: u8,
    /// Operations that replace the state outright (see [`Model::resets`]).
    resets: Vec<usize>,
    done: Option<SearchResult<M::State>>,
    /// What the search has done so far.
    pub stats: SearchStats,
}

/// One placed operation on the search's stack.
struct Frame<S> {
    /// Its call entry in the entry list (calls and returns in history order).
    entry: usize,
    /// The candidate pass it was placed in.
    phase: u8,
    /// The state before it.
    state: S,
    /// Placed because placing it dominates every alternative.
    forced: bool,
}

impl<'m, M: Model> Searcher<'m, M> {
    /// Prepares a search of `ops` under `model`.
    pub fn new(model: &'m M, ops: Vec<SearchOp<M::Op>>) -> Self {
        let n = ops.len();
        let required_total = ops.iter().filter(|o| o.ret.is_some()).count();
        // Entries 1..=2n: calls and returns in history order; 0 is the head,
        // 2n+1 the tail. `of[e]` is the operation, `is_call[e]` the kind.
        let mut order: Vec<(u64, u64, usize, bool)> = Vec::with_capacity(2 * n);
        for (i, o) in ops.iter().enumerate() {
            order.push((o.call, 0, i, true));
            match o.ret {
                Some(r) => order.push((r, 0, i, false)),
                None => order.push((u64::MAX, i as u64, i, false)),
            }
        }
        order.sort_unstable_by_key(|&(pos, tie, _, _)| (pos, tie));
        let tail = 2 * n + 1;
        let mut of = vec![usize::MAX; 2 * n + 2];
        let mut is_call = vec![false; 2 * n + 2];
        let mut ret_entry = vec![0usize; n];
        for (k, &(_, _, i, call)) in order.iter().enumerate() {
            let e = k + 1;
            of[e] = i;
            is_call[e] = call;
            if !call {
                ret_entry[i] = e;
            }
        }
        drop(order);
        // Bit positions in call order; classes of equal `info` operations,
        // ranked in call order.
        let mut slot = vec![0u32; n];
        let mut class_of = vec![NO_CLASS; n];
        let mut rank = vec![0u32; n];
        let mut class_placed = Vec::new();
        let (mut req_n, mut info_n) = (0u32, 0u32);
        {
            let mut classes: HashMap<&M::Op, u32> = HashMap::new();
            for e in 1..tail {
                if !is_call[e] {
                    continue;
                }
                let i = of[e];
                if ops[i].ret.is_some() {
                    slot[i] = req_n;
                    req_n += 1;
                } else {
                    slot[i] = info_n;
                    info_n += 1;
                    let next_class = classes.len() as u32;
                    let c = *classes.entry(&ops[i].op).or_insert(next_class);
                    if c == next_class {
                        class_placed.push(0);
                    }
                    class_of[i] = c;
                    rank[i] = class_placed[c as usize];
                    class_placed[c as usize] += 1;
                }
            }
        }
        class_placed.iter_mut().for_each(|c| *c = 0);
        let mut next: Vec<usize> = (1..=tail + 1).collect();
        next[tail] = tail;
        let prev: Vec<usize> = (0..=tail).map(|e| e.saturating_sub(1)).collect();
        let req = WindowedBits::new(req_n as usize, true);
        let info = WindowedBits::new(info_n as usize, false);
        let model_state = model.init();
        let resets: Vec<usize> = (0..n).filter(|&i| model.resets(&ops[i].op)).collect();
        let stack = Vec::with_capacity(n);
        let fixed_bytes = n * std::mem::size_of::<SearchOp<M::Op>>()
            + (of.len() + next.len() + prev.len() + ret_entry.len()) * 8
            + is_call.len()
            + n * (4 * 3 + 8)
            + class_placed.len() * 4
            + req.bytes()
            + info.bytes()
            + resets.len() * 8
            + n * std::mem::size_of::<Frame<M::State>>();
        Searcher {
            model,
            tail,
            of,
            is_call,
            ret_entry,
            entry: next[HEAD],
            next,
            prev,
            slot,
            req,
            info,
            class_of,
            rank,
            class_placed,
            zobrist: (0..n as u64).map(|i| splitmix(i ^ 0x5151_7a7a)).collect(),
            set_hash: 0,
            info_hash: 0,
            cache: Cache::new(),
            fixed_bytes,
            charged: false,
            state: model_state,
            stack,
            remaining: required_total,
            unknown_left: n - required_total,
            stuck_entry: 0,
            stuck_paths: Vec::new(),
            phase: 0,
            resets,
            done: (required_total == 0).then_some(SearchResult::Linearizable),
            ops,
            stats: SearchStats::default(),
        }
    }

    /// Runs at most about `steps` more steps. Returns the result once decided
    /// (again on later calls), or None when the allowance ran out first.
    pub fn run(&mut self, steps: u64, budget: &Budget<'_>) -> Option<SearchResult<M::State>> {
        if self.done.is_none() {
            if !self.charged {
                budget.memory.force(self.fixed_bytes);
                self.charged = true;
            }
            self.done = self.walk(self.stats.steps.saturating_add(steps), budget);
            self.stats.cache_entries = self.cache.len();
            self.stats.cache_resets = self.cache.resets;
            if self.done.is_some() {
                self.release(budget);
            }
        }
        self.done.clone()
    }

    /// Frees the cache, and gives its bytes and those of the per-operation
    /// arrays back to the shared budget (the searcher itself keeps them
    /// until it is dropped, which its owner does once it has the answer).
    fn release(&mut self, budget: &Budget<'_>) {
        self.cache.release(&budget.memory);
        if self.charged {
            budget.memory.give_back(self.fixed_bytes);
            self.charged = false;
        }
    }

    fn placed(&self, i: usize) -> bool {
        let at = self.slot[i] as usize;
        if self.ops[i].ret.is_some() {
            self.req.get(at)
        } else {
            self.info.get(at)
        }
    }

    fn mark(&mut self, i: usize, placed: bool) {
        let at = self.slot[i] as usize;
        let bits = if self.ops[i].ret.is_some() {
            &mut self.req
        } else {
            &mut self.info
        };
        if placed {
            bits.set(at);
        } else {
            bits.clear(at);
        }
    }

    fn walk(&mut self, until: u64, budget: &Budget<'_>) -> Option<SearchResult<M::State>> {
        let hasher = FxBuildHasher;
        let tail = self.tail;
        loop {
            self.stats.steps += 1;
            if self.stats.steps & 0xFFF == 0 {
                if self.stats.steps >= until {
                    return None;
                }
                if budget.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Some(SearchResult::Unknown(Stopped::Cancelled));
                }
                if budget.deadline.is_some_and(|d| Instant::now() >= d) {
                    return Some(SearchResult::Unknown(Stopped::Timeout));
                }
            }
            let entry = self.entry;
            if entry != tail && self.is_call[entry] {
                let i = self.of[entry];
                let required = self.ops[i].ret.is_some();
                if budget.prune
                    && (required != (self.phase == 0)
                        || (!required
                            && self.class_placed[self.class_of[i] as usize] != self.rank[i]))
                {
                    self.entry = self.next[entry];
                    continue;
                }
                let mut dead_end = false;
                if let Some(new_state) = self.model.step(&self.state, &self.ops[i].op) {
                    let read_only =
                        budget.prune && required && self.model.read_only(&self.ops[i].op);
                    if budget.prune && !required && new_state == self.state {
                        self.entry = self.next[entry];
                        continue;
                    }
                    self.mark(i, true);
                    let (set_hash, info_hash) = if required {
                        (self.set_hash ^ self.zobrist[i], self.info_hash)
                    } else {
                        (self.set_hash, self.info_hash ^ self.zobrist[i])
                    };
                    // With the prunings, the hash leaves the `info` operations
                    // out, so that a dominated configuration is found.
                    let h = set_hash
                        ^ if budget.prune { 0 } else { info_hash }
                        ^ hasher.hash_one(&new_state).rotate_left(17);
                    let windows = Windows {
                        req: self.req.window(),
                        info: self.info.window(),
                    };
                    let config = Config {
                        hash: h,
                        state: &new_state,
                        windows,
                        req: &self.req,
                        info: &self.info,
                    };
                    if !self.cache.contains(&config, budget.prune) {
                        self.cache.insert(&config, &budget.memory);
                        self.stats.placements += 1;
                        (self.set_hash, self.info_hash) = (set_hash, info_hash);
                        let before = std::mem::replace(&mut self.state, new_state);
                        self.stack.push(Frame {
                            entry,
                            phase: self.phase,
                            state: before,
                            forced: read_only,
                        });
                        lift(&mut self.next, &mut self.prev, entry, self.ret_entry[i]);
                        if required {
                            self.remaining -= 1;
                            if self.remaining == 0 {
                                return Some(SearchResult::Linearizable);
                            }
                        } else {
                            self.unknown_left -= 1;
                            self.class_placed[self.class_of[i] as usize] += 1;
                        }
                        self.phase = 0;
                        self.entry = self.next[HEAD];
                        if !(budget.prune && !read_only && self.reads_blocked()) {
                            continue;
                        }
                        // A pending read can no longer see what it saw: this
                        // configuration fails.
                        if let Some(result) = self.backtrack() {
                            return Some(result);
                        }
                        continue;
                    }
                    self.mark(i, false);
                    // A read-only operation can always be placed as soon as it
                    // fits: if that configuration already failed, so does
                    // this one.
                    dead_end = read_only;
                }
                if !dead_end {
                    self.entry = self.next[entry];
                    continue;
                }
            } else if budget.prune && self.phase == 0 && self.unknown_left > 0 {
                // Operations with a known outcome are stuck here: now try the
                // unknown ones that may precede this return.
                self.phase = 1;
                self.entry = self.next[HEAD];
                continue;
            } else {
                self.note_stuck(entry);
            }
            if let Some(result) = self.backtrack() {
                return Some(result);
            }
        }
    }

    /// Whether a read-only candidate (called before the first pending
    /// return) that must be placed before any unplaced resetting operation
    /// can no longer see what it saw.
    fn reads_blocked(&self) -> bool {
        let first_reset = self
            .resets
            .iter()
            .filter(|&&r| !self.placed(r))
            .map(|&r| self.ops[r].call)
            .min()
            .unwrap_or(u64::MAX);
        let mut e = self.next[HEAD];
        while e != self.tail && self.is_call[e] {
            let op = &self.ops[self.of[e]];
            if op.ret.is_some_and(|r| r < first_reset)
                && self.model.read_only(&op.op)
                && !self.model.may_still_see(&self.state, &op.op)
            {
                return true;
            }
            e = self.next[e];
        }
        false
    }

    fn note_stuck(&mut self, entry: usize) {
        if entry == self.tail || entry < self.stuck_entry {
            return;
        }
        if entry > self.stuck_entry {
            self.stuck_entry = entry;
            self.stuck_paths.clear();
        }
        if self.stuck_paths.len() < MAX_PATHS
            && !self.stuck_paths.iter().any(|(_, s)| *s == self.state)
        {
            let path = self.stack.iter().map(|f| self.of[f.entry]).collect();
            self.stuck_paths.push((path, self.state.clone()));
        }
    }

    /// Undoes placements until one has alternatives left; the final result
    /// when none has.
    fn backtrack(&mut self) -> Option<SearchResult<M::State>> {
        loop {
            let Some(frame) = self.stack.pop() else {
                let stuck = Stuck {
                    op: self.of[self.stuck_entry],
                    paths: std::mem::take(&mut self.stuck_paths),
                };
                return Some(SearchResult::NotLinearizable(stuck));
            };
            let i = self.of[frame.entry];
            self.mark(i, false);
            if self.ops[i].ret.is_some() {
                self.set_hash ^= self.zobrist[i];
            } else {
                self.info_hash ^= self.zobrist[i];
            }
            self.state = frame.state;
            unlift(
                &mut self.next,
                &mut self.prev,
                frame.entry,
                self.ret_entry[i],
            );
            if self.ops[i].ret.is_some() {
                self.remaining += 1;
            } else {
                self.unknown_left += 1;
                self.class_placed[self.class_of[i] as usize] -= 1;
            }
            if !frame.forced {
                self.phase = frame.phase;
                self.entry = self.next[frame.entry];
                return None;
            }
        }
    }
}

/// Searches `ops` under `model` to the end (or until the budget runs out).
pub fn search<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    budget: &Budget<'_>,
) -> (SearchResult<M::State>, SearchStats) {
    let mut s = Searcher::new(model, ops.to_vec());
    let r = s.run(u64::MAX, budget).expect("an unbounded run decides");
    (r, s.stats)
}

/// Hashes a state as the search's cache does.
pub fn state_hash<S: std::hash::Hash>(s: &S) -> u64 {
    FxBuildHasher.hash_one(s)
}

fn lift(next: &mut [usize], prev: &mut [usize], call: usize, ret: usize) {
    for e in [call, ret] {
        let (p, n) = (prev[e], next[e]);
        next[p] = n;
        prev[n] = p;
    }
}

fn unlift(next: &mut [usize], prev: &mut [usize], call: usize, ret: usize) {
    for e in [ret, call] {
        let (p, n) = (prev[e], next[e]);
        next[p] = e;
        prev[n] = e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::register::{Register, RegisterOp};
    use crate::model::Val;

    fn op(o: RegisterOp, call: u64, ret: Option<u64>) -> SearchOp<RegisterOp> {
        SearchOp { op: o, call, ret }
    }

    #[test]
    fn concurrent_write_and_read_linearize_either_way() {
        let ops = vec![
            op(RegisterOp::Write(Val::Int(1)), 0, Some(3)),
            op(RegisterOp::Read(Val::Int(1)), 1, Some(2)),
        ];
        let (r, _) = search(&Register, &ops, &Budget::default());
        assert!(matches!(r, SearchResult::Linearizable));
    }

    #[test]
    fn a_read_of_a_value_overwritten_before_it_began_fails() {
        let ops = vec![
            op(RegisterOp::Write(Val::Int(1)), 0, Some(1)),
            op(RegisterOp::Write(Val::Int(2)), 2, Some(3)),
            op(RegisterOp::Read(Val::Int(1)), 4, Some(5)),
        ];
        let (r, _) = search(&Register, &ops, &Budget::default());
        let SearchResult::NotLinearizable(stuck) = r else {
            panic!("{r:?}")
        };
        assert_eq!(stuck.op, 2);
        assert_eq!(stuck.paths, vec![(vec![0, 1], Val::Int(2))]);
    }

    #[test]
    fn an_info_write_may_take_effect_late() {
        let ops = vec![
            op(RegisterOp::Write(Val::Int(1)), 0, None),
            op(RegisterOp::Read(Val::Nil), 1, Some(2)),
            op(RegisterOp::Read(Val::Int(1)), 3, Some(4)),
        ];
        let (r, _) = search(&Register, &ops, &Budget::default());
        assert!(matches!(r, SearchResult::Linearizable));
    }

    #[test]
    fn a_tiny_cache_budget_keeps_the_answer() {
        let mut ops = Vec::new();
        for i in 0..9u64 {
            ops.push(op(RegisterOp::Write(Val::Int(i as i64)), i, Some(100 + i)));
        }
        ops.push(op(RegisterOp::Read(Val::Int(99)), 200, Some(201)));
        let budget = Budget {
            memory: Memory {
                limit: 512,
                in_use: None,
            },
            ..Budget::default()
        };
        let (r, stats) = search(&Register, &ops, &budget);
        assert!(matches!(r, SearchResult::NotLinearizable(_)));
        assert!(stats.cache_resets > 0);
    }
}
