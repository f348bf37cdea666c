//! The checkers: each judges a history (and, for a run, what the run left
//! beside it) and says so in a [`CheckerResult`] of `results.json`: a
//! header every checker writes and a detail of its own kind, which the
//! report's sections of that kind draw.
//!
//! A workload names the checkers that judge it (`Workload::checkers`,
//! Jepsen's `checker/compose`); every run adds [`EVERY_RUN`], and
//! `replica-agreement` when its system can show each replica's state
//! (`crate::registry::system_checkers`); `faultline
//! check` runs the ones that judge a history alone; `--check online` the
//! ones that can judge a history still being recorded. The harness's
//! registry (`crate::registry`) finds them by name across layers.
//!
//! Adding a checker is one file here holding a `const` [`Checker`] and one
//! line in the [`CHECKERS`] list below.

pub mod legacy;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use faultline_checker::history::{pair, Event, Operation};
use faultline_checker::model::ModelError;
use faultline_checker::{CheckError, CheckOptions, Verdict};
use serde::Serialize;
use serde_json::Value;

use crate::record::{Anomaly, CheckerResult};

registry! {
    /// Every checker this layer defines, in the order `faultline list` shows them.
    pub const CHECKERS: &[&dyn Checker] = {
        linearizable => REGISTER, KV, LIST_APPEND;
        set_full => SET_FULL;
        stats => STATS;
        log_scan => NODE_LOGS;
        errors => ERRORS;
        txn => TXN_LIST_APPEND, TXN_RW_REGISTER;
        watch => WATCH;
        replicas => REPLICA_AGREEMENT;
        states => CLUSTER_STATES;
        elections => ELECTION_SAFETY;
        state_machine => STATE_MACHINE_SAFETY;
    }
}

/// The checkers every run gets, after its workload's.
pub const EVERY_RUN: [&str; 2] = ["stats", "node-logs"];

/// A checker: what it is called, what kind of detail it writes, what it
/// can judge, and the judging.
pub trait Checker: Sync {
    /// The name workloads, `faultline check --model` and `faultline list` use.
    fn name(&self) -> &'static str;
    /// The name of its result: the summary's line, the report's row,
    /// junit's test case. By default `<name> checker`.
    fn title(&self) -> String {
        format!("{} checker", self.name())
    }
    /// One line for `faultline list`.
    fn description(&self) -> &'static str;
    /// The kind of the detail it writes (the report sections that draw it).
    fn kind(&self) -> &'static str;
    /// Whether it judges a history alone (no node logs, final reads or run
    /// folder), so that `faultline check` can run it.
    fn history_only(&self) -> bool {
        false
    }
    /// Whether it can judge a history still being recorded (operations in
    /// flight counted as `info`), so that `--check online` can run it.
    fn online(&self) -> bool {
        false
    }
    /// Judges the history of `ctx`; an error when the history does not fit
    /// the checker (the result is then `unknown`, saying why).
    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError>;
}

/// What a run leaves beside its history, for the checkers that judge more
/// than the history (empty for a history checked alone).
#[derive(Debug, Clone, Default)]
pub struct RunEvidence {
    /// The run folder (the files a platform wrote there, e.g. a message journal).
    pub dir: Option<PathBuf>,
    /// Every node's log, by node name.
    pub logs: Vec<(String, String)>,
    /// `node: how` for every node that failed on its own during the run.
    pub crashes: Vec<String>,
    /// The processes of the final reads, and the node each read through.
    pub final_reads: BTreeMap<u64, String>,
}

/// What a checker looks at.
#[derive(Clone, Copy)]
pub struct CheckContext<'a> {
    /// The history's events (empty when only its operations are at hand:
    /// `faultline check` streams a file, the online check a selection).
    pub events: &'a [Event],
    /// Its operations, paired; or why its events do not pair up.
    pub operations: Result<&'a [&'a Operation], &'a str>,
    /// Bounds of the searches (time, memory).
    pub options: &'a CheckOptions,
    /// What the run left beside the history.
    pub run: &'a RunEvidence,
}

impl<'a> CheckContext<'a> {
    /// The operations, or the pairing error as a checker error.
    pub fn operations(&self) -> Result<&'a [&'a Operation], CheckerError> {
        self.operations
            .map_err(|e| CheckerError::History(e.to_string()))
    }
}

/// Why a checker could not judge a history.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckerError {
    /// Invocations and completions do not pair up.
    #[error("{0}")]
    History(String),
    /// An operation does not fit the checker.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// What the run left beside the history is missing or unreadable.
    #[error("{0}")]
    Evidence(String),
}

impl From<CheckError> for CheckerError {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::History(h) => CheckerError::History(h.to_string()),
            CheckError::Model(m) => CheckerError::Model(m),
        }
    }
}

/// What a checker concluded: the result without its header's name, kind
/// and timing, which [`run`] adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Valid, invalid or unknown.
    pub verdict: Verdict,
    /// The findings as text: a first line, then details.
    pub text: String,
    /// The findings, typed by the checker's kind.
    pub detail: Value,
    /// The first anomaly, when it can tell where.
    pub anomaly: Option<Anomaly>,
}

