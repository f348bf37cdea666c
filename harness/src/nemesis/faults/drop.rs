//! `drop`: drop a share of the packets between nodes, at random, until the
//! fault stops. One packet loss in force at a time.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::nemesis::event::{from_parts, Reading};
use crate::nemesis::executor::{Active, Executor, Started};
use crate::nemesis::kind::{About, Drawn, FaultKind};
use faultline_platform::cluster::{ClusterError, NodeSpec};

/// Drop this share (percent) of the packets between nodes, at random.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drop {
    /// Percent of node-to-node packets dropped, 1 to 100.
    pub percent: u8,
}

/// What `drop` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum DropEvent {
    /// Packets between nodes started being dropped.
    StartDrop {
        /// Percent of node-to-node packets dropped.
        percent: u8,
        /// The nodes whose traffic is affected.
        between: Vec<String>,
    },
    /// Packets are no longer dropped.
    StopDrop,
}

/// The slot of packet loss: a new share replaces the one in force.
const SLOT: &str = "drop";

impl FaultKind for Drop {
    const ABOUT: About = About {
        name: "drop",
        help: "nftables drops a share of the packets between nodes at random (--drop-percent)",
        example: r#"{ do = "drop", percent = 30 }"#,
        family: None,
        in_all: true,
        disk_layer: false,
        firewall: true,
        min_nodes: 2,
    };
    const DRAWN: Drawn<Self> = Drawn::Alone(|draw, _| Drop {
        percent: draw.drop_percent,
    });

    async fn start(&self, ex: &mut Executor) -> Started {
        ex.replace(SLOT)?;
        ex.platform().set_packet_loss(Some(self.percent))?;
        let all: Vec<usize> = (0..ex.nodes().len()).collect();
        ex.record(&DropEvent::StartDrop {
            percent: self.percent,
            between: ex.names(&all),
        });
        Ok(Some(Box::new(Dropping(self.percent))))
    }

    fn read(f: &str, value: &Value) -> Option<Reading> {
        Some(match from_parts(f, value)? {
            DropEvent::StartDrop { percent, .. } => Reading::opens(
                "drop",
                format!("drop {percent}%"),
                Vec::new(),
                &["stop-drop"],
            ),
            DropEvent::StopDrop => Reading::Closes { nodes: Vec::new() },
        })
    }
}

/// Packet loss in force.
struct Dropping(u8);

impl Active for Dropping {
    fn label(&self, _: &[NodeSpec]) -> String {
        format!("drop {}%", self.0)
    }
    fn slot(&self) -> Option<&'static str> {
        Some(SLOT)
    }
    fn undo(self: Box<Self>, ex: &mut Executor) -> Result<(), ClusterError> {
        ex.platform().set_packet_loss(None)?;
        ex.record(&DropEvent::StopDrop);
        Ok(())
    }
}
