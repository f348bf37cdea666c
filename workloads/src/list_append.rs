//! `list-append`: appends of unique elements to a few rotating keys and reads
//! of whole lists, checked for linearizability with the `list-append` model.

use rand::Rng;
use serde_json::{json, Value};

use crate::{list_completion, FinalRead, Func, Generator, Op, Reply, Workload};

/// Keys in use at a time.
const KEYS: u64 = 3;
/// Operations of one client before it moves to the next keys.
const OPS_PER_WINDOW: u64 = 40;
/// Share of reads.
const READS: f64 = 0.5;

/// The list-append workload: appends of unique elements and whole-list reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListAppend;

impl Workload for ListAppend {
    fn name(&self) -> &'static str {
        "list-append"
    }

    fn description(&self) -> &'static str {
        "append unique elements to a few rotating keys, read whole lists; linearizability (list-append model)"
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["list-append"]
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        let key = gen.windowed_key("l", KEYS, OPS_PER_WINDOW);
        if gen.rng.gen_bool(READS) {
            gen.count();
            Op::new(Func::Read, key, Value::Null)
        } else {
            let element = gen.unique();
            Op::new(Func::Append, key, json!(element))
        }
    }

    fn complete(&self, op: &Op, reply: Reply) -> Reply {
        list_completion(op, reply)
    }

    fn final_reads(&self, keys: &[String], _nodes: usize) -> Vec<FinalRead> {
        keys.iter()
            .map(|k| FinalRead {
                op: Op::new(Func::Read, k.clone(), Value::Null),
                node: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_are_unique_and_missing_lists_read_empty() {
        let w = ListAppend;
        let mut g = Generator::new(4, 1, 2);
        let ops: Vec<Op> = (0..100).map(|_| w.next_op(&mut g)).collect();
        let appends: Vec<&Op> = ops.iter().filter(|o| o.f == Func::Append).collect();
        assert!(!appends.is_empty());
        let mut elements: Vec<u64> = appends.iter().map(|o| o.value.as_u64().unwrap()).collect();
        elements.dedup();
        assert_eq!(elements.len(), appends.len());
        let read = Op::new(Func::Read, "l0", Value::Null);
        assert_eq!(
            w.complete(&read, Reply::Ok(Value::Null)),
            Reply::Ok(json!([]))
        );
    }
}
