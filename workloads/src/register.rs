//! `register`: read / write / cas over a handful of independent keys, checked
//! for linearizability with the `register` model.
//!
//! Every value written is unique in the run, so a read names the one write
//! it saw: an acknowledged write that a system loses cannot hide behind an
//! indeterminate (`info`) write of the same value, as it can when values are
//! drawn from a handful (docs/detection.md, "Written values unique"). A cas
//! expects the value its client last saw under the key, so it matches
//! whenever nobody wrote in between.

use rand::Rng;
use serde_json::{json, Value};

use crate::{FinalRead, Func, Generator, Op, Reply, Workload};

/// Keys in use at a time.
const KEYS: u64 = 3;
/// Operations of one client before it moves to the next keys.
const OPS_PER_WINDOW: u64 = 40;

/// The register workload: read, write and cas on a few keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct Register;

impl Workload for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    fn description(&self) -> &'static str {
        "read / write / cas on a few rotating keys, every value written unique; linearizability (register model)"
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["register"]
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        let key = gen.windowed_key("r", KEYS, OPS_PER_WINDOW);
        let roll: f64 = gen.rng.gen();
        if (0.5..0.8).contains(&roll) {
            return Op::new(Func::Write, key, json!(gen.unique()));
        }
        let expected = if roll >= 0.8 {
            gen.last_seen(&key).cloned()
        } else {
            None
        };
        match expected {
            Some(from) => Op::new(Func::Cas, key, json!([from, gen.unique()])),
            // A read, or a cas with no value to expect yet: read the key.
            None => {
                gen.count();
                Op::new(Func::Read, key, Value::Null)
            }
        }
    }

    fn observe(&self, gen: &mut Generator, op: &Op, completion: &Reply) {
        let Some(key) = op.key.as_deref() else {
            return;
        };
        match (op.f, completion) {
            (Func::Read, Reply::Ok(value)) if !value.is_null() => gen.saw(key, value.clone()),
            (Func::Read, Reply::Ok(_)) => gen.forget(key),
            (Func::Write, Reply::Ok(_)) => gen.saw(key, op.value.clone()),
            (Func::Cas, Reply::Ok(_)) => gen.saw(key, op.cas_values().1.clone()),
            (Func::Write | Func::Cas, Reply::Info(_)) | (Func::Cas, Reply::Fail(_)) => {
                gen.forget(key)
            }
            _ => {}
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

    /// Draws `n` operations of a client whose every operation succeeds, as
    /// a system alone with it would answer them.
    fn alone(g: &mut Generator, n: usize) -> Vec<(Op, Reply)> {
        let mut state = std::collections::HashMap::new();
        (0..n)
            .map(|_| {
                let op = Register.next_op(g);
                let key = op.key.clone().unwrap();
                let reply = match op.f {
                    Func::Read => Reply::Ok(state.get(&key).cloned().unwrap_or(Value::Null)),
                    Func::Write => {
                        state.insert(key, op.value.clone());
                        Reply::Ok(op.value.clone())
                    }
                    _ if state.get(&key) == Some(op.cas_values().0) => {
                        state.insert(key, op.cas_values().1.clone());
                        Reply::Ok(op.value.clone())
                    }
                    _ => Reply::Fail("value differs".into()),
                };
                Register.observe(g, &op, &reply);
                (op, reply)
            })
            .collect()
    }

    #[test]
    fn the_mix_holds_every_operation() {
        let mut g = Generator::new(5, 0, 1);
        let fs: std::collections::HashSet<Func> =
            alone(&mut g, 200).iter().map(|(op, _)| op.f).collect();
        assert_eq!(fs.len(), 3, "{fs:?}");
    }

    #[test]
    fn no_value_is_written_twice_across_clients() {
        let mut written = std::collections::HashSet::new();
        for slot in 0..4 {
            let mut g = Generator::new(9, slot, 4);
            for (op, _) in alone(&mut g, 300) {
                let new = match op.f {
                    Func::Write => op.value.clone(),
                    Func::Cas => op.cas_values().1.clone(),
                    Func::Read => continue,
                    f => panic!("register drew {f:?}"),
                };
                assert!(written.insert(new.clone()), "{new} written twice");
            }
        }
        assert!(written.len() > 300, "{}", written.len());
    }

    #[test]
    fn a_cas_expects_what_its_client_last_saw_and_matches_when_alone() {
        let mut g = Generator::new(3, 1, 2);
        let ops = alone(&mut g, 400);
        let cas: Vec<_> = ops.iter().filter(|(op, _)| op.f == Func::Cas).collect();
        assert!(cas.len() > 20, "{} cas", cas.len());
        for (op, reply) in cas {
            assert!(matches!(reply, Reply::Ok(_)), "{op:?}: {reply:?}");
        }
        let mut g = Generator::new(3, 1, 2);
        let op = Op::new(Func::Cas, "r0", json!([1, 2]));
        g.saw("r0", json!(1));
        Register.observe(&mut g, &op, &Reply::Fail("value differs".into()));
        assert_eq!(g.last_seen("r0"), None, "a failed cas forgets the value");
        Register.observe(&mut g, &op, &Reply::Ok(op.value.clone()));
        assert_eq!(g.last_seen("r0"), Some(&json!(2)));
    }
}
