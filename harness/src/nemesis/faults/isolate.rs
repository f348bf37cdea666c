//! `isolate`: cut the target nodes off from the rest (they still see each
//! other). One of the partitions `--nemesis partition` draws.

use serde::{Deserialize, Serialize};

use crate::nemesis::executor::{Executor, Started};
use crate::nemesis::kind::{About, Drawn, FaultKind, Layout};
use crate::nemesis::partition::Cut;
use crate::nemesis::target::Target;

use super::partition::cut;

/// Cut the target nodes off from the rest (they still see each other).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Isolate {
    /// The side cut off.
    pub target: Target,
}

impl FaultKind for Isolate {
    const ABOUT: About = About {
        name: "isolate",
        help: "cut the target nodes off from the others (a partition)",
        example: r#"{ do = "isolate", target = "leader" }"#,
        family: Some("partition"),
        in_all: false,
        disk_layer: false,
        firewall: true,
        min_nodes: 2,
    };
    /// One node of the order, or the leader (that node when none leads).
    const DRAWN: Drawn<Self> = Drawn::Layouts(&[
        Layout {
            min_nodes: 2,
            lay: |order| Isolate {
                target: Target::Nodes(vec![order[0]]),
            },
        },
        Layout {
            min_nodes: 2,
            lay: |order| Isolate {
                target: Target::LeaderOr(order[0]),
            },
        },
    ]);

    fn target(&self) -> Option<&Target> {
        Some(&self.target)
    }

    async fn start(&self, ex: &mut Executor) -> Started {
        let n = ex.nodes().len();
        let side = ex.resolve(&self.target).await;
        if side.is_empty() || side.len() >= n {
            return Ok(None);
        }
        let shape = match &self.target {
            Target::Nodes(v) if v.len() == 1 => "isolate-one",
            Target::LeaderOr(_) => "isolate-leader",
            _ => "isolate",
        };
        ex.set_previous(side[0]);
        cut(ex, Cut::isolate(shape, n, &side)).map(Some)
    }
}
