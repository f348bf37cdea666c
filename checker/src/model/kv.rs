//! Get / put / append on string values (Porcupine's KV model). Each key is
//! its own object: the checker splits histories by key first.
//!
//! The state is a persistent chain of appended pieces with its length and a
//! polynomial hash kept up to date, so an append costs one small allocation
//! and hashing a state costs nothing, however long the string grows. States
//! are still compared byte for byte, so the search stays exact.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::Value;

use super::{Model, ModelError};
use crate::history::{Operation, Outcome};

/// The KV model: one string per key, "" when never written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kv;

const BASE: u64 = 0x100_0000_01b3;

/// A string with its length and polynomial hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Piece {
    text: Arc<str>,
    hash: u64,
    /// BASE to the power of the text's length.
    shift: u64,
    /// For a get's result: the hash of every prefix, by length.
    prefixes: Option<Arc<[u64]>>,
}

impl Piece {
    fn new(text: &str) -> Piece {
        let mut hash = 0u64;
        let mut shift = 1u64;
        for b in text.bytes() {
            hash = hash.wrapping_mul(BASE).wrapping_add(u64::from(b) + 1);
            shift = shift.wrapping_mul(BASE);
        }
        Piece {
            text: text.into(),
            hash,
            shift,
            prefixes: None,
        }
    }

    fn with_prefixes(text: &str) -> Piece {
        let mut prefixes = Vec::with_capacity(text.len() + 1);
        let mut hash = 0u64;
        prefixes.push(hash);
        for b in text.bytes() {
            hash = hash.wrapping_mul(BASE).wrapping_add(u64::from(b) + 1);
            prefixes.push(hash);
        }
        Piece {
            prefixes: Some(prefixes.into()),
            ..Piece::new(text)
        }
    }
}

/// A KV operation in compact form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// A get that returned this string.
    Get(Piece),
    /// A put of this string.
    Put(Piece),
    /// An append of this string.
    Append(Piece),
}

#[derive(Debug)]
struct Node {
    prev: Option<Arc<Node>>,
    piece: Arc<str>,
}

impl Drop for Node {
    /// Drops a long chain iteratively, not recursively, so it cannot
    /// overflow the stack.
    fn drop(&mut self) {
        let mut prev = self.prev.take();
        while let Some(node) = prev {
            match Arc::try_unwrap(node) {
                Ok(mut n) => prev = n.prev.take(),
                Err(_) => break,
            }
        }
    }
}

/// The value of one key: the pieces appended since the last put.
#[derive(Debug, Clone, Default)]
pub struct KvState {
    len: usize,
    hash: u64,
    last: Option<Arc<Node>>,
}

impl KvState {
    /// Bytes from the end to the start.
    fn rev_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let mut node = self.last.as_deref();
        std::iter::from_fn(move || {
            let n = node?;
            node = n.prev.as_deref();
            Some(n.piece.bytes().rev())
        })
        .flatten()
    }

    fn matches(&self, p: &Piece) -> bool {
        self.len == p.text.len() && self.hash == p.hash && self.rev_bytes().eq(p.text.bytes().rev())
    }

    /// The whole string the piece stands for, first byte first.
    pub fn to_string_value(&self) -> String {
        let mut bytes: Vec<u8> = self.rev_bytes().collect();
        bytes.reverse();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn append(&self, p: &Piece) -> KvState {
        KvState {
            len: self.len + p.text.len(),
            hash: self.hash.wrapping_mul(p.shift).wrapping_add(p.hash),
            last: Some(Arc::new(Node {
                prev: self.last.clone(),
                piece: p.text.clone(),
            })),
        }
    }
}

impl PartialEq for KvState {
    fn eq(&self, other: &Self) -> bool {
        if self.len != other.len || self.hash != other.hash {
            return false;
        }
        match (&self.last, &other.last) {
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => true,
            _ => self.rev_bytes().eq(other.rev_bytes()),
        }
    }
}

impl Eq for KvState {}

impl Hash for KvState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash ^ (self.len as u64).rotate_left(32));
    }
}

fn piece_of(op: &Operation, v: &Value, what: &str) -> Result<Piece, ModelError> {
    match v {
        Value::String(s) => Ok(Piece::new(s)),
        Value::Null => Ok(Piece::new("")),
        other => Err(ModelError::new(
            op,
            format!("{what} must be a string, got {other}"),
        )),
    }
}

impl Model for Kv {
    type State = KvState;
    type Op = KvOp;

    fn init(&self) -> KvState {
        KvState::default()
    }

    fn prepare(&self, op: &Operation) -> Result<Option<KvOp>, ModelError> {
        if op.outcome == Outcome::Fail {
            return Ok(None);
        }
        Ok(Some(match op.f.as_str() {
            "get" | "read" => match op.outcome {
                Outcome::Ok => {
                    let seen = piece_of(op, &op.output, "get's result")?;
                    KvOp::Get(Piece::with_prefixes(&seen.text))
                }
                _ => return Ok(None),
            },
            "put" | "write" => KvOp::Put(piece_of(op, &op.input, "put's value")?),
            "append" => KvOp::Append(piece_of(op, &op.input, "append's value")?),
            other => {
                return Err(ModelError::new(
                    op,
                    format!("the kv model knows get, put and append, not {other:?}"),
                ))
            }
        }))
    }

    fn step(&self, state: &KvState, op: &KvOp) -> Option<KvState> {
        match op {
            KvOp::Get(v) => state.matches(v).then(|| state.clone()),
            KvOp::Put(v) => Some(KvState::default().append(v)),
            KvOp::Append(v) => Some(state.append(v)),
        }
    }

    fn read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_))
    }

    fn resets(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Put(_))
    }

    /// Without a put in between, a get must see an extension of the current
    /// string: its prefix of the current length must hash the same (equal
    /// hashes of different strings only keep a configuration that could have
    /// been pruned, so the answer stays exact).
    fn may_still_see(&self, state: &KvState, read: &KvOp) -> bool {
        match read {
            KvOp::Get(p) => match &p.prefixes {
                Some(prefixes) => prefixes.get(state.len) == Some(&state.hash),
                None => true,
            },
            _ => true,
        }
    }

    fn render_state(&self, state: &KvState) -> Value {
        Value::String(state.to_string_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_built_differently_compare_by_content() {
        let a = KvState::default()
            .append(&Piece::new("ab"))
            .append(&Piece::new("c"));
        let b = KvState::default()
            .append(&Piece::new("a"))
            .append(&Piece::new("bc"));
        let c = KvState::default().append(&Piece::new("abd"));
        assert_eq!(a, b);
        assert_eq!(crate::linear::state_hash(&a), crate::linear::state_hash(&b));
        assert_ne!(a, c);
        assert!(a.matches(&Piece::new("abc")));
        assert!(!a.matches(&Piece::new("abd")));
        assert_eq!(a.to_string_value(), "abc");
        let put = Kv.step(&a, &KvOp::Put(Piece::new("x"))).unwrap();
        assert_eq!(put.to_string_value(), "x");
    }
}
