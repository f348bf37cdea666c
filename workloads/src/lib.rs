//! Named faultline workloads: what operations clients issue and which
//! checkers judge the resulting history.
//!
//! A workload is one small [`Workload`] implementation in its own file:
//!
//! - [`Workload::next_op`] draws the next typed [`Op`] of one client from
//!   that client's [`Generator`] (its seeded random stream and unique counter);
//! - [`Workload::complete`] reads a system's [`Reply`] in the workload's terms
//!   (a list read of a key never written is the empty list, for instance);
//! - [`Workload::checkers`] names the checkers that judge its history
//!   (Jepsen's `checker/compose`: the harness registers checkers by name
//!   and adds the ones every run gets), and [`Workload::final_reads`] what
//!   the final phase reads after the faults heal.
//!
//! Workloads know nothing of any system's protocol: each system under test
//! turns an [`Op`] into its own request and its answer into a [`Reply`].
//!
//! ```
//! use faultline_workloads::{by_name, Func, Generator};
//!
//! let workload = by_name("register").unwrap();
//! let mut gen = Generator::new(7, 0, 4);
//! let op = workload.next_op(&mut gen);
//! assert!(matches!(op.f, Func::Read | Func::Write | Func::Cas));
//! ```

pub mod list_append;
pub mod register;
pub mod set;
pub mod txn;
pub mod txn_list_append;
pub mod txn_rw_register;
pub mod watch;

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The function of a client operation; serialized as its lowercase name
/// (`"read"`, `"cas"`, ...), the `f` of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Func {
    /// Reads a key's whole value: a register's value, or a list or set.
    Read,
    /// Overwrites a register with the operation's value.
    Write,
    /// Compare-and-set: the value is `[from, to]`.
    Cas,
    /// Adds the value, a unique element, to a set.
    Add,
    /// Appends the value, a unique element, to a list.
    Append,
    /// Asks for the value back, unchanged (Maelstrom's `echo`).
    Echo,
    /// Asks for an id no other operation gets (Maelstrom's `unique-ids`).
    Generate,
    /// Spreads the value, a unique message, to every node (Maelstrom's
    /// `broadcast`).
    Broadcast,
    /// A transaction: no key; the value is its micro-operations
    /// `[f, key, value]`, applied atomically (see [`txn`]).
    Txn,
    /// Follows the changes of every key under the operation's key (a
    /// prefix) from the revision its value names, for a bounded window;
    /// completes with the events seen (see [`watch`]). Changes nothing.
    Watch,
}

impl Func {
    /// Every function, in declaration order.
    pub const ALL: [Func; 10] = [
        Func::Read,
        Func::Write,
        Func::Cas,
        Func::Add,
        Func::Append,
        Func::Echo,
        Func::Generate,
        Func::Broadcast,
        Func::Txn,
        Func::Watch,
    ];

    /// The history's name of the function.
    pub fn name(self) -> &'static str {
        match self {
            Func::Read => "read",
            Func::Write => "write",
            Func::Cas => "cas",
            Func::Add => "add",
            Func::Append => "append",
            Func::Echo => "echo",
            Func::Generate => "generate",
            Func::Broadcast => "broadcast",
            Func::Txn => "txn",
            Func::Watch => "watch",
        }
    }

    /// Whether the operation changes nothing (so a failure to send it, or
    /// an unknown outcome, cannot have taken effect). A transaction may
    /// write, so it never counts as a read; a watch only follows changes.
    pub fn is_read(self) -> bool {
        matches!(self, Func::Read | Func::Echo | Func::Watch)
    }

    /// The reply of a system (`--system` name) that has no such operation:
    /// a definite failure, since nothing was sent.
    pub fn unsupported(self, system: &str) -> Reply {
        Reply::Fail(format!("--system {system} has no {self} operation"))
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Func {
    type Err = UnknownFunc;

    fn from_str(s: &str) -> Result<Func, UnknownFunc> {
        Func::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFunc(s.to_string()))
    }
}

/// A function name no workload issues.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation function {0:?}")]
pub struct UnknownFunc(pub String);

