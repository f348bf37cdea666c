//! Protocol-aware recovery (Alagappan et al., FAST 2018): a node whose
//! storage lost entries it had acknowledged does not vote or stand for
//! election until a leader has given them back.
//!
//! An acknowledgement is a promise the leader counted toward a commit
//! quorum: an entry acknowledged by this node may be committed with its
//! help. A node that restarts without it (its WAL tail cut after disk
//! damage, a corrupted record set aside, a snapshot lost) and then votes
//! on its shortened log can help elect a leader that lacks a committed
//! entry, which that leader then overwrites. So the storage tells the node,
//! in [`Restored::recovery`](super::Restored), what it had acknowledged,
//! and the node stays a learner: it takes Appends and snapshots and answers
//! them with what it truly holds, refuses every (pre-)vote and never
//! campaigns, and tells the leader that its log went back
//! ([`MessageBody::Lost`]) so that the leader lowers its match and resends.
//! It leaves recovery once an Append from a leader has brought its log in
//! line with the leader's through the acknowledged index (or a snapshot
//! from a leader covers it): the entry there is then either the one it
//! acknowledged or one the leader overwrote it with, which proves it was
//! never committed (a leader holds every committed entry). When the storage
//! cannot say what was acknowledged (the record of it was damaged too), the
//! leader's commit index is the bar instead.
//!
//! In the term in which it recovers, the node records the leader as its
//! vote if it had none: a vote it may have cast in that term before the
//! damage is forgotten, and the term already has a leader.
//!
//! Damage beyond what a majority can repair stops the node: when a
//! recovering node hears from no leader for an election timeout it asks
//! every peer ([`MessageBody::LostProbe`]); if it and the peers that answer
//! recovering, with no leader, make a majority, no leader can ever be
//! elected to give the entries back. [`RaftNode::unrepairable`] then says
//! what was damaged, what is missing and who (if anyone) still holds it,
//! and the caller stops. One exception: when every one of them lost only
//! what its last sync wrote ([`Recovery::ambiguous`]), which is what a
//! power loss of the whole cluster in the middle of its syncs leaves (those
//! writes were never acknowledged), they take it for that crash and vote
//! again; damage to a majority is beyond what the node promises anyway.

use super::message::{Message, MessageBody, SnapshotMeta};
use super::node::RaftNode;
use super::{Index, NodeId};

/// A peer's answer to this node's latest [`MessageBody::LostProbe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProbeAnswer {
    pub(crate) from: NodeId,
    pub(crate) recovering: bool,
    pub(crate) ambiguous: bool,
    pub(crate) holds: bool,
    pub(crate) has_leader: bool,
}

/// What a restarted node must get back before it may vote again: set by the
/// storage when it found damage (or a cut tail) covering entries it had
/// acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The last entry the node had made durable (and so may have
    /// acknowledged): its index and term. `None` when the storage cannot
    /// tell (the record of it was damaged as well).
    pub acked: Option<SnapshotMeta>,
    /// What was damaged, for logs and for an operator: file, offset, and
    /// which entries are missing.
    pub damage: String,
    /// Only what the last sync wrote is missing: a power loss during that
    /// sync (never acknowledged) leaves the same state as damage after it.
    /// When a majority of the nodes is recovering and every one of them is
    /// in this case, they take it for a cluster-wide crash and vote again.
    pub ambiguous: bool,
}

impl RaftNode {
    /// Whether this node is a learner recovering entries its storage lost.
    pub fn is_recovering(&self) -> bool {
        self.recovery.is_some()
    }

    /// Why this node cannot recover (a majority of the cluster lost
    /// acknowledged entries and none can be elected to repair it): set once,
    /// and the caller should stop the node with this message.
    pub fn unrepairable(&self) -> Option<&str> {
        self.unrepairable.as_deref()
    }

    /// A recovering node's election timer fired (no leader heard from):
    /// ask every peer whether it holds the lost entries or is recovering.
    pub(crate) fn probe_peers(&mut self) {
        let Some(recovery) = &self.recovery else {
            return;
        };
        let acked = recovery.acked.unwrap_or_default();
        self.probe_answers.clear();
        let peers: Vec<NodeId> = self.progress.iter().map(|p| p.id).collect();
        for to in peers {
            self.send(
                to,
                self.term,
                MessageBody::LostProbe {
                    acked_index: acked.index,
                    acked_term: acked.term,
                },
            );
        }
        self.judge_repairable();
    }

