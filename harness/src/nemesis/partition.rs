//! `partition`: nftables rules in the run's namespace that drop every packet
//! between nodes on different sides.
//!
//! Clients talk to nodes from 127.0.0.1, which no rule names: only node to
//! node traffic is cut. A packet is matched by its source and destination
//! node addresses (nodes that bind their outgoing peer sockets to their own
//! address), and, when nodes run under group ids of their own, by the
//! sending process's group and the destination address (nodes whose
//! outgoing connections leave from 127.0.0.1).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::cluster::NodeSpec;

use super::schedule::Shape;

/// The nftables table partitions live in.
pub const TABLE: &str = "faultline_partition";

/// A partition resolved against the cluster: who cannot talk to whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cut {
    /// The shape's name.
    pub shape: &'static str,
    /// The groups of nodes that see each other (for a ring: each node's
    /// view, which is not a group: two nodes of one view may not see each
    /// other), by node index.
    pub groups: Vec<Vec<usize>>,
    /// Unordered pairs (i < j) that cannot exchange packets.
    pub blocked: Vec<(usize, usize)>,
}

impl Cut {
    /// Resolves `shape` for `n` nodes; `leader` is the current leader, if known.
    pub fn resolve(shape: &Shape, n: usize, leader: Option<usize>) -> Cut {
        match shape {
            Shape::IsolateOne(i) => Cut::from_groups("isolate-one", n, split(n, &[*i])),
            Shape::IsolateLeader { fallback } => {
                let l = leader.unwrap_or(*fallback);
                Cut::from_groups("isolate-leader", n, split(n, &[l]))
            }
            Shape::Halves(order) => Cut::from_groups("halves", n, split(n, &order[..n / 2])),
            Shape::Bridge(order) => {
                let m = n / 2;
                let left: Vec<usize> = order[..=m].to_vec();
                let right: Vec<usize> = order[m..].to_vec();
                Cut::from_groups("bridge", n, vec![sorted(left), sorted(right)])
            }
            Shape::MajoritiesRing(order) => {
                // A node sees the nodes within `d` places of it on the ring.
                let d = (n / 2).div_ceil(2);
                let mut views = BTreeSet::new();
                let mut blocked = Vec::new();
                for pos in 0..n {
                    let view: Vec<usize> = (0..n)
                        .filter(|&q| ring_distance(pos, q, n) <= d)
                        .map(|q| order[q])
                        .collect();
                    views.insert(sorted(view));
                    for q in pos + 1..n {
                        if ring_distance(pos, q, n) > d {
                            let (a, b) = (order[pos], order[q]);
                            blocked.push((a.min(b), a.max(b)));
                        }
                    }
                }
                blocked.sort_unstable();
                Cut {
                    shape: "majorities-ring",
                    groups: views.into_iter().collect(),
                    blocked,
                }
            }
        }
    }

    /// A star around `center`: it sees every node but those in `out`, no
    /// other two nodes see each other, and the nodes in `out` see nobody.
    pub fn star(n: usize, center: usize, out: &[usize]) -> Cut {
        let spokes = (0..n)
            .filter(|&i| i != center && !out.contains(&i))
            .map(|i| vec![center, i])
            .collect();
        Cut::from_groups("star", n, spokes)
    }

    /// Blocks every pair that no group holds together.
    pub(crate) fn from_groups(shape: &'static str, n: usize, groups: Vec<Vec<usize>>) -> Cut {
        let mut blocked = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                if !groups.iter().any(|g| g.contains(&i) && g.contains(&j)) {
                    blocked.push((i, j));
                }
            }
        }
        let groups: BTreeSet<Vec<usize>> = groups.into_iter().collect();
        Cut {
            shape,
            groups: groups.into_iter().collect(),
            blocked,
        }
    }

    /// The history value describing the cut, with node names.
    pub fn describe(&self, nodes: &[NodeSpec]) -> serde_json::Value {
        let name = |i: &usize| nodes[*i].name.clone();
        serde_json::json!({
            "shape": self.shape,
            "groups": self.groups.iter().map(|g| g.iter().map(name).collect::<Vec<_>>()).collect::<Vec<_>>(),
        })
    }

    /// The body of the nftables table dropping the blocked pairs.
    pub fn rules(&self, nodes: &[NodeSpec]) -> String {
        let mut out = String::from(
            "  chain output {\n    type filter hook output priority 0; policy accept;\n",
        );
        let mut by_source: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
        for &(i, j) in &self.blocked {
            by_source[i].insert(j);
            by_source[j].insert(i);
        }
        for (i, dsts) in by_source.iter().enumerate() {
            if dsts.is_empty() {
                continue;
            }
            let set = dsts
                .iter()
                .map(|j| nodes[*j].ip.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!(
                "    ip saddr {} ip daddr {{ {set} }} drop\n",
                nodes[i].ip
            ));
            if let Some(gid) = nodes[i].gid {
                out.push_str(&format!("    meta skgid {gid} ip daddr {{ {set} }} drop\n"));
            }
        }
        out.push_str("  }");
        out
    }
}

