//! The faults themselves: one enum for what the random schedule draws and
//! what scenario steps ask for, so every fault kind is usable from both.

use serde::{Deserialize, Serialize};

use super::{NemesisKind, Target};
use crate::disk::CorruptHow;

/// One fault to start. In scenario files a fault is a step whose `do` is
/// its name (`{ do = "kill", target = "leader" }`); in `test.json` the
/// random schedule's faults are written the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// SIGKILL the target nodes; they stay down until the fault stops (or a
    /// scenario's `restart` or `heal`), then restart from their data.
    Kill {
        /// The nodes killed (resolved when the fault starts).
        target: Target,
    },
    /// SIGSTOP the target nodes; SIGCONT when the fault stops.
    Pause {
        /// The nodes frozen (resolved when the fault starts).
        target: Target,
    },
    /// Cut the target nodes off from the rest (they still see each other).
    Isolate {
        /// The side cut off.
        target: Target,
    },
    /// A partition of a named shape over the nodes in `order` (drawn from
    /// the seed when it fires, if not given).
    Partition {
        /// The shape laid over the nodes.
        shape: Shape,
        /// The node order the shape is laid over (0-based indexes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<Vec<usize>>,
    },
    /// A star: the center node sees every node, no two other nodes see each
    /// other, so only the center can gather a majority.
    Star {
        /// The node everyone can reach.
        center: Target,
        /// Nodes left out of the star altogether, cut off from every node
        /// (e.g. `paused`: the kernel still retransmits a paused node's
        /// unacknowledged packets, so a frozen leader can still be heard).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        except: Option<Target>,
    },
    /// Drop this share (percent) of the packets between nodes, at random.
    Drop {
        /// Percent of node-to-node packets dropped, 1 to 100.
        percent: u8,
    },
    /// The target nodes lose power: SIGKILL, and their files go back to
    /// what was fsynced (the disk-fault layer); they stay down until the
    /// fault stops (or `restart`, `heal`), like a kill.
    PowerLoss {
        /// The nodes that lose power (running or already down).
        target: Target,
        /// Keep a random strict prefix of each file's last un-synced write.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        tear: bool,
        /// Probability (0 to 1) that each un-synced write survives anyway.
        #[serde(default, skip_serializing_if = "is_zero")]
        survival: f64,
        /// Bytes a torn write is cut at: 512 (the default) keeps whole
        /// sectors, as disks that write a sector atomically do; 1 cuts at
        /// any byte (stricter than most hardware).
        #[serde(default = "sector_bytes", skip_serializing_if = "is_sector")]
        sector: u64,
    },
    /// SIGKILL the target nodes and damage one data file of each (a file
    /// matching the system's data patterns, or `files`); they restart when
    /// the fault stops. Never more than a minority unless `majority`.
    Corrupt {
        /// The nodes whose files are damaged.
        target: Target,
        /// Flip bits (the default) or truncate.
        #[serde(default, skip_serializing_if = "is_default")]
        how: CorruptHow,
        /// How many bits to flip (default 1).
        #[serde(default = "one_bit", skip_serializing_if = "is_one")]
        bits: u32,
        /// Globs relative to the data directory (default: the system's data files).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        files: Option<Vec<String>>,
        /// Allow a majority of the nodes to be damaged.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        majority: bool,
    },
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn is_default(h: &CorruptHow) -> bool {
    *h == CorruptHow::default()
}

/// The sector size torn writes keep whole by default.
pub const SECTOR_BYTES: u64 = 512;

fn sector_bytes() -> u64 {
    SECTOR_BYTES
}

fn is_sector(b: &u64) -> bool {
    *b == SECTOR_BYTES
}

fn one_bit() -> u32 {
    1
}

fn is_one(b: &u32) -> bool {
    *b == 1
}

/// The `do` names of every [`Fault`], for telling fault steps from the
/// other steps of a scenario.
pub const FAULT_STEPS: [&str; 8] = [
    "kill",
    "pause",
    "isolate",
    "partition",
    "star",
    "drop",
    "power-loss",
    "corrupt",
];

impl Fault {
    /// The `--nemesis` kind the fault belongs to.
    pub fn kind(&self) -> NemesisKind {
        match self {
            Fault::Kill { .. } => NemesisKind::Kill,
            Fault::Pause { .. } => NemesisKind::Pause,
            Fault::Isolate { .. } | Fault::Partition { .. } | Fault::Star { .. } => {
                NemesisKind::Partition
            }
            Fault::Drop { .. } => NemesisKind::Drop,
            Fault::PowerLoss { .. } => NemesisKind::PowerLoss,
            Fault::Corrupt { .. } => NemesisKind::Corrupt,
        }
    }

    /// Whether the fault needs the disk-fault layer mounted.
    pub fn needs_disk_layer(&self) -> bool {
        self.kind().needs_disk_layer()
    }

    /// Whether the fault names a node by role, position or history
    /// ([`Target::Previous`] can then refer to it).
    pub fn names_a_target(&self) -> bool {
        matches!(
            self,
            Fault::Kill { .. }
                | Fault::Pause { .. }
                | Fault::Isolate { .. }
                | Fault::Star { .. }
                | Fault::PowerLoss { .. }
                | Fault::Corrupt { .. }
        )
    }
}

/// The named partition shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// A minority (the first `n/2` of the order) and a majority (the rest).
    Halves,
    /// Nodes in a ring (in the order) each see their nearest neighbours: a
    /// majority each, no two the same majority.
    MajoritiesRing,
    /// Two halves joined by one node that sees both (the middle of the order).
    Bridge,
}

/// The failpoints of faultline-node a scenario can arm (the node's
/// `failpoints` module names them the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailpointName {
    /// Crash right after a granted vote is durable and sent.
    CrashAfterVote,
    /// A leader crashes right after it commits and answers, before it sends
    /// anything more.
    CrashAfterCommit,
}

impl FailpointName {
    /// Every failpoint, the order `disarm` clears them in.
    pub const ALL: [FailpointName; 2] = [
        FailpointName::CrashAfterVote,
        FailpointName::CrashAfterCommit,
    ];

    /// The name the node knows the failpoint by.
    pub fn name(self) -> &'static str {
        match self {
            FailpointName::CrashAfterVote => "crash-after-vote",
            FailpointName::CrashAfterCommit => "crash-after-commit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_step_name_is_a_fault() {
        for name in FAULT_STEPS {
            let json = match name {
                "partition" => serde_json::json!({"do": name, "shape": "halves"}),
                "star" => serde_json::json!({"do": name, "center": "leader"}),
                "drop" => serde_json::json!({"do": name, "percent": 5}),
                _ => serde_json::json!({"do": name, "target": "leader"}),
            };
            let f: Fault = serde_json::from_value(json).unwrap();
            assert_eq!(serde_json::to_value(&f).unwrap()["do"], name);
        }
    }
}
