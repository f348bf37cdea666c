//! The lattice of consistency models and anomalies: what a set of anomalies
//! found in a history rules out (Elle's `not` / `also-not`), and what a set
//! of consistency models that must hold forbids.
//!
//! Names are Elle's (jepsen-io/elle, `elle.consistency-model`), so that a
//! faultline report compares line by line with Elle's. The relations are a
//! data table, `lattice.txt` beside this file (its header documents the
//! format), read with `include_str!` and parsed once (a unit test parses it, so a bad edit
//! fails the test suite with the line it is on). Each line of the table is
//! one fact with its source; the sources are the literature Elle draws on:
//! Adya's thesis and Adya, Liskov, O'Neil, "Generalized Isolation Level
//! Definitions" (the PL-* levels and the G0 / G1 / G2 phenomena); Bailis et
//! al., "Highly Available Transactions"; Cerone, Bernardi, Gotsman, "A
//! Framework for Transactional Consistency Models with Atomic Visibility";
//! Cerone, Gotsman, "Analysing Snapshot Isolation"; Daudjee, Salem (strong
//! session serializability and snapshot isolation); Bernstein, Hadzilacos,
//! Goodman; Zuikeviciute, Pedone; Liu et al. (ROLA); Kleppmann's Hermitage.
//! Where a relation is a choice of Elle's with no literature source, the
//! table says so.
//!
//! # Three graphs
//!
//! - **Models** (`model A -> B`): a history that satisfies A satisfies B.
//!   Models have a canonical name (Adya's `PL-3`, `PL-SI`, ...) and friendly
//!   aliases (`serializable`, `snapshot-isolation`, ...); every function here
//!   accepts either and reports the friendly one. Where a model has several
//!   aliases the table says which is reported: `PL-3` is `serializable`
//!   (`conflict-serializable` is accepted), and `PL-SS` is
//!   `strong-serializable` (`strict-serializable` is accepted), as current
//!   Elle reports them.
//! - **Anomalies** (`anomaly A -> B`): a history that exhibits A exhibits B
//!   (G0 implies G1c; G-single-item implies G-single and G2-item; every
//!   cycle anomaly X implies X-process, which implies X-realtime, since a
//!   process runs one transaction at a time and its order is contained in
//!   real time).
//! - **Proscriptions** (`forbids M : A ...`): the anomalies model M rules
//!   out directly; what M forbids in all is that, plus what every model M
//!   implies forbids, plus every anomaly that implies one of those. The
//!   `NAME-cycle-exists` pseudo-anomalies (`PL-3-cycle-exists`, ...) stand
//!   for a cycle in the dependency graph a model requires acyclic that no
//!   named anomaly accounts for.
//!
//! A fourth, smaller graph (`severity A -> B`) records that A is worse than
//! B without implying it (G0 is worse than G-single); it only orders
//! anomalies (see [`severity_rank`]).
//!
//! # Reporting
//!
//! Given the anomalies found, [`impossible_models`] is every model that
//! forbids one of them or one they imply, and every model stronger than
//! such a model. [`boundary`] splits that set the way Elle's
//! `friendly-boundary` does: `not` holds the weakest impossible models
//! (those that imply no other impossible model), `also_not` the rest.
//!
//! ```
//! use faultline_checker::txn::lattice;
//!
//! let b = lattice::boundary(&["G2-item"]);
//! assert_eq!(b.not.iter().collect::<Vec<_>>(), ["repeatable-read"]);
//! assert!(b.also_not.contains("serializable"));
//!
//! let forbidden = lattice::anomalies_prohibited_by(&["snapshot-isolation"]).unwrap();
//! assert!(forbidden.contains("G-single-item"));
//! assert!(!forbidden.contains("G2-item"));
//! ```
//!
//! Names this lattice does not know (an anomaly type such as
//! `empty-transaction-graph`) imply nothing and rule no model out; an
//! unknown *model* name is an error ([`LatticeError::UnknownModel`]).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The embedded table (see the module documentation for its format).
const TABLE: &str = include_str!("lattice.txt");

/// A name from the table: models, aliases and anomalies are slices of the
/// embedded text.
type Name = &'static str;

/// Adjacency sets, keyed and ordered by name so that every walk is
/// deterministic.
type Graph = BTreeMap<Name, BTreeSet<Name>>;

/// What went wrong reading the table or naming a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LatticeError {
    /// A consistency model name that is neither a model, a canonical name
    /// nor an alias.
    #[error("unknown consistency model `{name}`; known models are: {known}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The friendly names of every known model, comma separated, and a
        /// note on the other accepted spellings.
        known: String,
    },
    /// A line of `lattice.txt` is malformed or breaks one of its rules.
    #[error("lattice.txt line {line}: {message}")]
    Parse {
        /// The 1-based line number in `lattice.txt`.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// Which consistency models a set of anomalies rules out, in friendly names,
/// split as Elle's `friendly-boundary` splits them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boundary {
    /// The weakest impossible models: those that imply no other impossible
    /// model. Every other impossible model implies one of these.
    pub not: BTreeSet<String>,
    /// The remaining impossible models (each stronger than some model in
    /// `not`).
    pub also_not: BTreeSet<String>,
}

/// The four kinds of edge the table states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EdgeKind {
    Model,
    Anomaly,
    Severity,
    Forbids,
}

/// One parsed line of the table, names not yet resolved.
#[derive(Debug)]
enum Fact {
    Edges {
        kind: EdgeKind,
        from: Name,
        to: Vec<Name>,
    },
    Alias {
        name: Name,
        canonical: Name,
    },
    Display {
        canonical: Name,
        name: Name,
    },
}

/// The parsed table.
#[derive(Debug)]
struct Lattice {
    /// Alias -> canonical model name.
    aliases: BTreeMap<Name, Name>,
    /// Canonical model name -> the name reported for it (its only alias, its
    /// `display` alias, or itself).
    friendly: BTreeMap<Name, Name>,
    /// Model -> the models it directly implies (weaker). Every model is a key.
    model_out: Graph,
    /// Model -> the models that directly imply it (stronger).
    model_in: Graph,
    /// Model -> the anomalies it directly forbids.
    forbids: Graph,
    /// Anomaly -> the models that directly forbid it.
    forbidden_by: Graph,
    /// Anomaly -> the anomalies it directly implies.
    anomaly_out: Graph,
    /// Anomaly -> the anomalies that directly imply it.
    anomaly_in: Graph,
    /// Anomaly -> its depth in the implication and severity graphs. Every
    /// anomaly is a key.
    depth: BTreeMap<Name, usize>,
}

fn parse_error(line: usize, message: impl Into<String>) -> LatticeError {
    LatticeError::Parse {
        line,
        message: message.into(),
    }
}

/// Whether `name` may name a model or an anomaly: ASCII letters, digits and
/// `-`, `.`, `+` (Adya's `PL-2+`, `PL-2.99`).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'+'))
        && name != "-"
}

