//! Whom a fault hits: one vocabulary for the random schedule, scenarios and
//! the benchmark's client placement, resolved against the cluster at the
//! moment a fault starts.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::system::NodeStatus;
use faultline_platform::cluster::NodeState;

/// Whom a fault hits, resolved when it fires (see [`super::Executor`]).
///
/// In scenario files a target is a string (`target = "leader"`) or, for
/// fixed nodes, a table (`target = { nodes = [0, 2] }`, 0-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// The current leader (with none, the running node with the highest
    /// term: the leader that just lost its majority, or the newest candidate).
    Leader,
    /// One follower, drawn from the seed.
    Follower,
    /// The leader and followers up to a minority.
    MinorityWithLeader,
    /// Followers forming a majority, without the leader.
    MajorityWithoutLeader,
    /// The running node with the shortest log.
    ShortestLog,
    /// The running node with the longest log.
    LongestLog,
    /// Every node, whatever its state.
    All,
    /// The nodes now killed (or crashed).
    Down,
    /// The nodes now paused.
    Paused,
    /// The node the previous `isolate`, `kill`, `pause`, `star` or `arm` hit
    /// first (a star: its center).
    Previous,
    /// The next node in turn (n1, n2, ..., then n1 again): rolling restarts.
    Next,
    /// These nodes, by 0-based index (what the random schedule draws for
    /// one node or a minority).
    Nodes(Vec<usize>),
    /// The leader when one is known, else this node (0-based): the random
    /// schedule's leader target, whose fallback is drawn with the schedule.
    LeaderOr(usize),
}

impl Target {
    /// Whether resolving the target needs the nodes' statuses (their roles,
    /// terms or logs), which means asking every running node.
    pub fn needs_statuses(&self) -> bool {
        matches!(
            self,
            Target::Leader
                | Target::Follower
                | Target::MinorityWithLeader
                | Target::MajorityWithoutLeader
                | Target::ShortestLog
                | Target::LongestLog
                | Target::LeaderOr(_)
        )
    }
}

impl Target {
    /// What the random schedule aims a node fault at in a cluster of `n`,
    /// a third of the time each: the leader (or, when none leads, a node
    /// drawn here), a minority drawn here, or one node drawn here.
    pub fn draw(n: usize, rng: &mut ChaCha8Rng) -> Target {
        let minority = (n - 1) / 2;
        match rng.gen_range(0..3) {
            0 => Target::LeaderOr(rng.gen_range(0..n)),
            1 if minority > 1 => {
                let size = rng.gen_range(1..=minority);
                let mut nodes: Vec<usize> = (0..n).collect();
                nodes.shuffle(rng);
                nodes.truncate(size);
                nodes.sort_unstable();
                Target::Nodes(nodes)
            }
            _ => Target::Nodes(vec![rng.gen_range(0..n)]),
        }
    }
}

/// The node saying it leads with the highest term, and that term.
pub fn leader_of(statuses: &[Option<NodeStatus>]) -> Option<(usize, u64)> {
    statuses
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.as_ref()
                .filter(|s| s.role == "leader")
                .map(|s| (s.term, i))
        })
        .max()
        .map(|(term, i)| (i, term))
}

/// What a target is resolved against: each node's process state, the
/// statuses of the running nodes (empty unless [`Target::needs_statuses`]),
/// and the resolver's memory of earlier steps.
pub struct Resolver<'a> {
    /// Each node's process state, by index.
    pub states: &'a [NodeState],
    /// Each node's status (None: down, paused or silent), by index.
    pub statuses: &'a [Option<NodeStatus>],
    /// The seeded stream choices are drawn from.
    pub rng: &'a mut ChaCha8Rng,
    /// The node an earlier fault hit first ([`Target::Previous`]).
    pub previous: Option<usize>,
    /// The turn counter of [`Target::Next`].
    pub next: &'a mut usize,
}

