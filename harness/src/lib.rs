//! faultline's harness: real clusters, real faults, recorded histories, a
//! verdict. The `faultline` binary is wiring; the pieces live here, one
//! concept a module, in layers (a module uses only its own layer and those
//! below; `docs/architecture.md` draws them). Where nodes run and how
//! faults reach them is the `faultline-platform` crate, below all of them.
//!
//! 1. Records: [`exit`] (exit codes), [`store`] (run folders), [`recorder`]
//!    (`history.jsonl`), [`node_log`], [`record`] (`test.json`,
//!    `results.json`).
//! 2. Systems: [`system`] (the systems under test, their flags and
//!    capabilities), [`client`] (clients driving a workload), [`progress`].
//! 3. Faults: [`nemesis`] (the fault kinds, one file each, the executor,
//!    the seeded schedule), [`scenario`] (named scenarios and their player).
//! 4. Judging: [`checkers`] (one `Checker` a file), [`online`] (`--check
//!    online`), [`stored`] (a run folder read back), [`junit`], [`report`]
//!    (`report.html` and its sections).
//! 5. [`maelstrom`]: Maelstrom nodes as one more system and platform.
//! 6. Wiring: [`registry`] (every layer's workloads, checkers, sections),
//!    [`run`] (one run, start to verdict), [`suite`], [`bench`], [`list`],
//!    [`serve`] (the store across runs: `faultline serve`, the trend).

/// Declares each file of a registry as a module and lists what it
/// registers, so that adding to a registry is a file and one line here
/// (`cargo fmt` does not follow modules declared in a macro: `.ci/run`
/// checks the formatting of every tracked file with `rustfmt` too):
///
/// ```text
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

pub mod bench;
pub mod checkers;
pub mod client;
pub mod exit;
pub mod explore;
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
pub mod serve;
pub mod store;
pub mod stored;
pub mod suite;
pub mod system;