/// Parses one line; `Ok(None)` for blank and comment lines.
fn parse_line(line_no: usize, raw: Name) -> Result<Option<Fact>, LatticeError> {
    let text = match raw.find('#') {
        Some(i) => &raw[..i],
        None => raw,
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let Some((fact, source)) = text.split_once('|') else {
        return Err(parse_error(line_no, "a fact ends with `| SOURCE`"));
    };
    if source.trim().is_empty() {
        return Err(parse_error(line_no, "empty source after `|`"));
    }
    let tokens: Vec<Name> = fact.split_whitespace().collect();
    let Some(&kind) = tokens.first() else {
        return Err(parse_error(line_no, "no fact before `|`"));
    };
    let names = |ts: &[Name]| -> Result<(), LatticeError> {
        match ts.iter().find(|t| !valid_name(t)) {
            Some(bad) => Err(parse_error(line_no, format!("`{bad}` is not a name"))),
            None => Ok(()),
        }
    };
    let edge_kind = match kind {
        "model" => Some((EdgeKind::Model, "->")),
        "anomaly" => Some((EdgeKind::Anomaly, "->")),
        "severity" => Some((EdgeKind::Severity, "->")),
        "forbids" => Some((EdgeKind::Forbids, ":")),
        _ => None,
    };
    if let Some((kind_, sep)) = edge_kind {
        if tokens.len() < 4 || tokens[2] != sep {
            return Err(parse_error(
                line_no,
                format!("expected `{kind} NAME {sep} NAME [NAME ...] | SOURCE`"),
            ));
        }
        names(&tokens[1..2])?;
        names(&tokens[3..])?;
        return Ok(Some(Fact::Edges {
            kind: kind_,
            from: tokens[1],
            to: tokens[3..].to_vec(),
        }));
    }
    match kind {
        "alias" | "display" => {
            if tokens.len() != 4 || tokens[2] != "=" {
                let shape = if kind == "alias" {
                    "alias NAME = CANONICAL | SOURCE"
                } else {
                    "display CANONICAL = NAME | SOURCE"
                };
                return Err(parse_error(line_no, format!("expected `{shape}`")));
            }
            names(&[tokens[1], tokens[3]])?;
            Ok(Some(if kind == "alias" {
                Fact::Alias {
                    name: tokens[1],
                    canonical: tokens[3],
                }
            } else {
                Fact::Display {
                    canonical: tokens[1],
                    name: tokens[3],
                }
            }))
        }
        other => Err(parse_error(
            line_no,
            format!(
                "unknown fact `{other}` (expected model, anomaly, severity, forbids, alias or display)"
            ),
        )),
    }
}

/// A cycle in `graph`, as the list of its vertices (the last has an edge to
/// the first), if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<Name>> {
    // Iterative three-colour depth-first search.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour: BTreeMap<Name, Colour> = graph.keys().map(|&v| (v, Colour::White)).collect();
    for &start in graph.keys() {
        if colour[start] != Colour::White {
            continue;
        }
        // Stack of (vertex, its successors not yet visited); `path` mirrors
        // the grey vertices on it.
        let succ = |v: Name| {
            graph
                .get(v)
                .into_iter()
                .flatten()
                .copied()
                .collect::<Vec<_>>()
        };
        let mut stack: Vec<(Name, Vec<Name>)> = vec![(start, succ(start))];
        colour.insert(start, Colour::Grey);
        while let Some((v, next)) = stack.last_mut() {
            match next.pop() {
                Some(w) => match colour.get(w).copied().unwrap_or(Colour::White) {
                    Colour::Grey => {
                        let from = stack.iter().position(|(u, _)| *u == w).unwrap_or(0);
                        return Some(stack[from..].iter().map(|(u, _)| *u).collect());
                    }
                    Colour::White => {
                        colour.insert(w, Colour::Grey);
                        stack.push((w, succ(w)));
                    }
                    Colour::Black => {}
                },
                None => {
                    colour.insert(*v, Colour::Black);
                    stack.pop();
                }
            }
        }
    }
    None
}

fn add_edge(out: &mut Graph, inn: &mut Graph, from: Name, to: Name) {
    out.entry(from).or_default().insert(to);
    out.entry(to).or_default();
    inn.entry(to).or_default().insert(from);
    inn.entry(from).or_default();
}

/// Everything reachable from `start` along `graph` (including `start`).
fn reach(graph: &Graph, start: impl IntoIterator<Item = Name>) -> BTreeSet<Name> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<Name> = start.into_iter().collect();
    while let Some(v) = queue.pop_front() {
        if seen.insert(v) {
            queue.extend(graph.get(v).into_iter().flatten().copied());
        }
    }
    seen
}

impl Lattice {
    /// Parses and checks a table in `lattice.txt`'s format.
    fn parse(text: Name) -> Result<Lattice, LatticeError> {
        let mut facts = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if let Some(fact) = parse_line(i + 1, raw)? {
                facts.push((i + 1, fact));
            }
        }

        // Names first: aliases, then which alias each canonical name reports.
        let mut aliases: BTreeMap<Name, Name> = BTreeMap::new();
        let mut alias_line: BTreeMap<Name, usize> = BTreeMap::new();
        let mut aliases_of: BTreeMap<Name, Vec<(Name, usize)>> = BTreeMap::new();
        for (line, fact) in &facts {
            if let Fact::Alias { name, canonical } = fact {
                if name == canonical {
                    return Err(parse_error(
                        *line,
                        format!("`{name}` is an alias of itself"),
                    ));
                }
                if let Some(prev) = alias_line.insert(name, *line) {
                    return Err(parse_error(
                        *line,
                        format!("alias `{name}` already declared on line {prev}"),
                    ));
                }
                aliases.insert(name, canonical);
                aliases_of.entry(canonical).or_default().push((name, *line));
            }
        }
        for (line, fact) in &facts {
            if let Fact::Alias { canonical, .. } = fact {
                if aliases.contains_key(canonical) {
                    return Err(parse_error(
                        *line,
                        format!(
                            "`{canonical}` is itself an alias (line {}); name the canonical model",
                            alias_line[canonical]
                        ),
                    ));
                }
            }
        }
        let mut display: BTreeMap<Name, (Name, usize)> = BTreeMap::new();
        for (line, fact) in &facts {
            if let Fact::Display { canonical, name } = fact {
                let Some(names) = aliases_of.get(canonical) else {
                    return Err(parse_error(*line, format!("`{canonical}` has no aliases")));
                };
                if names.len() < 2 {
                    return Err(parse_error(
                        *line,
                        format!(
                            "`{canonical}` has one alias; it is reported without a display line"
                        ),
                    ));
                }
                if !names.iter().any(|(n, _)| n == name) {
                    return Err(parse_error(
                        *line,
                        format!("`{name}` is not an alias of `{canonical}`"),
                    ));
                }
                if let Some((_, prev)) = display.insert(canonical, (name, *line)) {
                    return Err(parse_error(
                        *line,
                        format!("`{canonical}` already has a display name (line {prev})"),
                    ));
                }
            }
        }
        for (canonical, names) in &aliases_of {
            if names.len() > 1 && !display.contains_key(canonical) {
                let (_, line) = names[names.len() - 1];
                return Err(parse_error(
                    line,
                    format!("`{canonical}` has several aliases: add `display {canonical} = NAME`"),
                ));
            }
        }
        let resolve = |name: Name| aliases.get(name).copied().unwrap_or(name);

