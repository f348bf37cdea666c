//! The operation as the search sees it: what models reduce and the
//! search places (its own module, below both `model` and `linear`).

/// One operation as the search sees it.
#[derive(Debug, Clone)]
pub struct SearchOp<O> {
    /// The model's form of the operation.
    pub op: O,
    /// History position of the call.
    pub call: u64,
    /// History position of the return; `None` returns at infinity (`info`).
    pub ret: Option<u64>,
}
