//! Maelstrom's workloads, through the shared [`faultline_workloads::Workload`]:
//! the operations clients draw, the final reads after the faults heal, and
//! the checkers (in [`super::checkers`]) that judge them. Their requests
//! and replies are Maelstrom's protocol, which the Maelstrom system's
//! clients speak ([`super::client`]).
//!
//! | workload | history functions | checker |
//! |---|---|---|
//! | `echo` | `echo` | every reply echoes what was sent |
//! | `unique-ids` | `generate` | no id handed out twice |
//! | `broadcast` | `broadcast`, `read` | final reads of every node hold every acknowledged message |
//! | `g-set` | `add`, `read` | final reads of every node hold every acknowledged element |
//! | `g-counter`, `pn-counter` | `add`, `read` | final reads between the acknowledged sum and it plus the indefinite adds |
//! | `lin-kv` | `read`, `write`, `cas` | linearizability, a cas register per key |
//! | `txn-list-append` | `txn` (`r`, `append`) | Elle's list-append, against `--consistency-models` |
//! | `txn-rw-register` | `txn` (`r`, `w`) | Elle's rw-register, against `--consistency-models` |
//!
//! The two transactional workloads share their names with faultline's own
//! (`faultline_workloads::txn_list_append`, which any system mapping `txn`
//! runs); in the registry, and so for `faultline run --workload` and in
//! `test.json`, Maelstrom's are `maelstrom-txn-list-append` and
//! `maelstrom-txn-rw-register` ([`Workload::run_name`]). `faultline
//! maelstrom test -w` takes Maelstrom's names ([`Workload::name`]).

use std::sync::Arc;

use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};

use faultline_workloads::{FinalRead, Func, Generator, Op};

/// Maelstrom workloads faultline does not run yet.
pub const UNSUPPORTED: [&str; 1] = ["kafka"];

/// Keys of the lin-kv workload in use at a time.
const KV_KEYS: u64 = 5;
/// lin-kv operations of one client before it moves to fresh keys: long
/// enough that a key outlives a crash and recovery (a node that forgets
/// is read back), short enough to bound the checker's work per key.
const KV_OPS_PER_WINDOW: u64 = 250;
/// lin-kv values are drawn from 0..KV_VALUES, so cas sometimes matches.
const KV_VALUES: u64 = 5;
/// Share of reads in the broadcast, g-set and counter workloads.
const READS: f64 = 0.3;
/// Keys the transactional workloads use at a time (Elle's generator with
/// uniformly drawn keys uses 3).
const TXN_KEYS: u64 = 3;
/// The most micro-operations of one transaction (Maelstrom's
/// `--max-txn-length` default); each has 1 to this many.
const TXN_MAX_LENGTH: usize = 4;
/// Micro-operations one client draws before it moves to fresh keys. At
/// Maelstrom's default concurrency (5 clients) and half of them writes, a
/// key gets about 5 × 20 / 2 / 3 ≈ 16 writes, Maelstrom's
/// `--max-writes-per-key` default, before the clients move on.
const TXN_MOPS_PER_WINDOW: u64 = 20;
/// The chance that a micro-operation is a read (Elle's generators draw
/// reads and writes alike).
const TXN_READS: f64 = 0.5;

/// A Maelstrom workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// `echo`: nodes echo what they get.
    Echo,
    /// `unique-ids`: nodes hand out ids unique across the cluster.
    UniqueIds,
    /// `broadcast`: nodes gossip messages to every other node.
    Broadcast,
    /// `g-set`: a grow-only set.
    GSet,
    /// `g-counter`: a grow-only counter.
    GCounter,
    /// `pn-counter`: a counter with increments and decrements.
    PnCounter,
    /// `lin-kv`: a linearizable key-value store.
    LinKv,
    /// `txn-list-append`: transactions of appends to and reads of lists.
    TxnListAppend,
    /// `txn-rw-register`: transactions of writes to and reads of registers.
    TxnRwRegister,
}

impl Workload {
    /// Every supported workload.
    pub const ALL: [Workload; 9] = [
        Workload::Echo,
        Workload::UniqueIds,
        Workload::Broadcast,
        Workload::GSet,
        Workload::GCounter,
        Workload::PnCounter,
        Workload::LinKv,
        Workload::TxnListAppend,
        Workload::TxnRwRegister,
    ];

    /// Every supported workload, as the shared trait objects the registry
    /// lists.
    pub fn all() -> Vec<Arc<dyn faultline_workloads::Workload>> {
        Workload::ALL
            .into_iter()
            .map(|w| Arc::new(w) as Arc<dyn faultline_workloads::Workload>)
            .collect()
    }

