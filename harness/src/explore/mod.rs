//! `faultline explore`: a fault search guided by what the cluster did.
//!
//! Many short runs, each playing a plan of scenario steps the search chose
//! ([`search`]) from the actions the system and `--nemesis` allow
//! ([`actions`]). After each run, what it showed ([`feedback`]: abstract
//! cluster states and changes from the status samples, unavailability,
//! error classes, latency) goes back to the search, which prefers plans and
//! actions that reached something new. The search stops at the first
//! invalid verdict, or when the budget is spent, and says where that run
//! is; `--shrink` then shrinks it ([`shrink`]).
//!
//! Every run is a normal run folder (report included) under
//! `<store>/explore-<stamp>/runs`, its scenario file beside the outputs in
//! `plans/`; `explore.jsonl` has a line per run, `explore.json` the outcome.

pub mod actions;
pub mod child;
pub mod feedback;
pub mod search;
pub mod shrink;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use faultline_checker::Verdict;
use serde::Serialize;

use crate::report::states::{ExploreMark, EXPLORE_FILE};
use crate::run::{BadOptions, RunArgs};
use crate::stored::StoredRun;
use actions::{Abilities, Frame};
use child::{ChildRun, Launcher};
use search::{Plan, Search};

/// Arguments of `faultline explore`: the run options (system, workload,
/// nodes, `--nemesis` as the faults the search may use, `--seed` as the
/// search's seed) and the search's own.
#[derive(Debug, Clone, clap::Args)]
pub struct ExploreArgs {
    /// The options every run of the search shares (a scenario name is refused:
    /// the search writes the scenarios).
    #[command(flatten)]
    pub run: RunArgs,
    /// How long the search may take: `90s`, `10m`, `1h`.
    #[arg(long, default_value = "10m", value_parser = parse_budget)]
    pub budget: f64,
    /// Most actions in one run's plan (an action: a step and the gap after it).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u16).range(1..=30))]
    pub max_steps: u16,
    /// Stop after this many runs (default: only the budget stops it).
    #[arg(long)]
    pub max_runs: Option<usize>,
    /// Once a run fails, shrink it (`faultline shrink`).
    #[arg(long)]
    pub shrink: bool,
    /// Runs at once, each a cluster of its own in its own network
    /// namespace (a run mostly waits on its cluster: about a fifth of a
    /// core each). The search proposes this many plans, then learns from
    /// their runs in order, so a seed still makes the same choices given
    /// the same feedback. `--shrink` runs a candidate's repetitions as
    /// many at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Stop only when one of these checkers finds the run invalid (e.g.
    /// `set`, to search for lost writes and not for unavailability, which
    /// `stats` judges); default: any invalid verdict.
    #[arg(long, value_delimiter = ',', value_name = "CHECKERS")]
    pub stop_on: Vec<String>,
}

/// Seconds of workload per run when `--time-limit` is not given.
pub const DEFAULT_TIME_LIMIT: f64 = 10.0;
/// Nodes when `--nodes` is not given (a minority of two, a majority of three).
pub const DEFAULT_NODES: u16 = 5;

/// Options of `explore` (and of `run` that the search sets per run) that
/// take a value and are not passed to the runs (`--shrink`, the one
/// without a value, is left out by name).
const OWN_VALUED: [&str; 8] = [
    "--budget",
    "--jobs",
    "--stop-on",
    "--max-steps",
    "--max-runs",
    "--seed",
    "--store",
    "--nemesis",
];

/// Parses `90s`, `10m`, `1h` or plain seconds.
pub fn parse_budget(s: &str) -> Result<f64, String> {
    let (number, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 90s, 10m or 1h"))?;
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        u => return Err(format!("{s:?}: unknown unit {u:?} (s, m or h)")),
    };
    match n * scale {
        secs if secs > 0.0 && secs.is_finite() => Ok(secs),
        _ => Err(format!("{s:?}: the budget must be positive")),
    }
}

/// One line of `explore.jsonl`: one run of the search.
#[derive(Debug, Serialize)]
struct RunLine<'a> {
    run: usize,
    seed: u64,
    plan: Vec<String>,
    verdict: Option<Verdict>,
    code: Option<i32>,
    folder: Option<&'a Path>,
    seconds: f64,
    elapsed_s: f64,
    new_features: Vec<String>,
    features_seen: usize,
}

