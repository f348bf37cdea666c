//! Transactions: the micro-operations of a `txn` operation, how the
//! transactional workloads draw them, and how a system's answer becomes the
//! completion the checker reads.
//!
//! A transaction is one [`Op`] with [`Func::Txn`], no key, and as value an
//! array of micro-operations `[f, key, value]` (docs/history.md,
//! "Transactions"): `["append", k, v]`, `["w", k, v]` and `["r", k, v]`,
//! where a read carries `null` on invocation and what it saw on `ok`. It is
//! the shape of Maelstrom's `txn` messages and of Jepsen's
//! `[[:append :x 1] [:r :y nil]]`.

use std::fmt;

use rand::Rng;
use serde_json::{json, Value};

use crate::{Func, Generator, Op, Reply};

/// The function of one micro-operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MopFunc {
    /// Appends the value, unique per key, to the list the key holds.
    Append,
    /// Reads the key: a whole list, or a register's value.
    Read,
    /// Overwrites the register the key holds with the value, unique per key.
    Write,
}

impl MopFunc {
    /// Every function, in declaration order.
    pub const ALL: [MopFunc; 3] = [MopFunc::Append, MopFunc::Read, MopFunc::Write];

    /// Its name in a history: `append`, `r`, `w`.
    pub fn name(self) -> &'static str {
        match self {
            MopFunc::Append => "append",
            MopFunc::Read => "r",
            MopFunc::Write => "w",
        }
    }

    /// The function named `name` in a history.
    pub fn from_name(name: &str) -> Option<MopFunc> {
        MopFunc::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for MopFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One micro-operation of a transaction, `[f, key, value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mop {
    /// What it does.
    pub f: MopFunc,
    /// The key it acts on.
    pub key: String,
    /// The element appended, the value written, or (reads) `null` on
    /// invocation and what was read on completion.
    pub value: Value,
}

impl Mop {
    /// A micro-operation.
    pub fn new(f: MopFunc, key: impl Into<String>, value: Value) -> Mop {
        Mop {
            f,
            key: key.into(),
            value,
        }
    }

    /// Its JSON form, `[f, key, value]`.
    pub fn to_json(&self) -> Value {
        json!([self.f.name(), self.key, self.value])
    }

    /// The micro-operation `[f, key, value]` in `value`; a key may be a
    /// string or an integer (taken as its decimal text).
    pub fn from_json(value: &Value) -> Result<Mop, BadTxn> {
        let bad = || BadTxn(format!("{value} is not a micro-operation [f, key, value]"));
        let parts = value.as_array().filter(|p| p.len() == 3).ok_or_else(bad)?;
        let f = parts[0]
            .as_str()
            .and_then(MopFunc::from_name)
            .ok_or_else(|| BadTxn(format!("{} is not append, r or w", parts[0])))?;
        let key = match &parts[1] {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            other => {
                return Err(BadTxn(format!(
                    "the key {other} is not a string or integer"
                )))
            }
        };
        Ok(Mop::new(f, key, parts[2].clone()))
    }
}

/// A value that is not a transaction's list of micro-operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a transaction: {0}")]
pub struct BadTxn(pub String);

/// The micro-operations of a `txn` operation's value.
pub fn parse(value: &Value) -> Result<Vec<Mop>, BadTxn> {
    value
        .as_array()
        .ok_or_else(|| BadTxn(format!("{value} is not an array of micro-operations")))?
        .iter()
        .map(Mop::from_json)
        .collect()
}

/// The value of a `txn` operation made of `mops`.
pub fn to_value(mops: &[Mop]) -> Value {
    Value::Array(mops.iter().map(Mop::to_json).collect())
}

/// What a transactional workload draws: how many keys, how long a
/// transaction, how many reads. The defaults keep every key's list under
/// about a hundred elements at the default rate and concurrency (up to 10
/// clients): each key gets about `clients × ops_per_window × (1 −
/// read_share) / keys` writes before the clients move on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TxnKnobs {
    /// Keys in use at a time.
    pub keys: u64,
    /// The most micro-operations of one transaction (each has 1..=this).
    pub max_ops: usize,
    /// The chance that a micro-operation is a read.
    pub read_share: f64,
    /// Micro-operations one client draws before it moves to fresh keys.
    pub ops_per_window: u64,
}

impl Default for TxnKnobs {
    fn default() -> TxnKnobs {
        TxnKnobs {
            keys: 8,
            max_ops: 4,
            read_share: 0.5,
            ops_per_window: 120,
        }
    }
}

impl TxnKnobs {
    /// A transaction of 1..=`max_ops` micro-operations over the current
    /// window of keys (`k0`, `k1`, ...): reads with probability
    /// `read_share`, else `write` of a value no other micro-operation of the
    /// run writes. Every micro-operation counts one step toward the next
    /// window.
    pub fn draw(&self, gen: &mut Generator, write: MopFunc) -> Op {
        let n = gen.rng.gen_range(1..=self.max_ops.max(1));
        let keys: Vec<String> = (0..n)
            .map(|_| gen.windowed_key("k", self.keys, self.ops_per_window))
            .collect();
        let read_share = self.read_share.clamp(0.0, 1.0);
        let mops: Vec<Mop> = keys
            .into_iter()
            .map(|key| {
                if gen.rng.gen_bool(read_share) {
                    gen.count();
                    Mop::new(MopFunc::Read, key, Value::Null)
                } else {
                    Mop::new(write, key, json!(gen.unique()))
                }
            })
            .collect();
        Op::txn(&mops)
    }
}

/// One read-only transaction over `keys` (none when there are none).
pub(crate) fn read_all(keys: &[String]) -> Option<Op> {
    if keys.is_empty() {
        return None;
    }
    let mops: Vec<Mop> = keys
        .iter()
        .map(|k| Mop::new(MopFunc::Read, k.clone(), Value::Null))
        .collect();
    Some(Op::txn(&mops))
}

/// The completion of the transaction `op` from a system's `ok` answer: the
/// invocation's micro-operations, each read carrying the value the answer
/// gives at the same position (`null`, a key never written, becomes
/// `never_written`). An answer that does not match the invocation
/// micro-operation by micro-operation (another length, function or key, a
/// changed write), or a list-append read (`lists`) that is not a list, is
/// `info`: it took effect, but nobody can say what it saw.
pub(crate) fn completion(op: &Op, reply: Reply, never_written: &Value, lists: bool) -> Reply {
    let answer = match (op.f, reply) {
        (Func::Txn, Reply::Ok(answer)) => answer,
        (_, reply) => return reply,
    };
    match complete(op, &answer, never_written, lists) {
        Ok(mops) => Reply::Ok(to_value(&mops)),
        Err(why) => Reply::Info(format!("the transaction's answer {answer}: {why}")),
    }
}

fn complete(
    op: &Op,
    answer: &Value,
    never_written: &Value,
    lists: bool,
) -> Result<Vec<Mop>, String> {
    let asked = parse(&op.value).map_err(|e| e.to_string())?;
    let got = parse(answer).map_err(|e| e.to_string())?;
    if asked.len() != got.len() {
        return Err(format!(
            "{} micro-operations for {} asked",
            got.len(),
            asked.len()
        ));
    }
    asked
        .into_iter()
        .zip(got)
        .map(|(mut asked, got)| {
            if asked.f != got.f || asked.key != got.key {
                return Err(format!(
                    "[{}, {}] answered for [{}, {}]",
                    got.f, got.key, asked.f, asked.key
                ));
            }
            match asked.f {
                MopFunc::Read => {
                    asked.value = match got.value {
                        Value::Null => never_written.clone(),
                        v if lists && !v.is_array() => {
                            return Err(format!("the read of {} is not a list", asked.key))
                        }
                        v => v,
                    };
                }
                MopFunc::Append | MopFunc::Write if asked.value != got.value => {
                    return Err(format!("{} of {} changed", asked.f, asked.key));
                }
                MopFunc::Append | MopFunc::Write => {}
            }
            Ok(asked)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_operations_round_trip_and_integer_keys_are_text() {
        let v = json!([["append", "x", 1], ["r", 7, null], ["w", "y", 2]]);
        let mops = parse(&v).unwrap();
        assert_eq!(mops[1], Mop::new(MopFunc::Read, "7", Value::Null));
        assert_eq!(
            to_value(&mops),
            json!([["append", "x", 1], ["r", "7", null], ["w", "y", 2]])
        );
        for bad in [
            json!(3),
            json!([["append", "x"]]),
            json!([["inc", "x", 1]]),
            json!([["r", 1.5, null]]),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn completions_fill_the_reads_and_refuse_answers_that_differ() {
        let op = Op::txn(&parse(&json!([["append", "x", 1], ["r", "y", null]])).unwrap());
        let ok = |answer: Value| completion(&op, Reply::Ok(answer), &json!([]), true);
        assert_eq!(
            ok(json!([["append", "x", 1], ["r", "y", [3, 5]]])),
            Reply::Ok(json!([["append", "x", 1], ["r", "y", [3, 5]]]))
        );
        assert_eq!(
            ok(json!([["append", "x", 1], ["r", "y", null]])),
            Reply::Ok(json!([["append", "x", 1], ["r", "y", []]]))
        );
        for wrong in [
            json!([["append", "x", 1]]),
            json!([["append", "x", 2], ["r", "y", []]]),
            json!([["append", "x", 1], ["r", "z", []]]),
            json!([["append", "x", 1], ["r", "y", 3]]),
            json!({"txn": []}),
        ] {
            assert!(matches!(ok(wrong.clone()), Reply::Info(_)), "{wrong}");
        }
        let fail = Reply::Fail("not-leader".into());
        assert_eq!(completion(&op, fail.clone(), &json!([]), true), fail);
    }
}
