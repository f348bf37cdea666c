//! What the nemesis writes into the history: one typed event per fault
//! start, stop and scenario step, stored as a `"nemesis"` event whose `f`
//! is the variant's name and whose `value` its content (the JSON histories
//! have always held, so old histories read back the same way).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::disk::Damage;

/// One nemesis event of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum FaultEvent {
    /// These nodes were SIGKILLed.
    Kill(Vec<String>),
    /// These nodes were SIGSTOPped.
    Pause(Vec<String>),
    /// These nodes (killed or crashed) were started again.
    Restart(Vec<String>),
    /// These nodes (paused) were sent SIGCONT.
    Resume(Vec<String>),
    /// This node exited at an armed failpoint (an injected crash).
    Crash(Vec<String>),
    /// A partition started: who sees whom.
    StartPartition(PartitionSides),
    /// A partition ended (the network is whole again, or a new one follows).
    StopPartition(PartitionSides),
    /// Packets between nodes started being dropped.
    StartDrop {
        /// Percent of node-to-node packets dropped.
        percent: u8,
        /// The nodes whose traffic is affected.
        between: Vec<String>,
    },
    /// Packets are no longer dropped.
    StopDrop,
    /// A failpoint was armed on these nodes.
    Arm {
        /// The failpoint's name (`crash-after-vote`, ...).
        failpoint: String,
        /// The nodes that accepted it.
        nodes: Vec<String>,
    },
    /// Every failpoint was disarmed on these nodes.
    Disarm(Vec<String>),
    /// A node refused to arm or disarm a failpoint (it runs without them).
    FailpointRefused {
        /// The node that refused.
        node: String,
        /// The failpoint asked for.
        failpoint: String,
        /// Why, as the system said.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
        /// The refusal's HTTP status (what histories recorded before
        /// systems said why in words).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    /// A scenario's bounded wait ended.
    Wait(WaitOutcome),
    /// These nodes lost power: killed, and their files returned to what
    /// was fsynced.
    PowerLoss(PowerLossEvent),
    /// A data file of a node was damaged while it was down.
    Corrupt(Damage),
    /// A node whose files were damaged exited on its own: its answer to the
    /// damage (refusing to start, most often), not a crash.
    CorruptExit {
        /// The node.
        node: String,
        /// Its exit status.
        status: String,
        /// The last lines of its log, saying why.
        #[serde(default)]
        log: Vec<String>,
    },
}

/// What a power loss did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerLossEvent {
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

impl PowerLossEvent {
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

/// Who sees whom during a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSides {
    /// The shape's name: `isolate-one`, `isolate-leader`, `isolate`,
    /// `halves`, `bridge`, `majorities-ring`, `star`.
    #[serde(default)]
    pub shape: String,
    /// The groups of nodes that see each other (for a ring: each node's
    /// view), by name.
    #[serde(default)]
    pub groups: Vec<Vec<String>>,
}

/// How a scenario's `wait` step ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitOutcome {
    /// The step's position in the scenario (0-based).
    pub step: usize,
    /// The condition waited for, as the scenario wrote it.
    pub until: Value,
    /// Whether it held before the timeout.
    pub met: bool,
    /// What was seen when it held (the new leader, the acked count, ...).
    #[serde(default)]
    pub detail: Option<Value>,
    /// How long the wait took, seconds.
    pub seconds: f64,
}

impl FaultEvent {
    /// The event as a history event's `f` and `value`.
    pub fn to_parts(&self) -> (String, Value) {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        let f = v
            .get("f")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let value = v.get_mut("value").map(Value::take).unwrap_or(Value::Null);
        (f, value)
    }

    /// The event a history's nemesis `f` and `value` hold; None for names
    /// this version does not know (other tools' nemeses) or values that do
    /// not fit.
    pub fn from_parts(f: &str, value: &Value) -> Option<FaultEvent> {
        let mut doc = serde_json::json!({ "f": f });
        if !value.is_null() {
            doc["value"] = value.clone();
        }
        serde_json::from_value(doc).ok()
    }

    /// The nodes the event names directly (kill, pause, restart, resume,
    /// crash, disarm, power loss, corruption).
    pub fn nodes(&self) -> &[String] {
        match self {
            FaultEvent::Kill(n)
            | FaultEvent::Pause(n)
            | FaultEvent::Restart(n)
            | FaultEvent::Resume(n)
            | FaultEvent::Crash(n)
            | FaultEvent::Disarm(n) => n,
            FaultEvent::PowerLoss(p) => &p.nodes,
            FaultEvent::Corrupt(d) => std::slice::from_ref(&d.node),
            FaultEvent::CorruptExit { node, .. } => std::slice::from_ref(node),
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_keep_the_json_histories_hold() {
        let cases = [
            ("kill", json!(["n1", "n2"])),
            ("restart", json!(["n3"])),
            ("crash", json!(["n2"])),
            (
                "start-partition",
                json!({"shape": "halves", "groups": [["n1"], ["n2", "n3"]]}),
            ),
            (
                "start-drop",
                json!({"percent": 20, "between": ["n1", "n2"]}),
            ),
            ("stop-drop", Value::Null),
            (
                "arm",
                json!({"failpoint": "crash-after-vote", "nodes": ["n1"]}),
            ),
            (
                "failpoint-refused",
                json!({"node": "n1", "failpoint": "crash-after-vote", "status": 404}),
            ),
            (
                "wait",
                json!({"step": 2, "until": "leader", "met": true, "detail": {"leader": "n1", "term": 3}, "seconds": 0.25}),
            ),
            (
                "power-loss",
                json!({"nodes": ["n1", "n2"], "tear": true, "survival": 0.0, "sector": 512, "files": [
                    {"node": "n1", "file": "wal/1.log", "size_before": 300, "durable_size": 100,
                     "size_after": 120, "restored": [[50, 60]], "kept": [[100, 120]]}]}),
            ),
            (
                "corrupt",
                json!({"node": "n2", "file": "wal/1.log", "candidates": 2, "flips": [{"offset": 17, "bit": 3}]}),
            ),
            (
                "corrupt-exit",
                json!({"node": "n2", "status": "exit status: 1", "log": ["corrupt WAL"]}),
            ),
        ];
        for (f, value) in cases {
            let ev = FaultEvent::from_parts(f, &value).unwrap_or_else(|| panic!("{f} {value}"));
            assert_eq!(ev.to_parts(), (f.to_string(), value), "{f}");
        }
        assert_eq!(FaultEvent::from_parts("clock-skew", &json!(3)), None);
    }
}
