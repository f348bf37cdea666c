//! Read / write / compare-and-set registers.
//!
//! A `fail` cas without an `error` field observed a mismatch: the register
//! did not hold `from` at some point in the operation's interval. A `fail`
//! carrying an `error` is a no-op that observed nothing. A cas that ended
//! `info` swaps if the register holds `from` when it is placed.

use serde_json::Value;

use super::{Model, ModelError, Val};
use crate::history::{Operation, Outcome};

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

    fn render_state(&self, state: &Val) -> Value {
        state.to_json()
    }
}
