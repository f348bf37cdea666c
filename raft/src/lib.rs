//! faultline-raft: the pure, deterministic Raft core of faultline-node: no
//! tokio, no clock, no OS randomness, no I/O (this crate depends on none of
//! them; `faultline_node::raft` re-exports it). [`bugs`] holds the `--bug`
//! switches, some of which the core implements.
//!
//! A [`RaftNode`] is a state machine. The caller drives it with four inputs:
//!
//! - [`RaftNode::tick`]: one logical clock tick (the server ticks every 10 ms);
//!   election timeouts and heartbeats are counted in ticks.
//! - [`RaftNode::step`]: a [`Message`] received from a peer.
//! - [`RaftNode::propose`]: a client command (leader only).
//! - [`RaftNode::read_index`]: a linearizable read request (leader only).
//!
//! and after each input asks [`RaftNode::has_ready`] / [`RaftNode::ready`] for
//! what to do next. A [`Ready`] must be handled in this order:
//!
//! 0. **send** `early_messages` (a leader's Appends: they promise nothing
//!    about its own disk; only with [`Config::persist_in_parallel`]);
//! 1. **persist** `hard_state`, `snapshot` and `entries` (one fdatasync for all),
//!    and report it with [`RaftNode::persisted`];
//! 2. **send** `messages` (only now: a vote or an acknowledgement must never
//!    leave before what it promises is durable);
//! 3. **apply** `committed` entries to the state machine, in order;
//! 4. **serve** `read_states` once the state machine has applied their index.
//!
//! With [`Config::persist_in_parallel`] the leader writes its own log while
//! the followers write theirs (Raft thesis 10.2.1): it counts itself toward
//! a commit quorum only up to what [`RaftNode::persisted`] reported, so an
//! entry commits once a majority has it durable, the leader or not.
//!
//! A proposal returns `(index, term)`. When the entry at `index` is committed
//! (it appears in `Ready::committed`): if its term is `term` the command was
//! applied, otherwise the proposal is definitely lost. If the node loses
//! leadership first the outcome is unknown.
//!
//! When the state machine has grown, the application snapshots it and calls
//! [`RaftNode::compact`]; followers behind the compacted log then receive the
//! snapshot as `InstallSnapshot` and hand it out in `Ready::snapshot`.
//! On restart, [`Restored`] gives the node its persisted hard state, snapshot
//! and entries; the state machine starts from the snapshot and the committed
//! entries after it come back through `Ready::committed`. When the storage
//! found that entries it had acknowledged are gone (disk damage), it says so
//! in [`Restored::recovery`] and the node is a non-voting learner until a
//! leader has given them back ([`Recovery`]).
//!
//! # Example: a 3-node cluster in memory
//!
//! ```
//! use faultline_raft::{Config, Message, RaftNode, Restored, Role};
//!
//! let voters = vec![1, 2, 3];
//! let mut nodes: Vec<RaftNode> = voters
//!     .iter()
//!     .map(|&id| RaftNode::new(Config::new(id, voters.clone(), 42), Restored::default()))
//!     .collect();
//! let mut applied: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 3];
//! let mut inbox: Vec<Message> = Vec::new();
//! let mut proposed = false;
//!
//! for _tick in 0..200 {
//!     for node in nodes.iter_mut() {
//!         node.tick();
//!     }
//!     // Deliver every message sent so far, then drain every node's Ready.
//!     loop {
//!         for msg in std::mem::take(&mut inbox) {
//!             nodes[(msg.to - 1) as usize].step(msg);
//!         }
//!         for (i, node) in nodes.iter_mut().enumerate() {
//!             if !node.has_ready() {
//!                 continue;
//!             }
//!             let ready = node.ready();
//!             // 1. persist ready.hard_state, ready.snapshot, ready.entries (fsync)
//!             // 2. send
//!             inbox.extend(ready.messages);
//!             // 3. apply
//!             for entry in ready.committed {
//!                 if !entry.data.is_empty() {
//!                     applied[i].push(entry.data);
//!                 }
//!             }
//!         }
//!         if inbox.is_empty() {
//!             break;
//!         }
//!     }
//!     if !proposed {
//!         if let Some(leader) = nodes.iter_mut().find(|n| n.status().role == Role::Leader) {
//!             leader.propose(b"x=1".to_vec()).unwrap();
//!             proposed = true;
//!         }
//!     }
//! }
//! for log in &applied {
//!     assert_eq!(log, &vec![b"x=1".to_vec()]);
//! }
//! ```

pub mod bugs;
mod config;
mod election;
mod log;
mod message;
mod node;
mod progress;
mod read_index;
mod recovery;
mod replication;
mod rng;

pub use config::Config;
pub use message::{Entry, HardState, Message, MessageBody, RejectHint, Snapshot, SnapshotMeta};
pub use node::{ProposeError, RaftNode, ReadState, Ready, Restored, Role, Status};
pub use recovery::Recovery;

/// A node's id (the server maps names "n1", "n2", .. to 1, 2, ..).
pub type NodeId = u64;
/// A Raft term: 0 before the first election, then it only grows.
pub type Term = u64;
/// A log index (the first entry is 1; 0 means "none").
pub type Index = u64;
