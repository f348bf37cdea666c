//! A transactional history in compact form: every transaction's
//! micro-operations in one shared array, keys interned to small integers,
//! list reads in one shared element pool. A million transactions of four
//! micro-operations take a few hundred megabytes, not the gigabytes a tree
//! of JSON values would.

use rustc_hash::FxHashMap;

use crate::history::Outcome;

/// An interned key: its position in [`TxnHistory::keys`].
pub type KeyId = u32;

/// What a micro-operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MopKind {
    /// `append k v`: adds the unique element v at the end of list k.
    Append,
    /// `w k v`: sets register k to the unique value v.
    Write,
    /// `r k v`: reads k.
    Read,
}

impl MopKind {
    /// The history's name: `append`, `w` or `r`.
    pub fn name(self) -> &'static str {
        match self {
            MopKind::Append => "append",
            MopKind::Write => "w",
            MopKind::Read => "r",
        }
    }
}

/// What a read micro-operation saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadValue {
    /// Not known: the read of an invocation, or of a transaction whose
    /// outcome is unknown.
    Unknown,
    /// `nil` / `null`: the initial state (a register never written; for
    /// lists the same as the empty list).
    Nil,
    /// A register's value.
    Int(i64),
    /// A list: `len` elements from `start` in [`TxnHistory::elements`].
    List {
        /// First element's position in the pool.
        start: u32,
        /// Number of elements.
        len: u32,
    },
}

/// One micro-operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mop {
    /// Append, write or read.
    pub kind: MopKind,
    /// The key it acts on.
    pub key: KeyId,
    /// The appended or written value (0 for reads).
    pub arg: i64,
    /// What a read saw ([`ReadValue::Unknown`] for appends and writes).
    pub read: ReadValue,
}

/// One transaction: an invocation and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// The client process that ran it.
    pub process: u64,
    /// ok (committed), fail (certainly not committed) or info (unknown).
    pub outcome: Outcome,
    /// History index of the invocation.
    pub invoke_index: u64,
    /// History index of the completion; None for info and never completed.
    pub complete_index: Option<u64>,
    /// Position of the invocation among the history's events (orders
    /// real time even where indices are sparse or times coarse).
    pub invoke_pos: u64,
    /// Position of the completion among the events, when it completed ok or
    /// fail.
    pub complete_pos: Option<u64>,
    /// Time of the invocation (ns).
    pub invoke_time: u64,
    /// Time of the completion (ns), when there is one.
    pub complete_time: Option<u64>,
    /// 1-based source line of the invocation.
    pub line: usize,
    /// First micro-operation in [`TxnHistory::mops`].
    pub mop_start: u32,
    /// Number of micro-operations.
    pub mop_len: u32,
}

/// Interns keys (as their text: `:x` and `"x"` are the same key `x`, an
/// integer key 11 is `11`).
#[derive(Debug, Clone, Default)]
pub struct Keys {
    names: Vec<String>,
    ids: FxHashMap<String, KeyId>,
    /// Integer keys, found without writing them out.
    ints: FxHashMap<i64, KeyId>,
}

impl Keys {
    /// The id of `name`, allocating one on first sight.
    pub fn intern(&mut self, name: &str) -> KeyId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as KeyId;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// The id of the integer key `k` (the same as of its decimal text).
    pub fn intern_int(&mut self, k: i64) -> KeyId {
        if let Some(&id) = self.ints.get(&k) {
            return id;
        }
        let id = self.intern(&k.to_string());
        self.ints.insert(k, id);
        id
    }

    /// The text of key `id`.
    pub fn name(&self, id: KeyId) -> &str {
        &self.names[id as usize]
    }

    /// How many distinct keys.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no key was seen.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A whole transactional history, in invocation order.
#[derive(Debug, Clone, Default)]
pub struct TxnHistory {
    /// Every transaction, in invocation order.
    pub txns: Vec<Txn>,
    /// Every micro-operation; a transaction's are contiguous.
    pub mops: Vec<Mop>,
    /// Every element of every list read.
    pub elements: Vec<i64>,
    /// The keys.
    pub keys: Keys,
}

impl TxnHistory {
    /// The micro-operations of transaction `t`.
    pub fn mops_of(&self, t: usize) -> &[Mop] {
        let txn = &self.txns[t];
        &self.mops[txn.mop_start as usize..(txn.mop_start + txn.mop_len) as usize]
    }

    /// The elements of a list read (empty for anything else).
    pub fn list(&self, read: ReadValue) -> &[i64] {
        match read {
            ReadValue::List { start, len } => {
                &self.elements[start as usize..(start + len) as usize]
            }
            _ => &[],
        }
    }

    /// A micro-operation as the history writes it: `[:append x 1]`,
    /// `[:r x [1 2]]`, `[:w y 3]`, `[:r y nil]`.
    pub fn render_mop(&self, m: &Mop) -> String {
        let key = self.keys.name(m.key);
        match m.kind {
            MopKind::Append | MopKind::Write => format!("[:{} {} {}]", m.kind.name(), key, m.arg),
            MopKind::Read => format!("[:r {} {}]", key, self.render_read(m.read)),
        }
    }

    /// What a read saw, as EDN: `nil`, `3`, `[1 2]`.
    pub fn render_read(&self, r: ReadValue) -> String {
        match r {
            ReadValue::Unknown | ReadValue::Nil => "nil".into(),
            ReadValue::Int(v) => v.to_string(),
            ReadValue::List { .. } => {
                let items: Vec<String> = self.list(r).iter().map(|e| e.to_string()).collect();
                format!("[{}]", items.join(" "))
            }
        }
    }

    /// A transaction in one line: `p3 ok [[:append x 1] [:r y [1]]]`.
    pub fn render_txn(&self, t: usize) -> String {
        let txn = &self.txns[t];
        let mops: Vec<String> = self.mops_of(t).iter().map(|m| self.render_mop(m)).collect();
        let outcome = match txn.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        };
        format!(
            "p{} {} [{}] (index {})",
            txn.process,
            outcome,
            mops.join(" "),
            txn.complete_index.unwrap_or(txn.invoke_index)
        )
    }

    /// Counts of committed, failed and unknown transactions.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for t in &self.txns {
            match t.outcome {
                Outcome::Ok => c.0 += 1,
                Outcome::Fail => c.1 += 1,
                Outcome::Info => c.2 += 1,
            }
        }
        c
    }
}
