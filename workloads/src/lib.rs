//! Named faultline workloads: what operations clients issue, how they map to a
//! system's API, and which checkers judge the resulting history.
//!
//! A workload is one small [`Workload`] implementation in its own file:
//!
//! - [`Workload::next_op`] draws the next operation of one client from that
//!   client's [`Generator`] (its seeded random stream and unique counter);
//! - [`Workload::request`] maps an operation to the node's HTTP API;
//! - [`Workload::reply`] turns a successful or refused HTTP answer into the
//!   operation's completion (errors with `{"error","definite"}` bodies, timeouts
//!   and connection failures are handled by the client, the same for every
//!   workload);
//! - [`Workload::model`] names the checker model, and
//!   [`Workload::final_reads`] what the final phase reads after the faults heal.
//!
//! ```
//! use faultline_workloads::{by_name, Generator};
//!
//! let workload = by_name("register").unwrap();
//! let mut gen = Generator::new(7, 0, 4);
//! let op = workload.next_op(&mut gen);
//! let request = workload.request(&op);
//! assert!(request.path.starts_with("/kv/"));
//! ```

pub mod list_append;
pub mod register;
pub mod set;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use faultline_checker::model::ModelKind;

/// One client operation, as recorded in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// The function: `read`, `write`, `cas`, `add`, `append`.
    pub f: String,
    /// The independent object it acts on.
    pub key: Option<String>,
    /// The invocation's value (see docs/history.md: `null` for reads).
    pub value: Value,
}

impl Op {
    /// An operation on `key`.
    pub fn new(f: &str, key: impl Into<String>, value: Value) -> Op {
        Op {
            f: f.to_string(),
            key: Some(key.into()),
            value,
        }
    }
}

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// PUT.
    Put,
    /// POST.
    Post,
}

/// A request to one node's HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, starting with `/`.
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl Request {
    /// A request without a body.
    pub fn get(path: String) -> Request {
        Request {
            method: Method::Get,
            path,
            body: None,
        }
    }
}

/// How an operation completed, as the workload reads a node's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// It took effect; the completion's value (what it observed).
    Ok(Value),
    /// It certainly did not take effect; why.
    Fail(String),
    /// Unknown outcome; why.
    Info(String),
}

/// The per-client source of operations: a seeded random stream of its own
/// (so one client's timing never perturbs another's choices) and a counter
/// that makes elements unique across clients.
#[derive(Debug, Clone)]
pub struct Generator {
    /// The client's random stream.
    pub rng: ChaCha8Rng,
    slot: u64,
    slots: u64,
    issued: u64,
}

impl Generator {
    /// The generator of client `slot` of `slots`, for a run with `seed`.
    pub fn new(seed: u64, slot: usize, slots: usize) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // One stream per client: the stream number keeps clients apart.
        rng.set_stream(1_000 + slot as u64);
        Generator {
            rng,
            slot: slot as u64,
            slots: slots.max(1) as u64,
            issued: 0,
        }
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

/// A named workload: operations, their mapping to the node API, the checker.
pub trait Workload: Send + Sync {
    /// The command-line name.
    fn name(&self) -> &'static str;
    /// One line of help.
    fn description(&self) -> &'static str;
    /// The checker model that judges its history.
    fn model(&self) -> ModelKind;
    /// The next operation of the client owning `gen`.
    fn next_op(&self, gen: &mut Generator) -> Op;
    /// The HTTP request that performs `op`.
    fn request(&self, op: &Op) -> Request;
    /// The completion of `op` from a node's answer that is not an error body
    /// (`status` is the HTTP status, `body` the JSON body or `null`).
    fn reply(&self, op: &Op, status: u16, body: &Value) -> Reply;
    /// The reads of the final phase, after faults heal, for the keys the run
    /// used (sorted). `nodes` is the cluster size: a workload may read each
    /// key through every node.
    fn final_reads(&self, keys: &[String], nodes: usize) -> Vec<FinalRead>;
}

/// One read of the final phase.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalRead {
    /// The operation.
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
    /// The name given.
    pub name: String,
}

/// The names of every workload.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|w| w.name()).collect()
}

/// The answer to a read of a key that may hold a list: `200 {"value": [..]}`
/// is the list, `404` (never written) the empty list.
pub(crate) fn list_read_reply(status: u16, body: &Value) -> Reply {
    match status {
        200 => match body.get("value") {
            Some(Value::Array(items)) => Reply::Ok(Value::Array(items.clone())),
            Some(Value::Null) | None => Reply::Ok(Value::Array(Vec::new())),
            Some(other) => Reply::Info(format!("read returned a non-list value {other}")),
        },
        404 => Reply::Ok(Value::Array(Vec::new())),
        other => unexpected(other, body),
    }
}

/// An answer the workload does not expect: its effect is unknown.
pub(crate) fn unexpected(status: u16, body: &Value) -> Reply {
    Reply::Info(format!("unexpected status {status}: {body}"))
}

/// The path of a key's endpoint, with the key percent-safe (keys are made
/// of letters, digits and dashes).
pub(crate) fn key_path(key: &Option<String>) -> String {
    format!("/kv/{}", key.as_deref().unwrap_or("register"))
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
        assert!(err.contains("register, set, list-append"), "{err}");
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