/// `explore.json`: what the search found.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    /// The search's seed.
    pub seed: u64,
    /// Runs made.
    pub runs: usize,
    /// Seconds the search took.
    pub elapsed_s: f64,
    /// Distinct features (states, changes, error classes, ...) seen.
    pub features_seen: usize,
    /// The failing run's folder, when one failed.
    pub found: Option<PathBuf>,
    /// Seconds from the search's start to the end of the failing run.
    pub found_after_s: Option<f64>,
    /// The failing run's number.
    pub found_in_run: Option<usize>,
    /// Seconds of workload the search ran before the failing run's first
    /// anomaly (every earlier run's time limit plus its time to detect).
    pub test_seconds_to_detect: Option<f64>,
    /// The shrunk scenario, with `--shrink`.
    pub shrunk: Option<PathBuf>,
}

/// Runs `faultline explore`; returns the exit code (1 when a run failed,
/// 0 when the budget ran out with every run valid).
pub fn run(args: ExploreArgs) -> anyhow::Result<i32> {
    let mut exploration = Exploration::start(args)?;
    while exploration.may_go_on() {
        if exploration.one_batch()? {
            break;
        }
    }
    exploration.finish()
}

/// One search under way: what every run shares, the search, and the
/// outcome so far.
struct Exploration {
    args: ExploreArgs,
    frame: Frame,
    vocabulary: Vec<Vec<serde_json::Value>>,
    /// The steps each mode puts before a plan's actions.
    modes: Vec<Vec<serde_json::Value>>,
    launcher: Launcher,
    search: Search,
    /// The search's folder.
    dir: PathBuf,
    /// `explore.jsonl`.
    log: std::fs::File,
    clock: Instant,
    /// The bound on one run (its time limit plus start, recovery, check).
    per_run: Duration,
    outcome: Outcome,
    /// Runs in a row that ended without a verdict.
    failures_in_a_row: usize,
}

impl Exploration {
    /// Checks the options, applies the search's defaults, creates the
    /// folder and says what the search will do.
    fn start(mut args: ExploreArgs) -> anyhow::Result<Exploration> {
        if let Some(s) = &args.run.scenario {
            return Err(BadOptions(format!(
                "faultline explore writes its own scenarios; {s:?} is not an option \
                 (to replay a scenario: faultline run {s})"
            ))
            .into());
        }
        let given = |id: &str| args.run.explicit.iter().any(|e| e == id);
        if !given("time_limit") {
            args.run.time_limit = DEFAULT_TIME_LIMIT;
        }
        if !given("nodes") {
            args.run.nodes = DEFAULT_NODES;
        }
        let system =
            crate::system::build(&args.run.system.selected()).context("choosing the system")?;
        let abilities = Abilities {
            kinds: args.run.nemesis.clone(),
            nodes: args.run.nodes as usize,
            roles: system.tells_roles(),
            failpoints: system.failpoints().is_some(),
        };
        let vocabulary = actions::vocabulary(&abilities);
        let modes = actions::modes(&abilities);
        let frame = Frame {
            workload: args.run.workload.clone(),
            nodes: args.run.nodes,
            time_limit: args.run.time_limit,
            rate: args.run.rate,
            roles: abilities.roles,
        };
        let seed = args.run.seed.unwrap_or_else(|| rand::random::<u64>() >> 12);
        let dir =
            crate::suite::child::make_stamped_dir(&args.run.store, "explore", SystemTime::now())
                .with_context(|| {
                    format!(
                        "creating the explore folder under {}",
                        args.run.store.display()
                    )
                })?;
        let launcher = launcher(&dir)?;
        crate::suite::child::catch_signals();
        eprintln!(
            "faultline explore: {} · workload {} · {} nodes · {} s per run · {} actions ({}) · budget {:.0} s · {} at once · seed {seed}",
            system.name(),
            frame.workload,
            frame.nodes,
            frame.time_limit,
            vocabulary.len(),
            args.run.nemesis.label(),
            args.budget,
            args.jobs
        );
        eprintln!("  folder: {}", dir.display());
        let log = std::fs::File::create(dir.join("explore.jsonl"))
            .with_context(|| format!("creating {}", dir.join("explore.jsonl").display()))?;
        let search = Search::new(seed, vocabulary.len(), args.max_steps as usize)
            .with_neighbours(actions::neighbours(&vocabulary))
            .with_modes(modes.len())
            .with_seeds(&actions::seeds(&abilities, &vocabulary));
        let per_run = Duration::from_secs_f64(
            frame.time_limit + args.run.recovery_time + args.run.leader_timeout + 120.0,
        );
        Ok(Exploration {
            frame,
            vocabulary,
            modes,
            launcher,
            search,
            dir,
            log,
            clock: Instant::now(),
            per_run,
            outcome: Outcome {
                seed,
                ..Outcome::default()
            },
            failures_in_a_row: 0,
            args,
        })
    }

    /// Whether budget, runs and signals leave room for another run.
    fn may_go_on(&self) -> bool {
        self.clock.elapsed() < Duration::from_secs_f64(self.args.budget)
            && !crate::suite::child::signalled()
            && self.args.max_runs.is_none_or(|m| self.outcome.runs < m)
    }

