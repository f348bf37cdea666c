//! The dependency graph: transactions (and real-time barrier nodes, see
//! [`super::order`]) joined by labelled edges, stored as compressed rows.
//! One edge entry carries one label; two transactions related in two ways
//! have two entries.

/// Write-write: the target installed the next version of a key the source
/// wrote.
pub const WW: u8 = 1;
/// Write-read: the target read a version the source wrote.
pub const WR: u8 = 2;
/// Read-write (anti-dependency): the source read a version the target
/// overwrote.
pub const RW: u8 = 4;
/// Process order: the same process ran the source, then the target.
pub const PROCESS: u8 = 8;
/// Real-time order: the source completed before the target began.
pub const REALTIME: u8 = 16;

/// The data dependencies.
pub const DATA: u8 = WW | WR | RW;

/// The name of one label: `ww`, `wr`, `rw`, `process`, `realtime`.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        _ => "realtime",
    }
}

/// A directed graph with labelled edges in compressed-row form.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    kinds: Vec<u8>,
}

impl Graph {
    /// A graph of `n` nodes from `(from, to, label)` triples (duplicates
    /// are merged; self-loops are dropped).
    pub fn from_edges(n: usize, mut edges: Vec<(u32, u32, u8)>) -> Graph {
        edges.retain(|e| e.0 != e.1);
        edges.sort_unstable();
        edges.dedup();
        let mut offsets = vec![0u32; n + 1];
        for e in &edges {
            offsets[e.0 as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        Graph {
            offsets,
            targets: edges.iter().map(|e| e.1).collect(),
            kinds: edges.iter().map(|e| e.2).collect(),
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of edge entries.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The edges leaving `v`: `(target, label)`.
    pub fn out(&self, v: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let (a, b) = (
            self.offsets[v as usize] as usize,
            self.offsets[v as usize + 1] as usize,
        );
        self.targets[a..b]
            .iter()
            .copied()
            .zip(self.kinds[a..b].iter().copied())
    }

    /// Strongly connected components over the edges whose label is in
    /// `mask`: the component of every node, numbered in reverse topological
    /// order (a component's successors have smaller numbers), and the count.
    /// Iterative Tarjan, linear in nodes and edges.
    pub fn sccs(&self, mask: u8) -> (Vec<u32>, u32) {
        const NONE: u32 = u32::MAX;
        let n = self.len();
        let mut index = vec![NONE; n];
        let mut low = vec![0u32; n];
        let mut comp = vec![NONE; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut call: Vec<(u32, u32)> = Vec::new();
        let mut next = 0u32;
        let mut count = 0u32;
        for root in 0..n as u32 {
            if index[root as usize] != NONE {
                continue;
            }
            call.push((root, self.offsets[root as usize]));
            index[root as usize] = next;
            low[root as usize] = next;
            next += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            while let Some(&mut (v, ref mut e)) = call.last_mut() {
                let end = self.offsets[v as usize + 1];
                let mut descended = false;
                while *e < end {
                    let i = *e as usize;
                    *e += 1;
                    if self.kinds[i] & mask == 0 {
                        continue;
                    }
                    let w = self.targets[i];
                    if index[w as usize] == NONE {
                        index[w as usize] = next;
                        low[w as usize] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w as usize] = true;
                        call.push((w, self.offsets[w as usize]));
                        descended = true;
                        break;
                    } else if on_stack[w as usize] {
                        low[v as usize] = low[v as usize].min(index[w as usize]);
                    }
                }
                if descended {
                    continue;
                }
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent as usize] = low[parent as usize].min(low[v as usize]);
                }
                if low[v as usize] == index[v as usize] {
                    while let Some(w) = stack.pop() {
                        on_stack[w as usize] = false;
                        comp[w as usize] = count;
                        if w == v {
                            break;
                        }
                    }
                    count += 1;
                }
            }
        }
        (comp, count)
    }

    /// The subgraph on `nodes` (edges between them only), renumbered in the
    /// order given.
    pub fn induced(&self, nodes: &[u32]) -> Graph {
        let mut local = std::collections::HashMap::with_capacity(nodes.len());
        for (i, &v) in nodes.iter().enumerate() {
            local.insert(v, i as u32);
        }
        let mut edges = Vec::new();
        for (i, &v) in nodes.iter().enumerate() {
            for (w, k) in self.out(v) {
                if let Some(&j) = local.get(&w) {
                    edges.push((i as u32, j, k));
                }
            }
        }
        Graph::from_edges(nodes.len(), edges)
    }

    /// A shortest path from `from` to `to` over edges labelled in `mask`
    /// through nodes `keep` accepts: the steps `(node reached, label)`.
    /// `from == to` asks for a path of at least one edge back to itself.
    pub fn path(
        &self,
        from: u32,
        to: u32,
        mask: u8,
        keep: &dyn Fn(u32) -> bool,
    ) -> Option<Vec<(u32, u8)>> {
        const NONE: u32 = u32::MAX;
        let mut prev = vec![(NONE, 0u8); self.len()];
        let mut queue = std::collections::VecDeque::new();
        queue.push_back(from);
        while let Some(v) = queue.pop_front() {
            for (w, k) in self.out(v) {
                if k & mask == 0 || !keep(w) || prev[w as usize].0 != NONE {
                    continue;
                }
                prev[w as usize] = (v, k);
                if w == to {
                    let mut steps = vec![(w, k)];
                    let mut at = v;
                    while at != from {
                        let (p, pk) = prev[at as usize];
                        steps.push((at, pk));
                        at = p;
                    }
                    steps.reverse();
                    return Some(steps);
                }
                queue.push_back(w);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_follow_the_mask() {
        // 0 -ww-> 1 -rw-> 0, 2 -wr-> 2 (dropped self-loop)
        let g = Graph::from_edges(3, vec![(0, 1, WW), (1, 0, RW), (2, 2, WR)]);
        let (c, n) = g.sccs(DATA);
        assert_eq!(n, 2);
        assert_eq!(c[0], c[1]);
        let (c, n) = g.sccs(WW);
        assert_eq!(n, 3);
        assert_ne!(c[0], c[1]);
        assert_eq!(g.path(0, 0, DATA, &|_| true), Some(vec![(1, WW), (0, RW)]));
        assert_eq!(g.path(0, 0, WW, &|_| true), None);
    }

    #[test]
    fn deep_chains_do_not_overflow() {
        let n = 200_000u32;
        let mut edges: Vec<_> = (0..n - 1).map(|i| (i, i + 1, WW)).collect();
        edges.push((n - 1, 0, WR));
        let g = Graph::from_edges(n as usize, edges);
        let (_, count) = g.sccs(DATA);
        assert_eq!(count, 1);
        assert_eq!(g.sccs(WW).1, n);
    }
}
