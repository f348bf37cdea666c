//! Read / write / compare-and-set registers.
//!
//! A `fail` cas without an `error` field observed a mismatch: the register
//! did not hold `from` at some point in the operation's interval. A `fail`
//! carrying an `error` is a no-op that observed nothing. A cas that ended
//! `info` swaps if the register holds `from` when it is placed.

use serde_json::Value;

use std::collections::HashSet;

use super::{Model, ModelError, Val};
use crate::history::{Operation, Outcome};
use crate::search_op::SearchOp;

/// The register model: one value per key, read, written and compare-and-set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Register;

/// A register operation in compact form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// A read that saw this value.
    Read(Val),
    /// A write of this value.
    Write(Val),
    /// A cas that succeeded.
    Cas(Val, Val),
    /// A cas that observed a value other than `from`.
    CasMismatch(Val),
    /// A cas with unknown outcome.
    CasMaybe(Val, Val),
}

impl Model for Register {
    type State = Val;
    type Op = RegisterOp;

    fn init(&self) -> Val {
        Val::Nil
    }

    fn prepare(&self, op: &Operation) -> Result<Option<RegisterOp>, ModelError> {
        let definite_fail = op.outcome == Outcome::Fail;
        Ok(Some(match op.f.as_str() {
            "read" => match op.outcome {
                Outcome::Ok => RegisterOp::Read(Val::from_json(&op.output)),
                _ => return Ok(None),
            },
            "write" => {
                if definite_fail {
                    return Ok(None);
                }
                RegisterOp::Write(Val::from_json(&op.input))
            }
            "cas" => {
                let (from, to) = match &op.input {
                    Value::Array(a) if a.len() == 2 => {
                        (Val::from_json(&a[0]), Val::from_json(&a[1]))
                    }
                    other => {
                        return Err(ModelError::new(
                            op,
                            format!("cas value must be [from, to], got {other}"),
                        ))
                    }
                };
                match op.outcome {
                    Outcome::Ok => RegisterOp::Cas(from, to),
                    Outcome::Fail if op.error.is_some() => return Ok(None),
                    Outcome::Fail => RegisterOp::CasMismatch(from),
                    Outcome::Info => RegisterOp::CasMaybe(from, to),
                }
            }
            other => {
                return Err(ModelError::new(
                    op,
                    format!("the register model knows read, write and cas, not {other:?}"),
                ))
            }
        }))
    }

    fn step(&self, state: &Val, op: &RegisterOp) -> Option<Val> {
        match op {
            RegisterOp::Read(v) => (v == state).then(|| state.clone()),
            RegisterOp::Write(v) => Some(v.clone()),
            RegisterOp::Cas(from, to) => (from == state).then(|| to.clone()),
            RegisterOp::CasMismatch(from) => (from != state).then(|| state.clone()),
            RegisterOp::CasMaybe(from, to) => Some(if from == state {
                to.clone()
            } else {
                state.clone()
            }),
        }
    }

    fn read_only(&self, op: &RegisterOp) -> bool {
        match op {
            RegisterOp::Read(_) | RegisterOp::CasMismatch(_) => true,
            RegisterOp::Cas(from, to) => from == to,
            RegisterOp::Write(_) | RegisterOp::CasMaybe(..) => false,
        }
    }

    fn reduce(&self, ops: &mut [SearchOp<RegisterOp>]) -> Option<Vec<bool>> {
        reduce(ops)
    }

    fn impossible(&self, ops: &[SearchOp<RegisterOp>]) -> Option<(usize, String)> {
        impossible(ops)
    }

    fn render_state(&self, state: &Val) -> Value {
        state.to_json()
    }
}

