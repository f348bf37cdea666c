//! Turning paired operations into the search's input for one model.

use crate::history::{Operation, Outcome};
use crate::model::{Model, ModelError};
use crate::search_op::SearchOp;

/// Operations ready for the search, with where each came from.
pub struct Prepared<O> {
    /// The operations the model kept.
    pub ops: Vec<SearchOp<O>>,
    /// `source[i]` is the index, in the slice given to [`prepare_ops`], of `ops[i]`.
    pub source: Vec<usize>,
}

/// Translates operations with `model`, leaving out those that neither change
/// nor observe anything. Operations that ended `info` return at infinity.
pub fn prepare_ops<M: Model>(model: &M, ops: &[&Operation]) -> Result<Prepared<M::Op>, ModelError> {
    let mut out = Prepared {
        ops: Vec::with_capacity(ops.len()),
        source: Vec::with_capacity(ops.len()),
    };
    for (i, op) in ops.iter().enumerate() {
        if let Some(m) = model.prepare(op)? {
            out.ops.push(SearchOp {
                op: m,
                call: op.invoke_index,
                ret: match op.outcome {
                    Outcome::Info => None,
                    _ => op.complete_index,
                },
            });
            out.source.push(i);
        }
    }
    Ok(out)
}

/// Applies the model's exact reductions ([`Model::reduce`]) to prepared
/// operations, keeping `source` in step.
pub fn reduce<M: Model>(model: &M, prepared: Prepared<M::Op>) -> Prepared<M::Op> {
    let Prepared {
        mut ops,
        mut source,
    } = prepared;
    let Some(keep) = model.reduce(&mut ops) else {
        return Prepared { ops, source };
    };
    let mut k = keep.iter();
    ops.retain(|_| *k.next().unwrap_or(&true));
    let mut k = keep.iter();
    source.retain(|_| *k.next().unwrap_or(&true));
    Prepared { ops, source }
}