/// One client operation, as recorded in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// The function: what the operation does.
    pub f: Func,
    /// The independent object it acts on (None: the system's single object).
    pub key: Option<String>,
    /// The invocation's value (docs/history.md: `null` for reads, `[from, to]`
    /// for cas, the element for add and append, the micro-operations of a
    /// transaction).
    pub value: Value,
}

impl Op {
    /// An operation on `key`.
    pub fn new(f: Func, key: impl Into<String>, value: Value) -> Op {
        Op {
            f,
            key: Some(key.into()),
            value,
        }
    }

    /// The key, or `register` for an operation without one (how every
    /// system names the single object).
    pub fn key_or_default(&self) -> &str {
        self.key.as_deref().unwrap_or("register")
    }

    /// A transaction of `mops` (no key).
    pub fn txn(mops: &[txn::Mop]) -> Op {
        Op {
            f: Func::Txn,
            key: None,
            value: txn::to_value(mops),
        }
    }

    /// The keys the operation acts on: its key, or a transaction's keys in
    /// the order of its micro-operations (repeats kept).
    pub fn keys(&self) -> Vec<String> {
        match (&self.key, self.f) {
            (Some(k), _) => vec![k.clone()],
            (None, Func::Txn) => txn::parse(&self.value)
                .map(|mops| mops.into_iter().map(|m| m.key).collect())
                .unwrap_or_default(),
            (None, _) => Vec::new(),
        }
    }

    /// A cas operation's expected and new values.
    pub fn cas_values(&self) -> (&Value, &Value) {
        (&self.value[0], &self.value[1])
    }
}

/// How an operation completed, as a system reads its answer (Jepsen's
/// `:ok` / `:fail` / `:info`).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// It took effect; the completion's value (what it observed: for a read
    /// the value, `null` for a key never written; for the others the
    /// operation's own value).
    Ok(Value),
    /// It certainly did not take effect; why.
    Fail(String),
    /// Unknown outcome (it may or may not have taken effect); why.
    Info(String),
}

/// The per-client source of operations: a seeded random stream of its own
/// (so one client's timing never perturbs another's choices) and a counter
/// that makes elements unique across clients.
#[derive(Debug, Clone)]
pub struct Generator {
    /// The client's random stream.
    pub rng: ChaCha8Rng,
    /// Where the client continues a stream it follows: the watch
    /// workload's next revision to watch from (0 until a workload sets it,
    /// in [`Workload::observe`]).
    pub cursor: u64,
    slot: u64,
    slots: u64,
    issued: u64,
    seen: Vec<(String, Value)>,
}

/// How many keys a [`Generator`] remembers a value of (the most recent).
const SEEN_KEYS: usize = 16;

impl Generator {
    /// The generator of client `slot` of `slots`, for a run with `seed`.
    pub fn new(seed: u64, slot: usize, slots: usize) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // One stream per client: the stream number keeps clients apart.
        rng.set_stream(1_000 + slot as u64);
        Generator {
            rng,
            cursor: 0,
            slot: slot as u64,
            slots: slots.max(1) as u64,
            issued: 0,
            seen: Vec::new(),
        }
    }

    /// The client's slot, 0-based (of [`Generator::slots`]).
    pub fn slot(&self) -> u64 {
        self.slot
    }

    /// How many clients the run has (at least 1).
    pub fn slots(&self) -> u64 {
        self.slots
    }

    /// Operations this client has drawn so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// A value no other client of the run ever draws (and this one only once).
    pub fn unique(&mut self) -> u64 {
        let v = self.issued * self.slots + self.slot;
        self.issued += 1;
        v
    }

    /// Counts one operation without drawing a unique value.
    pub fn count(&mut self) -> u64 {
        let n = self.issued;
        self.issued += 1;
        n
    }

    /// Remembers that this client saw `value` under `key` (a read, its own
    /// write, its own cas that took effect), for a workload whose next
    /// operation depends on it (register's cas expects it). Only the
    /// [`SEEN_KEYS`] most recent keys are kept.
    pub fn saw(&mut self, key: &str, value: Value) {
        self.forget(key);
        if self.seen.len() == SEEN_KEYS {
            self.seen.remove(0);
        }
        self.seen.push((key.to_string(), value));
    }

    /// Forgets what this client saw under `key` (its last operation there
    /// had an outcome it cannot know, or found another value).
    pub fn forget(&mut self, key: &str) {
        self.seen.retain(|(k, _)| k != key);
    }

    /// The last value this client saw under `key`, if it still knows one.
    pub fn last_seen(&self, key: &str) -> Option<&Value> {
        self.seen.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A key of a rotating window: after `ops_per_window` operations of this
    /// client it moves on to a fresh group of `keys` keys, so that every key
    /// sees a bounded number of operations (the checker's cost grows fast
    /// with the operations of one key). All clients move at about the same
    /// pace, so they share keys while they are in the same window.
    pub fn windowed_key(&mut self, prefix: &str, keys: u64, ops_per_window: u64) -> String {
        let window = self.issued / ops_per_window.max(1);
        let k = self.rng.gen_range(0..keys.max(1));
        format!("{prefix}{}", window * keys + k)
    }
}

