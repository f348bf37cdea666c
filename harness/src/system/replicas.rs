//! Capability: each replica's own state, read locally (never through the
//! leader), so that after a run the harness can check that the replicas
//! agree. A linearizability check of client operations cannot see a
//! replica that silently diverged while clients talked to the others
//! (etcd-io/etcd#13766: after a SIGKILL under write load, etcd 3.5.0–3.5.2
//! could leave a member with other data at the same applied index).
//!
//! A system offers it through [`System::replicas`](super::System::replicas):
//! where a node is ([`Position`], cheap, polled while the replicas settle)
//! and its whole local state ([`ReplicaState`]: every key and value, the
//! position it reflects, and a digest the system computes itself when it
//! has one). The run asks every node once the final reads are done
//! (`run/replica_survey.rs`) and writes what they answered to
//! [`FILE`] ([`Survey`]); the `replica-agreement` checker
//! (`checkers/replicas.rs`) compares them. When no node can show its state
//! after all ([`ReplicaError::Unsupported`]: the program the nodes run has
//! no such request), the run says so and drops the check.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::BoxFuture;
use faultline_platform::cluster::NodeSpec;

/// The file of a run folder holding the [`Survey`].
pub const FILE: &str = "replicas.json";

/// Where a replica is in the replicated history: named counters (etcd:
/// `applied_index` and `revision`; faultline-node: `applied_index`).
/// Two replicas are at the same position when every counter is equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(pub BTreeMap<String, u64>);

impl Position {
    /// A position of the counters `named`.
    pub fn of(named: &[(&str, u64)]) -> Position {
        Position(named.iter().map(|(n, v)| (n.to_string(), *v)).collect())
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(n, v)| format!("{n} {v}")).collect();
        match parts.is_empty() {
            true => f.write_str("no position"),
            false => f.write_str(&parts.join(", ")),
        }
    }
}

/// One replica's local state, as it holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaState {
    /// The position the state reflects.
    pub position: Position,
    /// A digest the system computes over its own state (etcd's `hashkv`
    /// or `hash`), named by how it was computed: `hashkv 1234`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Every key and its value.
    #[serde(default)]
    pub kv: BTreeMap<String, Value>,
}

/// The replicas a run of `system` on `nodes` nodes compares: the
/// system's, when it can show them and there are two nodes or more (one
/// replica has nothing to agree with).
pub fn compared(system: &dyn super::System, nodes: usize) -> Option<&dyn Replicas> {
    system.replicas().filter(|_| nodes >= 2)
}

/// Why a node did not show its state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    /// It answered, but cannot show its state: the program it runs has no
    /// such request (a `--node-bin` of another version, a stand-in).
    #[error("{0}")]
    Unsupported(String),
    /// It did not answer in time, or its answer was unusable.
    #[error("{0}")]
    Unreachable(String),
}

impl From<String> for ReplicaError {
    /// A failure to get an answer at all.
    fn from(why: String) -> ReplicaError {
        ReplicaError::Unreachable(why)
    }
}

/// Capability: reading one node's own state.
pub trait Replicas: Send + Sync {
    /// Where `node` is; Err says why it did not answer within `timeout`.
    fn position<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Position, ReplicaError>>;
    /// `node`'s whole local state; Err says why it did not answer within
    /// `timeout`.
    fn state<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ReplicaState, ReplicaError>>;
}

/// What one node answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// The node's name.
    pub node: String,
    /// Its state, or why it did not answer.
    #[serde(flatten)]
    pub answer: Answer,
}

/// A node's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Its local state.
    State(ReplicaState),
    /// It did not answer: why.
    Unreachable(String),
}

/// How the wait for the replicas to reach one position ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// Every node answered, all at the same position.
    Together,
    /// No node's position (or reachability) changed for a while, though
    /// they were not all together.
    Still,
    /// The wait's limit came first.
    TimedOut,
}

/// What `replicas.json` holds: every node's local state after the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Survey {
    /// How the wait for one position ended.
    pub settled: Settled,
    /// How long the wait took, milliseconds.
    pub waited_ms: u64,
    /// Every node, in cluster order.
    pub replicas: Vec<Observed>,
}

impl Survey {
    /// The nodes that answered, with their states.
    pub fn reachable(&self) -> impl Iterator<Item = (&str, &ReplicaState)> {
        self.replicas.iter().filter_map(|o| match &o.answer {
            Answer::State(s) => Some((o.node.as_str(), s)),
            Answer::Unreachable(_) => None,
        })
    }

    /// The nodes that did not answer, with why.
    pub fn unreachable(&self) -> impl Iterator<Item = (&str, &str)> {
        self.replicas.iter().filter_map(|o| match &o.answer {
            Answer::Unreachable(why) => Some((o.node.as_str(), why.as_str())),
            Answer::State(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_survey_round_trips_with_states_and_unreachable_nodes() {
        let survey = Survey {
            settled: Settled::Together,
            waited_ms: 12,
            replicas: vec![
                Observed {
                    node: "n1".into(),
                    answer: Answer::State(ReplicaState {
                        position: Position::of(&[("applied_index", 7)]),
                        digest: None,
                        kv: [("k".to_string(), json!(1))].into(),
                    }),
                },
                Observed {
                    node: "n2".into(),
                    answer: Answer::Unreachable("connection refused".into()),
                },
            ],
        };
        let text = serde_json::to_value(&survey).unwrap();
        assert_eq!(text["replicas"][0]["state"]["position"]["applied_index"], 7);
        assert_eq!(text["replicas"][1]["unreachable"], "connection refused");
        let back: Survey = serde_json::from_value(text).unwrap();
        assert_eq!(back, survey);
        assert_eq!(back.reachable().count(), 1);
        assert_eq!(
            back.unreachable().next(),
            Some(("n2", "connection refused"))
        );
        assert_eq!(
            Position::of(&[("revision", 3), ("applied_index", 9)]).to_string(),
            "applied_index 9, revision 3"
        );
    }
}
