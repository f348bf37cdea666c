//! `partition`: a named shape (halves, bridge, majorities ring) laid over
//! the nodes. Also what every partition fault shares ([`cut`]): one
//! partition in force at a time, `start-partition` / `stop-partition` in
//! the history, a band per partition in the report. `isolate` and `star`
//! are partitions too; `--nemesis partition` draws isolations as well.

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::nemesis::event::{from_parts, PartitionSides, Reading};
use crate::nemesis::executor::{Active, Executor, Started};
use crate::nemesis::kind::{About, Drawn, FaultKind, Layout};
use crate::nemesis::partition::{Cut, Shape, Shapes};
use faultline_platform::cluster::{ClusterError, NodeSpec};

/// A partition of a named shape over the nodes in `order` (drawn from the
/// seed when it fires, if not given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The shape laid over the nodes.
    pub shape: Shape,
    /// The node order the shape is laid over (0-based indexes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<usize>>,
}

/// What every partition fault records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum PartitionEvent {
    /// A partition started: who sees whom.
    StartPartition(PartitionSides),
    /// A partition ended (the network is whole again, or a new one follows).
    StopPartition(PartitionSides),
}

/// The slot every partition holds: a new one replaces the one in force.
const SLOT: &str = "partition";

/// `shape` laid over `order`.
fn with_order(shape: Shape, order: &[usize]) -> Partition {
    Partition {
        shape,
        order: Some(order.to_vec()),
    }
}

impl FaultKind for Partition {
    const ABOUT: About = About {
        name: "partition",
        help: "nftables partitions: isolate one node, isolate the leader, random halves, majorities ring, bridge",
        example: r#"{ do = "partition", shape = "bridge" }"#,
        family: None,
        in_all: true,
        disk_layer: false,
        firewall: true,
        min_nodes: 2,
    };
    const DRAWN: Drawn<Self> = Drawn::Layouts(&[
        Layout {
            min_nodes: 2,
            lay: |order| with_order(Shape::Halves, order),
        },
        Layout {
            min_nodes: 3,
            lay: |order| with_order(Shape::Bridge, order),
        },
        Layout {
            min_nodes: 4,
            lay: |order| with_order(Shape::MajoritiesRing, order),
        },
    ]);

    async fn start(&self, ex: &mut Executor) -> Started {
        let n = ex.nodes().len();
        let order = match &self.order {
            Some(o) if o.len() == n => o.clone(),
            _ => {
                let mut o: Vec<usize> = (0..n).collect();
                o.shuffle(ex.rng());
                o
            }
        };
        cut(ex, Cut::of_shape(self.shape, &order)).map(Some)
    }

    fn read(f: &str, value: &Value) -> Option<Reading> {
        match from_parts(f, value)? {
            PartitionEvent::StartPartition(sides) => {
                let parts: Vec<String> = sides
                    .groups
                    .iter()
                    .map(|g| format!("{{{}}}", g.join(" ")))
                    .collect();
                let label = format!("partition {}", parts.join(" | "));
                Some(Reading::opens(
                    "partition",
                    label,
                    Vec::new(),
                    &["stop-partition"],
                ))
            }
            PartitionEvent::StopPartition(_) => Some(Reading::Closes { nodes: Vec::new() }),
        }
    }
}

/// Replaces the partition in force (if any) by `cut`, at once (no moment
/// of a whole network in between), and records it.
pub fn cut(ex: &mut Executor, cut: Cut) -> Result<Box<dyn Active>, ClusterError> {
    ex.replace(SLOT)?;
    ex.platform().set_partition(Some(&cut))?;
    ex.record(&PartitionEvent::StartPartition(cut.sides(ex.nodes())));
    Ok(Box::new(Partitioned(cut)))
}

/// A partition in force.
struct Partitioned(Cut);

impl Active for Partitioned {
    fn label(&self, _: &[NodeSpec]) -> String {
        format!("partition {}", self.0.shape)
    }
    fn slot(&self) -> Option<&'static str> {
        Some(SLOT)
    }
    fn undo(self: Box<Self>, ex: &mut Executor) -> Result<(), ClusterError> {
        ex.platform().set_partition(None)?;
        self.replaced(ex)
    }
    /// The new partition replaces the rules: only the end is recorded.
    fn replaced(self: Box<Self>, ex: &mut Executor) -> Result<(), ClusterError> {
        ex.record(&PartitionEvent::StopPartition(self.0.sides(ex.nodes())));
        Ok(())
    }
}