        // The graphs.
        let mut model_out = Graph::new();
        let mut model_in = Graph::new();
        let mut anomaly_out = Graph::new();
        let mut anomaly_in = Graph::new();
        let mut severity_out = Graph::new();
        let mut severity_in = Graph::new();
        let mut forbids = Graph::new();
        let mut forbidden_by = Graph::new();
        let mut edge_line: BTreeMap<(EdgeKind, Name, Name), usize> = BTreeMap::new();
        // First use of each anomaly name, to blame a model/anomaly clash.
        let mut anomaly_line: BTreeMap<Name, usize> = BTreeMap::new();
        for (line, fact) in &facts {
            let Fact::Edges { kind, from, to } = fact else {
                continue;
            };
            let from = if *kind == EdgeKind::Anomaly || *kind == EdgeKind::Severity {
                anomaly_line.entry(from).or_insert(*line);
                *from
            } else {
                resolve(from)
            };
            for &to in to {
                let to = if *kind == EdgeKind::Model {
                    resolve(to)
                } else {
                    anomaly_line.entry(to).or_insert(*line);
                    to
                };
                if from == to {
                    return Err(parse_error(*line, format!("`{from}` relates to itself")));
                }
                if let Some(prev) = edge_line.insert((*kind, from, to), *line) {
                    return Err(parse_error(
                        *line,
                        format!("`{from}` -> `{to}` is already stated on line {prev}"),
                    ));
                }
                match kind {
                    EdgeKind::Model => add_edge(&mut model_out, &mut model_in, from, to),
                    EdgeKind::Anomaly => add_edge(&mut anomaly_out, &mut anomaly_in, from, to),
                    EdgeKind::Severity => add_edge(&mut severity_out, &mut severity_in, from, to),
                    EdgeKind::Forbids => {
                        forbids.entry(from).or_default().insert(to);
                        forbidden_by.entry(to).or_default().insert(from);
                    }
                }
            }
        }

        // Every model a `forbids` or `alias` line names is in the model graph.
        for (line, fact) in &facts {
            match fact {
                Fact::Edges {
                    kind: EdgeKind::Forbids,
                    from,
                    ..
                } if !model_out.contains_key(resolve(from)) => {
                    return Err(parse_error(
                        *line,
                        format!("`{from}` is not a model any `model` line relates"),
                    ));
                }
                Fact::Alias { canonical, .. } if !model_out.contains_key(canonical) => {
                    return Err(parse_error(
                        *line,
                        format!("`{canonical}` is not a model any `model` line relates"),
                    ));
                }
                _ => {}
            }
        }
        // No name is both a model (or an alias) and an anomaly.
        for (anomaly, line) in &anomaly_line {
            if model_out.contains_key(anomaly) || aliases.contains_key(anomaly) {
                return Err(parse_error(
                    *line,
                    format!("`{anomaly}` is used as an anomaly but names a model"),
                ));
            }
        }

        // Acyclic graphs; blame the line of the edge closing the cycle.
        let mut with_severity = anomaly_out.clone();
        for (from, tos) in &severity_out {
            with_severity
                .entry(from)
                .or_default()
                .extend(tos.iter().copied());
        }
        for (graph, what) in [
            (&model_out, "model implications"),
            (&anomaly_out, "anomaly implications"),
            (&with_severity, "anomaly implications and severities"),
        ] {
            if let Some(cycle) = find_cycle(graph) {
                let last = cycle[cycle.len() - 1];
                let line = [EdgeKind::Model, EdgeKind::Anomaly, EdgeKind::Severity]
                    .iter()
                    .find_map(|k| edge_line.get(&(*k, last, cycle[0])))
                    .copied()
                    .unwrap_or(0);
                let mut shown: Vec<Name> = cycle.clone();
                shown.push(cycle[0]);
                return Err(parse_error(
                    line,
                    format!("the {what} have a cycle: {}", shown.join(" -> ")),
                ));
            }
        }

        // Depth: the longest path to an anomaly from one no other anomaly
        // implies or outranks (Kahn's layers of implication ∪ severity).
        // Anomalies only a model forbids have depth 0.
        let mut with_severity_in = anomaly_in.clone();
        for (to, froms) in &severity_in {
            with_severity_in
                .entry(to)
                .or_default()
                .extend(froms.iter().copied());
        }
        let mut depth: BTreeMap<Name, usize> = BTreeMap::new();
        fn depth_of(v: Name, preds: &Graph, memo: &mut BTreeMap<Name, usize>) -> usize {
            if let Some(&d) = memo.get(v) {
                return d;
            }
            let d = preds
                .get(v)
                .into_iter()
                .flatten()
                .map(|&p| depth_of(p, preds, memo) + 1)
                .max()
                .unwrap_or(0);
            memo.insert(v, d);
            d
        }
        for &anomaly in anomaly_line.keys() {
            depth_of(anomaly, &with_severity_in, &mut depth);
        }

        let friendly = model_out
            .keys()
            .map(|&m| {
                let name = match (display.get(m), aliases_of.get(m)) {
                    (Some((name, _)), _) => name,
                    (None, Some(names)) => names[0].0,
                    (None, None) => m,
                };
                (m, name)
            })
            .collect();

        Ok(Lattice {
            aliases,
            friendly,
            model_out,
            model_in,
            forbids,
            forbidden_by,
            anomaly_out,
            anomaly_in,
            depth,
        })
    }

    /// The canonical name of a model, alias or canonical name.
    fn canonical(&self, name: &str) -> Option<Name> {
        if let Some(&c) = self.aliases.get(name) {
            return Some(c);
        }
        self.model_out.get_key_value(name).map(|(&k, _)| k)
    }

    /// The canonical names of `models`, or the error naming the first
    /// unknown one.
    fn canonicals(&self, models: &[&str]) -> Result<BTreeSet<Name>, LatticeError> {
        models
            .iter()
            .map(|m| self.canonical(m).ok_or_else(|| self.unknown(m)))
            .collect()
    }

    fn unknown(&self, name: &str) -> LatticeError {
        let mut known: Vec<Name> = self.friendly.values().copied().collect();
        known.sort_unstable();
        let others: Vec<Name> = self
            .aliases
            .keys()
            .copied()
            .filter(|a| !known.contains(a))
            .collect();
        LatticeError::UnknownModel {
            name: name.to_string(),
            known: format!(
                "{} (also accepted: {}, and the canonical names such as PL-3)",
                known.join(", "),
                others.join(", ")
            ),
        }
    }

    fn friendly_of(&self, canonical: Name) -> Name {
        self.friendly.get(canonical).copied().unwrap_or(canonical)
    }

    /// The known anomalies among `found`, and every anomaly they imply.
    fn implied(&self, found: &[&str]) -> BTreeSet<Name> {
        let known = found
            .iter()
            .filter_map(|a| self.depth.get_key_value(*a).map(|(&k, _)| k));
        reach(&self.anomaly_out, known)
    }

    /// Canonical names of the models that cannot hold if `found` occurred.
    fn impossible(&self, found: &[&str]) -> BTreeSet<Name> {
        let direct = self
            .implied(found)
            .into_iter()
            .flat_map(|a| self.forbidden_by.get(a).into_iter().flatten().copied());
        reach(&self.model_in, direct)
    }

    /// The models of `set` no other model of `set` is reachable from along
    /// `graph` (`model_out`: the weakest; `model_in`: the strongest).
    fn extreme(&self, set: &BTreeSet<Name>, graph: &Graph) -> BTreeSet<Name> {
        set.iter()
            .copied()
            .filter(|&m| {
                let mut further = reach(graph, [m]);
                further.remove(m);
                further.is_disjoint(set)
            })
            .collect()
    }
}