    /// Plays the search's next plans (`--jobs` of them, at once), then
    /// feeds what each run showed back in the order they were proposed;
    /// true when one of them failed the way the search looks for (the
    /// first such is the one reported).
    fn one_batch(&mut self) -> anyhow::Result<bool> {
        let room = self
            .args
            .max_runs
            .map_or(usize::MAX, |m| m.saturating_sub(self.outcome.runs));
        let first = self.outcome.runs + 1;
        let plans: Vec<Plan> = (0..room.min(self.args.jobs as usize).max(1))
            .map(|_| self.search.propose())
            .collect();
        let runs: Vec<(crate::scenario::Scenario, u64)> = plans
            .iter()
            .enumerate()
            .map(|(i, plan)| {
                let n = first + i;
                let steps: Vec<serde_json::Value> = self.modes[plan.mode]
                    .iter()
                    .cloned()
                    .chain(
                        plan.actions
                            .iter()
                            .flat_map(|&a| self.vocabulary[a].clone()),
                    )
                    .collect();
                let scenario = actions::scenario(&format!("explore-{n:03}"), &self.frame, &steps);
                (scenario, run_seed(self.outcome.seed, n))
            })
            .collect();
        let results = self.launcher.run_all(&runs, self.per_run)?;
        let mut found = false;
        for ((plan, (scenario, seed)), ran) in plans.iter().zip(&runs).zip(results) {
            found |= self.learn(plan, scenario, *seed, ran)?;
        }
        Ok(found)
    }

    /// Feeds what one run of `plan` (played as `scenario` at `seed`)
    /// showed back to the search and logs it; true when it failed the way
    /// the search looks for and is the first to.
    fn learn(
        &mut self,
        plan: &Plan,
        scenario: &crate::scenario::Scenario,
        seed: u64,
        ran: ChildRun,
    ) -> anyhow::Result<bool> {
        let n = self.outcome.runs + 1;
        let played: Vec<serde_json::Value> = scenario
            .steps
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok())
            .collect();
        self.outcome.runs = n;
        let features = ran
            .stored
            .as_ref()
            .map(feedback::features)
            .unwrap_or_default();
        let new = self.search.learn(plan, &features);
        if let Some(stored) = &ran.stored {
            mark(stored, n, self.outcome.seed, &new, self.search.seen());
        }
        let elapsed = self.clock.elapsed().as_secs_f64();
        let line = RunLine {
            run: n,
            seed,
            plan: played.iter().map(actions::short).collect(),
            verdict: ran.verdict,
            code: ran.code,
            folder: ran.folder.as_deref(),
            seconds: ran.seconds,
            elapsed_s: elapsed,
            new_features: new.clone(),
            features_seen: self.search.seen(),
        };
        if let Ok(text) = serde_json::to_string(&line) {
            let _ = writeln!(self.log, "{text}");
        }
        progress(n, elapsed, &ran, new.len(), &self.search, &played);
        match ran.verdict {
            Some(Verdict::Invalid)
                if fails(&ran, &self.args.stop_on) && self.outcome.found.is_none() =>
            {
                self.outcome.found = ran.folder.clone();
                self.outcome.found_after_s = Some(elapsed);
                self.outcome.found_in_run = Some(n);
                // Every earlier run played its whole time limit.
                let earlier = (n - 1) as f64 * self.frame.time_limit;
                self.outcome.test_seconds_to_detect =
                    Some(earlier + ran.time_to_detect_s.unwrap_or(self.frame.time_limit));
                return Ok(true);
            }
            Some(_) => self.failures_in_a_row = 0,
            // Runs stopped by an interrupt say nothing about the system
            // (with --jobs, a whole batch of them).
            None if crate::suite::child::signalled() => {}
            None => {
                self.failures_in_a_row += 1;
                if self.failures_in_a_row >= 3 {
                    anyhow::bail!(
                        "three runs in a row ended without a verdict; the last one's output: {}",
                        ran.output.display()
                    );
                }
            }
        }
        Ok(false)
    }

    /// Says what the search found (shrinking it with `--shrink`), writes
    /// `explore.json`; the exit code.
    fn finish(mut self) -> anyhow::Result<i32> {
        let outcome = &mut self.outcome;
        outcome.elapsed_s = self.clock.elapsed().as_secs_f64();
        outcome.features_seen = self.search.seen();
        let code = match &outcome.found {
            Some(found) => {
                eprintln!(
                    "found: run {} failed after {:.0} s of search: {}",
                    outcome.found_in_run.unwrap_or(0),
                    outcome.found_after_s.unwrap_or(0.0),
                    found.display()
                );
                eprintln!(
                    "  report: {}",
                    found.join(crate::report::REPORT_FILE).display()
                );
                if self.args.shrink {
                    let shrunk = shrink::shrink(&shrink::ShrinkArgs {
                        dir: found.clone(),
                        jobs: self.args.jobs,
                        ..shrink::ShrinkArgs::default()
                    })?;
                    outcome.shrunk = shrunk.file;
                }
                crate::exit::INVALID
            }
            None if crate::suite::child::signalled() => {
                eprintln!("explore: interrupted after {} runs", outcome.runs);
                crate::exit::INTERRUPTED
            }
            None => {
                eprintln!(
                    "explore: nothing found in {} runs ({:.0} s, {} features seen)",
                    outcome.runs, outcome.elapsed_s, outcome.features_seen
                );
                0
            }
        };
        let json = serde_json::to_string_pretty(&outcome).context("serializing explore.json")?;
        std::fs::write(self.dir.join("explore.json"), json).context("writing explore.json")?;
        Ok(code)
    }
}