fn split(n: usize, side: &[usize]) -> Vec<Vec<usize>> {
    let a = sorted(side.to_vec());
    let b: Vec<usize> = (0..n).filter(|i| !a.contains(i)).collect();
    vec![a, b]
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v.dedup();
    v
}

fn ring_distance(a: usize, b: usize, n: usize) -> usize {
    let d = a.abs_diff(b);
    d.min(n - d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::layout;

    fn majority(n: usize) -> usize {
        n / 2 + 1
    }

    #[test]
    fn halves_split_a_minority_from_a_majority() {
        let cut = Cut::resolve(&Shape::Halves(vec![4, 2, 0, 1, 3]), 5, None);
        assert_eq!(cut.groups, vec![vec![0, 1, 3], vec![2, 4]]);
        assert_eq!(cut.blocked.len(), 6);
    }

    #[test]
    fn isolating_the_leader_uses_the_leader_when_known() {
        let cut = Cut::resolve(&Shape::IsolateLeader { fallback: 0 }, 3, Some(2));
        assert_eq!(cut.blocked, vec![(0, 2), (1, 2)]);
        let cut = Cut::resolve(&Shape::IsolateLeader { fallback: 0 }, 3, None);
        assert_eq!(cut.blocked, vec![(0, 1), (0, 2)]);
    }

    #[test]
    fn only_the_center_of_a_star_sees_a_majority() {
        let cut = Cut::star(5, 2, &[4]);
        let sees = |a: usize, b: usize| !cut.blocked.contains(&(a.min(b), a.max(b)));
        for i in [0, 1, 3] {
            assert!(sees(2, i));
        }
        assert!(!sees(0, 1) && !sees(1, 3) && !sees(0, 3));
        for i in 0..4 {
            assert!(!sees(4, i), "the left-out node sees {i}");
        }
    }

    #[test]
    fn a_bridge_node_sees_both_sides_which_do_not_see_each_other() {
        let cut = Cut::resolve(&Shape::Bridge(vec![0, 1, 2, 3, 4]), 5, None);
        assert_eq!(cut.groups, vec![vec![0, 1, 2], vec![2, 3, 4]]);
        assert!(cut.blocked.iter().all(|&(i, j)| i != 2 && j != 2));
        assert_eq!(cut.blocked.len(), 4);
    }

    #[test]
    fn in_a_majorities_ring_every_node_sees_a_majority_but_not_all() {
        for n in 4..=7 {
            let order: Vec<usize> = (0..n).rev().collect();
            let cut = Cut::resolve(&Shape::MajoritiesRing(order), n, None);
            assert!(!cut.blocked.is_empty(), "n={n}");
            for i in 0..n {
                let seen = 1
                    + (0..n)
                        .filter(|&j| j != i && !cut.blocked.contains(&(i.min(j), i.max(j))))
                        .count();
                assert!(
                    seen >= majority(n) && seen < n,
                    "n={n} node {i} sees {seen}"
                );
            }
        }
    }

    #[test]
    fn rules_name_only_node_addresses_and_their_groups() {
        let nodes = layout(3, std::path::Path::new("/tmp/x"), true);
        let cut = Cut::resolve(&Shape::IsolateOne(0), 3, None);
        let rules = cut.rules(&nodes);
        assert!(
            rules.contains("ip saddr 127.0.0.11 ip daddr { 127.0.0.12, 127.0.0.13 } drop"),
            "{rules}"
        );
        assert!(
            rules.contains("ip saddr 127.0.0.12 ip daddr { 127.0.0.11 } drop"),
            "{rules}"
        );
        assert!(
            rules.contains("meta skgid 61001 ip daddr { 127.0.0.12, 127.0.0.13 } drop"),
            "{rules}"
        );
        assert!(!rules.contains("127.0.0.1 "), "{rules}");
        let described = cut.describe(&nodes);
        assert_eq!(
            described["groups"],
            serde_json::json!([["n1"], ["n2", "n3"]])
        );
    }
}
