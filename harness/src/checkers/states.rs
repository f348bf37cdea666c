//! `cluster-states`: what the status probe saw through a run, turned into
//! abstract cluster states. It judges nothing (its verdict is always
//! valid); it feeds `faultline explore` (which prefers faults that reach
//! states not seen yet) and the report's states section.
//!
//! A run of a system that can tell its nodes' status samples every node
//! every [`SAMPLE_EVERY_MS`] into `states.jsonl` (one [`Sample`] a line).
//! An [`Abstractor`] maps each sample to a label that forgets node names,
//! exact terms and exact indexes but keeps what Raft's rules are about: how
//! many nodes think they lead, each other node's role, its term and its log
//! relative to the leader's (missing committed entries, within the
//! uncommitted tail, longer), how many do not answer, and whether the
//! leader lacks entries some leader already committed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};

use super::{CheckContext, Checker, CheckerError, Judgement};
use crate::system::NodeStatus;

/// The kind of detail this checker writes: a [`StatesDetail`].
pub const KIND: &str = "cluster-states";

/// The samples' file in a run folder.
pub const STATES_FILE: &str = "states.jsonl";

/// How often a run samples every node's status, milliseconds.
pub const SAMPLE_EVERY_MS: u64 = 250;

/// One sample: every node's status (None: it did not answer) at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the history's start.
    pub at: f64,
    /// Each node's status, by node index.
    pub nodes: Vec<Option<NodeStatus>>,
}

/// Why `states.jsonl` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatesError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a sample.
    #[error("{path}:{line}: not a status sample: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What serde said.
        message: String,
    },
}

/// The samples of the run in `dir`: none when the run took none (its
/// system cannot tell status, or it is older than sampling). A last line
/// cut off mid-write is dropped.
pub fn read(dir: &Path) -> Result<Vec<Sample>, StatesError> {
    let path = dir.join(STATES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StatesError::Read { path, source }),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut samples = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(s) => samples.push(s),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => {
                return Err(StatesError::Line {
                    path,
                    line: i + 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(samples)
}

/// The samples of the run `ctx` judges (none for a history checked
/// alone), for the checkers that read them.
pub fn samples_of(ctx: &CheckContext<'_>) -> Result<Vec<Sample>, CheckerError> {
    match &ctx.run.dir {
        Some(dir) => read(dir).map_err(|e| CheckerError::Evidence(e.to_string())),
        None => Ok(Vec::new()),
    }
}

/// The name of the node at position `i` of a sample: the one its status
/// gives, else `n<i+1>`.
pub fn node_name(i: usize, status: &NodeStatus) -> String {
    if status.id.is_empty() {
        format!("n{}", i + 1)
    } else {
        status.id.clone()
    }
}

/// A node's log relative to the leader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum LogPlace {
    /// It lacks entries the leader knows committed.
    Behind,
    /// It ends inside the leader's uncommitted tail, or where the leader's
    /// log ends.
    Even,
    /// It is longer than the leader's log.
    Ahead,
    /// The system does not tell log indexes.
    Unknown,
}

impl fmt::Display for LogPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogPlace::Behind => "behind",
            LogPlace::Even => "even",
            LogPlace::Ahead => "ahead",
            LogPlace::Unknown => "",
        })
    }
}

/// Maps samples to abstract cluster states, remembering across samples the
/// highest commit index any leader reported (so a leader lacking committed
/// entries shows).
#[derive(Debug, Clone, Default)]
pub struct Abstractor {
    committed: u64,
}

