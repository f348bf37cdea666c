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
//! set mixed with a hash of the state; full sets and states are compared on a
//! hash match, so the search stays exact. The cache is bounded: it only
//! prunes, so clearing it when it outgrows its budget keeps the answer exact.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::model::Model;

/// One operation as the search sees it.
#[derive(Debug, Clone)]
pub struct SearchOp<O> {
    /// The model's form of the operation.
    pub op: O,
    /// History position of the call.
    pub call: u64,
    /// History position of the return; `None` returns at infinity (`info`).
    pub ret: Option<u64>,
}

/// Limits on one search.
#[derive(Debug)]
pub struct Budget<'a> {
    /// Give up (unknown) after this instant.
    pub deadline: Option<Instant>,
    /// Give up (unknown) when this is set: another part already decided.
    pub cancel: Option<&'a AtomicBool>,
    /// Bytes the cache may hold before it is cleared.
    pub cache_bytes: usize,
}

impl Default for Budget<'_> {
    fn default() -> Self {
        Budget {
            deadline: None,
            cancel: None,
            cache_bytes: 1 << 30,
        }
    }
}

/// Why a search stopped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The deadline passed.
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
    /// A linearization exists.
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
    /// Configurations in the cache at the end.
    pub cache_entries: usize,
    /// Times the cache was cleared to stay within its budget.
    pub cache_resets: u32,
}

const MAX_PATHS: usize = 6;
const HEAD: usize = 0;