/// The launcher of the search's runs: this binary and the options passed
/// through (those of the recorded command line, after `explore`, that are
/// not the search's own).
fn launcher(dir: &Path) -> anyhow::Result<Launcher> {
    let work = dir.join("plans");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let words: Vec<String> = crate::record::Invocation::current()
        .map(|i| i.args.iter().skip(1).cloned().collect())
        .unwrap_or_default();
    let options = child::without(&words, &OWN_VALUED, &["--shrink"]);
    Ok(Launcher {
        exe: std::env::current_exe().context("finding the faultline binary")?,
        store: dir.join("runs"),
        work,
        options,
    })
}

/// Whether `ran`, invalid, is what the search looks for: any invalid
/// verdict, or with `stop_on` one of those checkers' (`set`, `stats`,
/// `replica-agreement`: the result's name without ` checker`, dashed).
fn fails(ran: &ChildRun, stop_on: &[String]) -> bool {
    if stop_on.is_empty() {
        return true;
    }
    ran.stored.as_ref().is_some_and(|s| {
        s.results.checkers.iter().any(|c| {
            let name = c.name.trim_end_matches(" checker").replace(' ', "-");
            c.verdict == Verdict::Invalid && stop_on.contains(&name)
        })
    })
}

/// The seed of run `n` of a search seeded `seed` (SplitMix64).
pub fn run_seed(seed: u64, n: usize) -> u64 {
    let mut z = seed.wrapping_add((n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) >> 12
}

/// Writes `explore.json` into a run's folder and redraws its report (from
/// the run already read back), so the page marks the states this run
/// reached first.
fn mark(run: &StoredRun, n: usize, seed: u64, features: &[String], seen: usize) {
    let new_states = features
        .iter()
        .filter_map(|f| f.strip_prefix("state: ").map(str::to_string))
        .collect();
    let m = ExploreMark {
        run: n,
        search_seed: seed,
        new_states,
        seen_after: seen,
    };
    let written = serde_json::to_vec_pretty(&m)
        .map_err(anyhow::Error::from)
        .and_then(|b| Ok(std::fs::write(run.dir.join(EXPLORE_FILE), b)?));
    let redrawn = written.and_then(|_| run.write_report(&crate::registry::report()).map(drop));
    if let Err(e) = redrawn {
        eprintln!(
            "faultline: warning: marking {} as explored: {e:#}",
            run.dir.display()
        );
    }
}

/// The progress line of run `n`.
fn progress(
    n: usize,
    elapsed: f64,
    ran: &ChildRun,
    new: usize,
    search: &Search,
    steps: &[serde_json::Value],
) {
    let verdict = match (ran.verdict, ran.code) {
        (Some(v), _) => v.to_string(),
        (None, Some(c)) => format!("exit {c}"),
        (None, None) => "killed".into(),
    };
    eprintln!(
        "run {n:>3} · {:>4.0} s · {verdict:<7} · {} features (+{new}) · corpus {} · {}",
        elapsed,
        search.seen(),
        search.corpus_len(),
        actions::describe(steps)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_read_with_units() {
        assert_eq!(parse_budget("90s"), Ok(90.0));
        assert_eq!(parse_budget("10m"), Ok(600.0));
        assert_eq!(parse_budget("1h"), Ok(3600.0));
        assert_eq!(parse_budget("45"), Ok(45.0));
        assert!(parse_budget("10d").unwrap_err().contains("unit"));
        assert!(parse_budget("0m").is_err() && parse_budget("x").is_err());
    }

    #[test]
    fn run_seeds_differ_and_repeat() {
        assert_eq!(run_seed(1, 2), run_seed(1, 2));
        assert_ne!(run_seed(1, 2), run_seed(1, 3));
        assert_ne!(run_seed(1, 2), run_seed(2, 2));
    }
}
