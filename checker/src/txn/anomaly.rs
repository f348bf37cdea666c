//! What the checker finds, named as Elle names it: non-cyclic anomalies
//! (one transaction, or a key's versions, is wrong on its own) and cycles
//! in the dependency graph.

/// One anomaly, before rendering: transactions are positions in the
/// history's transaction list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Elle's name: `G1a`, `internal`, `G-single-item-realtime`, ...
    pub name: String,
    /// The transactions involved: for a read anomaly the reader first and
    /// then the writer; for a cycle, its transactions in order.
    pub txns: Vec<usize>,
    /// The key, for anomalies about one key.
    pub key: Option<u32>,
    /// Position of the offending micro-operation in the first transaction.
    pub mop: Option<usize>,
    /// The element or value at fault.
    pub element: Option<i64>,
    /// What a correct history would have shown, where that is known
    /// (`[1 2 3]`, `[... 3]`, `two versions [1 2] and [1 3]`).
    pub expected: Option<String>,
    /// For cycles: the edges, `steps[i]` from `txns[i]` to `txns[i+1]`
    /// (the last back to `txns[0]`), as a label bit of [`super::graph`].
    pub steps: Vec<u8>,
}

impl Found {
    /// A non-cyclic anomaly about transaction `t`.
    pub fn on(name: &str, t: usize) -> Found {
        Found {
            name: name.to_string(),
            txns: vec![t],
            key: None,
            mop: None,
            element: None,
            expected: None,
            steps: Vec::new(),
        }
    }

    /// Sets the key.
    pub fn key(mut self, k: u32) -> Found {
        self.key = Some(k);
        self
    }

    /// Sets the offending micro-operation.
    pub fn mop(mut self, i: usize) -> Found {
        self.mop = Some(i);
        self
    }

    /// Sets the element at fault.
    pub fn element(mut self, e: i64) -> Found {
        self.element = Some(e);
        self
    }

    /// Adds another transaction (a writer, a second reader).
    pub fn with(mut self, t: usize) -> Found {
        self.txns.push(t);
        self
    }

    /// Sets what was expected.
    pub fn expected(mut self, e: impl Into<String>) -> Found {
        self.expected = Some(e.into());
        self
    }
}
