//! `pause`: SIGSTOP the target nodes, SIGCONT them when the fault stops.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::nemesis::event::{from_parts, Reading};
use crate::nemesis::executor::{Active, Back, Executor, Started};
use crate::nemesis::kind::{About, Drawn, FaultKind};
use crate::nemesis::target::Target;
use faultline_platform::cluster::{ClusterError, NodeSpec, NodeState, Signal};

use super::kill::joined;

/// SIGSTOP the target nodes; SIGCONT when the fault stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// The nodes frozen (resolved when the fault starts).
    pub target: Target,
}

/// What `pause` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum PauseEvent {
    /// These nodes were SIGSTOPped (a `resume` ends it).
    Pause(Vec<String>),
}

impl FaultKind for Pause {
    const ABOUT: About = About {
        name: "pause",
        help: "SIGSTOP one node, a minority or the leader; SIGCONT later",
        example: r#"{ do = "pause", target = "leader" }"#,
        family: None,
        in_all: true,
        disk_layer: false,
        firewall: false,
        min_nodes: 1,
    };
    const DRAWN: Drawn<Self> = Drawn::Alone(|draw, rng| Pause {
        target: Target::draw(draw.nodes, rng),
    });

    fn target(&self) -> Option<&Target> {
        Some(&self.target)
    }

    async fn start(&self, ex: &mut Executor) -> Started {
        let targets = ex.resolve(&self.target).await;
        let mut hit = Vec::new();
        {
            let mut p = ex.platform();
            for &i in &targets {
                if p.state(i) == NodeState::Running {
                    p.signal(i, Signal::Stop)?;
                    hit.push(i);
                }
            }
        }
        let Some(&first) = hit.first() else {
            return Ok(None);
        };
        ex.set_previous(first);
        ex.record(&PauseEvent::Pause(ex.names(&hit)));
        Ok(Some(Box::new(Paused(hit))))
    }

    fn read(f: &str, value: &Value) -> Option<Reading> {
        let PauseEvent::Pause(nodes) = from_parts(f, value)?;
        let label = format!("pause {}", nodes.join(" "));
        Some(Reading::opens("pause", label, nodes, &["resume"]))
    }
}

/// Nodes paused until the fault stops, which resumes them.
struct Paused(Vec<usize>);

impl Active for Paused {
    fn label(&self, nodes: &[NodeSpec]) -> String {
        format!("pause {}", joined(nodes, &self.0))
    }
    fn undo(self: Box<Self>, ex: &mut Executor) -> Result<(), ClusterError> {
        ex.resume_nodes(&self.0).map(drop)
    }
    fn nodes_back(&mut self, nodes: &[usize], how: Back) -> bool {
        if how == Back::Resumed {
            self.0.retain(|i| !nodes.contains(i));
        }
        !self.0.is_empty()
    }
}
