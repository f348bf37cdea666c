//! `register`: read / write / cas over a handful of independent keys, checked
//! for linearizability with the `register` model.

use rand::Rng;
use serde_json::{json, Value};

use faultline_checker::model::ModelKind;

use crate::{key_path, unexpected, FinalRead, Generator, Method, Op, Reply, Request, Workload};

/// Keys in use at a time.
const KEYS: u64 = 3;
/// Operations of one client before it moves to the next keys.
const OPS_PER_WINDOW: u64 = 40;
/// Values written are drawn from 0..VALUES, so that cas sometimes matches.
const VALUES: u64 = 5;

/// The register workload.
#[derive(Debug, Clone, Copy, Default)]
pub struct Register;

impl Workload for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    fn description(&self) -> &'static str {
        "read / write / cas on a few rotating keys; linearizability (register model)"
    }

    fn model(&self) -> ModelKind {
        ModelKind::Register
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        let key = gen.windowed_key("r", KEYS, OPS_PER_WINDOW);
        gen.count();
        let roll: f64 = gen.rng.gen();
        if roll < 0.5 {
            Op::new("read", key, Value::Null)
        } else if roll < 0.8 {
            Op::new("write", key, json!(gen.rng.gen_range(0..VALUES)))
        } else {
            let from = gen.rng.gen_range(0..VALUES);
            let to = gen.rng.gen_range(0..VALUES);
            Op::new("cas", key, json!([from, to]))
        }
    }

    fn request(&self, op: &Op) -> Request {
        let path = key_path(&op.key);
        match op.f.as_str() {
            "write" => Request {
                method: Method::Put,
                path,
                body: Some(json!({ "value": op.value })),
            },
            "cas" => Request {
                method: Method::Post,
                path: format!("{path}/cas"),
                body: Some(json!({ "from": op.value[0], "to": op.value[1] })),
            },
            _ => Request::get(path),
        }
    }

    fn reply(&self, op: &Op, status: u16, body: &Value) -> Reply {
        match (op.f.as_str(), status) {
            ("read", 200) => Reply::Ok(body.get("value").cloned().unwrap_or(Value::Null)),
            ("read", 404) => Reply::Ok(Value::Null),
            ("write", 200) | ("cas", 200) => Reply::Ok(op.value.clone()),
            ("cas", 409) => Reply::Fail("value differs".into()),
            _ => unexpected(status, body),
        }
    }

    fn final_reads(&self, keys: &[String], _nodes: usize) -> Vec<FinalRead> {
        keys.iter()
            .map(|k| FinalRead {
                op: Op::new("read", k.clone(), Value::Null),
                node: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_the_node_api_and_back() {
        let w = Register;
        let cas = Op::new("cas", "r1", json!([1, 2]));
        let req = w.request(&cas);
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.path, "/kv/r1/cas");
        assert_eq!(req.body, Some(json!({"from": 1, "to": 2})));
        assert_eq!(w.reply(&cas, 200, &Value::Null), Reply::Ok(json!([1, 2])));
        assert!(matches!(w.reply(&cas, 409, &Value::Null), Reply::Fail(_)));
        let read = Op::new("read", "r1", Value::Null);
        assert_eq!(w.reply(&read, 404, &Value::Null), Reply::Ok(Value::Null));
        assert_eq!(
            w.reply(&read, 200, &json!({"value": 3})),
            Reply::Ok(json!(3))
        );
        assert!(matches!(w.reply(&read, 500, &Value::Null), Reply::Info(_)));
        let write = Op::new("write", "r1", json!(4));
        assert_eq!(w.request(&write).body, Some(json!({"value": 4})));
    }

    #[test]
    fn the_mix_holds_every_operation() {
        let mut g = Generator::new(5, 0, 1);
        let fs: std::collections::HashSet<String> =
            (0..200).map(|_| Register.next_op(&mut g).f).collect();
        assert_eq!(fs.len(), 3, "{fs:?}");
    }
}