    /// Its name in Maelstrom, as `faultline maelstrom test -w` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Echo => "echo",
            Workload::UniqueIds => "unique-ids",
            Workload::Broadcast => "broadcast",
            Workload::GSet => "g-set",
            Workload::GCounter => "g-counter",
            Workload::PnCounter => "pn-counter",
            Workload::LinKv => "lin-kv",
            Workload::TxnListAppend => "txn-list-append",
            Workload::TxnRwRegister => "txn-rw-register",
        }
    }

    /// Its name in the registry, as `faultline run --workload` takes it and
    /// `test.json` records it: Maelstrom's, but for the transactional
    /// workloads, whose Maelstrom names are faultline's own workloads'.
    pub fn run_name(self) -> &'static str {
        match self {
            Workload::TxnListAppend => "maelstrom-txn-list-append",
            Workload::TxnRwRegister => "maelstrom-txn-rw-register",
            other => other.name(),
        }
    }

    /// Whether it is one of the transactional workloads.
    pub fn is_txn(self) -> bool {
        matches!(self, Workload::TxnListAppend | Workload::TxnRwRegister)
    }

    /// One line of help: what clients do, what the checker demands.
    pub fn description(self) -> &'static str {
        match self {
            Workload::Echo => "echo messages; every reply echoes what was sent",
            Workload::UniqueIds => "generate ids; none handed out twice",
            Workload::Broadcast => {
                "broadcast integers over a topology, read them; every acknowledged one in every node's final read"
            }
            Workload::GSet => "add elements, read the set; every acknowledged one in every node's final read",
            Workload::GCounter => {
                "add non-negative deltas, read; final reads between the acknowledged sum and it plus the indefinite adds"
            }
            Workload::PnCounter => "add deltas of either sign, read; final reads within the sums the indefinite adds allow",
            Workload::LinKv => "read / write / cas on integer keys; linearizability (register model per key)",
            Workload::TxnListAppend => {
                "Maelstrom's txn-list-append: txn messages of 1-4 appends and reads over 3 rotating integer keys; Elle's list-append against --consistency-models (strict-serializable)"
            }
            Workload::TxnRwRegister => {
                "Maelstrom's txn-rw-register: txn messages of 1-4 writes and reads over 3 rotating integer keys; Elle's rw-register against --consistency-models (strict-serializable)"
            }
        }
    }

    /// The workload named `name` (its Maelstrom or its registry name);
    /// unsupported Maelstrom workloads and unknown names get a message
    /// saying which are supported.
    pub fn parse(name: &str) -> Result<Workload, String> {
        let known = Workload::ALL.map(Workload::name).join(", ");
        if let Some(w) = Workload::ALL
            .into_iter()
            .find(|w| w.name() == name || w.run_name() == name)
        {
            return Ok(w);
        }
        if UNSUPPORTED.contains(&name) {
            return Err(format!(
                "the Maelstrom workload {name:?} is not supported yet; supported: {known}"
            ));
        }
        Err(format!(
            "unknown Maelstrom workload {name:?}; supported: {known}"
        ))
    }

    /// Whether nodes get a `topology` after `init`.
    pub fn needs_topology(self) -> bool {
        self == Workload::Broadcast
    }

    /// Whether the run ends with a read through every node (not the
    /// transactional workloads: Maelstrom's have no final phase, and their
    /// checker judges every transaction as it came).
    pub fn has_final_reads(self) -> bool {
        matches!(
            self,
            Workload::Broadcast | Workload::GSet | Workload::GCounter | Workload::PnCounter
        )
    }

    /// The next add or broadcast (or, now and then, a read) of the grow-only
    /// workloads.
    fn next_growth(self, gen: &mut Generator) -> Op {
        if gen.rng.gen_bool(READS) {
            gen.count();
            return read(None);
        }
        match self {
            Workload::Broadcast => op(Func::Broadcast, None, json!(gen.unique())),
            Workload::GSet => op(Func::Add, None, json!(gen.unique())),
            _ => {
                gen.count();
                let delta: i64 = if self == Workload::PnCounter {
                    gen.rng.gen_range(-5..=5)
                } else {
                    gen.rng.gen_range(0..=5)
                };
                op(Func::Add, None, json!(delta))
            }
        }
    }

    /// The next lin-kv operation: read, write or cas of a key of the window.
    fn next_kv(gen: &mut Generator) -> Op {
        let key = Some(gen.windowed_key("", KV_KEYS, KV_OPS_PER_WINDOW));
        gen.count();
        let roll: f64 = gen.rng.gen();
        if roll < 0.5 {
            read(key)
        } else if roll < 0.8 {
            op(Func::Write, key, json!(gen.rng.gen_range(0..KV_VALUES)))
        } else {
            let from = gen.rng.gen_range(0..KV_VALUES);
            let to = gen.rng.gen_range(0..KV_VALUES);
            op(Func::Cas, key, json!([from, to]))
        }
    }

    /// The next transaction, as Maelstrom's txn workloads draw them: 1 to
    /// [`TXN_MAX_LENGTH`] micro-operations `[f, key, value]` over the
    /// current window of [`TXN_KEYS`] integer keys, each a read (`["r", k,
    /// null]`) or, as often, an append (list-append) or a write
    /// (rw-register) of a value no other micro-operation of the run
    /// writes. Every micro-operation counts one step toward the next window.
    fn next_txn(self, gen: &mut Generator) -> Op {
        let write = match self {
            Workload::TxnRwRegister => "w",
            _ => "append",
        };
        let n = gen.rng.gen_range(1..=TXN_MAX_LENGTH);
        // Every key first: one transaction stays in one window.
        let keys: Vec<u64> = (0..n)
            .map(|_| {
                gen.windowed_key("", TXN_KEYS, TXN_MOPS_PER_WINDOW)
                    .parse()
                    .expect("a key without prefix is a number")
            })
            .collect();
        let mops: Vec<Value> = keys
            .into_iter()
            .map(|key| {
                if gen.rng.gen_bool(TXN_READS) {
                    gen.count();
                    json!(["r", key, null])
                } else {
                    json!([write, key, gen.unique()])
                }
            })
            .collect();
        op(Func::Txn, None, Value::Array(mops))
    }
}

