//! The cycle search: for every class of cycle Elle names, whether the
//! dependency graph has one, decided by a complete search (no time budget,
//! never `unknown`).
//!
//! A class fixes which labels a cycle may use and what it must contain:
//!
//! | class | labels | must contain |
//! |---|---|---|
//! | G0 | ww | an edge |
//! | G1c | ww, wr | a wr edge |
//! | G-single-item | ww, wr, rw | exactly one rw edge |
//! | G-nonadjacent-item | ww, wr, rw | rw edges, never two in a row |
//! | G2-item | ww, wr, rw | an rw edge |
//!
//! and its `-process` (`-realtime`) form adds process (process and
//! real-time) edges, of which the cycle must use at least one (a real-time
//! one, for `-realtime`).
//!
//! **Why the search is complete.** A cycle lies inside one strongly
//! connected component (SCC) of the graph of its allowed labels, and inside
//! an SCC there is a closed walk through any set of its edges (walk from one
//! to the next; each is reachable from the others). So "a cycle of allowed
//! labels containing an edge of each required label" exists iff some SCC of
//! the allowed-label graph contains an internal edge of each required label:
//! linear time (G0, G1c, G2-item and every variant's "at least one process /
//! real-time edge"). "Never two rw in a row" is a two-state automaton (the
//! last edge was rw, or not): a closed walk of the product of the graph with
//! the automaton is exactly a closed walk obeying the rule, so the same SCC
//! test on the product decides G-nonadjacent-item. "Exactly one rw" is not
//! a property of an SCC; it holds iff for some rw edge `u -> x` the target
//! reaches the source without rw edges, `x ~> u`. Those reachability
//! queries are answered together on the condensation of the rw-free graph,
//! 64 sources at a time with one machine word per component (bit-parallel
//! propagation in topological order): O((V + E) * ceil(S / 64)) for S
//! distinct sources, exact, with no budget.
//!
//! A walk found this way may pass a transaction twice; for "exactly one rw"
//! and for a single required label a shortest witness is a simple cycle.
//! Walks are what the definitions of the models need: Adya's and Cerone's
//! characterisations forbid a cycle of a *relation* (a closed walk), e.g.
//! snapshot isolation forbids a cycle of `(ww ∪ wr) ; rw?`.
//!
//! Each SCC of the whole graph reports each class at most once, and not a
//! class implied by one it already reported (G0 implies G1c; G-single-item
//! implies G-nonadjacent-item and G2-item; a class implies its `-process`
//! and `-realtime` forms), as Elle reports the worst first.

use super::anomaly::Found;
use super::graph::{Graph, PROCESS, REALTIME, RW, WR, WW};

/// The data shape of a cycle class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Base {
    /// ww only.
    G0,
    /// ww and wr, with a wr.
    G1c,
    /// exactly one rw.
    GSingle,
    /// rw edges, never adjacent.
    GNonadjacent,
    /// any rw.
    G2,
}

/// Which order edges a cycle class adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Data edges only.
    Plain,
    /// Also process order, at least one such edge.
    Process,
    /// Also process and real-time order, at least one real-time edge.
    Realtime,
}

/// A cycle class: Elle's `G-single-item-realtime` is `(GSingle, Realtime)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Class {
    /// The data shape.
    pub base: Base,
    /// The order edges.
    pub variant: Variant,
}

impl Class {
    /// Every class, worst first: data-only cycles, then with process
    /// order, then with real time.
    pub fn all() -> Vec<Class> {
        let mut v = Vec::new();
        for variant in [Variant::Plain, Variant::Process, Variant::Realtime] {
            for base in [
                Base::G0,
                Base::G1c,
                Base::GSingle,
                Base::GNonadjacent,
                Base::G2,
            ] {
                v.push(Class { base, variant });
            }
        }
        v
    }

