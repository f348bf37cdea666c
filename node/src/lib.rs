//! faultline-node: a Raft key-value node. The Raft core in [`raft`] (the
//! `faultline-raft` crate, re-exported) is pure and deterministic;
//! [`replica`] joins it with [`kv`], the replicated state machine, and the
//! client requests waiting on both, still without I/O; [`storage`] makes
//! its state durable, and [`server`] wires the replica to storage, peers
//! (TCP) and clients (HTTP).

/// The Raft core (the `faultline-raft` crate).
pub use faultline_raft as raft;
/// The `--bug` switches (defined next to the core, which implements most).
pub use faultline_raft::bugs;

pub mod failpoints;
pub mod kv;
pub mod replica;
pub mod server;
pub mod storage;