impl Resolver<'_> {
    /// The nodes (indexes) `target` names now.
    pub fn resolve(&mut self, target: &Target) -> Vec<usize> {
        let n = self.states.len();
        let running = self.nodes_in(|s| s == NodeState::Running);
        match target {
            Target::All => (0..n).collect(),
            Target::Down => self.nodes_in(|s| matches!(s, NodeState::Killed | NodeState::Exited)),
            Target::Paused => self.nodes_in(|s| s == NodeState::Paused),
            Target::Previous => self.previous.into_iter().collect(),
            Target::Next => {
                let i = *self.next % n.max(1);
                *self.next += 1;
                vec![i]
            }
            Target::Nodes(v) => v.iter().copied().filter(|&i| i < n).collect(),
            Target::LeaderOr(fallback) => {
                vec![leader_of(self.statuses).map_or(*fallback, |(l, _)| l)]
            }
            Target::Leader
            | Target::Follower
            | Target::MinorityWithLeader
            | Target::MajorityWithoutLeader => self.by_role(target, &running),
            Target::ShortestLog | Target::LongestLog => {
                let logs = running.iter().copied().filter_map(|i| {
                    self.statuses
                        .get(i)
                        .and_then(|s| s.as_ref())
                        .and_then(|s| s.last_log_index)
                        .map(|l| (l, i))
                });
                let pick = if *target == Target::LongestLog {
                    logs.max_by_key(|&(l, i)| (l, std::cmp::Reverse(i)))
                } else {
                    logs.min()
                };
                match pick {
                    Some((_, i)) => vec![i],
                    None => running.choose(self.rng).copied().into_iter().collect(),
                }
            }
        }
    }

    fn by_role(&mut self, target: &Target, running: &[usize]) -> Vec<usize> {
        let n = self.states.len();
        let leader = leader_of(self.statuses).map(|(l, _)| l);
        let mut followers: Vec<usize> = running
            .iter()
            .copied()
            .filter(|&i| Some(i) != leader)
            .collect();
        followers.shuffle(self.rng);
        match (target, leader) {
            (Target::Leader, Some(l)) => vec![l],
            (Target::Leader, None) => {
                // No leader: the most recent one or candidate, by term.
                let terms: Vec<(u64, usize)> = running
                    .iter()
                    .filter_map(|&i| {
                        self.statuses
                            .get(i)
                            .and_then(|s| s.as_ref())
                            .map(|s| (s.term, i))
                    })
                    .collect();
                let top = terms.iter().map(|&(t, _)| t).max();
                let newest: Vec<usize> = terms
                    .iter()
                    .filter(|&&(t, _)| Some(t) == top)
                    .map(|&(_, i)| i)
                    .collect();
                let pool = if newest.is_empty() { running } else { &newest };
                pool.choose(self.rng).copied().into_iter().collect()
            }
            (Target::Follower, _) => followers.into_iter().take(1).collect(),
            (Target::MinorityWithLeader, l) => {
                let mut v: Vec<usize> = l.into_iter().collect();
                v.extend(followers);
                v.truncate((n - 1) / 2);
                v.sort_unstable();
                v
            }
            (_, _) => {
                let mut v = followers;
                v.truncate(n / 2 + 1);
                v.sort_unstable();
                v
            }
        }
    }

    fn nodes_in(&self, keep: impl Fn(NodeState) -> bool) -> Vec<usize> {
        (0..self.states.len())
            .filter(|&i| keep(self.states[i]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn probed(role: &str, term: u64) -> Option<NodeStatus> {
        Some(NodeStatus {
            role: role.into(),
            term,
            ..NodeStatus::default()
        })
    }

    #[test]
    fn the_leader_is_the_one_with_the_highest_term() {
        let s = vec![
            probed("leader", 3),
            None,
            probed("leader", 5),
            probed("follower", 5),
        ];
        assert_eq!(leader_of(&s), Some((2, 5)));
        assert_eq!(leader_of(&[probed("follower", 1), None]), None);
    }

    #[test]
    fn roles_resolve_against_the_statuses_and_fixed_targets_do_not() {
        let states = [NodeState::Running; 5];
        let statuses = vec![
            probed("follower", 2),
            probed("leader", 2),
            probed("follower", 2),
            probed("follower", 2),
            probed("follower", 2),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut next = 0;
        let mut r = Resolver {
            states: &states,
            statuses: &statuses,
            rng: &mut rng,
            previous: Some(3),
            next: &mut next,
        };
        assert_eq!(r.resolve(&Target::Leader), vec![1]);
        assert_eq!(r.resolve(&Target::LeaderOr(4)), vec![1]);
        let minority = r.resolve(&Target::MinorityWithLeader);
        assert_eq!(minority.len(), 2);
        assert!(minority.contains(&1));
        let majority = r.resolve(&Target::MajorityWithoutLeader);
        assert_eq!(majority.len(), 3);
        assert!(!majority.contains(&1));
        assert_eq!(r.resolve(&Target::Previous), vec![3]);
        assert_eq!(r.resolve(&Target::Nodes(vec![0, 9])), vec![0]);
        assert_eq!(r.resolve(&Target::Next), vec![0]);
        assert_eq!(r.resolve(&Target::Next), vec![1]);
        let none = vec![None; 5];
        let mut r = Resolver {
            states: &states,
            statuses: &none,
            rng: &mut rng,
            previous: None,
            next: &mut next,
        };
        assert_eq!(r.resolve(&Target::LeaderOr(4)), vec![4]);
    }

    #[test]
    fn targets_read_from_toml_as_strings_or_node_lists() {
        #[derive(Deserialize)]
        struct T {
            a: Target,
            b: Target,
        }
        let t: T =
            toml::from_str("a = \"minority-with-leader\"\nb = { nodes = [0, 2] }\n").unwrap();
        assert_eq!(t.a, Target::MinorityWithLeader);
        assert_eq!(t.b, Target::Nodes(vec![0, 2]));
    }
}