/// The lattice parsed from the embedded `lattice.txt`, built on first use.
///
/// # Panics
///
/// If the embedded table is invalid; the unit tests parse it, so a build
/// whose tests pass never does.
fn lattice() -> &'static Lattice {
    static LATTICE: OnceLock<Lattice> = OnceLock::new();
    LATTICE.get_or_init(|| Lattice::parse(TABLE).unwrap_or_else(|e| panic!("{e}")))
}

/// The canonical name of a consistency model given by any of its names:
/// `serializable` and `conflict-serializable` are `PL-3`,
/// `strict-serializable` and `strong-serializable` are `PL-SS`, a canonical
/// name is itself, and a model without aliases (`linearizable`) is itself.
///
/// # Errors
///
/// [`LatticeError::UnknownModel`] naming `model` and listing the known
/// models' friendly names.
pub fn canonical(model: &str) -> Result<&'static str, LatticeError> {
    let l = lattice();
    l.canonical(model).ok_or_else(|| l.unknown(model))
}

/// The name reported for a consistency model given by any of its names
/// (`PL-3` and `conflict-serializable` are reported as `serializable`,
/// `strict-serializable` as `strong-serializable`). A name the lattice does
/// not know comes back unchanged, as in Elle.
pub fn friendly(model: &str) -> &str {
    let l = lattice();
    match l.canonical(model) {
        Some(c) => l.friendly_of(c),
        None => model,
    }
}

/// The friendly names of every consistency model, sorted by name.
pub fn all_models() -> Vec<&'static str> {
    let mut v: Vec<Name> = lattice().friendly.values().copied().collect();
    v.sort_unstable();
    v
}

/// Every anomaly the lattice knows (cycle anomalies and their `-process` and
/// `-realtime` variants, the non-cyclic ones such as `internal` and
/// `lost-update`, and the `*-cycle-exists` pseudo-anomalies), in Elle's
/// order: by [`severity_rank`], then by name (see [`compare_anomalies`]).
pub fn all_anomalies() -> Vec<&'static str> {
    let mut v: Vec<Name> = lattice().depth.keys().copied().collect();
    v.sort_by(|a, b| compare_anomalies(a, b));
    v
}

/// Whether the lattice knows `anomaly` by that name.
pub fn is_anomaly(anomaly: &str) -> bool {
    lattice().depth.contains_key(anomaly)
}

/// The anomalies a history exhibiting `found` exhibits: `found` itself and
/// everything it implies (G0 gives G1c, G1, G0-process, G0-realtime, ...).
/// Names the lattice does not know are left out.
pub fn implied_anomalies(found: &[&str]) -> BTreeSet<&'static str> {
    lattice().implied(found)
}

/// Every anomaly that cannot be present if all of `models` hold: what the
/// models (and every model they imply) directly forbid, and every anomaly
/// that implies one of those. This is the set a checker must look for to
/// judge `models`. No models: the empty set.
///
/// # Errors
///
/// [`LatticeError::UnknownModel`] for the first name that is not a model.
pub fn anomalies_prohibited_by(models: &[&str]) -> Result<BTreeSet<&'static str>, LatticeError> {
    let l = lattice();
    let models = reach(&l.model_out, l.canonicals(models)?);
    let direct = models
        .into_iter()
        .flat_map(|m| l.forbids.get(m).into_iter().flatten().copied());
    Ok(reach(&l.anomaly_in, direct))
}

/// The friendly names of every model that cannot hold in a history
/// exhibiting `found`: the models forbidding an anomaly of
/// [`implied_anomalies`]`(found)`, and every model that implies one of them.
/// Unknown anomaly names rule nothing out.
pub fn impossible_models(found: &[&str]) -> BTreeSet<&'static str> {
    let l = lattice();
    l.impossible(found)
        .into_iter()
        .map(|m| l.friendly_of(m))
        .collect()
}

/// Of `models`, those that imply no other of them, in friendly names
/// (Elle's `weakest-models`): `[serializable, strict-serializable]` gives
/// `{serializable}`; unrelated models are all kept.
///
/// # Errors
///
/// [`LatticeError::UnknownModel`] for the first name that is not a model.
pub fn weakest_models(models: &[&str]) -> Result<BTreeSet<&'static str>, LatticeError> {
    let l = lattice();
    let set = l.canonicals(models)?;
    Ok(l.extreme(&set, &l.model_out)
        .into_iter()
        .map(|m| l.friendly_of(m))
        .collect())
}

/// Of `models`, those no other of them implies, in friendly names (Elle's
/// `strongest-models`): `[serializable, strict-serializable]` gives
/// `{strong-serializable}`.
///
/// # Errors
///
/// [`LatticeError::UnknownModel`] for the first name that is not a model.
pub fn strongest_models(models: &[&str]) -> Result<BTreeSet<&'static str>, LatticeError> {
    let l = lattice();
    let set = l.canonicals(models)?;
    Ok(l.extreme(&set, &l.model_in)
        .into_iter()
        .map(|m| l.friendly_of(m))
        .collect())
}

/// The models a history exhibiting `found` rules out, as Elle reports them
/// (`friendly-boundary`): `not` is the weakest of [`impossible_models`]
/// (those implying no other impossible model), `also_not` the rest. No
/// anomalies, or only unknown ones: both empty.
pub fn boundary(found: &[&str]) -> Boundary {
    let l = lattice();
    let impossible = l.impossible(found);
    let weakest = l.extreme(&impossible, &l.model_out);
    let mut b = Boundary::default();
    for m in impossible {
        let name = l.friendly_of(m).to_string();
        if weakest.contains(m) {
            b.not.insert(name);
        } else {
            b.also_not.insert(name);
        }
    }
    b
}

/// An anomaly's depth in the union of the implication and severity graphs:
/// the length of the longest chain of "implies" or "is worse than" edges
/// that leads to it. Depth 0 is an anomaly that nothing implies or outranks
/// (G0, G1b, G-single-item, internal, ...); G1c is 1 (G0 implies it),
/// G2-item 2 (G1c outranks it), G2 4, G0-process 5 (G2 outranks it), and
/// the `-realtime` forms are deepest (G2-realtime 14).
/// Listing or searching by increasing depth, as Elle does, takes the most
/// specific and most severe anomalies first. `None` for an unknown name.
pub fn severity_rank(anomaly: &str) -> Option<usize> {
    lattice().depth.get(anomaly).copied()
}

