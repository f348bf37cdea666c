//! `pause`: SIGSTOP nodes, SIGCONT them later.

use crate::cluster::{ClusterError, NodeState, Platform, Signal};

/// Pauses those of `targets` that are running; returns the ones paused.
pub fn start(p: &mut dyn Platform, targets: &[usize]) -> Result<Vec<usize>, ClusterError> {
    let mut hit = Vec::new();
    for &i in targets {
        if p.state(i) == NodeState::Running {
            p.signal(i, Signal::Stop)?;
            hit.push(i);
        }
    }
    Ok(hit)
}

/// Resumes those of `nodes` that are still paused.
pub fn stop(p: &mut dyn Platform, nodes: &[usize]) -> Result<Vec<usize>, ClusterError> {
    let mut resumed = Vec::new();
    for &i in nodes {
        if p.state(i) == NodeState::Paused {
            p.signal(i, Signal::Cont)?;
            resumed.push(i);
        }
    }
    Ok(resumed)
}
