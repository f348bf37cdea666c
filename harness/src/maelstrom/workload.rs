//! Maelstrom's workloads: the requests clients send, how a reply becomes a
//! completion in the history, and the final reads after the faults heal.
//! Their checkers are in [`super::check`].
//!
//! | workload | history functions | checker |
//! |---|---|---|
//! | `echo` | `echo` | every reply echoes what was sent |
//! | `unique-ids` | `generate` | no id handed out twice |
//! | `broadcast` | `broadcast`, `read` | final reads of every node hold every acknowledged message |
//! | `g-set` | `add`, `read` | final reads of every node hold every acknowledged element |
//! | `g-counter`, `pn-counter` | `add`, `read` | final reads between the acknowledged sum and it plus the indefinite adds |
//! | `lin-kv` | `read`, `write`, `cas` | linearizability, a cas register per key |

use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};

use faultline_workloads::Generator;

use super::protocol::{code, is_definite, Envelope};

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

    /// The next operation of the client owning `gen`.
    pub fn next_op(self, gen: &mut Generator) -> Op {
        match self {
            Workload::Echo => {
                let n = gen.count();
                let text = format!("Please echo {n}");
                Op::new(
                    "echo",
                    None,
                    json!(text),
                    json!({"type": "echo", "echo": text}),
                )
            }
            Workload::UniqueIds => {
                gen.count();
                Op::new("generate", None, Value::Null, json!({"type": "generate"}))
            }
            Workload::Broadcast => {
                if gen.rng.gen_bool(READS) {
                    gen.count();
                    Op::read()
                } else {
                    let m = gen.unique();
                    Op::new(
                        "broadcast",
                        None,
                        json!(m),
                        json!({"type": "broadcast", "message": m}),
                    )
                }
            }
            Workload::GSet => {
                if gen.rng.gen_bool(READS) {
                    gen.count();
                    Op::read()
                } else {
                    let e = gen.unique();
                    Op::new("add", None, json!(e), json!({"type": "add", "element": e}))
                }
            }
            Workload::GCounter | Workload::PnCounter => {
                gen.count();
                if gen.rng.gen_bool(READS) {
                    Op::read()
                } else {
                    let delta: i64 = if self == Workload::PnCounter {
                        gen.rng.gen_range(-5..=5)
                    } else {
                        gen.rng.gen_range(0..=5)
                    };
                    Op::new(
                        "add",
                        None,
                        json!(delta),
                        json!({"type": "add", "delta": delta}),
                    )
                }
            }
            Workload::LinKv => {
                let key = gen.windowed_key("", KV_KEYS, KV_OPS_PER_WINDOW);
                gen.count();
                let k: u64 = key.parse().unwrap_or(0);
                let roll: f64 = gen.rng.gen();
                if roll < 0.5 {
                    Op::new(
                        "read",
                        Some(key),
                        Value::Null,
                        json!({"type": "read", "key": k}),
                    )
                } else if roll < 0.8 {
                    let v = gen.rng.gen_range(0..KV_VALUES);
                    Op::new(
                        "write",
                        Some(key),
                        json!(v),
                        json!({"type": "write", "key": k, "value": v}),
                    )
                } else {
                    let from = gen.rng.gen_range(0..KV_VALUES);
                    let to = gen.rng.gen_range(0..KV_VALUES);
                    Op::new(
                        "cas",
                        Some(key),
                        json!([from, to]),
                        json!({"type": "cas", "key": k, "from": from, "to": to}),
                    )
                }
            }
        }
    }

    /// The read of the final phase (sent to every node).
    pub fn final_read(self) -> Option<Op> {
        self.has_final_reads().then(Op::read)
    }

    /// The completion of `op` from the node's `reply`.
    pub fn complete(self, op: &Op, reply: &Envelope) -> Completion {
        let body = &reply.body;
        if reply.kind() == "error" {
            let code = body.get("code").and_then(Value::as_u64).unwrap_or(u64::MAX);
            let text = body.get("text").and_then(Value::as_str).unwrap_or("");
            let why = format!("error {code}: {text}");
            if self == Workload::LinKv {
                match (op.f, code) {
                    ("read", code::KEY_DOES_NOT_EXIST) => return Completion::Ok(Value::Null),
                    // The register did not hold `from`: a mismatch observed.
                    ("cas", code::KEY_DOES_NOT_EXIST | code::PRECONDITION_FAILED) => {
                        return Completion::Fail(None)
                    }
                    _ => {}
                }
            }
            return if is_definite(code) {
                Completion::Fail(Some(why))
            } else {
                Completion::Info(why)
            };
        }
        let expected = format!("{}_ok", op.body["type"].as_str().unwrap_or(""));
        if reply.kind() != expected {
            return Completion::Info(format!(
                "expected {expected}, the node answered {}",
                reply.kind()
            ));
        }
        let field = |name: &str| body.get(name).cloned().unwrap_or(Value::Null);
        Completion::Ok(match (self, op.f) {
            (Workload::Echo, _) => field("echo"),
            (Workload::UniqueIds, _) => field("id"),
            (Workload::Broadcast, "read") => field("messages"),
            (Workload::GSet | Workload::GCounter | Workload::PnCounter, "read") => field("value"),
            (Workload::LinKv, "read") => field("value"),
            _ => op.value.clone(),
        })
    }
}

/// One client operation: its history form and its request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// The history's function.
    pub f: &'static str,
    /// The history's key (lin-kv), if any.
    pub key: Option<String>,
    /// The history's invocation value.
    pub value: Value,
    /// The request body (`msg_id` added when sent).
    pub body: Value,
}

impl Op {
    fn new(f: &'static str, key: Option<String>, value: Value, body: Value) -> Op {
        Op {
            f,
            key,
            value,
            body,
        }
    }

    fn read() -> Op {
        Op::new("read", None, Value::Null, json!({"type": "read"}))
    }
}

/// How an operation ended, read from the node's reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// It took effect; what it observed.
    Ok(Value),
    /// It certainly did not take effect; with an error when it observed
    /// nothing (None: a cas that saw another value).
    Fail(Option<String>),
    /// Unknown outcome; why.
    Info(String),
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

    fn reply(body: Value) -> Envelope {
        Envelope::new("n0", "c1", body)
    }

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
    fn lin_kv_errors_map_to_what_they_observed() {
        let cas = Op::new(
            "cas",
            Some("0".into()),
            json!([1, 2]),
            json!({"type": "cas"}),
        );
        let read = Op::new(
            "read",
            Some("0".into()),
            Value::Null,
            json!({"type": "read"}),
        );
        let w = Workload::LinKv;
        assert_eq!(
            w.complete(&cas, &reply(json!({"type":"error","code":22}))),
            Completion::Fail(None)
        );
        assert_eq!(
            w.complete(&read, &reply(json!({"type":"error","code":20}))),
            Completion::Ok(Value::Null)
        );
        assert!(matches!(
            w.complete(&cas, &reply(json!({"type":"error","code":11}))),
            Completion::Fail(Some(_))
        ));
        assert!(matches!(
            w.complete(&cas, &reply(json!({"type":"error","code":0}))),
            Completion::Info(_)
        ));
        assert_eq!(
            w.complete(&read, &reply(json!({"type":"read_ok","value":3}))),
            Completion::Ok(json!(3))
        );
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
