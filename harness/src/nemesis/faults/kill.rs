//! `kill`: SIGKILL the target nodes (their data directories stay); they
//! restart from their data when the fault stops. Also how power loss and
//! corruption take their nodes down ([`kill`], [`Down`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::nemesis::event::{from_parts, Reading};
use crate::nemesis::executor::{Active, Back, Executor, Started};
use crate::nemesis::kind::{About, Drawn, FaultKind};
use crate::nemesis::target::Target;
use faultline_platform::cluster::{ClusterError, NodeSpec, NodeState, Platform, Signal};

/// SIGKILL the target nodes; they stay down until the fault stops (or a
/// scenario's `restart` or `heal`), then restart from their data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kill {
    /// The nodes killed (resolved when the fault starts).
    pub target: Target,
}

/// What `kill` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum KillEvent {
    /// These nodes were SIGKILLed (a `restart` ends it).
    Kill(Vec<String>),
}

impl FaultKind for Kill {
    const ABOUT: About = About {
        name: "kill",
        help:
            "SIGKILL one node, a minority or the leader; restart it later from its data directory",
        example: r#"{ do = "kill", target = "leader" }"#,
        family: None,
        in_all: true,
        disk_layer: false,
        firewall: false,
        min_nodes: 1,
    };
    const DRAWN: Drawn<Self> = Drawn::Alone(|draw, rng| Kill {
        target: Target::draw(draw.nodes, rng),
    });

    fn target(&self) -> Option<&Target> {
        Some(&self.target)
    }

    async fn start(&self, ex: &mut Executor) -> Started {
        let targets = ex.resolve(&self.target).await;
        let hit = kill(&mut *ex.platform(), &targets)?;
        let Some(&first) = hit.first() else {
            return Ok(None);
        };
        ex.set_previous(first);
        ex.record(&KillEvent::Kill(ex.names(&hit)));
        Ok(Some(Box::new(Down::new("kill", hit))))
    }

    fn read(f: &str, value: &Value) -> Option<Reading> {
        let KillEvent::Kill(nodes) = from_parts(f, value)?;
        let label = format!("kill {}", nodes.join(" "));
        Some(Reading::opens("kill", label, nodes, &["restart"]))
    }
}

/// Kills those of `targets` that are up; the ones killed.
pub fn kill(p: &mut dyn Platform, targets: &[usize]) -> Result<Vec<usize>, ClusterError> {
    let mut hit = Vec::new();
    for &i in targets {
        if matches!(p.state(i), NodeState::Running | NodeState::Paused) {
            p.signal(i, Signal::Kill)?;
            hit.push(i);
        }
    }
    Ok(hit)
}

/// Nodes down until the fault stops, which restarts them: a kill, a power
/// loss, a corruption.
pub struct Down {
    why: &'static str,
    nodes: Vec<usize>,
}

impl Down {
    /// `nodes`, taken down by the fault named `why`.
    pub fn new(why: &'static str, nodes: Vec<usize>) -> Down {
        Down { why, nodes }
    }
}

impl Active for Down {
    fn label(&self, nodes: &[NodeSpec]) -> String {
        format!("{} {}", self.why, joined(nodes, &self.nodes))
    }
    fn undo(self: Box<Self>, ex: &mut Executor) -> Result<(), ClusterError> {
        ex.restart_nodes(&self.nodes).map(drop)
    }
    fn nodes_back(&mut self, nodes: &[usize], how: Back) -> bool {
        if how == Back::Restarted {
            self.nodes.retain(|i| !nodes.contains(i));
        }
        !self.nodes.is_empty()
    }
}

/// The names of `of`, comma-separated (`n1,n3`), for progress labels.
pub fn joined(nodes: &[NodeSpec], of: &[usize]) -> String {
    of.iter()
        .map(|&i| nodes[i].name.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
