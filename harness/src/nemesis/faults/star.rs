//! `star`: one center node sees every node, no two other nodes see each
//! other, so only the center can gather a majority. A partition.

use serde::{Deserialize, Serialize};

use crate::nemesis::executor::{Executor, Started};
use crate::nemesis::kind::{About, FaultKind};
use crate::nemesis::partition::Cut;
use crate::nemesis::target::Target;

use super::partition::cut;

/// A star: the center node sees every node, no two other nodes see each
/// other, so only the center can gather a majority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Star {
    /// The node everyone can reach.
    pub center: Target,
    /// Nodes left out of the star altogether, cut off from every node
    /// (e.g. `paused`: the kernel still retransmits a paused node's
    /// unacknowledged packets, so a frozen leader can still be heard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except: Option<Target>,
}

impl FaultKind for Star {
    const ABOUT: About = About {
        name: "star",
        help: "a partition where only the center node sees the others (and the nodes in `except` see nobody)",
        example: r#"{ do = "star", center = "previous", except = "leader" }"#,
        family: Some("partition"),
        in_all: false,
        disk_layer: false,
        firewall: true,
        min_nodes: 2,
    };

    fn target(&self) -> Option<&Target> {
        Some(&self.center)
    }

    async fn start(&self, ex: &mut Executor) -> Started {
        let Some(&c) = ex.resolve(&self.center).await.first() else {
            return Ok(None);
        };
        let out = match &self.except {
            Some(t) => ex.resolve(t).await,
            None => Vec::new(),
        };
        ex.set_previous(c);
        let n = ex.nodes().len();
        cut(ex, Cut::star(n, c, &out)).map(Some)
    }
}