impl Abstractor {
    /// The label of `nodes`' statuses, e.g. `1 leader; follower= even ×3;
    /// silent ×1`. Tokens are sorted, so the label does not depend on which
    /// node is which.
    pub fn label(&mut self, nodes: &[Option<NodeStatus>]) -> String {
        let answering: Vec<&NodeStatus> = nodes.iter().flatten().collect();
        let silent = nodes.len() - answering.len();
        if answering.is_empty() {
            return format!("no answer ×{silent}");
        }
        let leaders: Vec<&NodeStatus> = answering
            .iter()
            .copied()
            .filter(|s| s.role == "leader")
            .collect();
        let reference = leaders.iter().copied().max_by_key(|s| s.term);
        let top_term = answering.iter().map(|s| s.term).max().unwrap_or(0);
        let mut head = match leaders.len() {
            0 => "no leader".to_string(),
            1 => "1 leader".to_string(),
            n => format!("{n} leaders"),
        };
        if let Some(l) = reference {
            if l.last_log_index.is_some_and(|last| last < self.committed) {
                head.push_str(" lacking committed entries");
            }
            if let Some(c) = l.commit_index {
                self.committed = self.committed.max(c);
            }
        }
        let mut tokens: BTreeMap<String, usize> = BTreeMap::new();
        for s in &answering {
            if reference.is_some_and(|l| std::ptr::eq(l, *s)) {
                continue;
            }
            let base = reference.map_or(top_term, |l| l.term);
            let term = match s.term.cmp(&base) {
                std::cmp::Ordering::Less => "<",
                std::cmp::Ordering::Equal => "=",
                std::cmp::Ordering::Greater => ">",
            };
            let place = match reference {
                Some(l) => place(s, l),
                None => LogPlace::Unknown,
            };
            let role = match s.role.as_str() {
                "pre-candidate" => "candidate",
                r => r,
            };
            let token = match place {
                LogPlace::Unknown => format!("{role}{term}"),
                p => format!("{role}{term} {p}"),
            };
            *tokens.entry(token).or_default() += 1;
        }
        let mut parts = vec![head];
        parts.extend(tokens.into_iter().map(|(t, n)| format!("{t} ×{n}")));
        if silent > 0 {
            parts.push(format!("silent ×{silent}"));
        }
        parts.join("; ")
    }
}

/// Where `s`'s log ends relative to leader `l`'s.
fn place(s: &NodeStatus, l: &NodeStatus) -> LogPlace {
    let (Some(last), Some(leader_last)) = (s.last_log_index, l.last_log_index) else {
        return LogPlace::Unknown;
    };
    let committed = l.commit_index.unwrap_or(leader_last);
    if last > leader_last {
        LogPlace::Ahead
    } else if last < committed {
        LogPlace::Behind
    } else {
        LogPlace::Even
    }
}

/// Labels every sample, in order.
fn labels(samples: &[Sample]) -> Vec<String> {
    let mut a = Abstractor::default();
    samples.iter().map(|s| a.label(&s.nodes)).collect()
}

/// One abstract state a run was in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StateSeen {
    /// Its label.
    pub label: String,
    /// When it was first sampled, seconds.
    pub first_s: f64,
    /// In how many samples.
    pub samples: usize,
}

/// The states a run went through: the distinct ones in order of first
/// sighting, and the timeline as changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StatesDetail {
    /// Samples taken.
    pub samples: usize,
    /// Milliseconds between samples.
    pub every_ms: u64,
    /// The distinct states, in order of first sighting.
    pub states: Vec<StateSeen>,
    /// `(seconds, index into states)` at each change of state.
    pub changes: Vec<(f64, usize)>,
    /// When the last sample was taken, seconds.
    pub last_s: f64,
}

impl StatesDetail {
    /// The detail of `samples`.
    pub fn of(samples: &[Sample]) -> StatesDetail {
        let mut d = StatesDetail {
            samples: samples.len(),
            every_ms: SAMPLE_EVERY_MS,
            last_s: samples.last().map_or(0.0, |s| s.at),
            ..StatesDetail::default()
        };
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for (s, label) in samples.iter().zip(labels(samples)) {
            let i = *index.entry(label.clone()).or_insert_with(|| {
                d.states.push(StateSeen {
                    label,
                    first_s: s.at,
                    samples: 0,
                });
                d.states.len() - 1
            });
            d.states[i].samples += 1;
            if d.changes.last().is_none_or(|&(_, last)| last != i) {
                d.changes.push((s.at, i));
            }
        }
        d
    }

