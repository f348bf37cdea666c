//! `watch`: judges the `watch` workload's history alone. Each watcher (a
//! client process) continues every watch from the revision after the last
//! it saw, so its events, concatenated over its `ok` watches, must be the
//! change history of the prefix it watches. Anomalies, by kind:
//!
//! - `went-back`: a watcher saw a revision not above one it saw before, or
//!   below the revision its watch asked to start from (etcd-io/etcd#15271:
//!   a member that rejoins after a snapshot sends old revisions again);
//! - `gap`: inside a range a watcher watched (from a watch's start to its
//!   last event), a revision of its prefix that another watcher saw is
//!   missing from it;
//! - `disagree`: two watchers (or two acknowledged writes) give one
//!   revision different events;
//! - `missing-write`: an acknowledged write the system gave a revision
//!   (`{"value": v, "revision": r}`) is missing at that revision from a
//!   watcher that watched past it, or the watcher shows another event there;
//! - `unwritten`: an event whose key and value no write (`ok` or `info`)
//!   wrote; checked only when the history holds writes.
//!
//! A watch completed with `"compacted": C` judges nothing below C (its
//! range starts there). A revision carries one event (the workload's writes
//! are single puts), so two events at one revision in one watcher are a
//! revision that did not advance. The verdict is invalid with the anomaly
//! shown first in the history (the completion that revealed it), unknown
//! when the history holds no watch event at all. The detail is a
//! [`WatchReport`].

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use faultline_checker::history::{Operation, Outcome};
use faultline_checker::Verdict;
use faultline_workloads::watch::{written, WatchEvent, Watched};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CheckContext, Checker, CheckerError, Judgement};
use crate::record::Anomaly;

/// The kind of detail this checker writes: a [`WatchReport`].
pub const KIND: &str = "watch";

/// The most anomalies a report lists (every one is counted).
pub const LISTED: usize = 100;

/// The watch checker.
#[derive(Debug, Clone, Copy)]
pub struct WatchChecker;

/// The registered checker.
pub const WATCH: WatchChecker = WatchChecker;

impl Checker for WatchChecker {
    fn name(&self) -> &'static str {
        "watch"
    }

    fn description(&self) -> &'static str {
        "watchers following a prefix from where they left off: revisions going back, gaps, watchers disagreeing, acknowledged writes missing, values never written"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn history_only(&self) -> bool {
        true
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        Ok(analyse(ctx.operations()?)?.judgement())
    }
}

/// What kind of anomaly a watch history shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    /// A revision not above the watcher's previous one, or below its start.
    WentBack,
    /// A revision another watcher saw, skipped inside a watched range.
    Gap,
    /// One revision, two different events.
    Disagree,
    /// An acknowledged write absent (or another event) at its revision.
    MissingWrite,
    /// An event whose value no write wrote.
    Unwritten,
}

impl AnomalyKind {
    /// Its name in the detail and the text (`went-back`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::WentBack => "went-back",
            AnomalyKind::Gap => "gap",
            AnomalyKind::Disagree => "disagree",
            AnomalyKind::MissingWrite => "missing-write",
            AnomalyKind::Unwritten => "unwritten",
        }
    }
}

/// One anomaly: where it shows, and both sides of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchAnomaly {
    /// Its kind.
    pub kind: AnomalyKind,
    /// The watcher (client process) that shows it; None for two writes.
    pub process: Option<u64>,
    /// The revision at stake.
    pub revision: u64,
    /// `went-back`: the revision the watcher had reached (or asked to start
    /// from); `gap`, `missing-write`: the start of the range it watched.
    pub previous: Option<u64>,
    /// The event the watcher saw there, `[revision, key, value]` (None:
    /// nothing).
    pub seen: Option<Value>,
    /// What the other side shows there: another watcher's event, or the
    /// acknowledged write `[revision, key, value]`.
    pub expected: Option<Value>,
    /// History index of the completion that revealed it (the later side).
    pub index: u64,
    /// History index of the other side's completion, when there is one.
    pub other_index: Option<u64>,
    /// Nanoseconds from the start of the test to `index`.
    pub time: u64,
    /// One line saying what happened.
    pub text: String,
}

