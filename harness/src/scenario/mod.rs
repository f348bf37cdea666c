//! Named fault scenarios: a workload, a planned sequence of fault steps aimed
//! at one Raft rule, and the defaults it runs with.
//!
//! Steps name their targets by role at the moment they fire (the leader, a
//! follower, the minority holding the leader, ...), and can wait, bounded,
//! for a condition (a new leader, N acknowledged writes, a compacted log).
//! Built-ins live in `builtin.toml`; user scenarios use the same schema in a
//! TOML file (`--scenarios FILE`, or `faultline.toml` in the current folder).

pub mod play;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::nemesis::FAULT_STEPS;
pub use crate::nemesis::{FailpointName, Fault, Target};

/// The built-in scenarios, in the same TOML schema users write.
pub const BUILTIN: &str = include_str!("builtin.toml");

/// A scenario file: a list of `[[scenario]]` tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The file's scenarios, in the order written.
    #[serde(rename = "scenario", default)]
    pub scenarios: Vec<Scenario>,
}

/// One named scenario, as a `[[scenario]]` table of a TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name (`faultline run NAME`).
    pub name: String,
    /// One line: what it attacks.
    pub description: String,
    /// The workload it drives (found when the scenario runs: faultline's
    /// workloads and those of systems such as Maelstrom).
    #[serde(default = "default_workload")]
    pub workload: String,
    /// Cluster size (the run's `--nodes` unless given on the command line).
    #[serde(default = "default_nodes")]
    pub nodes: u16,
    /// Seconds of workload under faults.
    #[serde(default = "default_time_limit")]
    pub time_limit: f64,
    /// Operations per second over all clients.
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// The clients' per-request timeout in milliseconds, when the run's
    /// default (1 s) is too short: a scenario that keeps writes pending
    /// across elections needs their clients to still be waiting when they
    /// commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// Concurrent clients (the run's `--concurrency` unless given on the
    /// command line; default: 2 × nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Extra node arguments (e.g. a small `--snapshot-every`).
    #[serde(default)]
    pub node_args: Vec<String>,
    /// Play the steps again and again until the time limit.
    #[serde(default)]
    pub repeat: bool,
    /// The fault steps, in order.
    pub steps: Vec<Step>,
}

fn default_workload() -> String {
    "register".into()
}
fn default_nodes() -> u16 {
    5
}
fn default_time_limit() -> f64 {
    30.0
}
fn default_rate() -> f64 {
    200.0
}

/// One step of a scenario: a fault (any [`Fault`], written with its `do`
/// name: kill, pause, isolate, partition, star, drop) or one of the
/// scenario's own steps ([`Control`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Step {
    /// Start a fault through the executor.
    Fault(Fault),
    /// Restart, resume, heal, sleep, wait, arm or disarm.
    Control(Control),
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Step, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        let name = v
            .get("do")
            .and_then(|n| n.as_str())
            .ok_or_else(|| D::Error::custom("a step needs `do = \"...\"`"))?;
        if FAULT_STEPS.contains(&name) {
            return Fault::deserialize(v)
                .map(Step::Fault)
                .map_err(D::Error::custom);
        }
        if CONTROL_STEPS.contains(&name) {
            return Control::deserialize(v)
                .map(Step::Control)
                .map_err(D::Error::custom);
        }
        Err(D::Error::custom(format!(
            "unknown step `{name}`; steps: {}, {}",
            FAULT_STEPS.join(", "),
            CONTROL_STEPS.join(", ")
        )))
    }
}

/// The `do` names of the scenario's own steps.
pub const CONTROL_STEPS: [&str; 7] = [
    "restart", "resume", "heal", "sleep", "wait", "arm", "disarm",
];

/// The steps of a scenario that are not faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Control {
    /// Restart killed or crashed nodes (default: every one).
    Restart {
        /// Who (among the nodes down).
        #[serde(default = "target_down")]
        target: Target,
    },
    /// SIGCONT paused nodes (default: every paused node).
    Resume {
        /// Who (among the paused ones).
        #[serde(default = "target_paused")]
        target: Target,
    },
    /// Stop every fault: remove every packet rule, resume and restart every node.
    Heal,
    /// Do nothing for a while; the clients keep going.
    Sleep {
        /// How long, seconds (cut short by the time limit).
        seconds: f64,
    },
    /// Arm a faultline-node failpoint on the target nodes: the next time one
    /// of them passes that moment it crashes on purpose (and stays down until
    /// `restart` or `heal`). The nodes must run with `--failpoints`.
    Arm {
        /// The failpoint to arm.
        failpoint: FailpointName,
        /// The nodes armed (the running ones among them).
        target: Target,
    },
    /// Disarm every failpoint on the target nodes (default: all).
    Disarm {
        /// The nodes disarmed (the running ones among them).
        #[serde(default = "target_all")]
        target: Target,
    },
    /// Wait until `until` holds, at most `timeout` seconds (then go on).
    Wait {
        /// The condition that ends the wait.
        until: Condition,
        /// Longest wait, seconds.
        #[serde(default = "default_wait")]
        timeout: f64,
    },
}