/// Elle's anomaly order (`anomaly-depth-compare`): by [`severity_rank`],
/// then by name (byte order, so upper case before lower case); names the
/// lattice does not know come first, by name.
pub fn compare_anomalies(a: &str, b: &str) -> Ordering {
    severity_rank(a)
        .cmp(&severity_rank(b))
        .then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn strs(s: &BTreeSet<&'static str>) -> BTreeSet<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    fn parse_err(text: &'static str) -> (usize, String) {
        match Lattice::parse(text) {
            Err(LatticeError::Parse { line, message }) => (line, message),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    /// A Kahn topological sort of `graph`: the number of vertices it orders
    /// equals the number of vertices exactly when the graph is acyclic.
    fn topo_sortable(graph: &Graph) -> bool {
        let mut indegree: BTreeMap<Name, usize> = graph.keys().map(|&v| (v, 0)).collect();
        for tos in graph.values() {
            for &t in tos {
                *indegree.entry(t).or_default() += 1;
            }
        }
        let mut ready: Vec<Name> = indegree
            .iter()
            .filter(|(_, &d)| d == 0)
            .map(|(&v, _)| v)
            .collect();
        let mut ordered = 0;
        while let Some(v) = ready.pop() {
            ordered += 1;
            for &t in graph.get(v).into_iter().flatten() {
                let d = indegree.get_mut(t).unwrap();
                *d -= 1;
                if *d == 0 {
                    ready.push(t);
                }
            }
        }
        ordered == indegree.len()
    }

    #[test]
    fn embedded_table_parses() {
        let l = Lattice::parse(TABLE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.model_out.len(), 36);
        // Elle's 60 anomalies and faultline's garbage-read.
        assert_eq!(l.depth.len(), 61);
        // The static copy is the same table.
        assert_eq!(lattice().model_out, l.model_out);
    }

    #[test]
    fn graphs_are_acyclic() {
        let l = lattice();
        assert!(topo_sortable(&l.model_out), "model graph has a cycle");
        assert!(topo_sortable(&l.anomaly_out), "anomaly graph has a cycle");
        // And the in-graphs are the exact reverses of the out-graphs.
        for (g, r) in [(&l.model_out, &l.model_in), (&l.anomaly_out, &l.anomaly_in)] {
            for (from, tos) in g {
                for to in tos {
                    assert!(r[to].contains(from), "{from} -> {to} missing reversed");
                }
            }
            let edges = |g: &Graph| g.values().map(BTreeSet::len).sum::<usize>();
            assert_eq!(edges(g), edges(r));
        }
        // A cycle is found when there is one.
        let mut g = l.model_out.clone();
        g.get_mut("PL-1").unwrap().insert("PL-SS");
        assert!(!topo_sortable(&g));
        assert!(find_cycle(&g).is_some());
        assert!(find_cycle(&l.model_out).is_none());
    }

    #[test]
    fn all_anomalies_in_elles_order() {
        // Elle's consistency-model test lists its anomalies in this order.
        let elle = [
            "G-MSR",
            "G-SI",
            "G-SIb",
            "G-cursor",
            "G-monotonic",
            "G-single-item",
            "G-update",
            "G0",
            "G1b",
            "GSIa",
            "PL-1-cycle-exists",
            "PL-2-cycle-exists",
            "PL-2.99-cycle-exists",
            "PL-3-cycle-exists",
            "PL-SI-cycle-exists",
            "PL-SS-cycle-exists",
            "cyclic-versions",
            "dirty-update",
            "duplicate-elements",
            "future-read",
            "incompatible-order",
            "internal",
            "lost-update",
            "predicate-read-miss",
            "strong-PL-1-cycle-exists",
            "strong-PL-2-cycle-exists",
            "strong-session-PL-1-cycle-exists",
            "strong-session-PL-2-cycle-exists",
            "strong-session-serializable-cycle-exists",
            "strong-session-snapshot-isolation-cycle-exists",
            "strong-snapshot-isolation-cycle-exists",
            "G-nonadjacent-item",
            "G-single-item-process",
            "G1a",
            "G1c",
            "write-skew",
            "G-nonadjacent-item-process",
            "G-single",
            "G-single-item-realtime",
            "G1",
            "G2-item",
            "G-nonadjacent",
            "G-nonadjacent-item-realtime",
            "GSIb",
            "G2",
            "GSI",
            "G0-process",
            "G1c-process",
            "G-single-process",
            "G1-process",
            "G2-item-process",
            "G-nonadjacent-process",
            "G2-process",
            "G0-realtime",
            "G1c-realtime",
            "G-single-realtime",
            "G1-realtime",
            "G2-item-realtime",
            "G-nonadjacent-realtime",
            "G2-realtime",
        ];
        // Elle's, and faultline's own garbage-read (a read of a value no
        // transaction wrote), which implies G1a.
        let ours: Vec<&str> = all_anomalies()
            .into_iter()
            .filter(|a| *a != "garbage-read")
            .collect();
        assert_eq!(ours, elle);
        assert!(implied_anomalies(&["garbage-read"]).contains("G1a"));
        assert!(elle.iter().all(|a| is_anomaly(a)));
        assert!(!is_anomaly("serializable"));
        assert!(!is_anomaly("empty-transaction-graph"));
    }

    #[test]
    fn all_models_are_the_friendly_names() {
        let expected = [
            "1SR",
            "PRAM",
            "causal",
            "causal-cerone",
            "consistent-view",
            "cursor-stability",
            "forward-consistent-view",
            "linearizable",
            "monotonic-atomic-view",
            "monotonic-reads",
            "monotonic-snapshot-read",
            "monotonic-view",
            "monotonic-writes",
            "parallel-snapshot-isolation",
            "prefix",
            "read-atomic",
            "read-committed",
            "read-uncommitted",
            "read-your-writes",
            "repeatable-read",
            "sequential",
            "serializable",
            "session-serializable",
            "snapshot-isolation",
            "strong-read-committed",
            "strong-read-uncommitted",
            "strong-serializable",
            "strong-session-read-committed",
            "strong-session-read-uncommitted",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-snapshot-isolation",
            "update-atomic",
            "update-serializable",
            "view-serializable",
            "writes-follow-reads",
        ];
        assert_eq!(all_models(), expected);
        for m in expected {
            assert_eq!(friendly(canonical(m).unwrap()), m);
        }
    }

    #[test]
    fn canonical_and_friendly_names() {
        assert_eq!(canonical("serializable"), Ok("PL-3"));
        assert_eq!(canonical("conflict-serializable"), Ok("PL-3"));
        assert_eq!(canonical("PL-3"), Ok("PL-3"));
        assert_eq!(canonical("strict-serializable"), Ok("PL-SS"));
        assert_eq!(canonical("strong-serializable"), Ok("PL-SS"));
        assert_eq!(canonical("repeatable-read"), Ok("PL-2.99"));
        assert_eq!(canonical("consistent-view"), Ok("PL-2+"));
        assert_eq!(
            canonical("strong-session-read-committed"),
            Ok("strong-session-PL-2")
        );
        assert_eq!(canonical("linearizable"), Ok("linearizable"));
        assert_eq!(friendly("PL-3"), "serializable");
        assert_eq!(friendly("conflict-serializable"), "serializable");
        assert_eq!(friendly("PL-SS"), "strong-serializable");
        assert_eq!(friendly("strict-serializable"), "strong-serializable");
        assert_eq!(friendly("PL-2.99"), "repeatable-read");
        assert_eq!(friendly("strong-PL-1"), "strong-read-uncommitted");
        assert_eq!(friendly("causal-cerone"), "causal-cerone");
        assert_eq!(friendly("no-such-model"), "no-such-model");
    }

    #[test]
    fn unknown_model_is_an_error_naming_it() {
        let err = canonical("stricct-snappshot-isolation").unwrap_err();
        let LatticeError::UnknownModel { name, known } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(name, "stricct-snappshot-isolation");
        assert!(known.contains("strong-snapshot-isolation"), "{known}");
        assert!(known.contains("strict-serializable"), "{known}");
        let text = err.to_string();
        assert!(
            text.starts_with("unknown consistency model `stricct-snappshot-isolation`"),
            "{text}"
        );
        let err = anomalies_prohibited_by(&["serializable", "bogus"]).unwrap_err();
        assert!(err.to_string().contains("`bogus`"), "{err}");
        assert!(weakest_models(&["G0"]).is_err());
        assert!(strongest_models(&["nope"]).is_err());
        // Anomaly names are not model names.
        assert!(canonical("G2").is_err());
    }

    #[test]
    fn implied_anomalies_closure() {
        assert_eq!(strs(&implied_anomalies(&["G-SI"])), set(&["G-SI"]));
        assert_eq!(
            strs(&implied_anomalies(&["G0"])),
            set(&[
                "G0",
                "G0-process",
                "G0-realtime",
                "G1",
                "G1-process",
                "G1-realtime",
                "G1c",
                "G1c-process",
                "G1c-realtime",
            ])
        );
        let lost = implied_anomalies(&["lost-update"]);
        for a in [
            "lost-update",
            "write-skew",
            "G2-item",
            "G2",
            "G2-process",
            "G2-realtime",
        ] {
            assert!(lost.contains(a), "{a}");
        }
        assert!(!lost.contains("G-single"));
        let single = implied_anomalies(&["G-single-item"]);
        for a in [
            "G-single",
            "G-nonadjacent-item",
            "G2-item",
            "GSIb",
            "GSI",
            "G2-realtime",
        ] {
            assert!(single.contains(a), "{a}");
        }
        assert!(
            !single.contains("G-SIb"),
            "Elle's GSIb and G-SIb are distinct"
        );
        assert!(implied_anomalies(&[]).is_empty());
        assert!(implied_anomalies(&["empty-transaction-graph"]).is_empty());
        assert_eq!(
            strs(&implied_anomalies(&["internal", "unknown-thing"])),
            set(&["internal"])
        );
    }

    #[test]
    fn prohibited_by_read_committed_is_elles_set() {
        let rc = anomalies_prohibited_by(&["read-committed"]).unwrap();
        assert_eq!(
            strs(&rc),
            set(&[
                "G0",
                "G1",
                "G1a",
                "G1b",
                "G1c",
                "PL-1-cycle-exists",
                "PL-2-cycle-exists",
                "cyclic-versions",
                "dirty-update",
                "duplicate-elements",
                "future-read",
                "garbage-read",
                "incompatible-order",
            ])
        );
        assert!(!rc.contains("G-single-item"));
        assert!(!rc.contains("internal"));
        assert_eq!(anomalies_prohibited_by(&["PL-2"]).unwrap(), rc);
    }

    #[test]
    fn prohibited_by_serializable() {
        let ser = anomalies_prohibited_by(&["serializable"]).unwrap();
        for a in [
            "G0",
            "G1a",
            "G1b",
            "G1c",
            "G-single-item",
            "G-single",
            "G-nonadjacent-item",
            "G2-item",
            "G2",
            "internal",
            "lost-update",
            "write-skew",
            "future-read",
            "dirty-update",
            "predicate-read-miss",
            "PL-3-cycle-exists",
            "PL-SI-cycle-exists",
        ] {
            assert!(ser.contains(a), "serializable forbids {a}");
        }
        for a in [
            "G0-realtime",
            "G1c-realtime",
            "G2-realtime",
            "G-single-realtime",
            "G0-process",
            "PL-SS-cycle-exists",
        ] {
            assert!(!ser.contains(a), "serializable allows {a}");
        }
        assert_eq!(
            anomalies_prohibited_by(&["conflict-serializable"]).unwrap(),
            ser
        );
        // Adding a weaker model changes nothing.
        assert_eq!(
            anomalies_prohibited_by(&["read-committed", "serializable"]).unwrap(),
            ser
        );
        assert!(anomalies_prohibited_by(&[]).unwrap().is_empty());
    }

    #[test]
    fn prohibited_by_strict_serializable_adds_realtime() {
        let ser = anomalies_prohibited_by(&["serializable"]).unwrap();
        let strict = anomalies_prohibited_by(&["strict-serializable"]).unwrap();
        assert!(strict.is_superset(&ser));
        for a in [
            "G0-realtime",
            "G1c-realtime",
            "G1-realtime",
            "G2-realtime",
            "G2-item-realtime",
            "G-single-realtime",
            "G-nonadjacent-realtime",
            "G0-process",
            "G1c-process",
            "G2-process",
            "PL-SS-cycle-exists",
            "strong-PL-1-cycle-exists",
            "strong-snapshot-isolation-cycle-exists",
        ] {
            assert!(strict.contains(a), "strict-serializable forbids {a}");
            assert!(!ser.contains(a), "serializable allows {a}");
        }
        assert_eq!(
            anomalies_prohibited_by(&["strong-serializable"]).unwrap(),
            strict
        );
        assert_eq!(anomalies_prohibited_by(&["PL-SS"]).unwrap(), strict);
    }

    #[test]
    fn prohibited_by_snapshot_isolation_and_read_committed() {
        let si = anomalies_prohibited_by(&["snapshot-isolation"]).unwrap();
        for a in [
            "G-single-item",
            "G-nonadjacent-item",
            "G-single",
            "G-nonadjacent",
            "G-SI",
            "G1a",
            "G1b",
            "G1c",
            "internal",
            "lost-update",
        ] {
            assert!(si.contains(a), "snapshot isolation forbids {a}");
        }
        for a in [
            "G2-item",
            "G2",
            "write-skew",
            "G-single-realtime",
            "G-single-process",
        ] {
            assert!(!si.contains(a), "snapshot isolation allows {a}");
        }
        let rc = anomalies_prohibited_by(&["read-committed"]).unwrap();
        for a in ["G1a", "G1b", "G1c", "G0"] {
            assert!(rc.contains(a), "read committed forbids {a}");
        }
        for a in ["G-single-item", "G2-item", "lost-update", "G0-realtime"] {
            assert!(!rc.contains(a), "read committed allows {a}");
        }
        let ru = anomalies_prohibited_by(&["read-uncommitted"]).unwrap();
        assert!(ru.contains("G0") && ru.contains("cyclic-versions"));
        assert!(!ru.contains("G1a") && !ru.contains("G1c"));
    }

    #[test]
    fn impossible_models_are_elles() {
        let friendly = |a: &[&str]| strs(&impossible_models(a));
        assert_eq!(
            friendly(&["G-single"]),
            set(&[
                "consistent-view",
                "forward-consistent-view",
                "strong-serializable",
                "serializable",
                "snapshot-isolation",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
                "update-serializable",
            ])
        );
        assert_eq!(
            friendly(&["G-SI"]),
            set(&[
                "snapshot-isolation",
                "serializable",
                "strong-serializable",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
            ])
        );
        assert_eq!(
            friendly(&["dirty-update"]),
            set(&[
                "read-committed",
                "monotonic-atomic-view",
                "snapshot-isolation",
                "repeatable-read",
                "update-atomic",
                "serializable",
                "strong-serializable",
                "update-serializable",
                "cursor-stability",
                "forward-consistent-view",
                "consistent-view",
                "monotonic-view",
                "monotonic-snapshot-read",
                "causal-cerone",
                "parallel-snapshot-isolation",
                "prefix",
                "read-atomic",
                "strong-session-read-committed",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-read-committed",
                "strong-snapshot-isolation",
            ])
        );
        assert_eq!(
            friendly(&["internal"]),
            set(&[
                "causal-cerone",
                "parallel-snapshot-isolation",
                "prefix",
                "read-atomic",
                "update-atomic",
                "serializable",
                "snapshot-isolation",
                "strong-serializable",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
            ])
        );
        assert!(impossible_models(&[]).is_empty());
        assert!(impossible_models(&["empty-transaction-graph"]).is_empty());
        // GSI is an anomaly no model forbids.
        assert!(impossible_models(&["GSI"]).is_empty());
        // Elle: everything stronger than strong session serializability.
        let l = lattice();
        assert_eq!(
            reach(&l.model_in, ["strong-session-serializable"]),
            ["strong-session-serializable", "PL-SS"]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn boundary_of_cycles() {
        assert_eq!(boundary(&[]), Boundary::default());
        assert_eq!(boundary(&["G0"]).not, set(&["read-uncommitted"]));
        assert_eq!(boundary(&["G1c"]).not, set(&["read-committed"]));
        assert_eq!(boundary(&["G2-item"]).not, set(&["repeatable-read"]));
        let g1c = boundary(&["G1c"]);
        assert!(g1c.also_not.contains("read-atomic"));
        assert!(g1c.also_not.contains("strong-session-read-committed"));
        assert!(!g1c.also_not.contains("read-uncommitted"));
        // G-single-item: consistent view (G-single) and repeatable read
        // (G2-item) are unrelated, so both are the boundary (Elle's
        // rw-register and closed-predicate tests).
        assert_eq!(
            boundary(&["G-single-item"]),
            Boundary {
                not: set(&["consistent-view", "repeatable-read"]),
                also_not: set(&[
                    "forward-consistent-view",
                    "serializable",
                    "snapshot-isolation",
                    "strong-serializable",
                    "strong-session-serializable",
                    "strong-session-snapshot-isolation",
                    "strong-snapshot-isolation",
                    "update-serializable",
                ]),
            }
        );
        assert_eq!(
            boundary(&["G-single"]),
            Boundary {
                not: set(&["consistent-view"]),
                also_not: set(&[
                    "snapshot-isolation",
                    "serializable",
                    "strong-serializable",
                    "strong-session-snapshot-isolation",
                    "strong-snapshot-isolation",
                    "strong-session-serializable",
                    "forward-consistent-view",
                    "update-serializable",
                ]),
            }
        );
        assert_eq!(
            boundary(&["G-single-realtime"]),
            Boundary {
                not: set(&["strong-snapshot-isolation"]),
                also_not: set(&["strong-serializable"]),
            }
        );
        // Elle's (Jepsen's TigerBeetle) G0-realtime result.
        assert_eq!(
            boundary(&["G0-realtime"]),
            Boundary {
                not: set(&["strong-read-uncommitted"]),
                also_not: set(&[
                    "strong-read-committed",
                    "strong-snapshot-isolation",
                    "strong-serializable",
                ]),
            }
        );
        assert_eq!(
            boundary(&["G1c-realtime"]),
            Boundary {
                not: set(&["strong-read-committed"]),
                also_not: set(&["strong-snapshot-isolation", "strong-serializable"]),
            }
        );
        // Real-time anomalies leave the non-strong models possible.
        let rt = impossible_models(&["G0-realtime", "G2-realtime"]);
        assert!(rt.contains("strong-serializable"));
        assert!(!rt.contains("serializable"));
        assert!(!rt.contains("read-uncommitted"));
    }

    #[test]
    fn boundary_of_non_cyclic_anomalies() {
        assert_eq!(
            boundary(&["internal"]),
            Boundary {
                not: set(&["read-atomic"]),
                also_not: set(&[
                    "causal-cerone",
                    "parallel-snapshot-isolation",
                    "prefix",
                    "update-atomic",
                    "serializable",
                    "snapshot-isolation",
                    "strong-serializable",
                    "strong-session-serializable",
                    "strong-session-snapshot-isolation",
                    "strong-snapshot-isolation",
                ]),
            }
        );
        // G2 adds nothing internal does not already rule out.
        assert_eq!(boundary(&["G2", "internal"]), boundary(&["internal"]));
        assert_eq!(
            boundary(&["cyclic-versions"]),
            Boundary {
                not: set(&["read-uncommitted"]),
                also_not: set(&[
                    "read-committed",
                    "snapshot-isolation",
                    "causal-cerone",
                    "consistent-view",
                    "cursor-stability",
                    "forward-consistent-view",
                    "monotonic-atomic-view",
                    "monotonic-snapshot-read",
                    "monotonic-view",
                    "parallel-snapshot-isolation",
                    "prefix",
                    "read-atomic",
                    "repeatable-read",
                    "update-atomic",
                    "serializable",
                    "strong-read-committed",
                    "strong-read-uncommitted",
                    "strong-serializable",
                    "strong-session-read-committed",
                    "strong-session-read-uncommitted",
                    "strong-session-serializable",
                    "strong-session-snapshot-isolation",
                    "strong-snapshot-isolation",
                    "update-serializable",
                ]),
            }
        );
        let g1a = boundary(&["G1a"]);
        assert_eq!(g1a.not, set(&["read-committed"]));
        assert_eq!(
            g1a.also_not,
            set(&[
                "read-atomic",
                "update-atomic",
                "causal-cerone",
                "consistent-view",
                "cursor-stability",
                "forward-consistent-view",
                "monotonic-atomic-view",
                "monotonic-snapshot-read",
                "monotonic-view",
                "parallel-snapshot-isolation",
                "prefix",
                "repeatable-read",
                "serializable",
                "snapshot-isolation",
                "strong-read-committed",
                "strong-snapshot-isolation",
                "strong-serializable",
                "strong-session-read-committed",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "update-serializable",
            ])
        );
        assert_eq!(
            boundary(&["lost-update"]).not,
            set(&["update-atomic", "cursor-stability"])
        );
        // future-read implies G1c: read committed is the boundary, read
        // atomic (which forbids future-read itself) is above it.
        let fr = boundary(&["future-read"]);
        assert_eq!(fr.not, set(&["read-committed"]));
        assert!(fr.also_not.contains("read-atomic"));
        assert_eq!(
            boundary(&["predicate-read-miss"]),
            Boundary {
                not: set(&["serializable"]),
                also_not: set(&["strong-serializable", "strong-session-serializable"]),
            }
        );
        assert_eq!(boundary(&["empty-transaction-graph"]), Boundary::default());
        // not and also_not partition impossible_models.
        let found = ["G-single-item-process", "cyclic-versions"];
        let b = boundary(&found);
        assert!(b.not.is_disjoint(&b.also_not));
        let union: BTreeSet<String> = b.not.union(&b.also_not).cloned().collect();
        assert_eq!(union, strs(&impossible_models(&found)));
    }

    #[test]
    fn weakest_and_strongest_models() {
        let none: [&str; 0] = [];
        assert!(weakest_models(&none).unwrap().is_empty());
        assert!(strongest_models(&none).unwrap().is_empty());
        let w = |m: &[&str]| strs(&weakest_models(m).unwrap());
        let s = |m: &[&str]| strs(&strongest_models(m).unwrap());
        assert_eq!(
            w(&["serializable", "strict-serializable"]),
            set(&["serializable"])
        );
        assert_eq!(
            w(&[
                "repeatable-read",
                "read-committed",
                "sequential",
                "read-your-writes"
            ]),
            set(&["read-your-writes", "read-committed"])
        );
        assert_eq!(w(&["serializable", "read-atomic"]), set(&["read-atomic"]));
        assert_eq!(w(&["read-atomic", "serializable"]), set(&["read-atomic"]));
        assert_eq!(
            s(&["serializable", "strong-serializable", "strict-serializable"]),
            set(&["strong-serializable"])
        );
        assert_eq!(
            s(&[
                "repeatable-read",
                "read-committed",
                "sequential",
                "read-your-writes"
            ]),
            set(&["repeatable-read", "sequential"])
        );
        assert_eq!(s(&["serializable", "read-atomic"]), set(&["serializable"]));
    }

    #[test]
    fn severity_ranks_and_order() {
        assert_eq!(severity_rank("G0"), Some(0));
        assert_eq!(severity_rank("G1c"), Some(1));
        assert_eq!(severity_rank("G2-item"), Some(2));
        assert_eq!(severity_rank("G2"), Some(4));
        assert_eq!(severity_rank("G0-process"), Some(5));
        assert_eq!(severity_rank("internal"), Some(0));
        assert_eq!(severity_rank("G2-realtime"), Some(14));
        assert_eq!(severity_rank("nope"), None);
        let mut found = vec![
            "G2-item",
            "internal",
            "G1c",
            "G0",
            "mystery",
            "G-single-realtime",
        ];
        found.sort_by(|a, b| compare_anomalies(a, b));
        assert_eq!(
            found,
            [
                "mystery",
                "G0",
                "internal",
                "G1c",
                "G2-item",
                "G-single-realtime"
            ]
        );
        // Every implication and severity edge goes to a greater depth.
        let l = lattice();
        for (from, tos) in &l.anomaly_out {
            for to in tos {
                assert!(l.depth[from] < l.depth[to], "{from} -> {to}");
            }
        }
    }

    #[test]
    fn model_implications_hold_transitively() {
        let l = lattice();
        let below = |m: &str| reach(&l.model_out, [canonical(m).unwrap()]);
        let ss = below("strict-serializable");
        for m in [
            "PL-3",
            "PL-SI",
            "linearizable",
            "sequential",
            "read-your-writes",
            "strong-PL-1",
            "1SR",
            "PL-1",
        ] {
            assert!(ss.contains(m), "strict serializable implies {m}");
        }
        let ser = below("serializable");
        assert!(ser.contains("PL-SI") && ser.contains("read-atomic") && ser.contains("PL-2.99"));
        assert!(!ser.contains("linearizable") && !ser.contains("strong-PL-1"));
        let si = below("snapshot-isolation");
        assert!(!si.contains("PL-2.99"), "SI does not imply repeatable read");
        assert!(si.contains("PL-CS"));
    }

    #[test]
    fn bad_tables_name_the_line() {
        let base_ok = "model a -> b | s\n";
        assert!(Lattice::parse(base_ok).is_ok());
        assert_eq!(parse_err("# c\n\nmodel a -> b\n").0, 3);
        assert!(parse_err("model a -> b |  \n").1.contains("empty source"));
        let (line, msg) = parse_err("model a -> b | s\nmodle b -> c | s\n");
        assert_eq!(line, 2);
        assert!(msg.contains("unknown fact `modle`"), "{msg}");
        assert_eq!(parse_err("model a b | s\n").0, 1);
        assert_eq!(parse_err("model a -> | s\n").0, 1);
        assert_eq!(parse_err("model a -> b | s\nmodel b -> a,c | s\n").0, 2);
        // Forbids of a model no `model` line relates.
        let (line, msg) = parse_err("model a -> b | s\nforbids c : G0 | s\n");
        assert_eq!((line, msg.contains("`c`")), (2, true));
        // A fact stated twice.
        let (line, msg) = parse_err("model a -> b | s\nmodel x -> y | s\nmodel a -> b | t\n");
        assert_eq!(line, 3);
        assert!(msg.contains("line 1"), "{msg}");
        // ... also through an alias.
        assert_eq!(
            parse_err("alias b2 = b | s\nmodel a -> b | s\nmodel a -> b2 | s\n").0,
            3
        );
        // A cycle, blamed on the line closing it.
        let (line, msg) = parse_err("model a -> b | s\nmodel b -> c | s\nmodel c -> a | s\n");
        assert_eq!(line, 3, "{msg}");
        assert!(msg.contains("cycle"), "{msg}");
        assert_eq!(
            parse_err("model a -> b | s\nanomaly G0 -> G1 | s\nanomaly G1 -> G0 | s\n").0,
            3
        );
        let (line, msg) =
            parse_err("model a -> b | s\nanomaly G0 -> G1 | s\nseverity G1 -> G0 | s\n");
        assert_eq!(line, 3);
        assert!(msg.contains("severities"), "{msg}");
        // Alias rules.
        assert_eq!(parse_err("model a -> b | s\nalias x = y | s\n").0, 2);
        assert_eq!(
            parse_err("model a -> b | s\nalias x = a | s\nalias z = x | s\n").0,
            3
        );
        assert_eq!(
            parse_err("model a -> b | s\nalias x = a | s\nalias x = b | s\n").0,
            3
        );
        let (line, msg) = parse_err("model a -> b | s\nalias x = a | s\nalias y = a | s\n");
        assert_eq!(line, 3);
        assert!(msg.contains("display"), "{msg}");
        assert!(Lattice::parse(
            "model a -> b | s\nalias x = a | s\nalias y = a | s\ndisplay a = y | s\n"
        )
        .is_ok());
        assert_eq!(
            parse_err("model a -> b | s\nalias x = a | s\ndisplay a = x | s\n").0,
            3
        );
        // A name both a model and an anomaly.
        assert_eq!(parse_err("model a -> b | s\nforbids a : b | s\n").0, 2);
        // Names are checked.
        assert_eq!(parse_err("model a -> b | s\nforbids a : G0 G1! | s\n").0, 2);
    }

    #[test]
    fn error_display_names_the_file_line() {
        let err = Lattice::parse("model a -> b | s\nbogus\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "lattice.txt line 2: a fact ends with `| SOURCE`"
        );
    }
}
