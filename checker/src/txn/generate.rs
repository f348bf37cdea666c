//! Seeded transactional histories, for benchmarks and property tests:
//! clients run transactions of appends (or writes) and reads over a
//! rotating set of keys against a simulated database that applies each
//! transaction atomically at its completion, so the history is strict
//! serializable; some transactions fail (not applied) or end `info`
//! (applied or not, at random). [`Plant::GSingle`] makes one read miss
//! the element appended just before it, a G-single-item cycle.
//!
//! The history is written as Jepsen EDN, one event a line, as it is made:
//! memory stays small whatever the length.
//!
//! ```
//! use faultline_checker::txn::generate::{write_edn, Plant, TxnShape};
//! use faultline_checker::txn::{check_text, TxnModel, TxnOptions};
//! use faultline_checker::Verdict;
//!
//! let shape = TxnShape { txns: 2_000, ..TxnShape::default() };
//! let mut text = Vec::new();
//! write_edn(&shape, 7, Plant::None, &mut text).unwrap();
//! let text = String::from_utf8(text).unwrap();
//! let r = check_text(&text, TxnModel::ListAppend, &TxnOptions::default()).unwrap();
//! assert_eq!(r.valid, Verdict::Valid);
//!
//! let mut text = Vec::new();
//! write_edn(&shape, 7, Plant::GSingle, &mut text).unwrap();
//! let r = check_text(&String::from_utf8(text).unwrap(), TxnModel::ListAppend, &TxnOptions::default()).unwrap();
//! assert_eq!(r.anomaly_types, vec!["G-single-item"]);
//! ```

use std::collections::HashMap;
use std::io::{self, Write};

use super::check::TxnModel;
use crate::generate::Rng;

/// The parameters of a generated history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnShape {
    /// Transactions to generate.
    pub txns: usize,
    /// Clients running at once.
    pub clients: usize,
    /// Keys in use at a time; a key retires after `writes_per_key` writes
    /// and a fresh one takes its place.
    pub keys: usize,
    /// Micro-operations per transaction: 1 to this many.
    pub max_mops: usize,
    /// Writes (appends) a key takes before it retires.
    pub writes_per_key: usize,
    /// Per mille of micro-operations that are reads.
    pub read_per_mille: u32,
    /// Per mille of transactions that fail (not applied).
    pub fail_per_mille: u32,
    /// Per mille of transactions that end `info` (applied or not).
    pub info_per_mille: u32,
    /// List-append or rw-register micro-operations.
    pub model: TxnModel,
}

impl Default for TxnShape {
    fn default() -> Self {
        TxnShape {
            txns: 10_000,
            clients: 50,
            keys: 1_000,
            max_mops: 4,
            writes_per_key: 32,
            read_per_mille: 500,
            fail_per_mille: 10,
            info_per_mille: 10,
            model: TxnModel::ListAppend,
        }
    }
}

/// An anomaly to plant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plant {
    /// None: the history is strict serializable.
    None,
    /// Once, halfway: a transaction reads a list and appends to it, and its
    /// read misses the last element (appended by another transaction), so
    /// the other precedes it (ww) and it precedes the other (rw).
    GSingle,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generated {
    /// Events written.
    pub events: u64,
    /// Transactions invoked.
    pub txns: u64,
    /// Index of the planted transaction's completion, if planted.
    pub planted: Option<u64>,
}

#[derive(Clone, Copy)]
enum Op {
    Write(u64, i64),
    Read(u64),
}

struct Db {
    lists: HashMap<u64, Vec<i64>>,
    registers: HashMap<u64, i64>,
}

struct Gen<'a> {
    shape: &'a TxnShape,
    rng: Rng,
    active: Vec<u64>,
    next_key: u64,
    writes: HashMap<u64, (usize, i64)>,
    out: &'a mut dyn Write,
    index: u64,
}

impl Gen<'_> {
    fn key(&mut self) -> u64 {
        let i = self.rng.below(self.active.len() as u64) as usize;
        self.active[i]
    }

    fn write_value(&mut self, k: u64) -> i64 {
        let limit = self.shape.writes_per_key;
        let entry = self.writes.entry(k).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += 1;
        let v = entry.1;
        if entry.0 >= limit {
            if let Some(slot) = self.active.iter().position(|&a| a == k) {
                self.active[slot] = self.next_key;
                self.next_key += 1;
            }
        }
        v
    }

    fn txn(&mut self) -> Vec<Op> {
        let n = 1 + self.rng.below(self.shape.max_mops as u64) as usize;
        (0..n)
            .map(|_| {
                let k = self.key();
                if self.rng.below(1000) < u64::from(self.shape.read_per_mille) {
                    Op::Read(k)
                } else {
                    Op::Write(k, self.write_value(k))
                }
            })
            .collect()
    }

    fn line(&mut self, kind: &str, process: u64, value: &str) -> io::Result<()> {
        writeln!(
            self.out,
            "{{:type :{kind}, :f :txn, :value {value}, :process {process}, :time {}, :index {}}}",
            self.index * 1000,
            self.index
        )?;
        self.index += 1;
        Ok(())
    }
}

