//! `txn-list-append`: transactions of appends of unique elements and reads of
//! whole lists over a few rotating keys, checked by the `txn-list-append`
//! checker (Elle's list-append: the order of each list fixes the order of
//! the appends, so every dependency between transactions can be inferred).

use serde_json::json;

use crate::txn::{completion, read_all, MopFunc, TxnKnobs};
use crate::{FinalRead, Generator, Op, Reply, Workload};

/// The transactional list-append workload.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxnListAppend {
    /// What it draws (keys, transaction length, read share).
    pub knobs: TxnKnobs,
}

impl Workload for TxnListAppend {
    fn name(&self) -> &'static str {
        "txn-list-append"
    }

    fn description(&self) -> &'static str {
        "transactions of 1-4 appends of unique elements and list reads over 8 rotating keys; isolation (txn-list-append)"
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["txn-list-append"]
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        self.knobs.draw(gen, MopFunc::Append)
    }

    /// A read of a key never appended to reads the empty list.
    fn complete(&self, op: &Op, reply: Reply) -> Reply {
        completion(op, reply, &json!([]), true)
    }

    /// One read-only transaction over every key the run used: after the
    /// faults heal it gives the final order of every list in one consistent
    /// cut, which places every append that took effect (those whose
    /// outcome was unknown included) for the checker. It is judged like any
    /// other transaction.
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

    use serde_json::Value;

    use super::*;
    use crate::txn::{parse, Mop};
    use crate::Func;

    #[test]
    fn transactions_append_unique_elements_over_the_window_of_keys() {
        let w = TxnListAppend::default();
        let knobs = w.knobs;
        let mut seen = HashSet::new();
        let mut lengths = HashSet::new();
        let mut read_only = 0;
        for slot in 0..3 {
            let mut g = Generator::new(11, slot, 3);
            for _ in 0..200 {
                let op = w.next_op(&mut g);
                assert_eq!((op.f, op.key.as_deref()), (Func::Txn, None));
                let mops = parse(&op.value).unwrap();
                assert!((1..=knobs.max_ops).contains(&mops.len()), "{mops:?}");
                lengths.insert(mops.len());
                let window: HashSet<u64> = mops
                    .iter()
                    .map(|m| m.key[1..].parse::<u64>().unwrap() / knobs.keys)
                    .collect();
                assert_eq!(window.len(), 1, "one window per transaction: {mops:?}");
                read_only += mops.iter().all(|m| m.f == MopFunc::Read) as usize;
                for m in &mops {
                    match m.f {
                        MopFunc::Read => assert_eq!(m.value, Value::Null),
                        MopFunc::Append => assert!(seen.insert(m.value.as_u64().unwrap())),
                        MopFunc::Write => panic!("a write in list-append: {m:?}"),
                    }
                }
            }
        }
        assert_eq!(lengths.len(), knobs.max_ops, "{lengths:?}");
        assert!(
            read_only > 0 && seen.len() > 200,
            "{read_only} {}",
            seen.len()
        );
    }

    #[test]
    fn keys_rotate_and_the_final_read_reads_every_key_at_once() {
        let w = TxnListAppend::default();
        let mut g = Generator::new(2, 0, 1);
        let mut keys = HashSet::new();
        for _ in 0..400 {
            for key in w.next_op(&mut g).keys() {
                keys.insert(key);
            }
        }
        assert!(keys.len() > w.knobs.keys as usize, "{keys:?}");
        let mut keys: Vec<String> = keys.into_iter().collect();
        keys.sort();
        let finals = w.final_reads(&keys, 3);
        assert_eq!(finals.len(), 1);
        let mops = parse(&finals[0].op.value).unwrap();
        assert_eq!(mops.len(), keys.len());
        assert!(mops.iter().all(|m| m.f == MopFunc::Read));
        assert!(w.final_reads(&[], 3).is_empty());
    }

    #[test]
    fn reads_of_keys_never_appended_to_complete_as_empty_lists() {
        let op = Op::txn(&[Mop::new(MopFunc::Read, "k0", Value::Null)]);
        assert_eq!(
            TxnListAppend::default().complete(&op, Reply::Ok(json!([["r", "k0", null]]))),
            Reply::Ok(json!([["r", "k0", []]]))
        );
    }
}
