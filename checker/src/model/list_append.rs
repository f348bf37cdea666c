//! Append an element to a list per key; a read returns the whole list.

use std::sync::Arc;

use serde_json::Value;

use super::{Model, ModelError, Val};
use crate::history::{Operation, Outcome};

/// The list-append model: one list per key, empty when never written.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListAppend;

/// A list operation in compact form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListOp {
    /// Append one element to the end of the list.
    Append(Val),
    /// A read that returned this whole list.
    Read(Vec<Val>),
}

impl Model for ListAppend {
    type State = Arc<[Val]>;
    type Op = ListOp;

    fn init(&self) -> Arc<[Val]> {
        Arc::from(Vec::new())
    }

    fn prepare(&self, op: &Operation) -> Result<Option<ListOp>, ModelError> {
        if op.outcome == Outcome::Fail {
            return Ok(None);
        }
        Ok(Some(match op.f.as_str() {
            "append" => ListOp::Append(Val::from_json(&op.input)),
            "read" => match (&op.outcome, &op.output) {
                (Outcome::Ok, Value::Null) => ListOp::Read(Vec::new()),
                (Outcome::Ok, Value::Array(items)) => {
                    ListOp::Read(items.iter().map(Val::from_json).collect())
                }
                (Outcome::Ok, other) => {
                    return Err(ModelError::new(
                        op,
                        format!("a list read must return an array or null, got {other}"),
                    ))
                }
                _ => return Ok(None),
            },
            other => {
                return Err(ModelError::new(
                    op,
                    format!("the list-append model knows append and read, not {other:?}"),
                ))
            }
        }))
    }

    fn step(&self, state: &Arc<[Val]>, op: &ListOp) -> Option<Arc<[Val]>> {
        match op {
            ListOp::Read(seen) => (seen.as_slice() == &**state).then(|| state.clone()),
            ListOp::Append(v) => {
                let mut next = Vec::with_capacity(state.len() + 1);
                next.extend_from_slice(state);
                next.push(v.clone());
                Some(Arc::from(next))
            }
        }
    }

    fn read_only(&self, op: &ListOp) -> bool {
        matches!(op, ListOp::Read(_))
    }

    fn render_state(&self, state: &Arc<[Val]>) -> Value {
        Value::Array(state.iter().map(Val::to_json).collect())
    }
}
