//! The nemesis: faults, whom they hit, and the one executor that applies
//! them, whether a seeded random schedule or a scenario asks.
//!
//! - [`faults`]: one file per fault kind (kill, pause, isolate, partition,
//!   star, drop, power-loss, corrupt, ...), each owning its parameters,
//!   help, draw, start and undo, events and their reading in the report;
//!   its registry generates [`Fault`] (the same values for `--nemesis`
//!   schedules and scenario steps) and [`NemesisKind`];
//! - [`kind`]: [`FaultKind`](kind::FaultKind), what a kind's file implements;
//! - [`target`]: [`Target`], whom a fault hits, resolved when it fires;
//! - [`executor`]: [`Executor`], which dispatches faults to their kinds,
//!   tracks what is active, heals, and plays the scenario steps that are
//!   not faults;
//! - [`event`]: [`FaultEvent`], the nemesis events no single kind owns, and
//!   [`Reading`](event::Reading), how the report reads any nemesis event;
//! - [`schedule`]: the seeded random schedule and its player;
//! - [`partition`]: `Cut`, who cannot reach whom (the platform enforces it);
//! - [`failpoint`]: the failpoints scenarios arm.
//!
//! Adding a fault kind: see [`faults`].

pub mod event;
pub mod executor;
pub mod failpoint;
pub mod faults;
pub mod kind;
pub mod partition;
pub mod schedule;
pub mod target;
#[cfg(test)]
pub(crate) mod testing;

pub use event::FaultEvent;
pub use executor::{Executor, FaultId, Probe};
pub use failpoint::FailpointName;
pub use faults::{Fault, NemesisKind, FAULT_STEPS};
pub use partition::Shape;
pub use target::Target;

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use faultline_platform::cluster::Platform;

/// The faults of a run: `all`, `none`, or a comma list of kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NemesisSet(pub Vec<NemesisKind>);

impl NemesisSet {
    /// The name used in the store folder: `all`, `none`, `kill+pause` or
    /// `all+power-loss`.
    pub fn label(&self) -> String {
        if self.0.is_empty() {
            return "none".into();
        }
        let classic = NemesisKind::classic();
        let all = classic.iter().all(|k| self.0.contains(k));
        let mut names: Vec<&str> = Vec::new();
        if all {
            names.push("all");
        }
        names.extend(
            self.0
                .iter()
                .filter(|k| !(all && classic.contains(k)))
                .map(|k| k.name()),
        );
        names.join("+")
    }
}

impl FromStr for NemesisSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut kinds = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => kinds.extend(NemesisKind::classic()),
                "none" => {}
                name => match NemesisKind::named(name).filter(|k| k.is_drawn()) {
                    Some(k) => kinds.push(k),
                    None => {
                        let known: Vec<&str> =
                            NemesisKind::drawn().iter().map(|k| k.name()).collect();
                        return Err(format!(
                            "unknown nemesis {name:?}; known: all, none, {}",
                            known.join(", ")
                        ));
                    }
                },
            }
        }
        kinds.sort();
        kinds.dedup();
        Ok(NemesisSet(kinds))
    }
}

/// The platform, shared by the nemesis and the run loop.
pub type SharedPlatform = Arc<Mutex<dyn Platform>>;

/// Locks the platform, surviving a poisoned lock (a panicking holder
/// leaves the processes as they were; teardown must still reach them).
pub fn lock(p: &SharedPlatform) -> std::sync::MutexGuard<'_, dyn Platform + 'static> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nemesis_lists_parse_all_none_and_names() {
        let all: NemesisSet = "all".parse().unwrap();
        assert_eq!(
            all.0,
            [
                NemesisKind::Kill,
                NemesisKind::Pause,
                NemesisKind::Partition,
                NemesisKind::Drop
            ]
        );
        assert_eq!(all.label(), "all");
        let disk: NemesisSet = "all,power-loss".parse().unwrap();
        assert_eq!(disk.label(), "all+power-loss");
        let none: NemesisSet = "none".parse().unwrap();
        assert_eq!(none.label(), "none");
        let two: NemesisSet = "pause, kill,kill".parse().unwrap();
        assert_eq!(two.0, vec![NemesisKind::Kill, NemesisKind::Pause]);
        assert_eq!(two.label(), "kill+pause");
        let err = "kill,clock".parse::<NemesisSet>().unwrap_err();
        assert!(err.contains("clock") && err.contains("partition"), "{err}");
        // A step drawn only as part of another kind's draw is no `--nemesis`.
        let err = "isolate".parse::<NemesisSet>().unwrap_err();
        let (_, known) = err.split_once("known:").unwrap();
        assert!(
            known.contains("power-loss") && !known.contains("isolate") && !known.contains("star"),
            "{err}"
        );
    }
}