fn target_down() -> Target {
    Target::Down
}
fn target_all() -> Target {
    Target::All
}
fn target_paused() -> Target {
    Target::Paused
}
fn default_wait() -> f64 {
    10.0
}

/// What a `wait` step waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Some node leads and every running node that answers agrees.
    Leader,
    /// A leader other than the one before the fault this wait follows (or
    /// at the start of the wait, when it follows no fault), or a later term.
    NewLeader,
    /// This many more writes acknowledged since the wait started.
    Acked(u64),
    /// The leader compacted its log past the end of the previous target's log
    /// (so that node can only catch up by snapshot).
    CompactedPastPrevious,
    /// A node crashed (at an armed failpoint, or on its own) since the wait
    /// started.
    Crashed,
}

/// Why scenarios could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The TOML does not fit the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file whose TOML is wrong.
        path: PathBuf,
        /// What toml said (with line and column).
        message: String,
    },
    /// A scenario is not usable as written.
    #[error("{path}:{line}: scenario {name:?}: {message}")]
    Invalid {
        /// The file holding the scenario.
        path: PathBuf,
        /// The line of the scenario's name (or of the step at fault).
        line: usize,
        /// The scenario's name, as the file gives it.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// No scenario of that name.
    #[error("no scenario named {name:?}; known: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
}

/// Parses a scenario file's text (`path` names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let file: ScenarioFile = toml::from_str(text).map_err(|e| ScenarioError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    for s in &file.scenarios {
        let start = line_of_name(text, &s.name);
        let invalid = |message: String| ScenarioError::Invalid {
            path: path.to_path_buf(),
            line: start,
            name: s.name.clone(),
            message,
        };
        let step_invalid = |i: usize, message: String| ScenarioError::Invalid {
            path: path.to_path_buf(),
            line: line_of_step(text, start, i),
            name: s.name.clone(),
            message: format!("step {}: {message}", i + 1),
        };
        for (i, step) in s.steps.iter().enumerate() {
            let before = &s.steps[..i];
            match step {
                Step::Control(Control::Wait {
                    until: Condition::CompactedPastPrevious,
                    ..
                }) if !before
                    .iter()
                    .any(|b| matches!(b, Step::Fault(f) if f.names_a_target())) =>
                {
                    return Err(step_invalid(
                        i,
                        "waits for the log to be compacted past the previous target's, \
                         but no earlier isolate, kill or pause step names a target"
                            .into(),
                    ));
                }
                Step::Control(Control::Wait {
                    until: Condition::Crashed,
                    ..
                }) if !before
                    .iter()
                    .any(|b| matches!(b, Step::Control(Control::Arm { .. }))) =>
                {
                    return Err(step_invalid(
                        i,
                        "waits for a crash, but no earlier step arms a failpoint".into(),
                    ));
                }
                _ => {}
            }
        }
        if s.steps.is_empty() {
            return Err(invalid("it has no steps".into()));
        }
        if !(s.time_limit > 0.0 && s.rate > 0.0) || s.nodes == 0 {
            return Err(invalid(
                "nodes, time_limit and rate must be positive".into(),
            ));
        }
        if s.workload.trim().is_empty() {
            return Err(invalid("it names no workload".into()));
        }
        if s.repeat
            && !s.steps.iter().any(|st| {
                matches!(
                    st,
                    Step::Control(Control::Sleep { .. } | Control::Wait { .. })
                )
            })
        {
            return Err(invalid(
                "a repeating scenario needs a sleep or wait step".into(),
            ));
        }
    }
    Ok(file.scenarios)
}

/// The 1-based line where scenario `name` is named in `text` (1 when not found).
fn line_of_name(text: &str, name: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with("name") && l.contains(&format!("\"{name}\""))
        })
        .map_or(1, |i| i + 1)
}

/// The line of the `i`th step (0-based) after line `start`: the `i`th line
/// from there holding a `do =` (the scenario's line when not found).
fn line_of_step(text: &str, start: usize, i: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(start)
        .filter(|(_, l)| l.contains("do ="))
        .nth(i)
        .map_or(start, |(n, _)| n + 1)
}

/// The built-in scenarios (`builtin.toml`), parsed and checked.
pub fn builtins() -> Vec<Scenario> {
    parse(BUILTIN, Path::new("builtin.toml")).expect("the built-in scenarios parse")
}

