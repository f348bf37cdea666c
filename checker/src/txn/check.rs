//! Checking a transactional history: inference for the model, the cycle
//! search for the classes the consistency models forbid, Elle's verdict.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::anomaly::Found;
use super::cycles::{self, Class};
use super::graph::{kind_name, Graph};
use super::history::TxnHistory;
use super::infer::Inference;
use super::{explain, lattice, list_append, order, rw_register};
use crate::history::Outcome;
use crate::Verdict;

/// A transactional model: what the micro-operations mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnModel {
    /// Appends to lists and whole-list reads (`txn-list-append`).
    ListAppend,
    /// Writes and reads of registers (`txn-rw-register`).
    RwRegister,
}

impl TxnModel {
    /// Both models.
    pub const ALL: [TxnModel; 2] = [TxnModel::ListAppend, TxnModel::RwRegister];

    /// The name `--model` takes.
    pub fn name(self) -> &'static str {
        match self {
            TxnModel::ListAppend => "txn-list-append",
            TxnModel::RwRegister => "txn-rw-register",
        }
    }
}

impl fmt::Display for TxnModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TxnModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TxnModel::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown transactional model {s:?}; known: txn-list-append, txn-rw-register"
                )
            })
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct TxnOptions {
    /// The consistency models the history must satisfy (Elle's names;
    /// default `strict-serializable`, as Elle).
    pub consistency_models: Vec<String>,
    /// Further anomalies to look for and count as failures.
    pub anomalies: Vec<String>,
    /// How many anomalies of each type to report in full.
    pub examples: usize,
}

impl Default for TxnOptions {
    fn default() -> Self {
        TxnOptions {
            consistency_models: vec!["strict-serializable".to_string()],
            anomalies: Vec::new(),
            examples: 8,
        }
    }
}

impl TxnOptions {
    /// The options a generic check carries (`CheckOptions`): its
    /// consistency models (empty: the default, strict-serializable) and
    /// further anomalies.
    pub fn from_check(opts: &crate::CheckOptions) -> TxnOptions {
        let mut t = TxnOptions {
            anomalies: opts.anomalies.clone(),
            ..TxnOptions::default()
        };
        if !opts.consistency_models.is_empty() {
            t.consistency_models = opts.consistency_models.clone();
        }
        t
    }
}

/// Why a check could not run.
#[derive(Debug, thiserror::Error)]
pub enum TxnCheckError {
    /// A consistency model or anomaly name nobody knows.
    #[error(transparent)]
    Lattice(#[from] lattice::LatticeError),
    /// An anomaly name nobody knows.
    #[error("unknown anomaly {0:?}; known: {1}")]
    UnknownAnomaly(String, String),
}

/// A transaction as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnRef {
    /// The name used in explanations: `T1`, `T2`, ...
    pub name: String,
    /// History index of its completion (of its invocation if none).
    pub index: u64,
    /// Time of its completion (of its invocation if none), ns since the
    /// test started.
    #[serde(default)]
    pub time: u64,
    /// Its process.
    pub process: u64,
    /// `ok`, `fail` or `info`.
    #[serde(rename = "type")]
    pub outcome: String,
    /// Its micro-operations as EDN: `[[:append x 1] [:r y [1]]]`.
    pub value: String,
}

/// One edge of a reported cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// From `txns[from]`...
    pub from: usize,
    /// ...to `txns[to]`.
    pub to: usize,
    /// `ww`, `wr`, `rw`, `process` or `realtime`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The key behind a data edge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Why, in a sentence.
    pub why: String,
}

/// One anomaly in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyReport {
    /// Elle's name.
    #[serde(rename = "type")]
    pub name: String,
    /// The transactions involved (a cycle's in order).
    pub txns: Vec<TxnRef>,
    /// The key, for anomalies about one key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The offending micro-operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mop: Option<String>,
    /// The element or value at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<i64>,
    /// What a correct history would have shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// A cycle's edges.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycle: Vec<Step>,
    /// The explanation, a few lines.
    pub explanation: String,
}

/// Sizes of what was checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TxnStats {
    /// Transactions: committed, failed, unknown.
    pub ok: usize,
    /// Certainly not committed.
    pub fail: usize,
    /// Unknown outcome.
    pub info: usize,
    /// Distinct keys.
    pub keys: usize,
    /// Edge entries of the dependency graph (barriers included).
    pub edges: usize,
}