struct CacheEntry<S> {
    hash: u64,
    /// Offset of the linearized set in the search's arena.
    bits: usize,
    state: S,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Searches for a linearization of `ops` under `model`.
pub fn search<M: Model>(
    model: &M,
    ops: &[SearchOp<M::Op>],
    budget: &Budget<'_>,
) -> (SearchResult<M::State>, SearchStats) {
    let n = ops.len();
    let mut stats = SearchStats::default();
    let required_total = ops.iter().filter(|o| o.ret.is_some()).count();
    if required_total == 0 {
        return (SearchResult::Linearizable, stats);
    }

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
    let mut call_entry = vec![0usize; n];
    for (k, &(_, _, i, call)) in order.iter().enumerate() {
        let e = k + 1;
        of[e] = i;
        is_call[e] = call;
        if call {
            call_entry[i] = e;
        } else {
            ret_entry[i] = e;
        }
    }
    // A return placed before its own call (bad input) cannot be linearized;
    // the history layer rejects those, so they never reach here.
    let mut next: Vec<usize> = (1..=tail + 1).collect();
    let mut prev: Vec<usize> = (0..=tail).map(|e| e.wrapping_sub(1)).collect();
    next[tail] = tail;

    let words = n.div_ceil(64);
    let mut bits = vec![0u64; words];
    let zobrist: Vec<u64> = (0..n as u64).map(|i| splitmix(i ^ 0x5151_7a7a)).collect();
    let mut set_hash = 0u64;
    let hasher = FxBuildHasher;
    let entry_bytes = words * 8 + std::mem::size_of::<CacheEntry<M::State>>() + 16;
    let mut cache: HashTable<CacheEntry<M::State>> = HashTable::new();
    // The linearized sets of the cache's entries, `words` words each.
    let mut arena: Vec<u64> = Vec::new();
    let mut cache_bytes = 0usize;

    let mut state = model.init();
    let mut stack: Vec<Frame<M::State>> = Vec::new();
    let mut remaining = required_total;
    // The furthest return entry any configuration got stuck at.
    let mut stuck_entry = 0usize;
    let mut stuck_paths: Vec<(Vec<usize>, M::State)> = Vec::new();

    let mut entry = next[HEAD];
    loop {
        stats.steps += 1;
        if stats.steps & 0xFFF == 0 {
            if budget.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                stats.cache_entries = cache.len();
                return (SearchResult::Unknown(Stopped::Cancelled), stats);
            }
            if budget.deadline.is_some_and(|d| Instant::now() >= d) {
                stats.cache_entries = cache.len();
                return (SearchResult::Unknown(Stopped::Timeout), stats);
            }
        }
        // Whether to give up on this configuration and backtrack.
        let mut dead_end = entry == tail || !is_call[entry];
        if !dead_end {
            let i = of[entry];
            if let Some(new_state) = model.step(&state, &ops[i].op) {
                let required = ops[i].ret.is_some();
                let no_op = new_state == state;
                if no_op && !required {
                    // An unknown operation that changes nothing here need not
                    // be placed here: leaving it out dominates.
                    entry = next[entry];
                    continue;
                }
                bits[i / 64] |= 1 << (i % 64);
                let h = (set_hash ^ zobrist[i]) ^ hasher.hash_one(&new_state).rotate_left(17);
                let seen = cache
                    .find(h, |c| {
                        c.hash == h
                            && c.state == new_state
                            && arena[c.bits..c.bits + words] == bits[..]
                    })
                    .is_some();
                if !seen {
                    if cache_bytes + entry_bytes > budget.cache_bytes {
                        cache.clear();
                        arena.clear();
                        cache_bytes = 0;
                        stats.cache_resets += 1;
                    }
                    let at = arena.len();
                    arena.extend_from_slice(&bits);
                    cache.insert_unique(
                        h,
                        CacheEntry {
                            hash: h,
                            bits: at,
                            state: new_state.clone(),
                        },
                        |c| c.hash,
                    );
                    cache_bytes += entry_bytes;
                    set_hash ^= zobrist[i];
                    stack.push(Frame {
                        entry,
                        state: std::mem::replace(&mut state, new_state),
                        forced: no_op,
                    });
                    lift(&mut next, &mut prev, entry, ret_entry[i]);
                    if required {
                        remaining -= 1;
                        if remaining == 0 {
                            stats.cache_entries = cache.len();
                            return (SearchResult::Linearizable, stats);
                        }
                    }
                    entry = next[HEAD];
                    continue;
                }
                bits[i / 64] &= !(1 << (i % 64));
                // A required operation that changes nothing can always be
                // placed as soon as it is reachable: if that configuration
                // already failed, so does this one.
                dead_end = no_op;
            }
            if !dead_end {
                entry = next[entry];
                continue;
            }
        }
        // At a return (or a dominated dead end): nothing left may precede
        // this operation here.
        if entry >= stuck_entry && entry != tail && !is_call[entry] {
            if entry > stuck_entry {
                stuck_entry = entry;
                stuck_paths.clear();
            }
            if stuck_paths.len() < MAX_PATHS && !stuck_paths.iter().any(|(_, s)| *s == state) {
                let path = stack.iter().map(|f| of[f.entry]).collect();
                stuck_paths.push((path, state.clone()));
            }
        }
        // Backtrack; a frame placed by dominance has no alternatives worth trying.
        loop {
            let Some(frame) = stack.pop() else {
                stats.cache_entries = cache.len();
                let stuck = Stuck {
                    op: of[stuck_entry],
                    paths: stuck_paths,
                };
                return (SearchResult::NotLinearizable(stuck), stats);
            };
            let i = of[frame.entry];
            bits[i / 64] &= !(1 << (i % 64));
            set_hash ^= zobrist[i];
            state = frame.state;
            unlift(&mut next, &mut prev, frame.entry, ret_entry[i]);
            if ops[i].ret.is_some() {
                remaining += 1;
            }
            if !frame.forced {
                entry = next[frame.entry];
                break;
            }
        }
    }
}

/// One placed operation on the search's stack.
struct Frame<S> {
    /// Its call entry.
    entry: usize,
    /// The state before it.
    state: S,
    /// Placed because placing it dominates every alternative.
    forced: bool,
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

/// Hashes a value with the search's hasher (exposed for tests of models).
pub fn state_hash<S: Hash>(s: &S) -> u64 {
    FxBuildHasher.hash_one(s)
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
        let SearchResult::NotLinearizable(stuck) = r else { panic!("{r:?}") };
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
        for i in 0..6u64 {
            ops.push(op(RegisterOp::Write(Val::Int(i as i64)), i, Some(100 + i)));
        }
        ops.push(op(RegisterOp::Read(Val::Int(99)), 200, Some(201)));
        let budget = Budget {
            cache_bytes: 512,
            ..Budget::default()
        };
        let (r, stats) = search(&Register, &ops, &budget);
        assert!(matches!(r, SearchResult::NotLinearizable(_)));
        assert!(stats.cache_resets > 0);
    }
}
