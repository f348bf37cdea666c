//! What inference produces, whichever model: edges between transactions,
//! anomalies found without a cycle, and what is known of each key's
//! versions (for explanations).

use rustc_hash::FxHashMap;

use super::anomaly::Found;
use super::history::{KeyId, Mop, MopKind, TxnHistory};

/// What is known of one key's versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Versions {
    /// A list's elements in order (the longest read), and the committed
    /// transactions whose appends nobody read (they come after, in an
    /// unknown order).
    List {
        /// The elements, oldest first.
        order: Vec<i64>,
        /// Appenders of elements after `order`.
        writers_after: Vec<u32>,
    },
    /// Reads of the key disagree on its order: no ww or rw edge from it.
    Incompatible,
    /// A register: only the initial state precedes every written value.
    Register,
}

/// The result of a model's inference.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    /// Which transactions are graph nodes (committed or unknown).
    pub member: Vec<bool>,
    /// Data edges: `(from, to, label)`.
    pub edges: Vec<(u32, u32, u8)>,
    /// Non-cyclic anomalies.
    pub found: Vec<Found>,
    /// Per key, what is known of its versions.
    pub versions: FxHashMap<KeyId, Versions>,
    /// Why nothing can be inferred (Elle answers `unknown`), if so.
    pub unknown: Option<String>,
}

impl Inference {
    /// An empty inference over transactions marked `member`.
    pub fn new(member: Vec<bool>) -> Inference {
        Inference {
            member,
            ..Inference::default()
        }
    }

    /// Gives up (`unknown`): `m`'s value was written to its key by
    /// transaction `prev` already, and `t` writes it again; without unique
    /// values nothing tells the two apart.
    pub fn not_unique(&mut self, h: &TxnHistory, m: &Mop, prev: u32, t: usize, model: &str) {
        self.unknown = Some(format!(
            "value {} {} key {} twice (lines {} and {}): {model} needs unique {}",
            m.arg,
            if model == "list-append" {
                "appended to"
            } else {
                "written to"
            },
            h.keys.name(m.key),
            h.txns[prev as usize].line,
            h.txns[t].line,
            if model == "list-append" {
                "appends"
            } else {
                "writes"
            },
        ));
    }
}

/// Whether transaction `t` writes key `k` with a micro-operation of `kind`.
pub fn writes_key(h: &TxnHistory, t: u32, k: KeyId, kind: MopKind) -> bool {
    h.mops_of(t as usize)
        .iter()
        .any(|m| m.kind == kind && m.key == k)
}

/// Reports `lost-update` for every version of key `k` that more than one
/// committed writer of `k` read (`by_version`: version -> those readers);
/// `name` writes a version out.
pub fn lost_updates<V: Ord + std::hash::Hash>(
    h: &TxnHistory,
    k: KeyId,
    by_version: FxHashMap<V, Vec<u32>>,
    name: impl Fn(&V) -> String,
    found: &mut Vec<Found>,
) {
    let mut lost: Vec<(V, Vec<u32>)> = by_version
        .into_iter()
        .filter(|(_, ts)| ts.len() > 1)
        .collect();
    lost.sort_unstable();
    for (version, ts) in lost {
        let mut f = Found::on("lost-update", ts[0] as usize)
            .key(k)
            .expected(format!(
                "one writer of the version {} of {}",
                name(&version),
                h.keys.name(k)
            ));
        for &t in &ts[1..] {
            f = f.with(t as usize);
        }
        found.push(f);
    }
}
