//! The registries of every layer, joined: what the `faultline` binary
//! wires. Workloads, checkers and report sections are each defined in the
//! layer they belong to (faultline's, Maelstrom's) and found here by name,
//! as are the systems whose nodes run on a platform of their own.

use std::sync::Arc;

use anyhow::Context;
use faultline_workloads::Workload;

use crate::checkers::{Checker, EVERY_RUN};
use crate::record::TestRecord;
use crate::report::{Extensions, Section};
use crate::system::System;

/// Every workload, in the order `faultline list` shows them.
pub fn workloads() -> Vec<Arc<dyn Workload>> {
    faultline_workloads::all()
        .into_iter()
        .map(Arc::from)
        .chain(crate::maelstrom::workload::Workload::all())
        .collect()
}

/// A workload name nobody registered.
#[derive(Debug, thiserror::Error)]
#[error("unknown workload {name:?}; known workloads: {}", names().join(", "))]
pub struct UnknownWorkload {
    /// The name given.
    pub name: String,
}

fn names() -> Vec<&'static str> {
    workloads().iter().map(|w| w.name()).collect()
}

/// The workload named `name`.
pub fn workload(name: &str) -> Result<Arc<dyn Workload>, UnknownWorkload> {
    workloads()
        .into_iter()
        .find(|w| w.name() == name)
        .ok_or_else(|| UnknownWorkload {
            name: name.to_string(),
        })
}

/// A system whose nodes run on a platform of its own rather than as local
/// processes in the run's namespace (Maelstrom's nodes talk only to the
/// harness's router, which makes the network faults itself).
pub struct OwnPlatform {
    /// The system (`--system` name).
    pub system: &'static str,
    /// The checkers its platform adds to every run.
    pub checkers: &'static [&'static str],
}

/// Every system with a platform of its own.
pub const OWN_PLATFORMS: &[OwnPlatform] = &[OwnPlatform {
    system: crate::maelstrom::SYSTEM_NAME,
    checkers: &["messages"],
}];

/// The platform of its own that `system` brings, if any.
pub fn own_platform(system: &str) -> Option<&'static OwnPlatform> {
    OWN_PLATFORMS.iter().find(|p| p.system == system)
}

/// Every checker, in the order `faultline list` shows them.
pub fn checkers() -> impl Iterator<Item = &'static dyn Checker> {
    crate::checkers::CHECKERS
        .iter()
        .chain(crate::maelstrom::checkers::CHECKERS)
        .copied()
}

/// The checker named `name`.
pub fn checker(name: &str) -> Option<&'static dyn Checker> {
    checkers().find(|c| c.name() == name)
}

/// A checker name nobody registered.
#[derive(Debug, thiserror::Error)]
#[error("no checker is named {0:?} (faultline list checkers)")]
pub struct UnknownChecker(pub String);

/// The checkers of a run of `workload` on `system`: the ones the workload
/// names, the ones every run gets, then the ones the system's platform adds.
pub fn run_checkers(
    workload: &dyn Workload,
    system: &str,
) -> Result<Vec<&'static dyn Checker>, UnknownChecker> {
    let platform = own_platform(system).map_or(&[][..], |p| p.checkers);
    workload
        .checkers()
        .iter()
        .copied()
        .chain(EVERY_RUN)
        .chain(platform.iter().copied())
        .map(|name| checker(name).ok_or_else(|| UnknownChecker(name.to_string())))
        .collect()
}

/// The checkers a run on `nodes` nodes adds for what its system can do:
/// `replica-agreement` when it can show each replica's own state
/// ([`System::replicas`]) and there are two nodes or more;
/// `cluster-states` when it can tell its nodes' status (the run samples it);
/// `election-safety` and `state-machine-safety` when, besides, each status
/// is one snapshot of the node ([`System::status_is_exact`]).
pub fn system_checkers(system: &dyn System, nodes: usize) -> Vec<&'static dyn Checker> {
    let mut checkers: Vec<&'static dyn Checker> = Vec::new();
    if crate::system::replicas::compared(system, nodes).is_some() {
        checkers.push(&crate::checkers::replicas::REPLICA_AGREEMENT);
    }
    if system.status().is_some() {
        checkers.push(&crate::checkers::states::CLUSTER_STATES);
        if system.status_is_exact() {
            checkers.push(&crate::checkers::elections::ELECTION_SAFETY);
            checkers.push(&crate::checkers::state_machine::STATE_MACHINE_SAFETY);
        }
    }
    checkers
}

/// The checkers of the run `test.json` describes (to check it again).
pub fn test_checkers(test: &TestRecord) -> anyhow::Result<Vec<&'static dyn Checker>> {
    let name = test
        .options
        .workload
        .as_deref()
        .context("test.json names no workload: cannot tell which checkers judge it")?;
    let workload = workload(name).with_context(|| format!("the workload of test.json, {name}"))?;
    let system = test.system.as_deref().unwrap_or_default();
    Ok(run_checkers(workload.as_ref(), system)?)
}

/// What report pages are drawn with: every section, every system's
/// reproduce line.
pub fn report() -> Extensions {
    Extensions {
        sections: sections(),
        reproduce,
    }
}

/// The command line that replays the run `test.json` describes.
pub fn reproduce(test: &TestRecord) -> String {
    crate::maelstrom::reproduce::reproduce(test)
        .unwrap_or_else(|| crate::report::reproduce_command(test))
}

/// Every report section, in the order a page shows what they draw.
pub fn sections() -> Vec<&'static dyn Section> {
    crate::report::SECTIONS
        .iter()
        .chain(crate::maelstrom::SECTIONS)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_names_registered_checkers_and_names_are_unique() {
        for w in workloads() {
            let system = w.system().unwrap_or("faultline-node");
            let found = run_checkers(w.as_ref(), system).unwrap();
            let extra = own_platform(system).map_or(0, |p| p.checkers.len());
            assert_eq!(found.len(), w.checkers().len() + EVERY_RUN.len() + extra);
            assert_eq!(workload(w.name()).unwrap().name(), w.name());
        }
        assert!(workload("bank")
            .err()
            .unwrap()
            .to_string()
            .contains("lin-kv"));
        let mut names: Vec<&str> = checkers().map(|c| c.name()).collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all, "two checkers share a name");
        assert!(checker("nothing").is_none());
    }

    #[test]
    fn every_built_in_scenario_drives_a_registered_workload() {
        for s in crate::scenario::builtins() {
            assert!(workload(&s.workload).is_ok(), "{}: {}", s.name, s.workload);
        }
    }

    #[test]
    fn every_checker_kind_a_section_draws_is_written_by_some_checker() {
        for s in sections() {
            assert!(
                checkers().any(|c| c.kind() == s.kind()),
                "no checker writes {}",
                s.kind()
            );
        }
    }
}
