//! Who cannot reach whom: a [`Cut`], resolved against the cluster when a
//! partition starts and handed to the platform as it is (Jepsen calls it a
//! grudge); the platform decides how to enforce it (the local platform:
//! nftables rules in the run's namespace, see [`crate::nft`]). The shapes
//! a nemesis lays (halves, bridge, ring) are the nemesis's own.

use std::collections::BTreeSet;

use serde::Serialize;

/// A partition resolved against the cluster: who cannot talk to whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cut {
    /// The shape's name, as the history records it.
    pub shape: &'static str,
    /// The groups of nodes that see each other (for a ring: each node's
    /// view, which is not a group: two nodes of one view may not see each
    /// other), by node index.
    pub groups: Vec<Vec<usize>>,
    /// Unordered pairs (i < j) that cannot exchange packets.
    pub blocked: Vec<(usize, usize)>,
}

impl Cut {
    /// `side` cut off from the other nodes of `n`, recorded as `shape`.
    pub fn isolate(shape: &'static str, n: usize, side: &[usize]) -> Cut {
        Cut::from_groups(shape, n, split(n, side))
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

    /// Blocks every pair of the `n` nodes that no group holds together.
    pub fn from_groups(shape: &'static str, n: usize, groups: Vec<Vec<usize>>) -> Cut {
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

    /// Whether `a` and `b` can exchange packets under the cut.
    pub fn connects(&self, a: usize, b: usize) -> bool {
        a == b || !self.blocked.contains(&(a.min(b), a.max(b)))
    }
}

/// `side` and the rest of the `n` nodes, each sorted.
pub fn split(n: usize, side: &[usize]) -> Vec<Vec<usize>> {
    let a = sorted(side.to_vec());
    let b: Vec<usize> = (0..n).filter(|i| !a.contains(i)).collect();
    vec![a, b]
}

/// `v` sorted, without repeats.
pub fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v.dedup();
    v
}