/// A named workload: its operations, how it reads their completions, the
/// checkers that judge its history.
pub trait Workload: Send + Sync {
    /// The name `--workload` takes.
    fn name(&self) -> &'static str;
    /// One line of help.
    fn description(&self) -> &'static str;
    /// The checkers that judge its history, by the names the harness
    /// registers them under (`faultline list checkers`); every run adds
    /// its own (operation stats, node logs).
    fn checkers(&self) -> &'static [&'static str];
    /// The system (`--system` name) whose protocol its operations are
    /// defined by (Maelstrom's workloads), or None for a workload any
    /// system that maps its functions can run.
    fn system(&self) -> Option<&'static str> {
        None
    }
    /// The next operation of the client owning `gen`.
    fn next_op(&self, gen: &mut Generator) -> Op;
    /// The completion of `op` in the workload's terms, from what the system
    /// replied. The default keeps the reply as it is.
    fn complete(&self, op: &Op, reply: Reply) -> Reply {
        let _ = op;
        reply
    }
    /// Tells the workload how `op`, the last operation of the client
    /// owning `gen`, completed (`completion`: what the history records),
    /// before that client draws its next one: a watcher continues after
    /// the last revision it saw. The default: nothing.
    fn observe(&self, gen: &mut Generator, op: &Op, completion: &Reply) {
        let _ = (gen, op, completion);
    }
    /// Whether a write's `ok` completion should carry the revision the
    /// system assigned it, `{"value": v, "revision": r}`, from systems that
    /// tell it (docs/history.md, "Watches"). The default: no, a write
    /// completes with its value.
    fn write_revisions(&self) -> bool {
        false
    }
    /// The reads of the final phase, after faults heal, for the keys the run
    /// used (sorted). `nodes` is the cluster size: a workload may read each
    /// key through every node.
    fn final_reads(&self, keys: &[String], nodes: usize) -> Vec<FinalRead>;
}

/// One read of the final phase.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalRead {
    /// The read to perform.
    pub op: Op,
    /// The node (0-based) to send it to; None: any.
    pub node: Option<usize>,
}

/// Every workload, in the order `faultline list` shows them.
pub fn all() -> Vec<Box<dyn Workload>> {
    vec![
        Box::new(register::Register),
        Box::new(set::Set),
        Box::new(list_append::ListAppend),
        Box::new(txn_list_append::TxnListAppend::default()),
        Box::new(txn_rw_register::TxnRwRegister::default()),
        Box::new(watch::Watch),
    ]
}

/// The workload named `name`.
pub fn by_name(name: &str) -> Result<Box<dyn Workload>, UnknownWorkload> {
    all()
        .into_iter()
        .find(|w| w.name() == name)
        .ok_or_else(|| UnknownWorkload {
            name: name.to_string(),
        })
}

/// A workload name nobody knows.
#[derive(Debug, thiserror::Error)]
#[error("unknown workload {name:?}; known workloads: {}", names().join(", "))]
pub struct UnknownWorkload {
    /// The name given, which no workload has.
    pub name: String,
}

/// The names of every workload.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|w| w.name()).collect()
}

