//! The nemesis: faults started and stopped on a schedule drawn from the
//! seed, every start and stop recorded in the history as a `"nemesis"`
//! event.
//!
//! - [`schedule`] draws what happens when (pure, seeded);
//! - [`kill`], [`pause`], [`partition`] and [`drop`] know how to start and
//!   stop one kind of fault through the [`Platform`];
//! - [`Nemesis`] plays a schedule against a running cluster, resolving what
//!   depends on the moment (the leader), and heals everything at the end.

pub mod drop;
pub mod kill;
pub mod partition;
pub mod pause;
pub mod schedule;

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use crate::cluster::{ClusterError, NodeSpec, NodeState, Platform};
use crate::recorder::Recorder;
use crate::system::{find_leader, System};
use partition::Cut;
use schedule::{Fault, Step, Target};

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
}

impl NemesisKind {
    /// Every kind, in the order `faultline list` shows them.
    pub const ALL: [NemesisKind; 4] = [
        NemesisKind::Kill,
        NemesisKind::Pause,
        NemesisKind::Partition,
        NemesisKind::Drop,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Kill => "kill",
            NemesisKind::Pause => "pause",
            NemesisKind::Partition => "partition",
            NemesisKind::Drop => "drop",
        }
    }

    /// One line of help.
    pub fn description(self) -> &'static str {
        match self {
            NemesisKind::Kill => "SIGKILL one node, a minority or the leader; restart it later from its data directory",
            NemesisKind::Pause => "SIGSTOP one node, a minority or the leader; SIGCONT later",
            NemesisKind::Partition => "nftables partitions: isolate one node, isolate the leader, random halves, majorities ring, bridge",
            NemesisKind::Drop => "nftables drops a share of the packets between nodes at random (--drop-percent)",
        }
    }

    /// Whether the kind needs packet-filter rules (not with `--net host`).
    pub fn needs_firewall(self) -> bool {
        matches!(self, NemesisKind::Partition | NemesisKind::Drop)
    }

    /// Whether the kind can do anything to a cluster of `n` nodes.
    pub fn possible_with(self, n: usize) -> bool {
        match self {
            NemesisKind::Kill | NemesisKind::Pause => n >= 1,
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
    /// The name used in the store folder: `all`, `none` or `kill+pause`.
    pub fn label(&self) -> String {
        if self.0.is_empty() {
            "none".into()
        } else if self.0.len() == NemesisKind::ALL.len() {
            "all".into()
        } else {
            self.0
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join("+")
        }
    }
}

impl FromStr for NemesisSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut kinds = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => kinds.extend(NemesisKind::ALL),
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

/// A fault as it was applied, so it can be undone.
#[derive(Debug, Clone)]
enum Applied {
    Kill(Vec<usize>),
    Pause(Vec<usize>),
    Partition(Cut),
    Drop,
}

/// The platform, shared by the nemesis and the run loop.
pub type SharedPlatform = Arc<Mutex<dyn Platform>>;

/// Plays a schedule against a cluster.
pub struct Nemesis {
    platform: SharedPlatform,
    nodes: Vec<NodeSpec>,
    recorder: Recorder,
    http: reqwest::Client,
    system: Arc<dyn System>,
    /// Descriptions of the faults active now, for the progress line.
    pub active: Arc<Mutex<Vec<String>>>,
    applied: Vec<(usize, Applied)>,
}

impl Nemesis {
    /// A nemesis for the cluster behind `platform`, running `system` (which
    /// says who leads).
    pub fn new(
        platform: SharedPlatform,
        recorder: Recorder,
        http: reqwest::Client,
        system: Arc<dyn System>,
    ) -> Nemesis {
        let nodes = lock(&platform).nodes().to_vec();
        Nemesis {
            platform,
            nodes,
            recorder,
            http,
            system,
            active: Arc::new(Mutex::new(Vec::new())),
            applied: Vec::new(),
        }
    }

    /// Plays `steps` (times since the test start) until every step ran or
    /// `until` (since the test start) passed; faults still active stay
    /// active: call [`Nemesis::heal`].
    pub async fn play(&mut self, steps: &[Step], until: Duration) -> Result<(), ClusterError> {
        let mut timeline: Vec<(Duration, bool, usize)> = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            timeline.push((s.start, true, i));
            timeline.push((s.stop, false, i));
        }
        // Stops before starts at the same instant.
        timeline.sort_by_key(|&(at, start, i)| (at, start, i));
        for (at, start, i) in timeline {
            if at >= until {
                break;
            }
            let now = self.recorder.elapsed();
            if at > now {
                tokio::time::sleep(at - now).await;
            }
            if start {
                self.start(i, &steps[i].fault).await?;
            } else {
                self.stop(i)?;
            }
        }
        Ok(())
    }

    /// Stops every active fault, then makes sure every node runs and no
    /// rule is left.
    pub fn heal(&mut self) -> Result<(), ClusterError> {
        while let Some((i, _)) = self.applied.last() {
            let i = *i;
            self.stop(i)?;
        }
        let mut p = lock(&self.platform);
        p.remove_rules(partition::TABLE)?;
        p.remove_rules(drop::TABLE)?;
        let stopped: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| p.state(i) == NodeState::Paused)
            .collect();
        let down: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| matches!(p.state(i), NodeState::Killed | NodeState::Exited))
            .collect();
        let resumed = pause::stop(&mut *p, &stopped)?;
        let restarted = kill::stop(&mut *p, &down)?;
        drop(p);
        if !resumed.is_empty() {
            self.recorder.nemesis("resume", self.names(&resumed));
        }
        if !restarted.is_empty() {
            self.recorder.nemesis("restart", self.names(&restarted));
        }
        Ok(())
    }

    async fn resolve(&self, target: &Target) -> Vec<usize> {
        match target {
            Target::Nodes(v) => v.clone(),
            Target::Leader { fallback } => {
                vec![find_leader(self.system.as_ref(), &self.http, &self.nodes)
                    .await
                    .unwrap_or(*fallback)]
            }
        }
    }

    async fn start(&mut self, i: usize, fault: &Fault) -> Result<(), ClusterError> {
        let (applied, f, value, label) = match fault {
            Fault::Kill(target) => {
                let targets = self.resolve(target).await;
                let hit = kill::start(&mut *lock(&self.platform), &targets)?;
                if hit.is_empty() {
                    return Ok(());
                }
                let label = format!("kill {}", self.joined(&hit));
                (Applied::Kill(hit.clone()), "kill", self.names(&hit), label)
            }
            Fault::Pause(target) => {
                let targets = self.resolve(target).await;
                let hit = pause::start(&mut *lock(&self.platform), &targets)?;
                if hit.is_empty() {
                    return Ok(());
                }
                let label = format!("pause {}", self.joined(&hit));
                (
                    Applied::Pause(hit.clone()),
                    "pause",
                    self.names(&hit),
                    label,
                )
            }
            Fault::Partition(shape) => {
                let leader = match shape {
                    schedule::Shape::IsolateLeader { .. } => {
                        find_leader(self.system.as_ref(), &self.http, &self.nodes).await
                    }
                    _ => None,
                };
                let cut = Cut::resolve(shape, self.nodes.len(), leader);
                lock(&self.platform).apply_rules(partition::TABLE, &cut.rules(&self.nodes))?;
                let value = cut.describe(&self.nodes);
                let label = format!("partition {}", cut.shape);
                (Applied::Partition(cut), "start-partition", value, label)
            }
            Fault::Drop(percent) => {
                lock(&self.platform).apply_rules(drop::TABLE, &drop::rules(*percent))?;
                let value = json!({ "percent": percent, "between": self.names(&(0..self.nodes.len()).collect::<Vec<_>>()) });
                (
                    Applied::Drop,
                    "start-drop",
                    value,
                    format!("drop {percent}%"),
                )
            }
        };
        self.recorder.nemesis(f, value);
        self.applied.push((i, applied));
        lock_list(&self.active).push(label);
        Ok(())
    }

    fn stop(&mut self, i: usize) -> Result<(), ClusterError> {
        let Some(pos) = self.applied.iter().position(|(j, _)| *j == i) else {
            return Ok(());
        };
        let (_, applied) = self.applied.remove(pos);
        lock_list(&self.active).remove(pos);
        match applied {
            Applied::Kill(nodes) => {
                let restarted = kill::stop(&mut *lock(&self.platform), &nodes)?;
                self.recorder.nemesis("restart", self.names(&restarted));
            }
            Applied::Pause(nodes) => {
                let resumed = pause::stop(&mut *lock(&self.platform), &nodes)?;
                self.recorder.nemesis("resume", self.names(&resumed));
            }
            Applied::Partition(cut) => {
                lock(&self.platform).remove_rules(partition::TABLE)?;
                self.recorder
                    .nemesis("stop-partition", cut.describe(&self.nodes));
            }
            Applied::Drop => {
                lock(&self.platform).remove_rules(drop::TABLE)?;
                self.recorder.nemesis("stop-drop", Value::Null);
            }
        }
        Ok(())
    }

    fn names(&self, nodes: &[usize]) -> Value {
        Value::Array(
            nodes
                .iter()
                .map(|&i| Value::String(self.nodes[i].name.clone()))
                .collect(),
        )
    }

    fn joined(&self, nodes: &[usize]) -> String {
        nodes
            .iter()
            .map(|&i| self.nodes[i].name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Locks the platform, surviving a poisoned lock (a panicking holder
/// leaves the processes as they were; teardown must still reach them).
pub fn lock(p: &SharedPlatform) -> std::sync::MutexGuard<'_, dyn Platform + 'static> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock_list(l: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nemesis_lists_parse_all_none_and_names() {
        let all: NemesisSet = "all".parse().unwrap();
        assert_eq!(all.0, NemesisKind::ALL.to_vec());
        assert_eq!(all.label(), "all");
        let none: NemesisSet = "none".parse().unwrap();
        assert_eq!(none.label(), "none");
        let two: NemesisSet = "pause, kill,kill".parse().unwrap();
        assert_eq!(two.0, vec![NemesisKind::Kill, NemesisKind::Pause]);
        assert_eq!(two.label(), "kill+pause");
        let err = "kill,clock".parse::<NemesisSet>().unwrap_err();
        assert!(err.contains("clock") && err.contains("partition"), "{err}");
    }
}
