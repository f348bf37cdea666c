//! faultline-node: a Raft key-value node. The Raft core in [`raft`] is pure and
//! deterministic; storage, transport and the HTTP API wrap it.

pub mod bugs;
pub mod raft;