/// Every scenario known here: built-ins, then those of `file` (or of
/// `faultline.toml` in the current folder when it exists); a user scenario
/// with a built-in's name replaces it.
pub fn known(file: Option<&Path>) -> Result<Vec<Scenario>, ScenarioError> {
    let mut all = builtins();
    let default = Path::new("faultline.toml");
    let path = match file {
        Some(p) => Some(p.to_path_buf()),
        None if default.is_file() => Some(default.to_path_buf()),
        None => None,
    };
    if let Some(path) = path {
        let text = std::fs::read_to_string(&path).map_err(|source| ScenarioError::Read {
            path: path.clone(),
            source,
        })?;
        for s in parse(&text, &path)? {
            all.retain(|b| b.name != s.name);
            all.push(s);
        }
    }
    Ok(all)
}

/// The scenario `faultline run NAME` means: with NAME a `.toml` file, the
/// one scenario it holds; otherwise the scenario of that name among the
/// built-ins and `file`'s.
pub fn resolve(name: &str, file: Option<&Path>) -> Result<Scenario, ScenarioError> {
    let path = Path::new(name);
    if name.ends_with(".toml") && path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut all = parse(&text, path)?;
        return match all.len() {
            1 => Ok(all.remove(0)),
            n => Err(ScenarioError::Invalid {
                path: path.to_path_buf(),
                line: 1,
                name: name.to_string(),
                message: format!(
                    "it holds {n} scenarios; run one by name: faultline run NAME --scenarios {name}"
                ),
            }),
        };
    }
    find(&known(file)?, name)
}

/// The scenario called `name` among `all`.
pub fn find(all: &[Scenario], name: &str) -> Result<Scenario, ScenarioError> {
    all.iter()
        .find(|s| s.name == name)
        .cloned()
        .ok_or_else(|| ScenarioError::Unknown {
            name: name.to_string(),
            known: all
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A scenario as a TOML file of its own, to start a user scenario from.
pub fn to_toml(s: &Scenario) -> String {
    let file = ScenarioFile {
        scenarios: vec![s.clone()],
    };
    toml::to_string(&file).expect("scenarios serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_cover_the_issue_list() {
        let names: Vec<String> = builtins().into_iter().map(|s| s.name).collect();
        for want in [
            "leader-isolation",
            "pause-leader",
            "log-divergence",
            "leader-crash-loop",
            "kill-all",
            "rolling-restart",
            "flaky-network",
            "bridge",
            "majorities-ring",
            "lagging-follower",
            "figure-8",
            "crash-after-vote",
            "stale-candidate",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        for s in builtins() {
            // power-loss-pauses keeps Jepsen's two 30-second phases (75 s).
            assert!(s.time_limit <= 80.0, "{} runs longer than 80 s", s.name);
        }
    }

    #[test]
    fn show_round_trips_through_toml() {
        for s in builtins() {
            let text = to_toml(&s);
            let back = parse(&text, Path::new("shown.toml")).unwrap();
            assert_eq!(back, vec![s]);
        }
    }

    #[test]
    fn a_toml_file_names_its_one_scenario() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = find(&builtins(), "leader-isolation").unwrap();
        s.name = "mine".into();
        s.concurrency = Some(2);
        let one = dir.path().join("one.toml");
        std::fs::write(&one, to_toml(&s)).unwrap();
        assert_eq!(resolve(one.to_str().unwrap(), None).unwrap(), s);
        let two = dir.path().join("two.toml");
        std::fs::write(
            &two,
            format!(
                "{}\n{}",
                to_toml(&s),
                to_toml(&s).replace("\"mine\"", "\"other\"")
            ),
        )
        .unwrap();
        let e = resolve(two.to_str().unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds 2 scenarios"), "{e}");
        assert_eq!(
            resolve("leader-isolation", None).unwrap().name,
            "leader-isolation"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let bad =
            "[[scenario]]\nname = \"x\"\ndescription = \"d\"\nsteps = [{ do = \"explode\" }]\n";
        let e = parse(bad, Path::new("mine.toml")).unwrap_err().to_string();
        assert!(e.starts_with("mine.toml:") && e.contains("explode"), "{e}");
        let empty = "[[scenario]]\nname = \"x\"\ndescription = \"d\"\nsteps = []\n";
        let e = parse(empty, Path::new("mine.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no steps"), "{e}");
        let never = "[[scenario]]\nname = \"x\"\ndescription = \"d\"\nsteps = [\n  { do = \"sleep\", seconds = 1 },\n  { do = \"wait\", until = \"crashed\" },\n]\n";
        let e = parse(never, Path::new("mine.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("mine.toml:6:") && e.contains("step 2") && e.contains("failpoint"),
            "{e}"
        );
        let unknown_fp = "[[scenario]]\nname = \"x\"\ndescription = \"d\"\nsteps = [{ do = \"arm\", failpoint = \"crash-soon\", target = \"all\" }]\n";
        let e = parse(unknown_fp, Path::new("mine.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("crash-soon") && e.contains("line 4"), "{e}");
        let e = find(&builtins(), "nope").unwrap_err().to_string();
        assert!(e.contains("leader-isolation"), "{e}");
    }
}