/// The watch checker's detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchReport {
    /// Invalid with any anomaly; unknown with no watch event.
    pub verdict: Verdict,
    /// Client operations in the history.
    pub operations: usize,
    /// Processes that watched.
    pub watchers: usize,
    /// Watch operations, and of those the `ok` ones.
    pub watches: usize,
    /// `ok` watch operations.
    pub watches_ok: usize,
    /// Events the `ok` watches carried, over all watchers.
    pub events: usize,
    /// The highest revision any watcher saw.
    pub last_revision: Option<u64>,
    /// `ok` writes, and of those the ones with a revision.
    pub writes_ok: usize,
    /// `ok` writes whose completion names their revision.
    pub writes_with_revision: usize,
    /// Watches whose start the system had compacted (nothing below their
    /// compaction revision was judged).
    pub compacted: usize,
    /// Anomalies by kind (all of them).
    pub counts: BTreeMap<String, usize>,
    /// The first anomalies in history order, at most [`LISTED`].
    pub anomalies: Vec<WatchAnomaly>,
    /// Time (ns since the test started) of the first anomaly.
    pub detected_at_time: Option<u64>,
    /// History index of the completion that revealed it.
    pub detected_at_index: Option<u64>,
    /// Time the analysis took, milliseconds.
    pub elapsed_ms: f64,
}

/// Where an observation sits in the history: its completion.
#[derive(Debug, Clone, Copy)]
struct At {
    process: u64,
    index: u64,
    time: u64,
}

impl At {
    fn of(op: &Operation) -> At {
        At {
            process: op.process,
            index: op.complete_index.unwrap_or(op.invoke_index),
            time: op.complete_time.unwrap_or(op.invoke_time),
        }
    }
}

/// One `ok` watch: its prefix, start and what it saw.
struct WatchOp<'a> {
    op: &'a Operation,
    prefix: String,
    from: u64,
    watched: Watched,
}

/// An acknowledged write with the revision the system gave it.
struct AckedWrite {
    event: WatchEvent,
    at: At,
}

/// An anomaly of `kind` at `revision` shown by `process`, revealed by the
/// later of `at` and `other`; the caller fills in the rest.
fn anomaly(
    kind: AnomalyKind,
    process: Option<u64>,
    revision: u64,
    at: At,
    other: Option<At>,
) -> WatchAnomaly {
    let (index, time) = match other {
        Some(o) if o.index > at.index => (o.index, o.time),
        _ => (at.index, at.time),
    };
    WatchAnomaly {
        kind,
        process,
        revision,
        previous: None,
        seen: None,
        expected: None,
        index,
        other_index: other.map(|o| o.index),
        time,
        text: String::new(),
    }
}

/// `key = value`, for the texts.
fn shown(e: &WatchEvent) -> String {
    format!("{} = {}", e.key, e.value)
}

