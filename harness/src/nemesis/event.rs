//! What the nemesis writes into the history, and how the report reads it
//! back. Every nemesis event is stored as a `"nemesis"` event whose `f` is
//! a typed event's name and whose `value` its content: each event type is
//! an enum with serde's adjacent tagging (`tag = "f", content = "value"`),
//! the JSON histories have always held.
//!
//! [`FaultEvent`] holds the events no single fault kind owns: nodes coming
//! back (restart, resume), crashes, failpoints and scenario waits. A fault
//! kind's own events (kill, start-partition, power-loss, ...) live in its
//! file under `faults/`, and so does their [`Reading`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The events of the history that belong to no single fault kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum FaultEvent {
    /// These nodes (killed or crashed) were started again.
    Restart(Vec<String>),
    /// These nodes (paused) were sent SIGCONT.
    Resume(Vec<String>),
    /// This node exited at an armed failpoint (an injected crash).
    Crash(Vec<String>),
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

pub use crate::recorder::to_parts;

/// The typed event a history's nemesis `f` and `value` hold; None for
/// names the type does not know or values that do not fit.
pub fn from_parts<E: DeserializeOwned>(f: &str, value: &Value) -> Option<E> {
    let mut doc = serde_json::json!({ "f": f });
    if !value.is_null() {
        doc["value"] = value.clone();
    }
    serde_json::from_value(doc).ok()
}

/// How the report reads one nemesis event into its fault bands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The event starts a fault: a band until a later event closes it.
    Opens(Opening),
    /// The event ends faults: the open bands whose `until` names it that
    /// share a node with `nodes`, or, with no nodes, the oldest such band.
    Closes {
        /// The nodes that came back (none: the fault is not per node).
        nodes: Vec<String>,
    },
    /// The event is a moment (a scenario step's outcome, a refusal),
    /// labelled.
    Instant(String),
}

/// A fault band opened by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// The band's kind (`kill`, `partition`, ...): the report colours by it.
    pub kind: &'static str,
    /// What a person reads: `kill n3`, `drop 20%`.
    pub label: String,
    /// The nodes it hit (none: not per node).
    pub nodes: Vec<String>,
    /// The `f` of the events that end it (`restart`, `stop-partition`).
    pub until: &'static [&'static str],
}

impl Reading {
    /// A band of `kind` over `nodes`, labelled `label`, ended by an event
    /// whose `f` is in `until`.
    pub fn opens(
        kind: &'static str,
        label: String,
        nodes: Vec<String>,
        until: &'static [&'static str],
    ) -> Reading {
        Reading::Opens(Opening {
            kind,
            label,
            nodes,
            until,
        })
    }
}

impl FaultEvent {
    /// The event as a history event's `f` and `value`.
    pub fn to_parts(&self) -> (String, Value) {
        to_parts(self)
    }

    /// The event a history's nemesis `f` and `value` hold; None for names
    /// this type does not know (a fault kind's own events, other tools'
    /// nemeses) or values that do not fit.
    pub fn from_parts(f: &str, value: &Value) -> Option<FaultEvent> {
        from_parts(f, value)
    }

    /// How the report reads the event (recorded under the name `f`).
    pub fn reading(&self, f: &str) -> Reading {
        let named = |nodes: &[String]| format!("{f} {}", nodes.join(" "));
        match self {
            FaultEvent::Restart(nodes) | FaultEvent::Resume(nodes) => Reading::Closes {
                nodes: nodes.clone(),
            },
            FaultEvent::Crash(nodes) => {
                Reading::opens("crash", named(nodes), nodes.clone(), &["restart"])
            }
            FaultEvent::Disarm(nodes) => Reading::Instant(named(nodes)),
            FaultEvent::Arm { failpoint, nodes } => {
                Reading::Instant(format!("arm {failpoint} on {}", nodes.join(" ")))
            }
            FaultEvent::FailpointRefused {
                node, failpoint, ..
            } => Reading::Instant(format!("{node} refused failpoint {failpoint}")),
            FaultEvent::Wait(w) => {
                let until = w
                    .until
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| w.until.to_string());
                let outcome = if w.met { "met after" } else { "gave up after" };
                Reading::Instant(format!("wait {until}: {outcome} {:.2} s", w.seconds))
            }
            FaultEvent::CorruptExit { node, status, .. } => {
                Reading::Instant(format!("{node} (damaged) exited: {status}"))
            }
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
            ("restart", json!(["n3"])),
            ("crash", json!(["n2"])),
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
