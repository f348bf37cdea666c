//! `partition`: the shapes the nemesis lays over the cluster (halves,
//! bridge, majorities ring) as the platform's [`Cut`] (who cannot reach
//! whom), and a cut's account in the history.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use faultline_platform::cluster::NodeSpec;
pub use faultline_platform::cut::Cut;
use faultline_platform::cut::{sorted, split};

use super::event::PartitionSides;

/// The named partition shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// A minority (the first `n/2` of the order) and a majority (the rest).
    Halves,
    /// Nodes in a ring (in the order) each see their nearest neighbours: a
    /// majority each, no two the same majority.
    MajoritiesRing,
    /// Two halves joined by one node that sees both (the middle of the order).
    Bridge,
}

/// What the nemesis adds to the platform's [`Cut`]: the shapes it lays
/// and the history's account of a cut.
pub trait Shapes {
    /// `shape` laid over the nodes in `order` (a permutation of `0..n`).
    fn of_shape(shape: Shape, order: &[usize]) -> Cut;
    /// The history's account of the cut, with node names.
    fn sides(&self, nodes: &[NodeSpec]) -> PartitionSides;
}

impl Shapes for Cut {
    fn of_shape(shape: Shape, order: &[usize]) -> Cut {
        let n = order.len();
        match shape {
            Shape::Halves => Cut::from_groups("halves", n, split(n, &order[..n / 2])),
            Shape::Bridge => {
                let m = n / 2;
                let left: Vec<usize> = order[..=m].to_vec();
                let right: Vec<usize> = order[m..].to_vec();
                Cut::from_groups("bridge", n, vec![sorted(left), sorted(right)])
            }
            Shape::MajoritiesRing => {
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

    fn sides(&self, nodes: &[NodeSpec]) -> PartitionSides {
        PartitionSides {
            shape: self.shape.to_string(),
            groups: self
                .groups
                .iter()
                .map(|g| g.iter().map(|&i| nodes[i].name.clone()).collect())
                .collect(),
        }
    }
}

/// How far apart places `a` and `b` of a ring of `n` are.
fn ring_distance(a: usize, b: usize, n: usize) -> usize {
    let d = a.abs_diff(b);
    d.min(n - d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_platform::cluster::layout;

    fn majority(n: usize) -> usize {
        n / 2 + 1
    }

    #[test]
    fn halves_split_a_minority_from_a_majority() {
        let cut = Cut::of_shape(Shape::Halves, &[4, 2, 0, 1, 3]);
        assert_eq!(cut.groups, vec![vec![0, 1, 3], vec![2, 4]]);
        assert_eq!(cut.blocked.len(), 6);
    }

    #[test]
    fn isolating_a_side_blocks_it_from_the_rest_only() {
        let cut = Cut::isolate("isolate", 3, &[2]);
        assert_eq!(cut.blocked, vec![(0, 2), (1, 2)]);
        let cut = Cut::isolate("isolate", 4, &[0, 1]);
        assert_eq!(cut.blocked, vec![(0, 2), (0, 3), (1, 2), (1, 3)]);
        assert!(cut.connects(0, 1) && cut.connects(2, 3) && !cut.connects(1, 3));
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
        let cut = Cut::of_shape(Shape::Bridge, &[0, 1, 2, 3, 4]);
        assert_eq!(cut.groups, vec![vec![0, 1, 2], vec![2, 3, 4]]);
        assert!(cut.blocked.iter().all(|&(i, j)| i != 2 && j != 2));
        assert_eq!(cut.blocked.len(), 4);
    }

    #[test]
    fn in_a_majorities_ring_every_node_sees_a_majority_but_not_all() {
        for n in 4..=7 {
            let order: Vec<usize> = (0..n).rev().collect();
            let cut = Cut::of_shape(Shape::MajoritiesRing, &order);
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
    fn sides_name_the_nodes() {
        let nodes = layout(3, std::path::Path::new("/tmp/x"), false);
        let cut = Cut::isolate("isolate-one", 3, &[0]);
        let sides = cut.sides(&nodes);
        assert_eq!(sides.shape, "isolate-one");
        assert_eq!(sides.groups, vec![vec!["n1"], vec!["n2", "n3"]]);
    }
}
