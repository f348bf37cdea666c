//! `set`: clients add unique elements to a set (appended to one key) and now
//! and then read it whole; after the faults heal every node reads it once
//! more. The set checker reports lost, stale and unexpected elements.

use rand::Rng;
use serde_json::{json, Value};

use crate::{list_completion, FinalRead, Func, Generator, Op, Reply, Workload};

/// The key holding the set.
const KEY: &str = "set";
/// Share of reads during the run.
const READS: f64 = 0.1;

/// The set workload: adds of unique elements and whole-set reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Set;

impl Workload for Set {
    fn name(&self) -> &'static str {
        "set"
    }

    fn description(&self) -> &'static str {
        "add unique elements to a set, read it whole, final reads through every node; lost / stale / unexpected elements (set checker)"
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["set"]
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        if gen.rng.gen_bool(READS) {
            gen.count();
            Op::new(Func::Read, KEY, Value::Null)
        } else {
            let element = gen.unique();
            Op::new(Func::Add, KEY, json!(element))
        }
    }

    fn complete(&self, op: &Op, reply: Reply) -> Reply {
        list_completion(op, reply)
    }

    fn final_reads(&self, keys: &[String], nodes: usize) -> Vec<FinalRead> {
        keys.iter()
            .flat_map(|k| {
                (0..nodes.max(1)).map(move |n| FinalRead {
                    op: Op::new(Func::Read, k.clone(), Value::Null),
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
    fn adds_are_unique_and_reads_return_the_whole_set() {
        let w = Set;
        let mut g = Generator::new(1, 2, 4);
        let ops: Vec<Op> = (0..100).map(|_| w.next_op(&mut g)).collect();
        assert!(ops.iter().any(|o| o.f == Func::Add));
        assert!(ops.iter().any(|o| o.f == Func::Read));
        let read = Op::new(Func::Read, KEY, Value::Null);
        assert_eq!(
            w.complete(&read, Reply::Ok(json!([1, 2]))),
            Reply::Ok(json!([1, 2]))
        );
        assert_eq!(
            w.complete(&read, Reply::Ok(Value::Null)),
            Reply::Ok(json!([]))
        );
        assert_eq!(w.final_reads(&["set".into()], 3).len(), 3);
    }
}
