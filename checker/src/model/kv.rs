//! Get / put / append on string values (Porcupine's KV model). Each key is
//! its own object: the checker splits histories by key first.

use std::sync::Arc;

use serde_json::Value;

use super::{Model, ModelError};
use crate::history::{Operation, Outcome};

/// The KV model: one string per key, "" when never written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kv;

/// A KV operation in compact form.
#[derive(Debug, Clone, PartialEq)]
pub enum KvOp {
    /// A get that returned this string.
    Get(String),
    /// A put of this string.
    Put(String),
    /// An append of this string.
    Append(String),
}

fn string_of(op: &Operation, v: &Value, what: &str) -> Result<String, ModelError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Err(ModelError::new(op, format!("{what} must be a string, got {other}"))),
    }
}

impl Model for Kv {
    type State = Arc<str>;
    type Op = KvOp;

    fn init(&self) -> Arc<str> {
        Arc::from("")
    }

    fn prepare(&self, op: &Operation) -> Result<Option<KvOp>, ModelError> {
        if op.outcome == Outcome::Fail {
            return Ok(None);
        }
        Ok(Some(match op.f.as_str() {
            "get" | "read" => match op.outcome {
                Outcome::Ok => KvOp::Get(string_of(op, &op.output, "get's result")?),
                _ => return Ok(None),
            },
            "put" | "write" => KvOp::Put(string_of(op, &op.input, "put's value")?),
            "append" => KvOp::Append(string_of(op, &op.input, "append's value")?),
            other => {
                return Err(ModelError::new(
                    op,
                    format!("the kv model knows get, put and append, not {other:?}"),
                ))
            }
        }))
    }

    fn step(&self, state: &Arc<str>, op: &KvOp) -> Option<Arc<str>> {
        match op {
            KvOp::Get(v) => (v.as_str() == &**state).then(|| state.clone()),
            KvOp::Put(v) => Some(Arc::from(v.as_str())),
            KvOp::Append(v) => {
                let mut s = String::with_capacity(state.len() + v.len());
                s.push_str(state);
                s.push_str(v);
                Some(Arc::from(s))
            }
        }
    }

    fn render_state(&self, state: &Arc<str>) -> Value {
        Value::String(state.to_string())
    }
}
