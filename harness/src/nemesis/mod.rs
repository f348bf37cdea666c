//! The nemesis: faults, whom they hit, and the one executor that applies
//! them, whether a seeded random schedule or a scenario asks.
//!
//! - [`fault`]: [`Fault`], every fault kind with its arguments (the same
//!   values for `--nemesis` schedules and scenario steps);
//! - [`target`]: [`Target`], whom a fault hits, resolved when it fires;
//! - [`executor`]: [`Executor`], which resolves targets, applies faults
//!   through the [`Platform`](crate::cluster::Platform), tracks what is
//!   active, heals, and records every start and stop;
//! - [`event`]: [`FaultEvent`], the typed nemesis events of the history;
//! - [`schedule`]: the seeded random schedule and its player;
//! - [`kill`], [`pause`], [`partition`]: how one kind starts and stops.
//!
//! Adding a fault kind: a variant of [`Fault`] (and of [`NemesisKind`] if
//! `--nemesis` should draw it, with its draw in `schedule.rs`), its
//! apply/undo in a file of its own called from [`Executor::start`] and the
//! executor's `undo`, and its events in [`FaultEvent`]. Scenarios can then
//! use it as a step named like the variant.

pub mod event;
pub mod executor;
pub mod fault;
pub mod kill;
pub mod partition;
pub mod pause;
pub mod schedule;
pub mod target;

pub use event::FaultEvent;
pub use executor::{Executor, FaultId, Probe};
pub use fault::{FailpointName, Fault, Shape};
pub use target::Target;

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::cluster::Platform;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NemesisKind {
    /// SIGKILL a node, restart it later with the same data directory.
    Kill,
    /// SIGSTOP a node, SIGCONT later.
    Pause,
    /// Cut the network between groups of nodes.
    Partition,
    /// Drop a share of the packets between nodes.
    Drop,
    /// Power loss: kill, lose what was not fsynced, restart later.
    PowerLoss,
    /// Damage a data file of a down node, restart it.
    Corrupt,
}

impl NemesisKind {
    /// Every kind, in the order `faultline list` shows them.
    pub const ALL: [NemesisKind; 6] = [
        NemesisKind::Kill,
        NemesisKind::Pause,
        NemesisKind::Partition,
        NemesisKind::Drop,
        NemesisKind::PowerLoss,
        NemesisKind::Corrupt,
    ];

    /// What `--nemesis all` means: the process and network faults. Disk
    /// faults are asked for by name (`all,power-loss`): they mount the
    /// disk-fault layer, which costs throughput.
    pub const CLASSIC: [NemesisKind; 4] = [
        NemesisKind::Kill,
        NemesisKind::Pause,
        NemesisKind::Partition,
        NemesisKind::Drop,
    ];

    /// The name `--nemesis` and `faultline list` use.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Kill => "kill",
            NemesisKind::Pause => "pause",
            NemesisKind::Partition => "partition",
            NemesisKind::Drop => "drop",
            NemesisKind::PowerLoss => "power-loss",
            NemesisKind::Corrupt => "corrupt",
        }
    }

    /// One line of help.
    pub fn description(self) -> &'static str {
        match self {
            NemesisKind::Kill => "SIGKILL one node, a minority or the leader; restart it later from its data directory",
            NemesisKind::Pause => "SIGSTOP one node, a minority or the leader; SIGCONT later",
            NemesisKind::Partition => "nftables partitions: isolate one node, isolate the leader, random halves, majorities ring, bridge",
            NemesisKind::Drop => "nftables drops a share of the packets between nodes at random (--drop-percent)",
            NemesisKind::PowerLoss => "power loss on one node, a minority or the leader: SIGKILL, un-fsynced data lost (the disk-fault layer, mounted for the run), restart later",
            NemesisKind::Corrupt => "flip a bit in one data file of one node while it is down (the system's data files, see faultline list), restart it",
        }
    }

    /// Whether the kind needs the disk-fault layer mounted over the nodes' data.
    pub fn needs_disk_layer(self) -> bool {
        self == NemesisKind::PowerLoss
    }

    /// Whether the kind needs packet-filter rules (not with `--net host`).
    pub fn needs_firewall(self) -> bool {
        matches!(self, NemesisKind::Partition | NemesisKind::Drop)
    }

    /// Whether the kind can do anything to a cluster of `n` nodes.
    pub fn possible_with(self, n: usize) -> bool {
        match self {
            NemesisKind::Kill
            | NemesisKind::Pause
            | NemesisKind::PowerLoss
            | NemesisKind::Corrupt => n >= 1,
            NemesisKind::Partition | NemesisKind::Drop => n >= 2,
        }
    }
}

impl fmt::Display for NemesisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
        let all = NemesisKind::CLASSIC.iter().all(|k| self.0.contains(k));
        let mut names: Vec<&str> = Vec::new();
        if all {
            names.push("all");
        }
        names.extend(
            self.0
                .iter()
                .filter(|k| !(all && NemesisKind::CLASSIC.contains(k)))
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
                "all" => kinds.extend(NemesisKind::CLASSIC),
                "none" => {}
                name => match NemesisKind::ALL.iter().find(|k| k.name() == name) {
                    Some(k) => kinds.push(*k),
                    None => {
                        return Err(format!(
                            "unknown nemesis {name:?}; known: all, none, {}",
                            NemesisKind::ALL.map(|k| k.name()).join(", ")
                        ))
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
        assert_eq!(all.0, NemesisKind::CLASSIC.to_vec());
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
    }
}
