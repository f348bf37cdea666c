//! `register`: read / write / cas over a handful of independent keys, checked
//! for linearizability with the `register` model.

use rand::Rng;
use serde_json::{json, Value};

use crate::{FinalRead, Func, Generator, Op, Workload};

/// Keys in use at a time.
const KEYS: u64 = 3;
/// Operations of one client before it moves to the next keys.
const OPS_PER_WINDOW: u64 = 40;
/// Values written are drawn from 0..VALUES, so that cas sometimes matches.
const VALUES: u64 = 5;

/// The register workload: read, write and cas on a few keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct Register;

impl Workload for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    fn description(&self) -> &'static str {
        "read / write / cas on a few rotating keys; linearizability (register model)"
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["register"]
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        let key = gen.windowed_key("r", KEYS, OPS_PER_WINDOW);
        gen.count();
        let roll: f64 = gen.rng.gen();
        if roll < 0.5 {
            Op::new(Func::Read, key, Value::Null)
        } else if roll < 0.8 {
            Op::new(Func::Write, key, json!(gen.rng.gen_range(0..VALUES)))
        } else {
            let from = gen.rng.gen_range(0..VALUES);
            let to = gen.rng.gen_range(0..VALUES);
            Op::new(Func::Cas, key, json!([from, to]))
        }
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
    fn the_mix_holds_every_operation() {
        let mut g = Generator::new(5, 0, 1);
        let fs: std::collections::HashSet<Func> =
            (0..200).map(|_| Register.next_op(&mut g).f).collect();
        assert_eq!(fs.len(), 3, "{fs:?}");
    }
}
