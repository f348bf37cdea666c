//! The safety properties, checked incrementally after every step: election
//! safety, log matching, leader completeness, state machine safety, and the
//! client-visible ones (acknowledged writes survive, reads are not stale,
//! transactions are all or nothing).

use std::collections::HashMap;
use std::fmt;

use faultline_node::raft::{Entry, Index, NodeId, Term};

use faultline_node::kv::Command;

use super::client::command_id;
use super::storage::Disk;

/// A safety property the checker watches; each [`Violation`] names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invariant {
    /// Two leaders in one term.
    ElectionSafety,
    /// Two logs hold an entry with the same index and term but different
    /// contents or different predecessors.
    LogMatching,
    /// A leader was elected without an entry committed in an earlier term.
    LeaderCompleteness,
    /// Two nodes applied different entries at the same index.
    StateMachineSafety,
    /// A write acknowledged to a client is not in the final committed log.
    AckedWriteLost,
    /// A read missed a write that completed before the read started.
    StaleRead,
    /// A read-only transaction saw part of another transaction's writes.
    TxnAtomicity,
}

/// A broken property, with what showed it.
#[derive(Debug, Clone)]
pub struct Violation {
    pub invariant: Invariant,
    pub tick: u64,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} at tick {}: {}",
            self.invariant, self.tick, self.detail
        )
    }
}

/// A committed entry as the checker remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub term: Term,
    pub data: u64,
    /// A hash of every entry up to and including this one.
    pub chain: u64,
}

/// Folds one entry into a running hash of the applied log.
pub fn chain(prev: u64, term: Term, data: u64) -> u64 {
    let mut h = prev ^ 0x9E37_79B9_7F4A_7C15;
    for x in [term, data] {
        h = (h ^ x).wrapping_mul(0x0100_0000_01B3).rotate_left(17);
    }
    h
}

/// The command id an entry carries (0 for the no-op).
pub fn data_id(e: &Entry) -> u64 {
    if e.data.is_empty() {
        return 0;
    }
    Command::decode(&e.data)
        .map(|cmd| command_id(&cmd))
        .unwrap_or(0)
}

/// The global record the invariants are checked against.
#[derive(Debug, Default)]
pub struct Checker {
    /// The first node seen leading each term (a second one breaks election safety).
    leaders: HashMap<Term, NodeId>,
    /// (index, term) -> (data, previous term), for log matching.
    entries: HashMap<(Index, Term), (u64, Term)>,
    /// The committed log (applied somewhere), position i = index i + 1.
    pub committed: Vec<Committed>,
    pub violations: Vec<Violation>,
    pub now: u64,
}

impl Checker {
    pub fn violate(&mut self, invariant: Invariant, detail: String) {
        self.violations.push(Violation {
            invariant,
            tick: self.now,
            detail,
        });
    }

    /// The highest index applied anywhere.
    pub fn commit_index(&self) -> Index {
        self.committed.len() as Index
    }

    /// The index of the last write (not a no-op) applied anywhere, 0 if none.
    pub fn last_write_index(&self) -> Index {
        self.committed
            .iter()
            .rposition(|c| c.data != 0)
            .map_or(0, |i| i as Index + 1)
    }

    /// The chain hash of the committed log up to `index`, if it is that long.
    pub fn chain_at(&self, index: Index) -> Option<u64> {
        match index {
            0 => Some(0),
            i => self.committed.get(i as usize - 1).map(|c| c.chain),
        }
    }

    /// Election safety, and on a node's first sighting as leader of `term`,
    /// leader completeness against its disk.
    pub fn saw_leader(&mut self, id: NodeId, term: Term, disk: &Disk) {
        match self.leaders.get(&term) {
            Some(&other) if other == id => {}
            Some(&other) => {
                self.violate(
                    Invariant::ElectionSafety,
                    format!("n{id} and n{other} both lead term {term}"),
                );
            }
            None => {
                self.leaders.insert(term, id);
                let snap = disk.snapshot_meta().index;
                for (i, c) in self.committed.iter().enumerate() {
                    let index = i as Index + 1;
                    if index <= snap {
                        continue;
                    }
                    if disk.term(index) != Some(c.term) {
                        self.violate(
                            Invariant::LeaderCompleteness,
                            format!(
                                "n{id} leads term {term} but holds {:?} at committed index {index} (term {})",
                                disk.term(index),
                                c.term
                            ),
                        );
                        break;
                    }
                }
            }
        }
    }

    /// Log matching for entries a node just persisted.
    pub fn persisted(&mut self, id: NodeId, entries: &[Entry], disk: &Disk) {
        for e in entries {
            let Some(prev_term) = disk.term(e.index - 1) else {
                continue;
            };
            let Some(held) = disk.entry(e.index) else {
                continue;
            };
            let now = (data_id(held), prev_term);
            match self.entries.get(&(e.index, held.term)) {
                Some(&seen) if seen != now => {
                    self.violate(
                        Invariant::LogMatching,
                        format!(
                            "n{id} holds index {} term {} as (data {}, prev term {}) but another log has (data {}, prev term {})",
                            e.index, held.term, now.0, now.1, seen.0, seen.1
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    self.entries.insert((e.index, held.term), now);
                }
            }
        }
    }

    /// State machine safety for one applied entry; returns its chain hash.
    pub fn applied(&mut self, id: NodeId, e: &Entry, prev_chain: u64) -> u64 {
        let data = data_id(e);
        let h = chain(prev_chain, e.term, data);
        let i = e.index as usize;
        if i <= self.committed.len() {
            let c = self.committed[i - 1];
            if c.term != e.term || c.data != data || c.chain != h {
                self.violate(
                    Invariant::StateMachineSafety,
                    format!(
                        "n{id} applied index {} as (term {}, data {data}) but it was committed as (term {}, data {})",
                        e.index, e.term, c.term, c.data
                    ),
                );
            }
        } else if i == self.committed.len() + 1 {
            self.committed.push(Committed {
                term: e.term,
                data,
                chain: h,
            });
        } else {
            self.violate(
                Invariant::StateMachineSafety,
                format!(
                    "n{id} applied index {} past the committed log end {}",
                    e.index,
                    self.committed.len()
                ),
            );
        }
        h
    }

    /// State machine safety for a state restored from a snapshot at `index`.
    pub fn restored(&mut self, id: NodeId, index: Index, chain: u64) {
        if index == 0 {
            return;
        }
        match self.committed.get(index as usize - 1) {
            Some(c) if c.chain == chain => {}
            Some(_) => self.violate(
                Invariant::StateMachineSafety,
                format!("n{id} restored a snapshot at {index} that differs from the committed log"),
            ),
            None => self.violate(
                Invariant::StateMachineSafety,
                format!("n{id} restored a snapshot at {index} past the committed log end"),
            ),
        }
    }
}
