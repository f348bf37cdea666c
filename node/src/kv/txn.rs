//! Transactions in the state machine: micro-operations applied together,
//! all or none, as one command (so at one log index: reads see the state
//! of that point plus the transaction's own earlier writes).
//!
//! A key holds a list (built by `append`) or a register (set by `w`); a
//! micro-operation on a key of the other kind makes the whole transaction
//! a no-op, answered [`Applied::TypeMismatch`]. Reads see either kind.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Applied, KvStore, Stored};

/// What a transaction did, and what it leaves each key it wrote holding.
type Run = (Vec<Completed>, HashMap<String, Stored>);

/// One micro-operation of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MicroOp {
    /// Append `value` to the list `key` holds (an absent key: an empty list).
    Append {
        /// The key; it must hold a list or be absent.
        key: String,
        /// The element (JSON text).
        value: String,
    },
    /// Set the register `key` to `value`.
    Write {
        /// The key; it must hold a register or be absent.
        key: String,
        /// The new value (JSON text).
        value: String,
    },
    /// Read what `key` holds.
    Read {
        /// The key.
        key: String,
    },
}

impl MicroOp {
    /// The key it acts on.
    pub fn key(&self) -> &str {
        match self {
            MicroOp::Append { key, .. } | MicroOp::Write { key, .. } | MicroOp::Read { key } => key,
        }
    }

    /// Whether it changes nothing.
    pub fn is_read(&self) -> bool {
        matches!(self, MicroOp::Read { .. })
    }
}

/// A micro-operation as its transaction applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completed {
    /// The micro-operation.
    pub op: MicroOp,
    /// What a read saw (None: the key was never written); None for the others.
    pub saw: Option<Stored>,
}

impl KvStore {
    /// Applies the transaction `ops`: every micro-operation or, when one
    /// does not fit the kind of its key, none.
    pub fn transact(&mut self, ops: &[MicroOp]) -> Applied {
        match self.run(ops) {
            Ok((done, written)) => {
                self.map.extend(written);
                Applied::Txn(done)
            }
            Err(key) => Applied::TypeMismatch { key },
        }
    }

    /// The transaction `ops` against the current state, changing nothing:
    /// what it would do and see (for a read-only transaction, what it does).
    pub fn observe(&self, ops: &[MicroOp]) -> Applied {
        match self.run(ops) {
            Ok((done, _)) => Applied::Txn(done),
            Err(key) => Applied::TypeMismatch { key },
        }
    }

    /// Runs `ops` on scratch copies of the keys it touches: what each did
    /// and the keys it wrote, or the first key of the wrong kind.
    fn run(&self, ops: &[MicroOp]) -> Result<Run, String> {
        let mut scratch: HashMap<String, Option<Stored>> = HashMap::new();
        let mut written: Vec<String> = Vec::new();
        let mut done = Vec::with_capacity(ops.len());
        for op in ops {
            let key = op.key();
            if !scratch.contains_key(key) {
                scratch.insert(key.to_string(), self.map.get(key).cloned());
            }
            let slot = scratch.get_mut(key).expect("just inserted");
            let saw = match op {
                MicroOp::Read { .. } => slot.clone(),
                MicroOp::Append { value, .. } => {
                    match slot.get_or_insert_with(|| Stored::List(Vec::new())) {
                        Stored::List(items) => items.push(value.clone()),
                        Stored::Value(_) => return Err(key.to_string()),
                    }
                    written.push(key.to_string());
                    None
                }
                MicroOp::Write { value, .. } => {
                    if matches!(slot, Some(Stored::List(_))) {
                        return Err(key.to_string());
                    }
                    *slot = Some(Stored::Value(value.clone()));
                    written.push(key.to_string());
                    None
                }
            };
            done.push(Completed {
                op: op.clone(),
                saw,
            });
        }
        let written = written
            .into_iter()
            .filter_map(|k| {
                let stored = scratch.remove(&k)??;
                Some((k, stored))
            })
            .collect();
        Ok((done, written))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Command;
    use super::*;

    fn append(k: &str, v: &str) -> MicroOp {
        MicroOp::Append {
            key: k.into(),
            value: v.into(),
        }
    }

    fn write(k: &str, v: &str) -> MicroOp {
        MicroOp::Write {
            key: k.into(),
            value: v.into(),
        }
    }

    fn read(k: &str) -> MicroOp {
        MicroOp::Read { key: k.into() }
    }

    fn saw(applied: &Applied) -> Vec<Option<serde_json::Value>> {
        match applied {
            Applied::Txn(done) => done
                .iter()
                .filter(|c| c.op.is_read())
                .map(|c| c.saw.as_ref().map(Stored::to_json))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_see_the_state_before_plus_the_transactions_own_writes() {
        let mut kv = KvStore::new();
        let first = kv.transact(&[read("x"), append("x", "1"), read("x"), write("r", "5")]);
        assert_eq!(
            saw(&first),
            [None, Some(serde_json::json!([1]))],
            "a read before any write sees nothing, the next its own append"
        );
        let second = kv.apply(&Command::Txn {
            ops: vec![
                append("x", "2"),
                read("x"),
                read("r"),
                write("r", "6"),
                read("r"),
            ],
        });
        assert_eq!(
            saw(&second),
            [
                Some(serde_json::json!([1, 2])),
                Some(serde_json::json!(5)),
                Some(serde_json::json!(6))
            ]
        );
        assert_eq!(kv.get("r"), Some(&Stored::Value("6".into())));
    }

    #[test]
    fn a_micro_operation_on_a_key_of_the_other_kind_changes_nothing() {
        let mut kv = KvStore::new();
        kv.transact(&[append("l", "1"), write("r", "1")]);
        let before = kv.clone();
        for ops in [
            vec![append("l", "2"), write("l", "3")],
            vec![write("fresh", "1"), append("r", "2")],
            vec![write("x", "1"), append("x", "2")],
        ] {
            let bad = ops[ops.len() - 1].key().to_string();
            assert_eq!(kv.transact(&ops), Applied::TypeMismatch { key: bad });
            assert_eq!(kv, before, "{ops:?}");
        }
        assert_eq!(saw(&kv.observe(&[read("l"), read("r")])).len(), 2);
    }

    #[test]
    fn observing_changes_nothing_and_transactions_survive_a_snapshot() {
        let mut kv = KvStore::new();
        kv.transact(&[append("l", "1"), append("l", "2"), write("r", "\"a\"")]);
        let before = kv.clone();
        assert!(matches!(kv.observe(&[append("l", "3")]), Applied::Txn(_)));
        assert_eq!(kv, before);
        let back = KvStore::restore(&kv.snapshot()).unwrap();
        assert_eq!(back, kv);
        let cmd = Command::Txn {
            ops: vec![append("l", "3"), read("r")],
        };
        assert_eq!(Command::decode(&cmd.encode()).unwrap(), cmd);
        assert!(!cmd.is_blind());
    }
}
