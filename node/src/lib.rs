//! faultline-node: a Raft key-value node. The Raft core in [`raft`] is pure and
//! deterministic; [`replica`] joins it with [`kv`], the replicated state
//! machine, and the client requests waiting on both, still without I/O;
//! [`storage`] makes its state durable, and [`server`] wires the replica to
//! storage, peers (TCP) and clients (HTTP).

pub mod bugs;
pub mod failpoints;
pub mod kv;
pub mod raft;
pub mod replica;
pub mod server;
pub mod storage;