/// A read of a key holding a list or a set: `null` (never written) is the
/// empty list; anything but a list is an answer nobody can judge.
pub(crate) fn list_completion(op: &Op, reply: Reply) -> Reply {
    match (op.f, reply) {
        (Func::Read, Reply::Ok(Value::Null)) => Reply::Ok(Value::Array(Vec::new())),
        (Func::Read, Reply::Ok(Value::Array(items))) => Reply::Ok(Value::Array(items)),
        (Func::Read, Reply::Ok(other)) => {
            Reply::Info(format!("read returned a non-list value {other}"))
        }
        (_, reply) => reply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_seeded_per_client_and_uniques_never_collide() {
        let mut a = Generator::new(1, 0, 3);
        let mut b = Generator::new(1, 1, 3);
        let mut a2 = Generator::new(1, 0, 3);
        let xs: Vec<u64> = (0..50).map(|_| a.rng.gen()).collect();
        let ys: Vec<u64> = (0..50).map(|_| b.rng.gen()).collect();
        let xs2: Vec<u64> = (0..50).map(|_| a2.rng.gen()).collect();
        assert_eq!(xs, xs2);
        assert_ne!(xs, ys);
        let mut seen = std::collections::HashSet::new();
        for slot in 0..3 {
            let mut g = Generator::new(9, slot, 3);
            for _ in 0..100 {
                assert!(seen.insert(g.unique()));
            }
        }
    }

    #[test]
    fn every_workload_is_found_by_name_and_unknown_names_list_the_known() {
        for w in all() {
            assert_eq!(by_name(w.name()).unwrap().name(), w.name());
        }
        let err = by_name("bank").err().unwrap().to_string();
        assert!(
            err.contains("register, set, list-append, txn-list-append, txn-rw-register, watch"),
            "{err}"
        );
    }

    #[test]
    fn functions_serialize_as_their_history_names() {
        for f in Func::ALL {
            assert_eq!(
                serde_json::to_value(f).unwrap(),
                Value::String(f.name().into())
            );
            assert_eq!(f.name().parse::<Func>().unwrap(), f);
            assert_eq!(f.to_string(), f.name());
        }
        assert!("bank".parse::<Func>().is_err());
    }

    #[test]
    fn list_reads_of_keys_never_written_are_empty() {
        let read = Op::new(Func::Read, "l0", Value::Null);
        assert_eq!(
            list_completion(&read, Reply::Ok(Value::Null)),
            Reply::Ok(serde_json::json!([]))
        );
        assert!(matches!(
            list_completion(&read, Reply::Ok(serde_json::json!(3))),
            Reply::Info(_)
        ));
        let add = Op::new(Func::Add, "set", serde_json::json!(4));
        assert_eq!(
            list_completion(&add, Reply::Ok(serde_json::json!(4))),
            Reply::Ok(serde_json::json!(4))
        );
    }

    #[test]
    fn an_operation_names_its_key_and_a_transaction_the_keys_of_its_micro_operations() {
        assert_eq!(Op::new(Func::Read, "a", Value::Null).keys(), ["a"]);
        let t = Op::txn(
            &txn::parse(&serde_json::json!([
                ["append", "x", 1],
                ["r", "y", null],
                ["r", "x", null]
            ]))
            .unwrap(),
        );
        assert_eq!(t.key, None);
        assert_eq!(t.keys(), ["x", "y", "x"]);
        assert!(Op {
            f: Func::Echo,
            key: None,
            value: Value::Null
        }
        .keys()
        .is_empty());
    }

    #[test]
    fn a_generator_remembers_the_last_value_of_its_most_recent_keys() {
        let mut g = Generator::new(1, 0, 1);
        for k in 0..=SEEN_KEYS {
            g.saw(&format!("k{k}"), serde_json::json!(k));
        }
        assert_eq!(g.last_seen("k0"), None, "the oldest key is forgotten");
        assert_eq!(g.last_seen("k1"), Some(&serde_json::json!(1)));
        g.saw("k1", serde_json::json!(99));
        assert_eq!(g.last_seen("k1"), Some(&serde_json::json!(99)));
        g.forget("k1");
        assert_eq!(g.last_seen("k1"), None);
    }

    #[test]
    fn windowed_keys_move_on_after_the_window() {
        let mut g = Generator::new(3, 0, 1);
        let first = g.windowed_key("k", 2, 10);
        assert!(first == "k0" || first == "k1", "{first}");
        for _ in 0..10 {
            g.count();
        }
        let later = g.windowed_key("k", 2, 10);
        assert!(later == "k2" || later == "k3", "{later}");
    }
}