    /// Elle's name of the class.
    pub fn name(self) -> String {
        let base = match self.base {
            Base::G0 => "G0",
            Base::G1c => "G1c",
            Base::GSingle => "G-single-item",
            Base::GNonadjacent => "G-nonadjacent-item",
            Base::G2 => "G2-item",
        };
        let suffix = match self.variant {
            Variant::Plain => "",
            Variant::Process => "-process",
            Variant::Realtime => "-realtime",
        };
        format!("{base}{suffix}")
    }

    fn data(self) -> u8 {
        match self.base {
            Base::G0 => WW,
            Base::G1c => WW | WR,
            _ => WW | WR | RW,
        }
    }

    fn extra(self) -> (u8, u8) {
        match self.variant {
            Variant::Plain => (0, 0),
            Variant::Process => (PROCESS, PROCESS),
            Variant::Realtime => (PROCESS | REALTIME, REALTIME),
        }
    }
}

/// A closed walk: the start node, then `(node reached, label)` steps, the
/// last reaching the start again.
type Walk = (u32, Vec<(u32, u8)>);

/// Searches every class in `wanted` (worst first) in every SCC of `g`.
/// Nodes from `txns` on are real-time barriers. `implied(reported, name)`
/// says whether a class already reported in the component implies `name`.
pub fn search(
    g: &Graph,
    txns: usize,
    wanted: &[Class],
    implied: &dyn Fn(&[String], &str) -> bool,
) -> Vec<Found> {
    let mut mask = WW | WR | RW;
    for c in wanted {
        mask |= c.extra().0;
    }
    let (comp, count) = g.sccs(mask);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); count as usize];
    for (v, &c) in comp.iter().enumerate() {
        members[c as usize].push(v as u32);
    }
    let mut found = Vec::new();
    for nodes in members.into_iter().filter(|m| m.len() > 1) {
        let sub = g.induced(&nodes);
        let mut reported: Vec<String> = Vec::new();
        for &class in wanted {
            let name = class.name();
            if implied(&reported, &name) {
                continue;
            }
            if let Some(walk) = find(&sub, class) {
                found.push(witness(&name, &walk, &nodes, txns));
                reported.push(name);
            }
        }
    }
    found
}

/// A closed walk of `class` in `g`, if there is one.
fn find(g: &Graph, class: Class) -> Option<Walk> {
    let (extra, required) = class.extra();
    let allowed = class.data() | extra;
    let mut need: Vec<u8> = Vec::new();
    match class.base {
        Base::G0 => {}
        Base::G1c => need.push(WR),
        Base::G2 => need.push(RW),
        Base::GNonadjacent => {
            need.push(RW);
            if required != 0 {
                need.push(required);
            }
            let p = nonadjacent_product(g, allowed);
            let (start, steps) = scc_walk(&p, allowed, &need)?;
            return Some((
                start / 2,
                steps.into_iter().map(|(v, k)| (v / 2, k)).collect(),
            ));
        }
        Base::GSingle => return single(g, allowed & !RW, required),
    }
    if required != 0 {
        need.push(required);
    }
    scc_walk(g, allowed, &need)
}

/// A closed walk over `mask` through an edge of every label in `need` (any
/// edge when empty), all inside one SCC.
fn scc_walk(g: &Graph, mask: u8, need: &[u8]) -> Option<Walk> {
    let (comp, count) = g.sccs(mask);
    let mut first: Vec<Vec<Option<(u32, u32, u8)>>> =
        vec![vec![None; need.len().max(1)]; count as usize];
    for v in 0..g.len() as u32 {
        for (w, k) in g.out(v) {
            if k & mask == 0 || comp[v as usize] != comp[w as usize] {
                continue;
            }
            let slots = &mut first[comp[v as usize] as usize];
            if need.is_empty() {
                slots[0].get_or_insert((v, w, k));
            }
            for (i, &n) in need.iter().enumerate() {
                if k == n {
                    slots[i].get_or_insert((v, w, k));
                }
            }
        }
    }
    let edges: Vec<(u32, u32, u8)> = first
        .into_iter()
        .find(|s| s.iter().all(Option::is_some))?
        .into_iter()
        .flatten()
        .collect();
    let c = comp[edges[0].0 as usize];
    let inside = |x: u32| comp[x as usize] == c;
    let start = edges[edges.len() - 1].1;
    let mut cur = start;
    let mut steps = Vec::new();
    for &(v, w, k) in &edges {
        if cur != v {
            steps.extend(g.path(cur, v, mask, &inside)?);
        }
        steps.push((w, k));
        cur = w;
    }
    Some((start, steps))
}