    /// Answers a LostProbe or records an answer to ours (both whatever the
    /// terms: they are about log contents, and must not disturb a leader).
    /// Returns false for any other message.
    pub(crate) fn step_probe(&mut self, msg: &Message) -> bool {
        match msg.body {
            MessageBody::LostProbe {
                acked_index,
                acked_term,
            } => {
                let holds = acked_index > 0
                    && (acked_index <= self.log.snapshot_index()
                        || self.log.term(acked_index) == Some(acked_term));
                let body = MessageBody::LostProbeResp {
                    recovering: self.recovery.is_some(),
                    ambiguous: self.recovery.as_ref().is_some_and(|r| r.ambiguous),
                    holds,
                    has_leader: self.leader.is_some(),
                };
                self.send(msg.from, self.term, body);
                true
            }
            MessageBody::LostProbeResp {
                recovering,
                ambiguous,
                holds,
                has_leader,
            } => {
                if self.recovery.is_some() && !self.probe_answers.iter().any(|a| a.from == msg.from)
                {
                    self.probe_answers.push(ProbeAnswer {
                        from: msg.from,
                        recovering,
                        ambiguous,
                        holds,
                        has_leader,
                    });
                    self.judge_repairable();
                }
                true
            }
            _ => false,
        }
    }

    /// Whether this node and the peers that answered recovering, with no
    /// leader anywhere, are a majority: then no leader can be elected.
    fn judge_repairable(&mut self) {
        let Some(recovery) = &self.recovery else {
            return;
        };
        if self.unrepairable.is_some() || self.probe_answers.iter().any(|a| a.has_leader) {
            return;
        }
        let mut stuck: Vec<NodeId> = vec![self.cfg.id];
        stuck.extend(
            self.probe_answers
                .iter()
                .filter(|a| a.recovering)
                .map(|a| a.from),
        );
        if stuck.len() < self.cfg.quorum() {
            return;
        }
        let all_ambiguous = recovery.ambiguous
            && self
                .probe_answers
                .iter()
                .filter(|a| a.recovering)
                .all(|a| a.ambiguous);
        if all_ambiguous {
            tracing::warn!(
                id = self.cfg.id,
                stuck = ?stuck,
                "a majority lost only the write of its last sync, as a power loss in the middle of \
                 that sync does: taking it for a crash (nothing lost was acknowledged) and voting again"
            );
            self.recovery = None;
            self.probe_answers.clear();
            return;
        }
        stuck.sort_unstable();
        let holders: Vec<String> = self
            .probe_answers
            .iter()
            .filter(|a| a.holds)
            .map(|a| format!("node {}", a.from))
            .collect();
        let held = if holders.is_empty() {
            "no node that answered holds them".to_string()
        } else {
            format!("still held by {}", holders.join(", "))
        };
        let message = format!(
            "{}; nodes {:?} of {} lost acknowledged entries, a majority: no leader can be elected \
             to give them back ({held}); stopping for an operator",
            recovery.damage,
            stuck,
            self.cfg.voters.len()
        );
        tracing::error!(id = self.cfg.id, "{message}");
        self.unrepairable = Some(message);
    }

    /// A recovering follower heard from the leader `leader`: tell it how far
    /// this log really goes, so it stops trusting what was acknowledged.
    pub(crate) fn report_loss(&mut self, leader: NodeId) {
        if self.recovery.is_some() {
            let last_index = self.log.last_index();
            self.send(leader, self.term, MessageBody::Lost { last_index });
        }
    }

    /// The leader's Append left this log matching the leader's through
    /// `matched` (the leader's commit was `leader_commit`): leave recovery
    /// if that covers what was acknowledged.
    pub(crate) fn maybe_repaired(&mut self, matched: Index, leader_commit: Index) {
        let Some(recovery) = &self.recovery else {
            return;
        };
        let bar = match recovery.acked {
            Some(acked) => acked.index,
            None => leader_commit.max(1),
        };
        if matched >= bar {
            self.end_recovery(matched);
        }
    }

    /// A snapshot from the leader replaced the log up to `index`.
    pub(crate) fn repaired_by_snapshot(&mut self, index: Index) {
        let covered = match &self.recovery {
            Some(Recovery {
                acked: Some(acked), ..
            }) => index >= acked.index,
            Some(Recovery { acked: None, .. }) => true,
            None => false,
        };
        if covered {
            self.end_recovery(index);
        }
    }

