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

use std::sync::Arc;

use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};

use faultline_workloads::{FinalRead, Func, Generator, Op};

/// Maelstrom workloads faultline does not run yet.
pub const UNSUPPORTED: [&str; 3] = ["txn-list-append", "txn-rw-register", "kafka"];

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
}

impl Workload {
    /// Every supported workload.
    pub const ALL: [Workload; 7] = [
        Workload::Echo,
        Workload::UniqueIds,
        Workload::Broadcast,
        Workload::GSet,
        Workload::GCounter,
        Workload::PnCounter,
        Workload::LinKv,
    ];

    /// Every supported workload, as the shared trait objects the registry
    /// lists.
    pub fn all() -> Vec<Arc<dyn faultline_workloads::Workload>> {
        Workload::ALL
            .into_iter()
            .map(|w| Arc::new(w) as Arc<dyn faultline_workloads::Workload>)
            .collect()
    }

    /// Its name, as `-w` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Echo => "echo",
            Workload::UniqueIds => "unique-ids",
            Workload::Broadcast => "broadcast",
            Workload::GSet => "g-set",
            Workload::GCounter => "g-counter",
            Workload::PnCounter => "pn-counter",
            Workload::LinKv => "lin-kv",
        }
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
        }
    }

    /// The workload named `name`; unsupported Maelstrom workloads and
    /// unknown names get a message saying which are supported.
    pub fn parse(name: &str) -> Result<Workload, String> {
        let known = Workload::ALL.map(Workload::name).join(", ");
        if let Some(w) = Workload::ALL.into_iter().find(|w| w.name() == name) {
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

    /// Whether the run ends with a read through every node.
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
}

impl faultline_workloads::Workload for Workload {
    fn name(&self) -> &'static str {
        Workload::name(*self)
    }

    fn description(&self) -> &'static str {
        Workload::description(*self)
    }

    fn checkers(&self) -> &'static [&'static str] {
        match self {
            Workload::Echo => &["echo"],
            Workload::UniqueIds => &["unique-ids"],
            Workload::Broadcast => &["broadcast"],
            Workload::GSet => &["g-set"],
            Workload::GCounter => &["g-counter"],
            Workload::PnCounter => &["pn-counter"],
            Workload::LinKv => &["lin-kv"],
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
            };
            assert_eq!(fs.into_iter().collect::<Vec<_>>(), want, "{}", w.name());
            let finals = w.final_reads(&[], 3);
            assert_eq!(finals.len(), if w.has_final_reads() { 3 } else { 0 });
            assert_eq!(w.system(), Some(crate::maelstrom::SYSTEM_NAME));
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