/// The verdict and what supports it, in Elle's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnResult {
    /// The model checked.
    pub model: String,
    /// valid, invalid or unknown.
    pub valid: Verdict,
    /// The consistency models checked.
    pub consistency_models: Vec<String>,
    /// Every anomaly type found, sorted.
    pub anomaly_types: Vec<String>,
    /// How many of each were found.
    pub counts: BTreeMap<String, usize>,
    /// The first few of each type in full.
    pub anomalies: BTreeMap<String, Vec<AnomalyReport>>,
    /// The weakest models the anomalies rule out.
    pub not: Vec<String>,
    /// The stronger models they rule out as well.
    pub also_not: Vec<String>,
    /// Why the answer is unknown, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    /// Sizes.
    pub stats: TxnStats,
}

/// Checks a history against the options' consistency models.
pub fn check(
    h: &TxnHistory,
    model: TxnModel,
    opts: &TxnOptions,
) -> Result<TxnResult, TxnCheckError> {
    let models: Vec<&str> = opts.consistency_models.iter().map(String::as_str).collect();
    let mut forbidden: BTreeSet<String> = lattice::anomalies_prohibited_by(&models)?
        .into_iter()
        .map(str::to_string)
        .collect();
    let known = lattice::all_anomalies();
    for a in &opts.anomalies {
        if !known.contains(&a.as_str()) {
            return Err(TxnCheckError::UnknownAnomaly(a.clone(), known.join(", ")));
        }
        // The anomaly, and every anomaly that implies it.
        forbidden.extend(
            known
                .iter()
                .filter(|x| lattice::implied_anomalies(&[x]).contains(a.as_str()))
                .map(|x| x.to_string()),
        );
    }
    let inf = match model {
        TxnModel::ListAppend => list_append::infer(h),
        TxnModel::RwRegister => rw_register::infer(h),
    };
    let wanted: Vec<Class> = Class::all()
        .into_iter()
        .filter(|c| forbidden.contains(&c.name()))
        .collect();
    let (graph, data_edges) = build_graph(h, &inf, &wanted);
    let implied = |reported: &[String], name: &str| {
        let r: Vec<&str> = reported.iter().map(String::as_str).collect();
        !r.is_empty() && lattice::implied_anomalies(&r).contains(name)
    };
    let mut found = inf.found.clone();
    found.extend(cycles::search(&graph, h.txns.len(), &wanted, &implied));
    let mut result = report(h, &inf, model, opts, found, &forbidden);
    if data_edges == 0 && inf.unknown.is_none() {
        result
            .anomaly_types
            .push("empty-transaction-graph".to_string());
        result.anomaly_types.sort();
        result
            .counts
            .insert("empty-transaction-graph".to_string(), 1);
        if result.valid == Verdict::Valid {
            result.valid = Verdict::Unknown;
            result.unknown_reason = Some(
                "empty transaction graph: no read observed another transaction's write, so nothing orders the transactions".into(),
            );
        }
    }
    if let Some(why) = &inf.unknown {
        result.valid = Verdict::Unknown;
        result.unknown_reason = Some(why.clone());
    }
    let (ok, fail, info) = h.counts();
    result.stats = TxnStats {
        ok,
        fail,
        info,
        keys: h.keys.len(),
        edges: graph.edge_count(),
    };
    Ok(result)
}

/// The dependency graph with the order edges the wanted classes need;
/// also the number of data edges.
fn build_graph(h: &TxnHistory, inf: &Inference, wanted: &[Class]) -> (Graph, usize) {
    let mut edges = inf.edges.clone();
    // A transaction's edge to itself (a future read, a read of the whole
    // list by its own unread appender) orders nothing: the graph drops it,
    // and it does not make the graph non-empty.
    let data = edges.iter().filter(|e| e.0 != e.1).count();
    let needs = |v: cycles::Variant| wanted.iter().any(|c| c.variant == v);
    let mut nodes = h.txns.len();
    if needs(cycles::Variant::Process) || needs(cycles::Variant::Realtime) {
        order::process_edges(h, &inf.member, &mut edges);
    }
    if needs(cycles::Variant::Realtime) {
        nodes += order::realtime_edges(h, &inf.member, &mut edges);
    }
    (Graph::from_edges(nodes, edges), data)
}