impl faultline_workloads::Workload for Workload {
    fn name(&self) -> &'static str {
        self.run_name()
    }

    fn description(&self) -> &'static str {
        Workload::description(*self)
    }

    fn checkers(&self) -> &'static [&'static str] {
        // Each workload's own, then Maelstrom's availability, as
        // Maelstrom composes them.
        match self {
            Workload::Echo => &["echo", "availability"],
            Workload::UniqueIds => &["unique-ids", "availability"],
            Workload::Broadcast => &["broadcast", "availability"],
            Workload::GSet => &["g-set", "availability"],
            Workload::GCounter => &["g-counter", "availability"],
            Workload::PnCounter => &["pn-counter", "availability"],
            Workload::LinKv => &["lin-kv", "availability"],
            Workload::TxnListAppend => &[super::checkers::txn::LIST_APPEND_NAME, "availability"],
            Workload::TxnRwRegister => &[super::checkers::txn::RW_REGISTER_NAME, "availability"],
        }
    }

    fn system(&self) -> Option<&'static str> {
        Some(super::SYSTEM_NAME)
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        match self {
            Workload::Echo => {
                let n = gen.count();
                op(Func::Echo, None, json!(format!("Please echo {n}")))
            }
            Workload::UniqueIds => {
                gen.count();
                op(Func::Generate, None, Value::Null)
            }
            Workload::LinKv => Workload::next_kv(gen),
            txn if txn.is_txn() => txn.next_txn(gen),
            grows => grows.next_growth(gen),
        }
    }

    /// One read through every node, for the workloads judged by final reads.
    fn final_reads(&self, _keys: &[String], nodes: usize) -> Vec<FinalRead> {
        if !self.has_final_reads() {
            return Vec::new();
        }
        (0..nodes)
            .map(|n| FinalRead {
                op: read(None),
                node: Some(n),
            })
            .collect()
    }
}

/// An operation with or without a key.
fn op(f: Func, key: Option<String>, value: Value) -> Op {
    Op { f, key, value }
}

/// A read (of `key`, or of the node's whole state).
fn read(key: Option<String>) -> Op {
    op(Func::Read, key, Value::Null)
}

