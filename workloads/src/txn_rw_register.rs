//! `txn-rw-register`: transactions of writes of unique values and reads over
//! a few rotating registers, checked by the `txn-rw-register` checker
//! (Elle's rw-register: unique writes tie every read to the write it saw;
//! the order of versions is inferred only where the history fixes it).

use serde_json::Value;

use crate::txn::{completion, read_all, MopFunc, TxnKnobs};
use crate::{FinalRead, Generator, Op, Reply, Workload};

/// The transactional read-write register workload.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxnRwRegister {
    /// What it draws (keys, transaction length, read share).
    pub knobs: TxnKnobs,
}

impl Workload for TxnRwRegister {
    fn name(&self) -> &'static str {
        "txn-rw-register"
    }

    fn description(&self) -> &'static str {
        "transactions of 1-4 writes of unique values and reads over 8 rotating registers; isolation (txn-rw-register)"
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["txn-rw-register"]
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        self.knobs.draw(gen, MopFunc::Write)
    }

    /// A read of a register never written reads `null`.
    fn complete(&self, op: &Op, reply: Reply) -> Reply {
        completion(op, reply, &Value::Null, false)
    }

    /// One read-only transaction over every register the run used: the
    /// last value of each after the faults heal, in one consistent cut
    /// (a write whose outcome was unknown and that this read sees took
    /// effect). It is judged like any other transaction.
    fn final_reads(&self, keys: &[String], _nodes: usize) -> Vec<FinalRead> {
        read_all(keys)
            .map(|op| FinalRead { op, node: None })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;
    use crate::txn::{parse, Mop};

    #[test]
    fn transactions_write_unique_values_and_read() {
        let w = TxnRwRegister::default();
        let mut g = Generator::new(5, 1, 2);
        let mut written = HashSet::new();
        let mut fs = HashSet::new();
        for _ in 0..300 {
            let mops = parse(&w.next_op(&mut g).value).unwrap();
            assert!((1..=w.knobs.max_ops).contains(&mops.len()));
            for m in mops {
                fs.insert(m.f);
                match m.f {
                    MopFunc::Write => assert!(written.insert(m.value.as_u64().unwrap())),
                    MopFunc::Read => assert_eq!(m.value, Value::Null),
                    MopFunc::Append => panic!("an append in rw-register: {m:?}"),
                }
            }
        }
        assert_eq!(fs.len(), 2, "{fs:?}");
    }

    #[test]
    fn reads_of_registers_never_written_complete_as_null() {
        let op = Op::txn(&[
            Mop::new(MopFunc::Read, "k0", Value::Null),
            Mop::new(MopFunc::Write, "k1", json!(4)),
        ]);
        let w = TxnRwRegister::default();
        assert_eq!(
            w.complete(&op, Reply::Ok(json!([["r", "k0", null], ["w", "k1", 4]]))),
            Reply::Ok(json!([["r", "k0", null], ["w", "k1", 4]]))
        );
        assert_eq!(
            w.complete(&op, Reply::Ok(json!([["r", "k0", 7], ["w", "k1", 4]]))),
            Reply::Ok(json!([["r", "k0", 7], ["w", "k1", 4]]))
        );
    }
}
