//! faultline-node: a Raft key-value node. The Raft core in [`raft`] is pure and
//! deterministic; [`storage`] makes its state durable, [`kv`] is the replicated
//! state machine, and [`server`] wires them to peers (TCP) and clients (HTTP).

pub mod bugs;
pub mod failpoints;
pub mod kv;
pub mod raft;
pub mod server;
pub mod storage;