fn report(
    h: &TxnHistory,
    inf: &Inference,
    model: TxnModel,
    opts: &TxnOptions,
    found: Vec<Found>,
    forbidden: &BTreeSet<String>,
) -> TxnResult {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut anomalies: BTreeMap<String, Vec<AnomalyReport>> = BTreeMap::new();
    for f in &found {
        let n = counts.entry(f.name.clone()).or_default();
        *n += 1;
        if *n <= opts.examples {
            anomalies
                .entry(f.name.clone())
                .or_default()
                .push(render(h, inf, f));
        }
    }
    let types: Vec<String> = counts.keys().cloned().collect();
    let refs: Vec<&str> = types.iter().map(String::as_str).collect();
    let boundary = lattice::boundary(&refs);
    let invalid = types.iter().any(|t| forbidden.contains(t));
    TxnResult {
        model: model.name().to_string(),
        valid: if invalid {
            Verdict::Invalid
        } else {
            Verdict::Valid
        },
        consistency_models: opts.consistency_models.clone(),
        anomaly_types: types,
        counts,
        anomalies,
        not: boundary.not.into_iter().collect(),
        also_not: boundary.also_not.into_iter().collect(),
        unknown_reason: None,
        stats: TxnStats::default(),
    }
}

fn txn_ref(h: &TxnHistory, t: usize, name: String) -> TxnRef {
    let txn = &h.txns[t];
    let mops: Vec<String> = h.mops_of(t).iter().map(|m| h.render_mop(m)).collect();
    TxnRef {
        name,
        index: txn.complete_index.unwrap_or(txn.invoke_index),
        time: txn.complete_time.unwrap_or(txn.invoke_time),
        process: txn.process,
        outcome: match txn.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
        .to_string(),
        value: format!("[{}]", mops.join(" ")),
    }
}

fn render(h: &TxnHistory, inf: &Inference, f: &Found) -> AnomalyReport {
    let names: Vec<String> = (1..=f.txns.len()).map(|i| format!("T{i}")).collect();
    let txns: Vec<TxnRef> = f
        .txns
        .iter()
        .zip(&names)
        .map(|(&t, n)| txn_ref(h, t, n.clone()))
        .collect();
    let mut cycle = Vec::new();
    let explanation = if f.steps.is_empty() {
        explain::single(h, f, &names)
    } else {
        let mut lines = vec!["Let:".to_string()];
        for t in &txns {
            lines.push(format!(
                "  {} = {} p{} {} (index {})",
                t.name, t.outcome, t.process, t.value, t.index
            ));
        }
        lines.push(String::new());
        lines.push("Then:".to_string());
        let n = f.txns.len();
        for (i, &kind) in f.steps.iter().enumerate() {
            let j = (i + 1) % n;
            let (key, why) =
                explain::edge(h, inf, f.txns[i], f.txns[j], kind, &names[i], &names[j]);
            let lead = if i + 1 == n && n > 1 { "However, " } else { "" };
            let end = if i + 1 == n {
                ": a contradiction!"
            } else {
                "."
            };
            lines.push(format!(
                "  - {lead}{} < {}, because {why}{end}",
                names[i], names[j]
            ));
            cycle.push(Step {
                from: i,
                to: j,
                kind: kind_name(kind).to_string(),
                key: key.map(|k| h.keys.name(k).to_string()),
                why,
            });
        }
        lines.join("\n")
    };
    AnomalyReport {
        name: f.name.clone(),
        txns,
        key: f.key.map(|k| h.keys.name(k).to_string()),
        mop: f.mop.map(|i| h.render_mop(&h.mops_of(f.txns[0])[i])),
        element: f.element,
        expected: f.expected.clone(),
        cycle,
        explanation,
    }
}

impl TxnResult {
    /// The result as text: verdict, types with counts, the models ruled
    /// out, then the first anomalies of each type explained.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "{}: {} ({} ok, {} fail, {} info transactions; {} keys) against {}\n",
            self.model,
            self.valid,
            self.stats.ok,
            self.stats.fail,
            self.stats.info,
            self.stats.keys,
            self.consistency_models.join(", ")
        );
        if let Some(why) = &self.unknown_reason {
            out.push_str(&format!("unknown: {why}\n"));
        }
        if !self.anomaly_types.is_empty() {
            let types: Vec<String> = self
                .anomaly_types
                .iter()
                .map(|t| format!("{t} ({})", self.counts.get(t).copied().unwrap_or(0)))
                .collect();
            out.push_str(&format!("anomaly types: {}\n", types.join(", ")));
        }
        if !self.not.is_empty() {
            out.push_str(&format!("not: {}\n", self.not.join(", ")));
        }
        if !self.also_not.is_empty() {
            out.push_str(&format!("also not: {}\n", self.also_not.join(", ")));
        }
        for (name, list) in &self.anomalies {
            let total = self.counts.get(name).copied().unwrap_or(list.len());
            out.push_str(&format!("\n{name}: {total} found, {} shown\n", list.len()));
            for a in list {
                for line in a.explanation.lines() {
                    out.push_str(&format!("  {line}\n"));
                }
                out.push('\n');
            }
        }
        out
    }
}