fn render(model: TxnModel, ops: &[Op], reads: Option<&[String]>) -> String {
    let w = match model {
        TxnModel::ListAppend => "append",
        TxnModel::RwRegister => "w",
    };
    let mut s = String::from("[");
    let mut r = 0;
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        match *op {
            Op::Write(k, v) => s.push_str(&format!("[:{w} {k} {v}]")),
            Op::Read(k) => {
                let seen = reads.map_or("nil", |rs| rs[r].as_str());
                r += 1;
                s.push_str(&format!("[:r {k} {seen}]"));
            }
        }
    }
    s.push(']');
    s
}

impl Db {
    /// Applies a transaction; returns what each read saw, as EDN.
    fn apply(&mut self, model: TxnModel, ops: &[Op], apply: bool) -> Vec<String> {
        let mut reads = Vec::new();
        let mut local: HashMap<u64, Vec<i64>> = HashMap::new();
        let mut local_reg: HashMap<u64, i64> = HashMap::new();
        for op in ops {
            match (*op, model) {
                (Op::Write(k, v), TxnModel::ListAppend) => local
                    .entry(k)
                    .or_insert_with(|| self.lists.get(&k).cloned().unwrap_or_default())
                    .push(v),
                (Op::Write(k, v), TxnModel::RwRegister) => {
                    local_reg.insert(k, v);
                }
                (Op::Read(k), TxnModel::ListAppend) => {
                    let l = local.get(&k).or_else(|| self.lists.get(&k));
                    let items: Vec<String> = l
                        .map(|l| l.iter().map(|e| e.to_string()).collect())
                        .unwrap_or_default();
                    reads.push(format!("[{}]", items.join(" ")));
                }
                (Op::Read(k), TxnModel::RwRegister) => {
                    let v = local_reg.get(&k).or_else(|| self.registers.get(&k));
                    reads.push(v.map_or("nil".to_string(), |v| v.to_string()));
                }
            }
        }
        if apply {
            self.lists.extend(local);
            self.registers.extend(local_reg);
        }
        reads
    }
}

/// Writes a history of `shape` (seeded) to `out`.
pub fn write_edn(
    shape: &TxnShape,
    seed: u64,
    plant: Plant,
    out: &mut dyn Write,
) -> io::Result<Generated> {
    let mut g = Gen {
        shape,
        rng: Rng(seed),
        active: (0..shape.keys.max(1) as u64).collect(),
        next_key: shape.keys.max(1) as u64,
        writes: HashMap::new(),
        out,
        index: 0,
    };
    let mut db = Db {
        lists: HashMap::new(),
        registers: HashMap::new(),
    };
    let clients = shape.clients.max(1);
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut pending: Vec<Option<(Vec<Op>, bool)>> = vec![None; clients];
    let (mut invoked, mut open) = (0usize, 0usize);
    let mut planted = None;
    while invoked < shape.txns || open > 0 {
        let c = g.rng.below(clients as u64) as usize;
        match pending[c].take() {
            None if invoked < shape.txns => {
                let plant_here =
                    plant == Plant::GSingle && planted.is_none() && invoked >= shape.txns / 2;
                let ops = if plant_here {
                    match planted_txn(&mut g, &db) {
                        Some(ops) => ops,
                        None => g.txn(),
                    }
                } else {
                    g.txn()
                };
                let planting = plant_here
                    && matches!(ops.as_slice(), [Op::Read(_), Op::Write(..)])
                    && shape.model == TxnModel::ListAppend;
                g.line("invoke", process[c], &render(shape.model, &ops, None))?;
                pending[c] = Some((ops, planting));
                invoked += 1;
                open += 1;
            }
            None => {}
            Some((ops, planting)) => {
                open -= 1;
                let roll = g.rng.below(1000);
                let fail = !planting && roll < u64::from(shape.fail_per_mille);
                let info = !planting
                    && !fail
                    && roll < u64::from(shape.fail_per_mille + shape.info_per_mille);
                if fail {
                    g.line("fail", process[c], &render(shape.model, &ops, None))?;
                } else if info {
                    let applied = g.rng.below(2) == 0;
                    db.apply(shape.model, &ops, applied);
                    g.line("info", process[c], &render(shape.model, &ops, None))?;
                    process[c] += clients as u64;
                } else {
                    let mut reads = db.apply(shape.model, &ops, true);
                    if planting {
                        // Drop the last element the read saw.
                        let r = &mut reads[0];
                        if let Some(cut) = r.rfind(' ') {
                            *r = format!("{}]", &r[..cut]);
                        } else {
                            *r = "[]".into();
                        }
                        planted = Some(g.index);
                    }
                    g.line("ok", process[c], &render(shape.model, &ops, Some(&reads)))?;
                }
            }
        }
    }
    Ok(Generated {
        events: g.index,
        txns: invoked as u64,
        planted,
    })
}

/// A read of a key whose last element another transaction appended,
/// followed by an append to it; None when no key has an element yet.
fn planted_txn(g: &mut Gen<'_>, db: &Db) -> Option<Vec<Op>> {
    let k = g
        .active
        .iter()
        .copied()
        .find(|k| db.lists.get(k).is_some_and(|l| !l.is_empty()))?;
    let v = g.write_value(k);
    Some(vec![Op::Read(k), Op::Write(k, v)])
}
