//! faultline's harness: real clusters, real faults, recorded histories, a
//! verdict.
//!
//! The `faultline` binary is wiring; the pieces live here, one concept a
//! module:
//!
//! - [`netns`]: the private network namespace a run happens in;
//! - [`cluster`]: node processes and the [`cluster::Platform`] faults go through;
//! - [`node_log`]: a node's log and its last words;
//! - [`disk`]: the disk-fault layer over the nodes' data (power loss) and corruption;
//! - [`nemesis`]: the seeded fault schedule and the faults (kill, pause,
//!   partition, drop);
//! - [`client`]: clients driving a workload against the nodes;
//! - [`recorder`]: the history, streamed to `history.jsonl`;
//! - [`checkers`]: the checkers (a `Checker` each, by name) and their results;
//! - [`online`]: the checker that judges a run while it goes (`--check online`);
//! - [`exit`]: the exit codes every command shares;
//! - [`store`]: the run's folder;
//! - [`record`]: `test.json` and `results.json`, typed, written and read back;
//! - [`progress`]: the progress line;
//! - [`run`]: one run, start to verdict;
//! - [`report`]: the run's `report.html`;
//! - [`junit`]: the run's `junit.xml`;
//! - [`suite`]: `faultline suite`, a matrix of runs for CI;
//! - [`list`]: `faultline list`;
//! - [`scenario`]: named fault scenarios (`faultline run SCENARIO`) and their player;
//! - [`system`]: the systems under test (faultline-node, etcd, any HTTP binary);
//! - [`maelstrom`]: Maelstrom nodes (stdin/stdout JSON) through a router;
//! - [`bench`]: `faultline bench`, throughput and latency of a healthy cluster;
//! - [`registry`]: the workloads, checkers and report sections of every
//!   layer, found by name (what the binary wires).

/// Declares each file of a registry as a module and lists what it
/// registers, so that adding to a registry is a file and one line here
/// (`cargo fmt` does not follow modules declared in a macro: `.ci/run`
/// checks the formatting of every tracked file with `rustfmt` too):
///
/// ```ignore
/// registry! {
///     /// Every checker of this layer.
///     pub const CHECKERS: &[&dyn Checker] = {
///         stats => STATS;
///         linearizable => REGISTER, KV;
///     }
/// }
/// ```
macro_rules! registry {
    ($(#[$doc:meta])* $vis:vis const $name:ident: $ty:ty = {
        $($file:ident => $($item:ident),+;)*
    }) => {
        $(pub mod $file;)*

        $(#[$doc])*
        $vis const $name: $ty = &[$($(&$file::$item),+),*];
    };
}

pub use faultline_platform::{cluster, disk, hosts, netns, nft};

pub mod bench;
pub mod checkers;
pub mod client;
pub mod exit;
pub mod junit;
pub mod list;
pub mod maelstrom;
pub mod nemesis;
pub mod node_log;
pub mod online;
pub mod progress;
pub mod record;
pub mod recorder;
pub mod registry;
pub mod report;
pub mod run;
pub mod scenario;
pub mod store;
pub mod stored;
pub mod suite;
pub mod system;