/// Judges the watches and writes of `ops`.
pub fn analyse(ops: &[&Operation]) -> Result<WatchReport, CheckerError> {
    let started = Instant::now();
    let mut found: Vec<WatchAnomaly> = Vec::new();
    let mut any_write = false;
    let mut writable: HashSet<(String, String)> = HashSet::new();
    let mut writes_ok = 0;
    let mut acked: BTreeMap<u64, AckedWrite> = BTreeMap::new();
    let mut watchers: BTreeMap<u64, Vec<WatchOp<'_>>> = BTreeMap::new();
    let mut watches = 0;
    for op in ops {
        match op.f.as_str() {
            "write" => {
                any_write = true;
                let key = op.key.clone().unwrap_or_default();
                if op.outcome != Outcome::Fail {
                    writable.insert((key.clone(), op.input.to_string()));
                }
                if op.outcome != Outcome::Ok {
                    continue;
                }
                writes_ok += 1;
                let (value, revision) = written(&op.output);
                let Some(revision) = revision else { continue };
                let event = WatchEvent {
                    revision,
                    key,
                    value,
                };
                let at = At::of(op);
                match acked.get(&revision) {
                    Some(first) if first.event != event => found.push(WatchAnomaly {
                        seen: Some(event.to_json()),
                        expected: Some(first.event.to_json()),
                        text: format!(
                            "two acknowledged writes got revision {revision}: {} (index {}) and {} (index {})",
                            shown(&first.event),
                            first.at.index,
                            shown(&event),
                            at.index
                        ),
                        ..anomaly(AnomalyKind::Disagree, None, revision, at, Some(first.at))
                    }),
                    Some(_) => {}
                    None => {
                        acked.insert(revision, AckedWrite { event, at });
                    }
                }
            }
            "watch" => {
                watches += 1;
                if op.outcome != Outcome::Ok {
                    continue;
                }
                let bad =
                    |why: String| CheckerError::History(format!("watch {}: {why}", op.describe()));
                let from = op
                    .input
                    .as_u64()
                    .ok_or_else(|| bad("its start is not a revision".into()))?;
                let watched = Watched::from_json(&op.output).map_err(|e| bad(e.to_string()))?;
                watchers.entry(op.process).or_default().push(WatchOp {
                    op,
                    prefix: op.key.clone().unwrap_or_default(),
                    from,
                    watched,
                });
            }
            _ => {}
        }
    }
    let writes_with_revision = acked.len();
    let watches_ok: usize = watchers.values().map(Vec::len).sum();
    let events: usize = watchers
        .values()
        .flatten()
        .map(|w| w.watched.events.len())
        .sum();
    let compacted = watchers
        .values()
        .flatten()
        .filter(|w| w.watched.compacted.is_some())
        .count();
    let judged = Judged {
        acked: &acked,
        writable: any_write.then_some(&writable),
    };
    let mut first_seen: BTreeMap<u64, (WatchEvent, At)> = BTreeMap::new();
    let mut views = Vec::new();
    for (process, ops) in &watchers {
        views.push(judged.watcher(*process, ops, &mut first_seen, &mut found));
    }
    for view in &views {
        judged.gaps(view, &views, &mut found);
    }
    let last_revision = first_seen.keys().next_back().copied();
    let mut all = found;
    all.sort_by_key(|a| (a.index, a.kind, a.revision));
    let mut counts = BTreeMap::new();
    for a in &all {
        *counts.entry(a.kind.name().to_string()).or_insert(0) += 1;
    }
    let verdict = if !all.is_empty() {
        Verdict::Invalid
    } else if events == 0 {
        Verdict::Unknown
    } else {
        Verdict::Valid
    };
    let first = all.first();
    Ok(WatchReport {
        verdict,
        operations: ops.len(),
        watchers: watchers.len(),
        watches,
        watches_ok,
        events,
        last_revision,
        writes_ok,
        writes_with_revision,
        compacted,
        counts,
        detected_at_time: first.map(|a| a.time),
        detected_at_index: first.map(|a| a.index),
        anomalies: all.into_iter().take(LISTED).collect(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// What every watcher is judged against.
struct Judged<'a> {
    /// The acknowledged writes with a revision, by revision.
    acked: &'a BTreeMap<u64, AckedWrite>,
    /// The (key, value JSON) pairs some `ok` or `info` write wrote; None
    /// when the history holds no write (nothing to judge events by).
    writable: Option<&'a HashSet<(String, String)>>,
}

/// One watcher's view: every revision it saw and the ranges it watched.
struct View {
    process: u64,
    prefix: String,
    seen: BTreeMap<u64, WatchEvent>,
    /// `(from, to, at)`: a watch from `from` whose last event was `to`.
    ranges: Vec<(u64, u64, At)>,
}

impl Judged<'_> {
    /// Walks one watcher's events in order: revisions going back, events
    /// that differ from another watcher's or an acknowledged write's at the
    /// same revision, values never written.
    fn watcher(
        &self,
        process: u64,
        ops: &[WatchOp<'_>],
        first_seen: &mut BTreeMap<u64, (WatchEvent, At)>,
        found: &mut Vec<WatchAnomaly>,
    ) -> View {
        let mut view = View {
            process,
            prefix: ops.first().map(|w| w.prefix.clone()).unwrap_or_default(),
            seen: BTreeMap::new(),
            ranges: Vec::new(),
        };
        let mut reached: Option<(u64, At)> = None;
        for w in ops {
            let at = At::of(w.op);
            let start = w.watched.compacted.map_or(w.from, |c| c.max(w.from));
            for e in &w.watched.events {
                let r = e.revision;
                if let Some((top, top_at)) = reached.filter(|(top, _)| r <= *top) {
                    found.push(WatchAnomaly {
                        previous: Some(top),
                        seen: Some(e.to_json()),
                        text: format!(
                            "p{process} saw revision {r} ({}, index {}) after revision {top} (index {}): revisions went back",
                            shown(e),
                            at.index,
                            top_at.index
                        ),
                        ..anomaly(AnomalyKind::WentBack, Some(process), r, at, Some(top_at))
                    });
                } else if r < w.from {
                    found.push(WatchAnomaly {
                        previous: Some(w.from),
                        seen: Some(e.to_json()),
                        text: format!(
                            "p{process} watched from revision {} and got revision {r} ({}, index {}): before its start",
                            w.from,
                            shown(e),
                            at.index
                        ),
                        ..anomaly(AnomalyKind::WentBack, Some(process), r, at, None)
                    });
                }
                if reached.is_none_or(|(top, _)| r > top) {
                    reached = Some((r, at));
                }
                self.compare(process, e, at, first_seen, found);
                view.seen.entry(r).or_insert_with(|| e.clone());
            }
            if let Some(last) = w.watched.events.last().map(|e| e.revision) {
                if last >= start {
                    view.ranges.push((start, last, at));
                }
            }
        }
        view
    }

    /// One event against what others show at its revision, and against the
    /// writes.
    fn compare(
        &self,
        process: u64,
        e: &WatchEvent,
        at: At,
        first_seen: &mut BTreeMap<u64, (WatchEvent, At)>,
        found: &mut Vec<WatchAnomaly>,
    ) {
        let r = e.revision;
        match first_seen.get(&r) {
            Some((other, other_at)) if other != e && other_at.process != process => {
                found.push(WatchAnomaly {
                    seen: Some(e.to_json()),
                    expected: Some(other.to_json()),
                    text: format!(
                        "revision {r} is {} for p{} (index {}) but {} for p{process} (index {})",
                        shown(other),
                        other_at.process,
                        other_at.index,
                        shown(e),
                        at.index
                    ),
                    ..anomaly(AnomalyKind::Disagree, Some(process), r, at, Some(*other_at))
                })
            }
            Some(_) => {}
            None => {
                first_seen.insert(r, (e.clone(), at));
            }
        }
        if let Some(w) = self.acked.get(&r).filter(|w| w.event != *e) {
            found.push(WatchAnomaly {
                seen: Some(e.to_json()),
                expected: Some(w.event.to_json()),
                text: format!(
                    "the write of {} got revision {r} (index {}), but p{process} saw {} there (index {})",
                    shown(&w.event),
                    w.at.index,
                    shown(e),
                    at.index
                ),
                ..anomaly(AnomalyKind::MissingWrite, Some(process), r, at, Some(w.at))
            });
        }
        let written =
            |set: &HashSet<(String, String)>| set.contains(&(e.key.clone(), e.value.to_string()));
        if self.writable.is_some_and(|set| !written(set)) {
            found.push(WatchAnomaly {
                seen: Some(e.to_json()),
                text: format!(
                    "p{process} saw {} at revision {r} (index {}): no write that may have taken effect wrote it",
                    shown(e),
                    at.index
                ),
                ..anomaly(AnomalyKind::Unwritten, Some(process), r, at, None)
            });
        }
    }

    /// The revisions of `view`'s prefix inside the ranges it watched that
    /// an acknowledged write or another watcher shows and it lacks.
    fn gaps(&self, view: &View, views: &[View], found: &mut Vec<WatchAnomaly>) {
        let p = view.process;
        for &(from, to, at) in &view.ranges {
            let mut missing: BTreeMap<u64, (WatchEvent, At, AnomalyKind)> = BTreeMap::new();
            for (r, w) in self.acked.range(from..=to) {
                if w.event.key.starts_with(&view.prefix) && !view.seen.contains_key(r) {
                    missing.insert(*r, (w.event.clone(), w.at, AnomalyKind::MissingWrite));
                }
            }
            for other in views.iter().filter(|o| o.process != p) {
                for (r, e) in other.seen.range(from..=to) {
                    if e.key.starts_with(&view.prefix) && !view.seen.contains_key(r) {
                        let other_at = other
                            .ranges
                            .iter()
                            .find(|(f, t, _)| (*f..=*t).contains(r))
                            .map_or(at, |(_, _, a)| *a);
                        missing
                            .entry(*r)
                            .or_insert((e.clone(), other_at, AnomalyKind::Gap));
                    }
                }
            }
            for (r, (e, other_at, kind)) in missing {
                let text = match kind {
                    AnomalyKind::MissingWrite => format!(
                        "the write of {} got revision {r} (index {}), but p{p}, watching revisions {from}..{to} (index {}), never saw it",
                        shown(&e),
                        other_at.index,
                        at.index
                    ),
                    _ => format!(
                        "p{p} skipped revision {r} ({}), which p{} saw (index {}), while watching revisions {from}..{to} (index {})",
                        shown(&e),
                        other_at.process,
                        other_at.index,
                        at.index
                    ),
                };
                found.push(WatchAnomaly {
                    previous: Some(from),
                    expected: Some(e.to_json()),
                    text,
                    ..anomaly(kind, Some(p), r, at, Some(other_at))
                });
            }
        }
    }
}

impl WatchReport {
    /// A few readable lines: the verdict and counts, then the first
    /// anomalies.
    pub fn render_text(&self) -> String {
        let mut out = match self.verdict {
            Verdict::Unknown => format!(
                "unknown: no watch events in the history ({} watch operations, {} ok)",
                self.watches, self.watches_ok
            ),
            verdict => {
                let kinds: Vec<String> = self
                    .counts
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect();
                let anomalies = if kinds.is_empty() {
                    String::new()
                } else {
                    format!(
                        "{} anomalies ({}); ",
                        self.counts.values().sum::<usize>(),
                        kinds.join(", ")
                    )
                };
                format!(
                    "{verdict}: {anomalies}{} watchers saw {} events in {} watches (up to revision {}); {} acknowledged writes, {} with a revision; {} watches compacted; {:.1} ms",
                    self.watchers,
                    self.events,
                    self.watches_ok,
                    self.last_revision.map_or("none".into(), |r| r.to_string()),
                    self.writes_ok,
                    self.writes_with_revision,
                    self.compacted,
                    self.elapsed_ms
                )
            }
        };
        for a in self.anomalies.iter().take(10) {
            out.push_str(&format!("\n  {}: {}", a.kind.name(), a.text));
        }
        out
    }

    /// The judgement this report amounts to.
    pub fn judgement(&self) -> Judgement {
        let anomaly = self.anomalies.first().map(|a| Anomaly {
            time: Some(a.time),
            index: Some(a.index),
            key: None,
            operation: Some(format!("{}: {}", a.kind.name(), a.text)),
        });
        Judgement::new(self.verdict, self.render_text(), self).with_anomaly(anomaly)
    }
}

#[cfg(test)]
mod tests;
