//! `power-loss`: the target nodes lose power: SIGKILL, then their files go
//! back to what was fsynced (the disk-fault layer); they restart when the
//! fault stops, like a kill.

use faultline_diskfs::{ByteRange, PowerLossOptions};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::nemesis::event::{from_parts, Reading};
use crate::nemesis::executor::{Executor, Started};
use crate::nemesis::kind::{About, Drawn, FaultKind};
use crate::nemesis::target::Target;
use faultline_platform::cluster::ClusterError;

use super::kill::{kill, Down};

/// The target nodes lose power: SIGKILL, and their files go back to what
/// was fsynced (the disk-fault layer); they stay down until the fault
/// stops (or `restart`, `heal`), like a kill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerLoss {
    /// The nodes that lose power (running or already down).
    pub target: Target,
    /// Keep a random strict prefix of each file's last un-synced write.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tear: bool,
    /// Probability (0 to 1) that each un-synced write survives anyway.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub survival: f64,
    /// Bytes a torn write is cut at: 512 (the default) keeps whole
    /// sectors, as disks that write a sector atomically do; 1 cuts at
    /// any byte (stricter than most hardware).
    #[serde(default = "sector_bytes", skip_serializing_if = "is_sector")]
    pub sector: u64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// The sector size torn writes keep whole by default.
pub const SECTOR_BYTES: u64 = 512;

fn sector_bytes() -> u64 {
    SECTOR_BYTES
}

fn is_sector(b: &u64) -> bool {
    *b == SECTOR_BYTES
}

/// What `power-loss` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum PowerLossEvent {
    /// These nodes lost power: killed, and their files returned to what
    /// was fsynced (a `restart` ends it).
    PowerLoss(PowerLost),
}

/// What a power loss did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerLost {
    /// The nodes that lost power.
    pub nodes: Vec<String>,
    /// Whether each file's last un-synced write was torn (a prefix kept).
    #[serde(default)]
    pub tear: bool,
    /// Probability that an un-synced write survived.
    #[serde(default)]
    pub survival: f64,
    /// The unit torn writes were cut at (bytes; 512: whole sectors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<u64>,
    /// Every file that lost data, node by node.
    #[serde(default)]
    pub files: Vec<LostFile>,
    /// Namespace changes (create, rename, unlink) undone, `node: change`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace: Vec<String>,
}

/// One file's loss at a power loss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostFile {
    /// The node.
    pub node: String,
    /// The file, relative to the node's data directory.
    pub file: String,
    /// Its size just before.
    pub size_before: u64,
    /// The size its last sync made durable.
    pub durable_size: u64,
    /// Its size after.
    pub size_after: u64,
    /// Byte ranges `[start, end)` given back their durable contents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<[u64; 2]>,
    /// Un-synced byte ranges that survived (torn prefix or survival draw).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<[u64; 2]>,
}

impl PowerLost {
    /// Bytes of un-synced data lost, over every file.
    pub fn lost_bytes(&self) -> u64 {
        self.files
            .iter()
            .map(|f| {
                let cut = f.size_before.saturating_sub(f.size_after);
                let restored: u64 = f.restored.iter().map(|[a, b]| b - a).sum();
                cut + restored
            })
            .sum()
    }
}

impl FaultKind for PowerLoss {
    const ABOUT: About = About {
        name: "power-loss",
        help: "power loss on one node, a minority or the leader: SIGKILL, un-fsynced data lost (the disk-fault layer, mounted for the run), restart later",
        example: r#"{ do = "power-loss", target = "all", tear = true, survival = 0.2 }"#,
        family: None,
        in_all: false,
        disk_layer: true,
        firewall: false,
        min_nodes: 1,
    };
    const DRAWN: Drawn<Self> = Drawn::Alone(|draw, rng| PowerLoss {
        target: Target::draw(draw.nodes, rng),
        tear: rng.gen_bool(0.5),
        survival: 0.0,
        sector: SECTOR_BYTES,
    });

    fn target(&self) -> Option<&Target> {
        Some(&self.target)
    }

    async fn start(&self, ex: &mut Executor) -> Started {
        let targets = ex.resolve(&self.target).await;
        let Some(&first) = targets.first() else {
            return Ok(None);
        };
        ex.set_previous(first);
        let event = self.lose(ex, &targets)?;
        ex.record(&PowerLossEvent::PowerLoss(event));
        Ok(Some(Box::new(Down::new("power-loss", targets))))
    }

    fn read(f: &str, value: &Value) -> Option<Reading> {
        let PowerLossEvent::PowerLoss(p) = from_parts(f, value)?;
        let label = format!(
            "power-loss {}: {} bytes of un-fsynced data lost in {} files{}",
            p.nodes.join(" "),
            p.lost_bytes(),
            p.files.len(),
            if p.tear { " (last writes torn)" } else { "" }
        );
        Some(Reading::opens("power-loss", label, p.nodes, &["restart"]))
    }
}

impl PowerLoss {
    /// Kills those of `targets` that run, then returns each one's files to
    /// what was durable; what was lost, for the history.
    fn lose(&self, ex: &mut Executor, targets: &[usize]) -> Result<PowerLost, ClusterError> {
        kill(&mut *ex.platform(), targets)?;
        let mut event = PowerLost {
            nodes: ex.names(targets),
            tear: self.tear,
            survival: self.survival,
            sector: self.tear.then_some(self.sector),
            files: Vec::new(),
            namespace: Vec::new(),
        };
        for &i in targets {
            let options = PowerLossOptions {
                seed: ex.rng().gen(),
                tear: self.tear,
                survival: self.survival.clamp(0.0, 1.0),
                sector: self.sector,
            };
            let report = ex.platform().power_loss(i, options)?;
            let node = &ex.nodes()[i];
            let base = node.backing_dir.as_deref().unwrap_or(&node.data_dir);
            let ranges = |v: &[ByteRange]| v.iter().map(|r| [r.start, r.end]).collect::<Vec<_>>();
            for f in &report.files {
                event.files.push(LostFile {
                    node: node.name.clone(),
                    file: f
                        .path
                        .strip_prefix(base)
                        .unwrap_or(&f.path)
                        .display()
                        .to_string(),
                    size_before: f.size_before,
                    durable_size: f.durable_size,
                    size_after: f.size_after,
                    restored: ranges(&f.restored),
                    kept: ranges(&f.kept),
                });
            }
            for u in &report.namespace {
                let what = serde_json::to_string(&u.op).unwrap_or_default();
                event.namespace.push(format!("{}: {what}", node.name));
            }
        }
        Ok(event)
    }
}