/// The topology Maelstrom's `--topology` names, over node ids `ids`.
pub fn topology(
    name: &str,
    ids: &[String],
) -> Result<std::collections::BTreeMap<String, Vec<String>>, String> {
    let n = ids.len();
    let mut t: std::collections::BTreeMap<String, Vec<String>> =
        ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    let mut link = |a: usize, b: usize| {
        if a != b {
            t.get_mut(&ids[a]).expect("every id").push(ids[b].clone());
            t.get_mut(&ids[b]).expect("every id").push(ids[a].clone());
        }
    };
    match name {
        "line" => (1..n).for_each(|i| link(i - 1, i)),
        "total" => {
            for a in 0..n {
                for b in a + 1..n {
                    link(a, b);
                }
            }
        }
        "grid" => {
            let side = (n as f64).sqrt().ceil().max(1.0) as usize;
            for i in 0..n {
                if (i + 1) % side != 0 && i + 1 < n {
                    link(i, i + 1);
                }
                if i + side < n {
                    link(i, i + side);
                }
            }
        }
        "tree2" | "tree3" | "tree4" => {
            let k: usize = name[4..].parse().unwrap_or(2);
            (1..n).for_each(|i| link((i - 1) / k, i));
        }
        other => {
            return Err(format!(
                "unknown topology {other:?}; known: grid, line, total, tree2, tree3, tree4"
            ))
        }
    }
    for v in t.values_mut() {
        v.sort();
        v.dedup();
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_workloads::Workload as _;

    #[test]
    fn unsupported_workloads_are_named_as_such() {
        let e = Workload::parse("kafka").unwrap_err();
        assert!(
            e.contains("not supported yet") && e.contains("lin-kv"),
            "{e}"
        );
        assert!(Workload::parse("bank").unwrap_err().contains("unknown"));
        assert_eq!(Workload::parse("g-counter"), Ok(Workload::GCounter));
    }

    #[test]
    fn each_workload_draws_its_functions_and_reads_every_node_finally() {
        for w in Workload::ALL {
            let mut g = Generator::new(3, 0, 2);
            let fs: std::collections::BTreeSet<Func> =
                (0..200).map(|_| w.next_op(&mut g).f).collect();
            let want: &[Func] = match w {
                Workload::Echo => &[Func::Echo],
                Workload::UniqueIds => &[Func::Generate],
                Workload::Broadcast => &[Func::Read, Func::Broadcast],
                Workload::GSet | Workload::GCounter | Workload::PnCounter => {
                    &[Func::Read, Func::Add]
                }
                Workload::LinKv => &[Func::Read, Func::Write, Func::Cas],
                Workload::TxnListAppend | Workload::TxnRwRegister => &[Func::Txn],
            };
            assert_eq!(fs.into_iter().collect::<Vec<_>>(), want, "{}", w.name());
            let finals = w.final_reads(&[], 3);
            assert_eq!(finals.len(), if w.has_final_reads() { 3 } else { 0 });
            assert_eq!(w.system(), Some(crate::maelstrom::SYSTEM_NAME));
        }
    }

    #[test]
    fn transactions_are_maelstroms_over_few_rotating_integer_keys_with_unique_writes() {
        for (w, write) in [
            (Workload::TxnListAppend, "append"),
            (Workload::TxnRwRegister, "w"),
        ] {
            let mut written = std::collections::HashSet::new();
            let mut keys = std::collections::BTreeSet::new();
            let mut lengths = std::collections::BTreeSet::new();
            for slot in 0..3 {
                let mut g = Generator::new(5, slot, 3);
                for _ in 0..300 {
                    let op = w.next_op(&mut g);
                    assert_eq!((op.f, op.key.as_deref()), (Func::Txn, None));
                    let mops = op.value.as_array().unwrap();
                    lengths.insert(mops.len());
                    let window: std::collections::BTreeSet<u64> = mops
                        .iter()
                        .map(|m| m[1].as_u64().expect("integer keys") / TXN_KEYS)
                        .collect();
                    assert_eq!(window.len(), 1, "one window per transaction: {mops:?}");
                    for m in mops {
                        let key = m[1].as_u64().unwrap();
                        keys.insert(key);
                        match m[0].as_str().unwrap() {
                            "r" => assert!(m[2].is_null(), "{m}"),
                            f => {
                                assert_eq!(f, write);
                                assert!(written.insert((key, m[2].as_u64().unwrap())), "{m}");
                            }
                        }
                    }
                    assert_eq!(op.keys().len(), mops.len());
                }
            }
            assert_eq!(lengths.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4]);
            assert!(keys.len() > 10 * TXN_KEYS as usize, "keys rotate: {keys:?}");
            assert!(w.final_reads(&["1".into()], 3).is_empty());
            assert_eq!(Workload::parse(w.name()), Ok(w));
            assert_eq!(Workload::parse(w.run_name()), Ok(w));
            assert_ne!(w.name(), w.run_name());
            assert_eq!(faultline_workloads::Workload::name(&w), w.run_name());
        }
    }

    #[test]
    fn topologies_are_symmetric_and_connected() {
        let ids: Vec<String> = (0..5).map(|i| format!("n{i}")).collect();
        for name in ["grid", "line", "total", "tree2", "tree3"] {
            let t = topology(name, &ids).unwrap();
            for (a, ns) in &t {
                for b in ns {
                    assert!(t[b].contains(a), "{name}: {a} -> {b} one way");
                }
            }
            let mut seen = vec!["n0".to_string()];
            let mut i = 0;
            while i < seen.len() {
                for b in &t[&seen[i]] {
                    if !seen.contains(b) {
                        seen.push(b.clone());
                    }
                }
                i += 1;
            }
            assert_eq!(seen.len(), 5, "{name} is not connected");
        }
        assert!(topology("star", &ids).is_err());
    }
}
