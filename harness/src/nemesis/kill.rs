//! `kill`: SIGKILL nodes (their data directories stay), restart them later.

use crate::cluster::{ClusterError, NodeState, Platform, Signal};

/// Kills those of `targets` that are up; returns the ones killed.
pub fn start(p: &mut dyn Platform, targets: &[usize]) -> Result<Vec<usize>, ClusterError> {
    let mut hit = Vec::new();
    for &i in targets {
        if matches!(p.state(i), NodeState::Running | NodeState::Paused) {
            p.signal(i, Signal::Kill)?;
            hit.push(i);
        }
    }
    Ok(hit)
}

/// Restarts those of `nodes` that are down, from their data directories.
pub fn stop(p: &mut dyn Platform, nodes: &[usize]) -> Result<Vec<usize>, ClusterError> {
    let mut restarted = Vec::new();
    for &i in nodes {
        if matches!(p.state(i), NodeState::Killed | NodeState::Exited) {
            p.start(i)?;
            restarted.push(i);
        }
    }
    Ok(restarted)
}