    /// One line, then the states.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "valid: {} distinct cluster states in {} status samples, {} changes",
            self.states.len(),
            self.samples,
            self.changes.len()
        );
        for s in &self.states {
            text.push_str(&format!(
                "\n{} (first at {:.2} s, {} samples)",
                s.label, s.first_s, s.samples
            ));
        }
        text
    }
}

/// The cluster-states checker.
#[derive(Debug, Clone, Copy)]
pub struct StatesChecker;

/// The registered checker.
pub const CLUSTER_STATES: StatesChecker = StatesChecker;

impl Checker for StatesChecker {
    fn name(&self) -> &'static str {
        "cluster-states"
    }

    fn title(&self) -> String {
        "cluster states".into()
    }

    fn description(&self) -> &'static str {
        "the abstract cluster states the status probe saw, in order (always valid)"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let detail = StatesDetail::of(&samples_of(ctx)?);
        Ok(Judgement::new(Verdict::Valid, detail.summary(), &detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(role: &str, term: u64, last: u64, commit: u64) -> Option<NodeStatus> {
        Some(NodeStatus {
            role: role.into(),
            term,
            last_log_index: Some(last),
            commit_index: Some(commit),
            ..NodeStatus::default()
        })
    }

    #[test]
    fn labels_forget_names_and_numbers_but_keep_log_places() {
        let mut a = Abstractor::default();
        let one = a.label(&[
            node("leader", 3, 100, 90),
            node("follower", 3, 95, 90),
            node("follower", 3, 50, 40),
            None,
        ]);
        assert_eq!(
            one,
            "1 leader; follower= behind ×1; follower= even ×1; silent ×1"
        );
        let same = a.label(&[
            None,
            node("follower", 4, 10, 5),
            node("follower", 4, 203, 200),
            node("leader", 4, 205, 201),
        ]);
        assert_eq!(same, one, "which node is which does not matter");
    }

    #[test]
    fn a_leader_without_committed_entries_and_longer_followers_show() {
        let mut a = Abstractor::default();
        a.label(&[node("leader", 2, 50, 50), node("follower", 2, 50, 50)]);
        let after = a.label(&[node("follower", 2, 50, 50), node("leader", 3, 30, 30)]);
        assert_eq!(
            after,
            "1 leader lacking committed entries; follower< ahead ×1"
        );
        let two = a.label(&[node("leader", 2, 50, 50), node("leader", 3, 60, 60)]);
        assert_eq!(two, "2 leaders; leader< behind ×1");
        assert_eq!(a.label(&[None, None]), "no answer ×2");
    }

    #[test]
    fn the_detail_lists_states_once_and_changes_in_order() {
        let s = |at: f64, role: &str| Sample {
            at,
            nodes: vec![node(role, 1, 5, 5), node("follower", 1, 5, 5)],
        };
        let d = StatesDetail::of(&[
            s(0.0, "leader"),
            s(0.25, "leader"),
            s(0.5, "candidate"),
            s(0.75, "leader"),
        ]);
        assert_eq!(d.states.len(), 2);
        assert_eq!(d.states[0].samples, 3);
        assert_eq!(d.changes, vec![(0.0, 0), (0.5, 1), (0.75, 0)]);
        assert!(d.summary().starts_with("valid: 2 distinct"));
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_bad_middle_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = serde_json::to_string(&Sample {
            at: 0.5,
            nodes: vec![None],
        })
        .unwrap();
        std::fs::write(dir.path().join(STATES_FILE), format!("{good}\n{{\"at\":")).unwrap();
        assert_eq!(read(dir.path()).unwrap().len(), 1);
        std::fs::write(
            dir.path().join(STATES_FILE),
            format!("{good}\nnope\n{good}\n"),
        )
        .unwrap();
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("states.jsonl:2:"), "{e}");
        assert!(read(&dir.path().join("absent")).unwrap().is_empty());
    }
}
