//! `set`: clients add unique elements to a set (appended to one key) and now
//! and then read it whole; after the faults heal every node reads it once
//! more. The set checker reports lost, stale and unexpected elements.

use rand::Rng;
use serde_json::{json, Value};

use faultline_checker::model::ModelKind;

use crate::{
    key_path, list_read_reply, unexpected, FinalRead, Generator, Method, Op, Reply, Request,
    Workload,
};

/// The key holding the set.
const KEY: &str = "set";
/// Share of reads during the run.
const READS: f64 = 0.1;

/// The set workload.
#[derive(Debug, Clone, Copy, Default)]
pub struct Set;

impl Workload for Set {
    fn name(&self) -> &'static str {
        "set"
    }

    fn description(&self) -> &'static str {
        "add unique elements to a set, read it whole, final reads through every node; lost / stale / unexpected elements (set model)"
    }

    fn model(&self) -> ModelKind {
        ModelKind::Set
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        if gen.rng.gen_bool(READS) {
            gen.count();
            Op::new("read", KEY, Value::Null)
        } else {
            let element = gen.unique();
            Op::new("add", KEY, json!(element))
        }
    }

    fn request(&self, op: &Op) -> Request {
        let path = key_path(&op.key);
        match op.f.as_str() {
            "add" => Request {
                method: Method::Post,
                path: format!("{path}/append"),
                body: Some(json!({ "value": op.value })),
            },
            _ => Request::get(path),
        }
    }

    fn reply(&self, op: &Op, status: u16, body: &Value) -> Reply {
        match (op.f.as_str(), status) {
            ("add", 200) => Reply::Ok(op.value.clone()),
            ("read", _) => list_read_reply(status, body),
            _ => unexpected(status, body),
        }
    }

    fn final_reads(&self, keys: &[String], nodes: usize) -> Vec<FinalRead> {
        keys.iter()
            .flat_map(|k| {
                (0..nodes.max(1)).map(move |n| FinalRead {
                    op: Op::new("read", k.clone(), Value::Null),
                    node: Some(n),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_are_appends_and_reads_return_the_whole_set() {
        let w = Set;
        let mut g = Generator::new(1, 2, 4);
        let ops: Vec<Op> = (0..100).map(|_| w.next_op(&mut g)).collect();
        let add = ops.iter().find(|o| o.f == "add").unwrap();
        assert_eq!(w.request(add).path, "/kv/set/append");
        assert!(ops.iter().any(|o| o.f == "read"));
        let read = Op::new("read", KEY, Value::Null);
        assert_eq!(
            w.reply(&read, 200, &json!({"value": [1, 2]})),
            Reply::Ok(json!([1, 2]))
        );
        assert_eq!(w.reply(&read, 404, &Value::Null), Reply::Ok(json!([])));
        assert_eq!(w.final_reads(&["set".into()], 3).len(), 3);
    }
}