/// The product of `g` with "never two rw in a row": node `2v` is `v` after
/// a non-rw edge (or at the start), `2v + 1` is `v` right after an rw edge.
fn nonadjacent_product(g: &Graph, allowed: u8) -> Graph {
    let mut edges = Vec::new();
    for v in 0..g.len() as u32 {
        for (w, k) in g.out(v) {
            if k & allowed == 0 {
                continue;
            }
            if k == RW {
                edges.push((2 * v, 2 * w + 1, k));
            } else {
                edges.push((2 * v, 2 * w, k));
                edges.push((2 * v + 1, 2 * w, k));
            }
        }
    }
    Graph::from_edges(2 * g.len(), edges)
}

/// A cycle of one rw edge `u -> x` and a path `x ~> u` over `path_mask`
/// (with at least one `required` edge when that is not 0).
fn single(g: &Graph, path_mask: u8, required: u8) -> Option<Walk> {
    // Layered graph: layer 1 once a required edge was taken.
    let layers: u32 = if required == 0 { 1 } else { 2 };
    let n = g.len() as u32;
    let mut edges = Vec::new();
    for v in 0..n {
        for (w, k) in g.out(v) {
            if k & path_mask == 0 {
                continue;
            }
            for layer in 0..layers {
                let to = if k == required { layers - 1 } else { layer };
                edges.push((layer * n + v, to * n + w, k));
            }
        }
    }
    let p = Graph::from_edges((layers * n) as usize, edges);
    // (x, u in the last layer) for every rw edge u -> x
    let mut queries: Vec<(u32, u32)> = Vec::new();
    for u in 0..n {
        for (x, k) in g.out(u) {
            if k == RW {
                queries.push((x, (layers - 1) * n + u));
            }
        }
    }
    let (x, target) = reach_any(&p, &queries)?;
    // The graph has no self-loops, so x and u differ and the path has at
    // least one step: from x to u, then the rw edge back to x.
    let mut steps = p.path(x, target, path_mask, &|_| true)?;
    for s in &mut steps {
        s.0 %= n;
    }
    steps.push((x, RW));
    Some((x, steps))
}

/// The first query `(source, target)` whose target is reachable from its
/// source (over every edge of `g`), by bit-parallel propagation on the
/// condensation, 64 sources at a time.
fn reach_any(g: &Graph, queries: &[(u32, u32)]) -> Option<(u32, u32)> {
    if queries.is_empty() {
        return None;
    }
    let (comp, count) = g.sccs(u8::MAX);
    if let Some(q) = queries
        .iter()
        .find(|q| comp[q.0 as usize] == comp[q.1 as usize])
    {
        return Some(*q);
    }
    // Condensation edges, by source component.
    let mut dag: Vec<(u32, u32, u8)> = Vec::new();
    for v in 0..g.len() as u32 {
        for (w, _) in g.out(v) {
            let (a, b) = (comp[v as usize], comp[w as usize]);
            if a != b {
                dag.push((a, b, 1));
            }
        }
    }
    let dag = Graph::from_edges(count as usize, dag);
    let mut sources: Vec<u32> = queries.iter().map(|q| comp[q.0 as usize]).collect();
    sources.sort_unstable();
    sources.dedup();
    let mut mask = vec![0u64; count as usize];
    for batch in sources.chunks(64) {
        mask.iter_mut().for_each(|m| *m = 0);
        for (bit, &c) in batch.iter().enumerate() {
            mask[c as usize] |= 1 << bit;
        }
        // Tarjan numbers components in reverse topological order.
        for c in (0..count).rev() {
            let m = mask[c as usize];
            if m == 0 {
                continue;
            }
            for (d, _) in dag.out(c) {
                mask[d as usize] |= m;
            }
        }
        for q in queries {
            let sc = comp[q.0 as usize];
            if let Ok(bit) = batch.binary_search(&sc) {
                if mask[comp[q.1 as usize] as usize] & (1 << bit) != 0 {
                    return Some(*q);
                }
            }
        }
    }
    None
}

