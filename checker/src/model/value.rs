//! A compact, hashable stand-in for JSON values held in model states.

use std::sync::Arc;

use serde_json::Value;

/// A JSON value as a model state holds it: integers inline, anything else as
/// its canonical JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Val {
    /// `null`: the register was never written.
    Nil,
    /// An integer that fits in 64 bits, held inline.
    Int(i64),
    /// Any other JSON value, as its JSON text.
    Json(Arc<str>),
}

impl Val {
    /// Converts a JSON value.
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Nil,
            Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Json(n.to_string().into()),
            },
            other => Val::Json(other.to_string().into()),
        }
    }

    /// The value as JSON again, for counterexamples and reports.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Nil => Value::Null,
            Val::Int(i) => Value::from(*i),
            Val::Json(s) => {
                serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
            }
        }
    }
}
