//! Maelstrom nodes under faultline: the same protocol (JSON lines on stdin
//! and stdout) and command line as jepsen-io/maelstrom, with faultline's
//! faults, checkers and report.
//!
//! - [`protocol`]: envelopes, parsing a node's stdout line, error codes;
//! - [`router`]: the thread every message goes through (per-node writer
//!   queues, latency, loss, partitions as a grudge, node setup, protocol
//!   breaches named with node and line);
//! - [`services`]: `lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`;
//! - [`journal`]: `messages.jsonl`, every message sent, delivered, dropped;
//! - [`platform`]: node processes behind the [`crate::cluster::Platform`]
//!   every fault goes through (kill and pause are real signals);
//! - [`probe`]: what the fault executor can learn about nodes (nothing);
//! - [`workload`], [`client`], [`checkers`]: Maelstrom's workloads, their
//!   clients and checkers (through the shared `Checker`);
//! - [`run`]: one run, start to verdict; [`cli`]: `faultline maelstrom test`;
//! - [`report`]: messages per operation; [`lamport`]: the report's
//!   Messages section and its Lamport diagram ([`SECTIONS`]).

use crate::report::Section;

pub mod checkers;
pub mod cli;
pub mod client;
pub mod journal;
pub mod platform;
pub mod probe;
pub mod protocol;
pub mod report;
pub mod router;
pub mod run;
pub mod services;
pub mod workload;

pub mod lamport;

registry! {
    /// Maelstrom's report sections.
    pub const SECTIONS: &[&dyn Section] = {
        lamport => SECTION;
    }
}

/// The `--system` name of Maelstrom nodes.
pub const SYSTEM_NAME: &str = "maelstrom";