/// Turns a walk of a component's subgraph into a cycle of transactions:
/// global numbers, each run of steps through real-time barriers folded
/// into one real-time step.
fn witness(name: &str, walk: &Walk, nodes: &[u32], txns: usize) -> Found {
    let global = |v: u32| nodes[v as usize] as usize;
    let (start, steps) = walk;
    // Rotate to start at a transaction (barriers are never the only nodes).
    let mut seq: Vec<(usize, u8)> = steps.iter().map(|&(v, k)| (global(v), k)).collect();
    let mut from = global(*start);
    if from >= txns {
        let first_txn = seq.iter().position(|s| s.0 < txns).unwrap_or(0);
        seq.rotate_left(first_txn + 1);
        from = seq[seq.len() - 1].0;
    }
    let mut cycle = Found::on(name, from);
    cycle.txns.clear();
    let mut at = from;
    let mut pending_realtime = false;
    for (v, k) in seq {
        if v >= txns {
            pending_realtime = true;
            continue;
        }
        cycle.txns.push(at);
        cycle
            .steps
            .push(if pending_realtime { REALTIME } else { k });
        pending_realtime = false;
        at = v;
    }
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(g: &Graph, txns: usize) -> Vec<String> {
        let wanted = Class::all();
        let never = |_: &[String], _: &str| false;
        search(g, txns, &wanted, &never)
            .into_iter()
            .map(|f| f.name)
            .collect()
    }

    #[test]
    fn classes_follow_their_labels() {
        let g = Graph::from_edges(2, vec![(0, 1, WW), (1, 0, WW)]);
        assert!(names(&g, 2).contains(&"G0".to_string()));
        let g = Graph::from_edges(2, vec![(0, 1, WW), (1, 0, WR)]);
        let n = names(&g, 2);
        assert!(
            n.contains(&"G1c".to_string()) && !n.contains(&"G0".to_string()),
            "{n:?}"
        );
        let g = Graph::from_edges(2, vec![(0, 1, RW), (1, 0, WR)]);
        let n = names(&g, 2);
        assert!(n.contains(&"G-single-item".to_string()), "{n:?}");
        let g = Graph::from_edges(2, vec![(0, 1, RW), (1, 0, RW)]);
        let n = names(&g, 2);
        assert_eq!(n, vec!["G2-item".to_string()]);
        // Two rw edges separated by wr edges: nonadjacent, no single.
        let g = Graph::from_edges(4, vec![(0, 1, RW), (1, 2, WR), (2, 3, RW), (3, 0, WR)]);
        let n = names(&g, 4);
        assert!(n.contains(&"G-nonadjacent-item".to_string()), "{n:?}");
        assert!(!n.contains(&"G-single-item".to_string()), "{n:?}");
    }

    #[test]
    fn realtime_cycles_fold_barriers() {
        // 0 -rw-> 1, 1 completes before 0 begins: 1 -> barrier 2 -> 0.
        let g = Graph::from_edges(3, vec![(0, 1, RW), (1, 2, REALTIME), (2, 0, REALTIME)]);
        let found = search(&g, 2, &Class::all(), &|_, _| false);
        assert_eq!(found[0].name, "G-single-item-realtime");
        assert_eq!(found[0].txns.len(), 2);
        let mut steps = found[0].steps.clone();
        steps.sort_unstable();
        assert_eq!(steps, vec![RW, REALTIME]);
    }
}