    fn end_recovery(&mut self, matched: Index) {
        let Some(recovery) = self.recovery.take() else {
            return;
        };
        if self.vote.is_none() {
            self.vote = self.leader;
        }
        tracing::info!(
            id = self.cfg.id,
            term = self.term,
            matched,
            acked = ?recovery.acked.map(|a| (a.index, a.term)),
            "recovered from the leader the entries the damaged storage lost; voting again"
        );
    }

    /// The leader's handling of [`MessageBody::Lost`]: a follower's log is
    /// shorter than it had acknowledged; probe it again from its real end.
    pub(crate) fn handle_lost(&mut self, from: NodeId, last_index: Index) {
        let Some(i) = self.progress.iter().position(|p| p.id == from) else {
            return;
        };
        let pr = &mut self.progress[i];
        pr.recent_active = true;
        if last_index >= pr.matched {
            return;
        }
        tracing::info!(
            id = self.cfg.id,
            follower = from,
            matched = pr.matched,
            last_index,
            "a follower lost entries it had acknowledged: probing it from its last index"
        );
        pr.matched = last_index;
        pr.become_probe();
        self.send_append(i, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Entry, HardState, Restored, Role};

    /// Three nodes that each lost the entries 3..=4 they had acknowledged,
    /// ambiguous or not; returns them after `ticks` of delivering every
    /// message at once.
    fn cluster(ambiguous: bool, ticks: u32) -> Vec<RaftNode> {
        let mut nodes = restarted(ambiguous);
        run(&mut nodes, ticks);
        nodes
    }

    fn restarted(ambiguous: bool) -> Vec<RaftNode> {
        let voters = vec![1, 2, 3];
        voters
            .iter()
            .map(|&id| {
                let restored = Restored {
                    hard_state: HardState {
                        term: 1,
                        vote: Some(1),
                        commit: 2,
                    },
                    snapshot: None,
                    entries: (1..=2)
                        .map(|index| Entry {
                            term: 1,
                            index,
                            data: vec![],
                        })
                        .collect(),
                    recovery: Some(Recovery {
                        acked: Some(SnapshotMeta { index: 4, term: 1 }),
                        damage: "test damage: entries 3..=4 are missing".into(),
                        ambiguous,
                    }),
                };
                RaftNode::new(Config::new(id, voters.clone(), 7), restored)
            })
            .collect()
    }

    fn run(nodes: &mut [RaftNode], ticks: u32) {
        for _ in 0..ticks {
            let mut inbox = Vec::new();
            for node in nodes.iter_mut() {
                node.tick();
                inbox.extend(node.ready().messages);
            }
            while !inbox.is_empty() {
                for msg in std::mem::take(&mut inbox) {
                    let to = (msg.to - 1) as usize;
                    nodes[to].step(msg);
                }
                for node in nodes.iter_mut() {
                    let rd = node.ready();
                    let point = rd.persist_point();
                    inbox.extend(rd.early_messages);
                    inbox.extend(rd.messages);
                    if let Some((index, term)) = point {
                        node.persisted(index, term);
                    }
                }
            }
        }
    }

    #[test]
    fn a_majority_that_lost_only_its_last_sync_takes_it_for_a_crash_and_elects() {
        let mut nodes = cluster(true, 200);
        assert!(nodes.iter().all(|n| n.unrepairable().is_none()));
        let leaders: Vec<usize> = (0..3)
            .filter(|&i| nodes[i].role() == Role::Leader)
            .collect();
        assert_eq!(
            leaders.len(),
            1,
            "{:?}",
            nodes.iter().map(|n| n.status()).collect::<Vec<_>>()
        );
        // Nodes that heard of the leader before taking it for a crash stay
        // learners until the log reaches what they had acknowledged.
        for _ in 0..3 {
            nodes[leaders[0]].propose(b"x".to_vec()).unwrap();
        }
        run(&mut nodes, 50);
        assert!(nodes.iter().all(|n| !n.is_recovering()));
    }

    #[test]
    fn a_majority_that_lost_acknowledged_entries_for_certain_stops() {
        let nodes = cluster(false, 200);
        for n in &nodes {
            assert!(n.is_recovering());
            let why = n.unrepairable().expect("stopped");
            assert!(
                why.contains("entries 3..=4 are missing") && why.contains("a majority"),
                "{why}"
            );
            assert_ne!(n.role(), Role::Leader);
        }
    }
}
