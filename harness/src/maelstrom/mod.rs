//! Maelstrom nodes under faultline: the same protocol (JSON lines on stdin
//! and stdout) and command line as jepsen-io/maelstrom, with faultline's
//! faults, checkers and report. A Maelstrom run is a `faultline run` with
//! the Maelstrom system and platform (`--system maelstrom`; `faultline
//! maelstrom test` is Maelstrom's spelling of it): the plan, the session,
//! the final reads, the records and the report are the shared ones.
//!
//! - [`protocol`]: envelopes, parsing a node's stdout line, error codes;
//! - [`router`]: the thread every message goes through (per-node writer
//!   queues, latency, loss, partitions as a grudge, node setup, protocol
//!   breaches named with node and line);
//! - [`services`]: `lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`;
//! - [`journal`]: `messages.jsonl`, every message sent, delivered, dropped;
//! - [`platform`]: node processes behind the [`faultline_platform::cluster::Platform`]
//!   every fault goes through (kill and pause are real signals; a node
//!   that breaks the protocol is stopped and reported as failed);
//! - [`system`]: the [`crate::system::System`] whose clients speak the
//!   protocol through the router, and how a run sets it all up;
//! - [`workload`], [`client`], [`checkers`]: Maelstrom's workloads (the
//!   shared `Workload`), the protocol of their requests and replies, and
//!   their checkers (the shared `Checker`);
//! - [`reproduce`]: the `faultline maelstrom test` line of an old record
//!   (the flags themselves are the binary's, `maelstrom_cli.rs`);
//! - [`report`]: messages per operation; [`lamport`]: the report's
//!   Messages section and its Lamport diagram ([`SECTIONS`]).

use crate::report::Section;

pub mod checkers;
pub mod client;
pub mod journal;
pub mod platform;
pub mod protocol;
pub mod report;
pub mod reproduce;
pub mod router;
pub mod services;
pub mod system;
pub mod workload;

registry! {
    /// Maelstrom's report sections.
    pub const SECTIONS: &[&dyn Section] = {
        lamport => SECTION;
    }
}

/// The `--system` name of Maelstrom nodes.
pub const SYSTEM_NAME: &str = "maelstrom";
