//! `state-machine-safety`: Raft's State Machine Safety, as far as statuses
//! show it: nodes that applied entries up to the same index hold the same
//! state. Judged from every status the run saw (`states.jsonl`) that
//! carries an applied index and a digest of the state machine there: two
//! different digests at one applied index, on any nodes at any times, mean
//! two nodes applied different entries at some index up to it.
//!
//! The final `replica-agreement` compares the replicas once, after the
//! faults healed; this sees a divergence while it lasts, and one that a
//! later snapshot or overwrite hid. It runs only for systems whose status
//! is one snapshot of the node (`System::status_is_exact`).

use std::collections::BTreeMap;

use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};

use super::states::{node_name, samples_of, Sample};
use super::{CheckContext, Checker, CheckerError, Judgement};
use crate::record::Anomaly;

/// The kind of detail this checker writes: an [`Applied`].
pub const KIND: &str = "state-machine-safety";

/// A digest seen at an applied index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestSeen {
    /// The digest.
    pub digest: String,
    /// The first node seen with it.
    pub node: String,
    /// When, seconds since the start.
    pub first_s: f64,
}

/// An applied index at which nodes held different states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The applied index.
    pub index: u64,
    /// Each digest seen there, in the order first seen.
    pub digests: Vec<DigestSeen>,
}

/// What the statuses showed about applied states: `results.json`'s detail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// Status samples read.
    pub samples: usize,
    /// Distinct applied indexes seen with a digest.
    pub indexes: usize,
    /// Indexes seen on two nodes or more (where a comparison was made).
    pub compared: usize,
    /// The indexes with two digests or more (the violations), in order.
    pub diverged: Vec<Divergence>,
}

impl Applied {
    /// What `samples` show: for each applied index, the digests seen there.
    pub fn of(samples: &[Sample]) -> Applied {
        let mut by_index: BTreeMap<u64, (Vec<DigestSeen>, Vec<String>)> = BTreeMap::new();
        for s in samples {
            for (i, status) in s.nodes.iter().enumerate() {
                let Some(st) = status else { continue };
                let (Some(index), Some(digest)) = (st.applied_index, &st.state_digest) else {
                    continue;
                };
                let node = node_name(i, st);
                let (digests, nodes) = by_index.entry(index).or_default();
                if !nodes.contains(&node) {
                    nodes.push(node.clone());
                }
                match digests.iter_mut().find(|d| &d.digest == digest) {
                    Some(d) if d.first_s <= s.at => {}
                    Some(d) => {
                        d.first_s = s.at;
                        d.node = node;
                    }
                    None => digests.push(DigestSeen {
                        digest: digest.clone(),
                        node,
                        first_s: s.at,
                    }),
                }
            }
        }
        let indexes = by_index.len();
        let compared = by_index.values().filter(|(_, n)| n.len() > 1).count();
        let diverged = by_index
            .into_iter()
            .filter(|(_, (d, _))| d.len() > 1)
            .map(|(index, (mut digests, _))| {
                digests.sort_by(|a, b| a.first_s.total_cmp(&b.first_s));
                Divergence { index, digests }
            })
            .collect();
        Applied {
            samples: samples.len(),
            indexes,
            compared,
            diverged,
        }
    }

    /// Invalid when an index had two states.
    pub fn verdict(&self) -> Verdict {
        if self.diverged.is_empty() {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }

    /// One line, then the first diverged indexes.
    pub fn summary(&self) -> String {
        if self.diverged.is_empty() {
            return format!(
                "valid: one state per applied index ({} indexes, {} seen on two nodes or more)",
                self.indexes, self.compared
            );
        }
        let mut text = format!(
            "invalid: nodes held different states at {} of {} applied indexes",
            self.diverged.len(),
            self.indexes
        );
        for d in self.diverged.iter().take(5) {
            let who: Vec<String> = d
                .digests
                .iter()
                .map(|s| format!("{} {} (from {:.2} s)", s.node, s.digest, s.first_s))
                .collect();
            text.push_str(&format!("\nindex {}: {}", d.index, who.join(", ")));
        }
        if self.diverged.len() > 5 {
            text.push_str(&format!("\n… and {} more", self.diverged.len() - 5));
        }
        text
    }

    /// When the divergence first showed: the earliest second digest.
    pub fn first_seen_s(&self) -> Option<f64> {
        self.diverged
            .iter()
            .filter_map(|d| d.digests.get(1).map(|s| s.first_s))
            .min_by(f64::total_cmp)
    }
}

/// The state-machine-safety checker.
#[derive(Debug, Clone, Copy)]
pub struct StateMachineSafety;

/// The registered checker.
pub const STATE_MACHINE_SAFETY: StateMachineSafety = StateMachineSafety;

impl Checker for StateMachineSafety {
    fn name(&self) -> &'static str {
        "state-machine-safety"
    }