/// The register's exact reductions of one key's operations, in order:
///
/// 1. A crashed cas whose `from` is never written (and is not the initial
///    `null`) or equals its `to` never changes the state: it is dropped (an
///    `info` operation may always be left out, and placing it changes
///    nothing any other operation sees).
/// 2. Values no operation observes are merged. A value is observed when a
///    read returned it or a cas (of any outcome) compared against it; `null`
///    counts as observed. Let `r` be one unobserved value written, and map
///    every unobserved value to `r` (observed values to themselves). For
///    every operation `o` and state `s`, `step(h(s), h(o)) = h(step(s, o))`:
///    a read of `v` or a cas from `v` has `v` observed, so `v == s` exactly
///    when `v == h(s)`, and writes produce `h` of what they wrote. So the
///    same orders are valid before and after the mapping.
/// 3. When no cas observed a mismatch, a crashed write of `r` (or crashed cas
///    to `r`) is dropped. In state `r` no read and no successful cas can be
///    placed (they compare against observed values), no mismatch exists,
///    and crashed cas do nothing; so between such an operation and the next
///    write only crashed no-ops can stand. Leaving all of those out (they
///    are `info`) and keeping the order of the rest gives a valid order
///    without it.
pub fn reduce(ops: &mut [SearchOp<RegisterOp>]) -> Option<Vec<bool>> {
    let mut written: HashSet<Val> = HashSet::new();
    written.insert(Val::Nil);
    for o in ops.iter() {
        match &o.op {
            RegisterOp::Write(v) | RegisterOp::Cas(_, v) | RegisterOp::CasMaybe(_, v) => {
                written.insert(v.clone());
            }
            RegisterOp::Read(_) | RegisterOp::CasMismatch(_) => {}
        }
    }
    let mut keep: Vec<bool> = ops
        .iter()
        .map(|o| match &o.op {
            RegisterOp::CasMaybe(from, to) => from != to && written.contains(from),
            _ => true,
        })
        .collect();
    let mut observed: HashSet<&Val> = HashSet::new();
    observed.insert(&Val::Nil);
    let mut mismatches = false;
    for (o, _) in ops.iter().zip(&keep).filter(|(_, k)| **k) {
        match &o.op {
            RegisterOp::Read(v) | RegisterOp::Cas(v, _) | RegisterOp::CasMaybe(v, _) => {
                observed.insert(v);
            }
            RegisterOp::CasMismatch(v) => {
                mismatches = true;
                observed.insert(v);
            }
            RegisterOp::Write(_) => {}
        }
    }
    let junk: HashSet<Val> = written
        .iter()
        .filter(|v| !observed.contains(v))
        .cloned()
        .collect();
    let representative = ops.iter().find_map(|o| match &o.op {
        RegisterOp::Write(v) | RegisterOp::Cas(_, v) | RegisterOp::CasMaybe(_, v)
            if junk.contains(v) =>
        {
            Some(v.clone())
        }
        _ => None,
    });
    if let Some(r) = representative {
        for (o, k) in ops.iter_mut().zip(keep.iter_mut()) {
            let crashed = o.ret.is_none();
            match &mut o.op {
                RegisterOp::Write(v) | RegisterOp::Cas(_, v) | RegisterOp::CasMaybe(_, v)
                    if junk.contains(v) =>
                {
                    *v = r.clone();
                    if crashed && !mismatches {
                        *k = false;
                    }
                }
                _ => {}
            }
        }
    }
    Some(keep)
}

/// The operation with a known outcome, earliest to return, that saw a
/// value no operation of the key wrote (and not the initial `null`): a read
/// of it or a successful cas from it. Every reachable state is `null` or a
/// written value, so no order can place it.
pub fn impossible(ops: &[SearchOp<RegisterOp>]) -> Option<(usize, String)> {
    let mut written: HashSet<&Val> = HashSet::new();
    written.insert(&Val::Nil);
    for o in ops {
        if let RegisterOp::Write(v) | RegisterOp::Cas(_, v) | RegisterOp::CasMaybe(_, v) = &o.op {
            written.insert(v);
        }
    }
    ops.iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let seen = match &o.op {
                RegisterOp::Read(v) | RegisterOp::Cas(v, _) => v,
                _ => return None,
            };
            let ret = o.ret?;
            (!written.contains(seen)).then_some((ret, i, seen))
        })
        .min_by_key(|&(ret, _, _)| ret)
        .map(|(_, i, seen)| {
            let seen = seen.to_json();
            (i, format!("no operation on this key wrote {seen}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(o: RegisterOp, ret: Option<u64>) -> SearchOp<RegisterOp> {
        SearchOp {
            op: o,
            call: 0,
            ret,
        }
    }

    #[test]
    fn unobserved_values_merge_and_their_crashed_writes_go() {
        let mut ops = vec![
            op(RegisterOp::Write(Val::Int(7)), Some(1)),
            op(RegisterOp::Write(Val::Int(9)), None),
            op(RegisterOp::Read(Val::Int(1)), Some(2)),
            op(RegisterOp::Write(Val::Int(1)), None),
            op(RegisterOp::CasMaybe(Val::Int(5), Val::Int(1)), None),
            op(RegisterOp::CasMaybe(Val::Int(1), Val::Int(1)), None),
        ];
        let keep = reduce(&mut ops).unwrap();
        assert_eq!(ops[1].op, RegisterOp::Write(Val::Int(7)));
        assert_eq!(keep, vec![true, false, true, true, false, false]);
    }

    #[test]
    fn a_read_of_a_value_never_written_is_impossible() {
        let ops = vec![
            SearchOp {
                op: RegisterOp::Write(Val::Int(1)),
                call: 0,
                ret: Some(1),
            },
            SearchOp {
                op: RegisterOp::Read(Val::Int(5)),
                call: 2,
                ret: Some(9),
            },
            SearchOp {
                op: RegisterOp::Cas(Val::Int(4), Val::Int(1)),
                call: 3,
                ret: Some(4),
            },
            SearchOp {
                op: RegisterOp::Read(Val::Nil),
                call: 5,
                ret: Some(6),
            },
        ];
        let (i, why) = impossible(&ops).unwrap();
        assert_eq!(i, 2, "the earliest to return");
        assert!(why.contains("wrote 4"), "{why}");
        assert_eq!(impossible(&ops[..1]), None);
    }

    #[test]
    fn a_mismatch_keeps_crashed_writes_of_unobserved_values() {
        let mut ops = vec![
            op(RegisterOp::Write(Val::Int(1)), Some(1)),
            op(RegisterOp::Write(Val::Int(9)), None),
            op(RegisterOp::CasMismatch(Val::Int(1)), Some(2)),
        ];
        let keep = reduce(&mut ops).unwrap();
        assert_eq!(keep, vec![true, true, true]);
    }
}