impl Judgement {
    /// A judgement with `detail` (serialized) and no located anomaly.
    pub fn new(verdict: Verdict, text: String, detail: &impl Serialize) -> Judgement {
        Judgement {
            verdict,
            text,
            detail: serde_json::to_value(detail).unwrap_or(Value::Null),
            anomaly: None,
        }
    }

    /// The same judgement, its first anomaly located.
    pub fn with_anomaly(mut self, anomaly: Option<Anomaly>) -> Judgement {
        self.anomaly = anomaly;
        self
    }
}

/// Runs `checker` on `ctx`: its result, or `unknown` saying why it could
/// not judge.
pub fn run(checker: &dyn Checker, ctx: &CheckContext<'_>) -> CheckerResult {
    let started = Instant::now();
    let judged = checker.check(ctx);
    result(checker, judged, started.elapsed().as_secs_f64() * 1e3)
}

/// `checker`'s result: what it `judged` (or `unknown` saying why it could
/// not), under its header, having taken `elapsed_ms`.
pub fn result(
    checker: &dyn Checker,
    judged: Result<Judgement, CheckerError>,
    elapsed_ms: f64,
) -> CheckerResult {
    let (verdict, text, detail, anomaly) = match judged {
        Ok(j) => (j.verdict, j.text, j.detail, j.anomaly),
        Err(e) => (Verdict::Unknown, format!("unknown: {e}"), Value::Null, None),
    };
    CheckerResult {
        name: checker.title(),
        kind: checker.kind().to_string(),
        verdict,
        elapsed_ms,
        anomaly,
        text,
        detail,
    }
}

/// Pairs `events` and runs every one of `checkers` on them.
pub fn check_all(
    checkers: &[&dyn Checker],
    events: &[Event],
    options: &CheckOptions,
    run_evidence: &RunEvidence,
) -> Vec<CheckerResult> {
    let paired = pair(events, None).map_err(|e| e.to_string());
    let refs: Vec<&Operation> = paired
        .as_ref()
        .map(|o| o.iter().collect())
        .unwrap_or_default();
    let ctx = CheckContext {
        events,
        operations: match &paired {
            Ok(_) => Ok(&refs),
            Err(e) => Err(e.as_str()),
        },
        options,
        run: run_evidence,
    };
    checkers.iter().map(|c| run(*c, &ctx)).collect()
}

/// The run option `option` (a key of the options `test.json` records) of
/// the run whose folder the check looks at; None when it was not given, the
/// check has no run folder (a history checked alone) or the folder has no
/// `test.json`. A `test.json` that cannot be read is an error: a checker
/// must not judge by options the run was not given.
pub fn recorded(ctx: &CheckContext<'_>, option: &str) -> Result<Option<Value>, CheckerError> {
    let Some(dir) = &ctx.run.dir else {
        return Ok(None);
    };
    let test = crate::stored::read_test(dir)
        .map_err(|e| CheckerError::History(format!("the run's {option}: {e:#}")))?;
    Ok(test
        .and_then(|t| t.options.other.get(option).cloned())
        .filter(|v| !v.is_null()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::history::{EventType, Process};
    use serde_json::json;

    fn ev(index: u64, p: u64, kind: EventType, f: &str, value: Value) -> Event {
        Event {
            index,
            time: index * 1000,
            process: Process::Client(p),
            kind,
            f: f.into(),
            key: None,
            value,
            error: None,
        }
    }

    #[test]
    fn every_checker_has_its_own_name_and_every_run_checker_exists() {
        let mut names: Vec<&str> = CHECKERS.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CHECKERS.len());
        for name in EVERY_RUN {
            assert!(names.contains(&name), "{name}");
        }
    }

    #[test]
    fn a_history_that_does_not_pair_makes_the_checkers_that_need_operations_unknown() {
        use EventType::*;
        let events = vec![ev(0, 0, Ok, "read", json!(1))];
        let results = check_all(
            &[&linearizable::REGISTER, &stats::STATS],
            &events,
            &CheckOptions::default(),
            &RunEvidence::default(),
        );
        assert_eq!(results[0].name, "register checker");
        assert_eq!(results[0].verdict, Verdict::Unknown);
        assert!(
            results[0].text.starts_with("unknown: line 1"),
            "{}",
            results[0].text
        );
        assert_eq!(results[1].name, "stats");
        assert_eq!(results[1].kind, "stats");
    }

    #[test]
    fn a_stale_read_is_invalid_with_its_anomaly_located() {
        use EventType::*;
        let events = vec![
            ev(0, 0, Invoke, "write", json!(1)),
            ev(1, 0, Ok, "write", json!(1)),
            ev(2, 1, Invoke, "read", Value::Null),
            ev(3, 1, Ok, "read", json!(2)),
        ];
        let results = check_all(
            &[&linearizable::REGISTER],
            &events,
            &CheckOptions::default(),
            &RunEvidence::default(),
        );
        let r = &results[0];
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(r.kind, linearizable::KIND);
        let anomaly = r.anomaly.as_ref().unwrap();
        assert_eq!(anomaly.time, Some(3000));
        assert!(anomaly.operation.as_deref().unwrap().contains("read"));
        assert!(r.text.contains("cannot place"));
        let detail: faultline_checker::CheckResult = r.detail().unwrap();
        assert!(detail.counterexample.is_some());
    }
}