    fn title(&self) -> String {
        "state machine safety".into()
    }

    fn description(&self) -> &'static str {
        "nodes at one applied index hold one state, from every status the run saw (systems whose status is exact)"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let applied = Applied::of(&samples_of(ctx)?);
        let anomaly = applied.diverged.first().map(|d| Anomaly {
            time: applied.first_seen_s().map(|s| (s * 1e9) as u64),
            operation: Some(format!(
                "applied index {} holds {} states",
                d.index,
                d.digests.len()
            )),
            ..Anomaly::default()
        });
        Ok(Judgement::new(applied.verdict(), applied.summary(), &applied).with_anomaly(anomaly))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::NodeStatus;

    fn st(id: &str, index: u64, digest: &str) -> Option<NodeStatus> {
        Some(NodeStatus {
            id: id.into(),
            role: "follower".into(),
            applied_index: Some(index),
            state_digest: Some(digest.into()),
            ..NodeStatus::default()
        })
    }

    fn sample(at: f64, nodes: Vec<Option<NodeStatus>>) -> Sample {
        Sample { at, nodes }
    }

    #[test]
    fn the_same_state_at_each_index_is_valid_however_late_a_node_gets_there() {
        let a = Applied::of(&[
            sample(0.25, vec![st("n1", 5, "aa"), st("n2", 3, "cc")]),
            sample(0.5, vec![st("n1", 7, "bb"), st("n2", 5, "aa")]),
            sample(2.0, vec![None, st("n2", 7, "bb")]),
        ]);
        assert_eq!(a.verdict(), Verdict::Valid);
        assert_eq!((a.indexes, a.compared), (3, 2));
        assert!(a
            .summary()
            .starts_with("valid: one state per applied index"));
    }

    #[test]
    fn two_states_at_one_index_on_any_nodes_at_any_times_is_invalid() {
        let a = Applied::of(&[
            sample(1.0, vec![st("n1", 9, "aa"), None, None]),
            sample(3.5, vec![None, st("n2", 9, "ff"), st("n3", 9, "ff")]),
            sample(3.0, vec![None, None, st("n3", 9, "ff")]),
        ]);
        assert_eq!(a.verdict(), Verdict::Invalid);
        assert_eq!(a.diverged.len(), 1);
        let d = &a.diverged[0];
        assert_eq!(d.index, 9);
        let seen: Vec<(&str, &str, f64)> = d
            .digests
            .iter()
            .map(|s| (s.node.as_str(), s.digest.as_str(), s.first_s))
            .collect();
        assert_eq!(seen, [("n1", "aa", 1.0), ("n3", "ff", 3.0)]);
        assert_eq!(a.first_seen_s(), Some(3.0));
        assert!(a
            .summary()
            .contains("index 9: n1 aa (from 1.00 s), n3 ff (from 3.00 s)"));
    }

    #[test]
    fn statuses_without_an_index_or_a_digest_are_not_compared() {
        let mut bare = st("n2", 4, "bb");
        if let Some(s) = bare.as_mut() {
            s.state_digest = None;
        }
        let a = Applied::of(&[sample(0.0, vec![st("n1", 4, "aa"), bare, None])]);
        assert_eq!((a.verdict(), a.indexes, a.compared), (Verdict::Valid, 1, 0));
    }
}
