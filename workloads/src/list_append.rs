//! `list-append`: appends of unique elements to a few rotating keys and reads
//! of whole lists, checked for linearizability with the `list-append` model.

use rand::Rng;
use serde_json::{json, Value};

use faultline_checker::model::ModelKind;

use crate::{
    key_path, list_read_reply, unexpected, FinalRead, Generator, Method, Op, Reply, Request,
    Workload,
};

/// Keys in use at a time.
const KEYS: u64 = 3;
/// Operations of one client before it moves to the next keys.
const OPS_PER_WINDOW: u64 = 40;
/// Share of reads.
const READS: f64 = 0.5;

/// The list-append workload.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListAppend;

impl Workload for ListAppend {
    fn name(&self) -> &'static str {
        "list-append"
    }

    fn description(&self) -> &'static str {
        "append unique elements to a few rotating keys, read whole lists; linearizability (list-append model)"
    }

    fn model(&self) -> ModelKind {
        ModelKind::ListAppend
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        let key = gen.windowed_key("l", KEYS, OPS_PER_WINDOW);
        if gen.rng.gen_bool(READS) {
            gen.count();
            Op::new("read", key, Value::Null)
        } else {
            let element = gen.unique();
            Op::new("append", key, json!(element))
        }
    }

    fn request(&self, op: &Op) -> Request {
        let path = key_path(&op.key);
        match op.f.as_str() {
            "append" => Request {
                method: Method::Post,
                path: format!("{path}/append"),
                body: Some(json!({ "value": op.value })),
            },
            _ => Request::get(path),
        }
    }

    fn reply(&self, op: &Op, status: u16, body: &Value) -> Reply {
        match (op.f.as_str(), status) {
            ("append", 200) => Reply::Ok(op.value.clone()),
            ("read", _) => list_read_reply(status, body),
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
    fn appends_and_reads_map_to_the_node_api() {
        let w = ListAppend;
        let mut g = Generator::new(4, 1, 2);
        let ops: Vec<Op> = (0..100).map(|_| w.next_op(&mut g)).collect();
        let appends: Vec<&Op> = ops.iter().filter(|o| o.f == "append").collect();
        assert!(!appends.is_empty());
        let mut elements: Vec<u64> = appends.iter().map(|o| o.value.as_u64().unwrap()).collect();
        elements.dedup();
        assert_eq!(elements.len(), appends.len());
        let req = w.request(appends[0]);
        assert_eq!(req.method, Method::Post);
        assert!(req.path.ends_with("/append"));
        let read = Op::new("read", "l0", Value::Null);
        assert_eq!(w.reply(&read, 404, &Value::Null), Reply::Ok(json!([])));
    }
}
