//! Models of the objects under test. A model is a small sequential
//! specification: an initial state, and a step that applies one operation to
//! a state or says the operation could not have happened there. Adding a
//! model is a page of code: implement [`Model`] and name it in [`ModelKind`].
//!
//! Models are what the linearizability search checks against; checks of
//! another kind (Jepsen's set-full analysis in [`crate::set_full`], the
//! harness's checkers) are not models.

pub mod kv;
pub mod list_append;
pub mod register;
mod value;

use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

use serde_json::Value;

use crate::history::Operation;
use crate::search_op::SearchOp;

pub use value::Val;

/// A sequential specification the linearizability search checks against.
pub trait Model: Sync {
    /// The object's state; compared and hashed by the search's cache.
    type State: Clone + Eq + Hash + Send + Sync;
    /// An operation translated into the model's compact form. Equal
    /// operations that ended `info` are interchangeable in the search.
    type Op: Clone + Eq + Hash + Send + Sync;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Translates an operation. `Ok(None)` means it neither changed nor
    /// observed anything and can be left out (a failed write, an unknown read).
    fn prepare(&self, op: &Operation) -> Result<Option<Self::Op>, ModelError>;

    /// Applies `op` to `state`: the next state, or `None` when what `op`
    /// observed is impossible in `state`.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// Whether `op` never changes any state (a read, an observed cas
    /// mismatch). The search places such operations as soon as they fit,
    /// without trying the alternatives: any linearization can move them there.
    fn read_only(&self, op: &Self::Op) -> bool;

    /// Whether `op` replaces the state outright (a put), as opposed to
    /// extending it. Only meaningful where [`Model::may_still_see`] prunes.
    fn resets(&self, _op: &Self::Op) -> bool {
        false
    }

    /// Whether the read-only `read` could still be placed after `state` if
    /// no resetting operation comes between: for a model whose other
    /// operations only extend the state (appends). Must never say no when
    /// the answer is yes; the default never prunes.
    fn may_still_see(&self, _state: &Self::State, _read: &Self::Op) -> bool {
        true
    }

    /// Rewrites one key's operations into a smaller search with the same
    /// answer, and says which to keep (None: keep all, unchanged). Must be
    /// exact: the rewritten operations are linearizable if and only if the
    /// originals are, and every order of kept operations that the rewritten
    /// ones admit, the originals admit too (so that counterexample states can
    /// be recomputed from the originals).
    fn reduce(&self, _ops: &mut [SearchOp<Self::Op>]) -> Option<Vec<bool>> {
        None
    }

    /// An operation with a known outcome that no reachable state admits
    /// (e.g. a read of a value nothing wrote), with why: the key is then not
    /// linearizable without a search, which would have to try every order
    /// of what comes before it to find that out. None when there is none or
    /// the model cannot tell.
    fn impossible(&self, _ops: &[SearchOp<Self::Op>]) -> Option<(usize, String)> {
        None
    }

    /// The state as JSON, for counterexamples.
    fn render_state(&self, state: &Self::State) -> Value;
}

/// An operation the model cannot interpret.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("operation at history index {index} ({describe}): {message}")]
pub struct ModelError {
    /// History index of the operation's invocation.
    pub index: u64,
    /// The operation, one line.
    pub describe: String,
    /// Why the model cannot interpret it.
    pub message: String,
}

impl ModelError {
    /// An error about `op`.
    pub fn new(op: &Operation, message: impl Into<String>) -> Self {
        ModelError {
            index: op.invoke_index,
            describe: op.describe(),
            message: message.into(),
        }
    }
}

/// The sequential specifications the linearizability search knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// Read / write / compare-and-set registers, one per key.
    Register,
    /// Get / put / append on strings per key (Porcupine's KV model).
    Kv,
    /// Append an element to a list per key; a read returns the whole list.
    ListAppend,
}

impl ModelKind {
    /// Every model, in the order `faultline list` shows them.
    pub const ALL: [ModelKind; 3] = [ModelKind::Register, ModelKind::Kv, ModelKind::ListAppend];

    /// The name `--model` takes and `results.json` writes.
    pub const fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::Kv => "kv",
            ModelKind::ListAppend => "list-append",
        }
    }

    /// One line of help.
    pub fn description(self) -> &'static str {
        match self {
            ModelKind::Register => {
                "read / write / cas [from to] registers, one per key; linearizability"
            }
            ModelKind::Kv => {
                "get / put / append on string values per key (Porcupine's KV); linearizability"
            }
            ModelKind::ListAppend => {
                "append an element, read the whole list, per key; linearizability"
            }
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = ModelKind::ALL.iter().map(|m| m.name()).collect();
                format!("unknown model {s:?}; known: {}", names.join(", "))
            })
    }
}

impl ModelKind {
    /// Guesses the model from the functions a history uses: `get`/`put` mean
    /// kv, `append` with whole-list reads list-append, and
    /// `read`/`write`/`cas` register. A history of `add`s fits no model
    /// (it is a set's, for the set-full analysis).
    pub fn guess(ops: &[Operation]) -> Option<ModelKind> {
        let has = |f: &str| ops.iter().any(|o| o.f == f);
        if has("get") || has("put") {
            Some(ModelKind::Kv)
        } else if has("add") {
            None
        } else if has("append") {
            let string_values = ops.iter().any(|o| o.f == "append" && o.input.is_string());
            Some(if string_values {
                ModelKind::Kv
            } else {
                ModelKind::ListAppend
            })
        } else if has("read") || has("write") || has("cas") {
            Some(ModelKind::Register)
        } else {
            None
        }
    }
}
