//! The replicated key-value state machine: the commands clients propose, how
//! they apply, and the snapshot of the whole map.
//!
//! Values are JSON texts kept as strings (serde_json writes objects with
//! sorted keys, so equal values have equal texts and `cas` compares texts).
//! A transaction ([`Command::Txn`], see [`txn`]) is one command: its
//! micro-operations apply together, at one log index.

mod txn;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use txn::{Completed, MicroOp};

/// A command in a log entry (bincode-encoded in `Entry::data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Set `key` to `value`.
    Put {
        /// The key; whatever it held, a list included, is replaced.
        key: String,
        /// The new value (JSON text).
        value: String,
    },
    /// Set `key` to `to` if it holds `from`.
    Cas {
        /// The key; it must hold a single value equal to `from` (absent or a list: mismatch).
        key: String,
        /// The expected value (JSON text).
        from: String,
        /// The new value (JSON text).
        to: String,
    },
    /// Append `value` to the list held by `key` (an absent key is an empty list).
    Append {
        /// The key; it must hold a list or be absent.
        key: String,
        /// The element (JSON text).
        value: String,
    },
    /// Apply `ops` atomically: all of them, in order, or (a key of the
    /// wrong kind) none.
    Txn {
        /// The micro-operations, in order.
        ops: Vec<MicroOp>,
    },
}

impl Command {
    /// The bytes stored in a log entry.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("commands always serialize")
    }

    /// Decodes a log entry's bytes.
    pub fn decode(data: &[u8]) -> Result<Command, bincode::Error> {
        bincode::deserialize(data)
    }

    /// Whether the command's effect does not depend on the current state
    /// (what `ack-before-commit` acknowledges early). A transaction's does:
    /// it reads, or it is refused on a key of the other kind.
    pub fn is_blind(&self) -> bool {
        !matches!(self, Command::Cas { .. } | Command::Txn { .. })
    }
}

/// What a key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stored {
    /// A single value (JSON text), written by `put` or `cas`.
    Value(String),
    /// A list of elements (JSON texts), built by `append`.
    List(Vec<String>),
}

impl Stored {
    /// The value as JSON: the value itself, or an array of the elements.
    pub fn to_json(&self) -> serde_json::Value {
        let parse = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
        match self {
            Stored::Value(v) => parse(v),
            Stored::List(items) => {
                serde_json::Value::Array(items.iter().map(|s| parse(s)).collect())
            }
        }
    }
}

/// The result of applying one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// The command took effect.
    Done,
    /// A `cas` whose expected value was not there: nothing changed.
    CasMismatch,
    /// An `append` to a key that holds a single value: nothing changed.
    NotAList,
    /// A transaction took effect: each micro-operation, with what the reads saw.
    Txn(Vec<Completed>),
    /// A transaction with a micro-operation on a key of the other kind
    /// (an append to a register, a write to a list): nothing changed.
    TypeMismatch {
        /// The first key of the wrong kind.
        key: String,
    },
}

/// The state machine: every key and what it holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KvStore {
    map: HashMap<String, Stored>,
}

impl KvStore {
    /// A store with no keys (also what an empty snapshot restores to).
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// What `key` holds, if it was ever written.
    pub fn get(&self, key: &str) -> Option<&Stored> {
        self.map.get(key)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key was ever written.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every key and what it holds, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Stored)> {
        self.map.iter()
    }

    /// Applies one committed command; a refused `cas`, `append` or
    /// transaction changes nothing and says why.
    pub fn apply(&mut self, cmd: &Command) -> Applied {
        match cmd {
            Command::Put { key, value } => {
                self.map.insert(key.clone(), Stored::Value(value.clone()));
                Applied::Done
            }
            Command::Cas { key, from, to } => match self.map.get_mut(key) {
                Some(Stored::Value(current)) if current == from => {
                    *current = to.clone();
                    Applied::Done
                }
                _ => Applied::CasMismatch,
            },
            Command::Append { key, value } => {
                match self
                    .map
                    .entry(key.clone())
                    .or_insert_with(|| Stored::List(Vec::new()))
                {
                    Stored::List(items) => {
                        items.push(value.clone());
                        Applied::Done
                    }
                    Stored::Value(_) => Applied::NotAList,
                }
            }
            Command::Txn { ops } => self.transact(ops),
        }
    }

    /// The whole store as snapshot bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut entries: Vec<(&String, &Stored)> = self.map.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        bincode::serialize(&entries).expect("the store always serializes")
    }

    /// A 64-bit digest of the whole store (FNV-1a over its snapshot bytes,
    /// keys in order): two replicas that applied the same entries have the
    /// same digest, whichever order their maps keep.
    pub fn digest(&self) -> u64 {
        self.snapshot().iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    /// The store a snapshot holds.
    pub fn restore(data: &[u8]) -> Result<KvStore, bincode::Error> {
        if data.is_empty() {
            return Ok(KvStore::new());
        }
        let entries: Vec<(String, Stored)> = bincode::deserialize(data)?;
        Ok(KvStore {
            map: entries.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Command {
        Command::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn cas_compares_the_current_value() {
        let mut kv = KvStore::new();
        let cas = Command::Cas {
            key: "a".into(),
            from: "1".into(),
            to: "2".into(),
        };
        assert_eq!(kv.apply(&cas), Applied::CasMismatch, "absent key");
        kv.apply(&put("a", "1"));
        assert_eq!(kv.apply(&cas), Applied::Done);
        assert_eq!(kv.get("a"), Some(&Stored::Value("2".into())));
        assert_eq!(kv.apply(&cas), Applied::CasMismatch);
    }

    #[test]
    fn append_builds_a_list_and_refuses_single_values() {
        let mut kv = KvStore::new();
        let app = |v: &str| Command::Append {
            key: "l".into(),
            value: v.into(),
        };
        kv.apply(&app("1"));
        kv.apply(&app("2"));
        assert_eq!(kv.get("l").unwrap().to_json(), serde_json::json!([1, 2]));
        kv.apply(&put("v", "3"));
        let bad = Command::Append {
            key: "v".into(),
            value: "4".into(),
        };
        assert_eq!(kv.apply(&bad), Applied::NotAList);
    }

    #[test]
    fn the_digest_follows_the_contents_not_the_order_of_writes() {
        let mut a = KvStore::new();
        let mut b = KvStore::new();
        for k in ["x", "y", "z"] {
            a.apply(&put(k, "1"));
        }
        for k in ["z", "x", "y"] {
            b.apply(&put(k, "1"));
        }
        assert_eq!(a.digest(), b.digest());
        assert_eq!(
            KvStore::restore(&a.snapshot()).unwrap().digest(),
            a.digest()
        );
        b.apply(&put("y", "2"));
        assert_ne!(a.digest(), b.digest());
        assert_ne!(KvStore::new().digest(), a.digest());
    }

    #[test]
    fn snapshots_round_trip_and_commands_decode() {
        let mut kv = KvStore::new();
        for i in 0..50 {
            let cmd = put(&format!("k{i}"), &i.to_string());
            assert_eq!(Command::decode(&cmd.encode()).unwrap(), cmd);
            kv.apply(&cmd);
        }
        let back = KvStore::restore(&kv.snapshot()).unwrap();
        assert_eq!(back, kv);
        assert_eq!(KvStore::restore(&[]).unwrap(), KvStore::new());
        assert!(KvStore::restore(&[1, 2, 3]).is_err());
    }
}
