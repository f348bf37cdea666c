//! `faultline shrink RUN_DIR`: a failing run cut down to a small scenario
//! that still fails.
//!
//! The run's plan is its scenario (`test.json`'s `scenario`) or, for a run
//! of the random nemesis, its schedule turned into steps (a sleep to each
//! fault's start, the fault on the nodes it hit, a sleep to its end, a
//! heal). The shrinker then tries, keeping each candidate only if it still
//! fails: a shorter time limit; fewer steps (halves, then quarters, ...,
//! then single steps removed, as delta debugging does); three nodes instead
//! of more; half the clients; halved sleeps; a shorter time limit again.
//!
//! Real processes are not deterministic, so a candidate "still fails" when
//! at least `--need` of at most `--reps` runs (default 3 of 5, the first at
//! the original seed) are invalid: a majority, so a kept step is one the
//! failure depends on more often than not, and the repetitions stop as soon
//! as the answer is known (3 failures, or 3 passes; with `--jobs`, as many
//! start at once as the answer still needs). An original that
//! fails less often than that is still reduced, steps first: a scenario is
//! written only if some smaller one fails often enough. The smallest is
//! checked again in `--reps` fresh runs; kept on a lucky streak, it gives
//! way to the candidate kept before it (while the budget lasts). Everything lands in
//! `RUN_DIR/shrink/`: the candidates' runs, `shrunk.toml` (the smallest
//! failing scenario) and `shrink.json`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use faultline_checker::Verdict;
use serde::Serialize;
use serde_json::{json, Value};

use super::child::{without, ChildRun, Launcher};
use crate::record::TestRecord;
use crate::scenario::{Control, Scenario, Step};

/// Arguments of `faultline shrink`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShrinkArgs {
    /// The failing run's folder (e.g. store/latest, or the folder `faultline explore` printed).
    pub dir: PathBuf,
    /// Runs of each candidate at most.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=50))]
    pub reps: u16,
    /// Invalid runs a candidate needs among them to be kept.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=50))]
    pub need: u16,
    /// How long shrinking may take: `90s`, `30m`, `1h` (then the smallest
    /// failing scenario so far is written).
    #[arg(long, default_value = "30m", value_parser = super::parse_budget)]
    pub budget: f64,
    /// Runs at once, each a cluster of its own: a candidate's repetitions
    /// start up to this many at a time, never more than its answer still
    /// needs (3 of 5 starts 3; after 2 failures and a pass, 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

impl Default for ShrinkArgs {
    fn default() -> ShrinkArgs {
        ShrinkArgs {
            dir: PathBuf::new(),
            reps: 5,
            need: 3,
            budget: 1800.0,
            jobs: 1,
        }
    }
}

/// What shrinking gave.
#[derive(Debug, Serialize)]
pub struct Shrunk {
    /// `shrunk.toml`, when the original or a smaller scenario failed often
    /// enough.
    pub file: Option<PathBuf>,
    /// The command that replays it.
    pub command: Option<String>,
    /// Fault steps before and after.
    pub fault_steps: (usize, usize),
    /// Steps before and after.
    pub steps: (usize, usize),
    /// Time limit before and after, seconds.
    pub time_limit: (f64, f64),
    /// Nodes before and after.
    pub nodes: (u16, u16),
    /// Clients before and after.
    pub concurrency: (usize, usize),
    /// Candidates tried, and kept.
    pub candidates: (usize, usize),
    /// Runs made.
    pub runs: usize,
    /// How often the final scenario failed: (invalid, runs); (0, 0) when
    /// the shrink was interrupted before its final check.
    pub reproduced: (usize, usize),
    /// Seconds it took.
    pub seconds: f64,
    /// Whether the budget ran out before every reduction was tried.
    pub out_of_budget: bool,
}

/// Options of the recorded command line that the shrunk scenario carries
/// itself, or that each candidate run sets.
const CARRIED: [&str; 11] = [
    "--seed",
    "--store",
    "--scenarios",
    "--time-limit",
    "--nodes",
    "--concurrency",
    "--nemesis",
    "--workload",
    "--rate",
    "--nemesis-interval",
    "--request-timeout-ms",
];

/// Runs `faultline shrink`; returns the exit code (0: written, 2: neither
/// the run nor a smaller scenario failed again often enough).
pub fn run(args: &ShrinkArgs) -> anyhow::Result<i32> {
    let shrunk = shrink(args)?;
    Ok(match shrunk.file {
        Some(_) => 0,
        None => crate::exit::UNKNOWN,
    })
}

/// Shrinks the run of `args.dir`.
pub fn shrink(args: &ShrinkArgs) -> anyhow::Result<Shrunk> {
    if args.need > args.reps {
        bail!(crate::run::BadOptions(format!(
            "--need {} is more than --reps {}",
            args.need, args.reps
        )));
    }
    let test = crate::stored::read_test(&args.dir)?
        .with_context(|| format!("{} holds no test.json", args.dir.display()))?;
    let seed = test.seed().context("test.json records no seed")?;
    let original = plan_of(&test)?;
    let concurrency = test
        .concurrency
        .map_or(2 * original.nodes as usize, |c| c as usize);
    let work = args.dir.join("shrink");
    std::fs::create_dir_all(work.join("plans"))
        .with_context(|| format!("creating {}", work.display()))?;
    let options = passed_through(&test);
    let launcher = Launcher {
        exe: std::env::current_exe().context("finding the faultline binary")?,
        store: work.join("runs"),
        work: work.join("plans"),
        options,
    };
    crate::suite::child::catch_signals();
    let mut s = Shrinker {
        launcher,
        seed,
        reps: args.reps as usize,
        need: args.need as usize,
        jobs: args.jobs.max(1) as usize,
        clock: Instant::now(),
        budget: Duration::from_secs_f64(args.budget),
        tried: 0,
        kept: Vec::new(),
        runs: 0,
        out_of_budget: false,
    };
    eprintln!(
        "faultline shrink: {} · {} steps ({} faults) · {} s · {} nodes · {} clients · a candidate \
         is kept when {} of at most {} runs fail",
        args.dir.display(),
        original.steps.len(),
        faults(&original),
        original.time_limit,
        original.nodes,
        concurrency,
        args.need,
        args.reps
    );
    let first = Candidate {
        scenario: original.clone(),
        concurrency,
    };
    let (original_fails, ttd) = s.check(&first, "the original")?;
    if !original_fails {
        eprintln!(
            "shrink: the original did not fail in {} of {} runs; looking for a smaller scenario \
             that fails more often (other faults can hide the one that matters)",
            s.need, s.reps
        );
    }
    let smallest = s.reduce(first, ttd, !original_fails)?;
    let kept = std::mem::take(&mut s.kept);
    let fails = !kept.is_empty();
    let (best, reproduced) = match fails {
        true => confirm(&mut s, &kept, args.need as usize)?,
        false => (smallest, (0, 0)),
    };
    let mut shrunk = Shrunk {
        file: None,
        command: None,
        fault_steps: (faults(&original), faults(&best.scenario)),
        steps: (original.steps.len(), best.scenario.steps.len()),
        time_limit: (original.time_limit, best.scenario.time_limit),
        nodes: (original.nodes, best.scenario.nodes),
        concurrency: (concurrency, best.concurrency),
        candidates: (s.tried, kept.len()),
        runs: s.runs,
        reproduced,
        seconds: s.clock.elapsed().as_secs_f64(),
        out_of_budget: s.out_of_budget,
    };
    if fails {
        let file = work.join("shrunk.toml");
        let mut out = best.playable(&format!("shrunk-{}", original.name));
        out.description = format!("shrunk from a failing run of: {}", original.description);
        std::fs::write(&file, crate::scenario::to_toml(&out))
            .with_context(|| format!("writing {}", file.display()))?;
        let mut words = vec![
            "faultline".to_string(),
            "run".into(),
            file.display().to_string(),
        ];
        words.extend(s.launcher.options.iter().cloned());
        let command = words.join(" ");
        let again = match reproduced {
            (_, 0) => "not run again (interrupted)".to_string(),
            (bad, runs) => format!("failed in {bad} of {runs} runs"),
        };
        eprintln!(
            "shrunk: {} → {} fault steps, {} → {} s, {} → {} nodes, {} → {} clients; {again}",
            shrunk.fault_steps.0,
            shrunk.fault_steps.1,
            shrunk.time_limit.0,
            shrunk.time_limit.1,
            shrunk.nodes.0,
            shrunk.nodes.1,
            shrunk.concurrency.0,
            shrunk.concurrency.1,
        );
        eprintln!("  scenario: {}\n  replay: {command}", file.display());
        shrunk.file = Some(file);
        shrunk.command = Some(command);
    } else {
        eprintln!(
            "shrink: neither the original nor a smaller scenario failed in {} of {} runs: nothing to shrink",
            s.need, s.reps
        );
    }
    let json = serde_json::to_string_pretty(&shrunk).context("serializing shrink.json")?;
    std::fs::write(work.join("shrink.json"), json).context("writing shrink.json")?;
    Ok(shrunk)
}

/// The run's scenario, or its schedule as one.
fn plan_of(test: &TestRecord) -> anyhow::Result<Scenario> {
    let o = &test.options;
    if !test.scenario.is_null() {
        let mut scenario: Scenario = serde_json::from_value(test.scenario.clone())
            .context("reading the scenario test.json recorded")?;
        // What the run used, when the command line overrode the scenario.
        scenario.time_limit = o.time_limit.unwrap_or(scenario.time_limit);
        scenario.nodes = o.nodes.map_or(scenario.nodes, |n| n as u16);
        scenario.rate = o.rate.unwrap_or(scenario.rate);
        scenario.workload = o.workload.clone().unwrap_or(scenario.workload);
        scenario.request_timeout_ms = o.request_timeout_ms.or(scenario.request_timeout_ms);
        return Ok(scenario);
    }
    let steps = schedule_steps(&test.schedule)?;
    if steps.is_empty() {
        bail!("the run had no faults to shrink (no scenario, an empty schedule)");
    }
    Ok(Scenario {
        name: "schedule".into(),
        description: "the random schedule of a failing run, as steps".into(),
        workload: o.workload.clone().unwrap_or_else(|| "register".into()),
        nodes: o.nodes.map_or(3, |n| n as u16),
        time_limit: o.time_limit.unwrap_or(20.0),
        rate: o.rate.unwrap_or(200.0),
        request_timeout_ms: o.request_timeout_ms,
        concurrency: None,
        node_args: Vec::new(),
        repeat: false,
        steps,
    })
}

/// A random schedule (`test.json`'s `schedule`) as scenario steps.
pub fn schedule_steps(schedule: &Value) -> anyhow::Result<Vec<Step>> {
    let secs =
        |v: &Value| v["secs"].as_f64().unwrap_or(0.0) + v["nanos"].as_f64().unwrap_or(0.0) / 1e9;
    let mut planned: Vec<(f64, f64, Value)> = schedule
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| (secs(&p["start"]), secs(&p["stop"]), p["fault"].clone()))
                .collect()
        })
        .unwrap_or_default();
    planned.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut steps = Vec::new();
    let mut at = 0.0;
    for (start, stop, fault) in planned {
        if start > at {
            steps.push(Step::Control(Control::Sleep {
                seconds: round(start - at),
            }));
        }
        steps.push(serde_json::from_value(fault).context("a fault of the recorded schedule")?);
        steps.push(Step::Control(Control::Sleep {
            seconds: round((stop - start).max(0.1)),
        }));
        steps.push(Step::Control(Control::Heal));
        at = stop.max(start);
    }
    Ok(steps)
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The recorded command line's options that every candidate keeps (the
/// system and its flags, node arguments, recovery time, ...).
fn passed_through(test: &TestRecord) -> Vec<String> {
    let mut words: Vec<String> = test.command_line.iter().skip(2).cloned().collect();
    if let Some(name) = &test.options.scenario {
        if let Some(i) = words.iter().position(|w| w == name) {
            words.remove(i);
        }
    }
    without(&words, &CARRIED, &[])
}

/// Fault steps of a scenario.
fn faults(s: &Scenario) -> usize {
    s.steps
        .iter()
        .filter(|st| matches!(st, Step::Fault(_)))
        .count()
}

/// One candidate: a scenario and its clients.
#[derive(Debug, Clone)]
struct Candidate {
    scenario: Scenario,
    concurrency: usize,
}

impl Candidate {
    /// The candidate as a scenario of its own named `name`, its clients in it.
    fn playable(&self, name: &str) -> Scenario {
        Scenario {
            name: name.to_string(),
            concurrency: Some(self.concurrency),
            ..self.scenario.clone()
        }
    }
}

struct Shrinker {
    launcher: Launcher,
    seed: u64,
    reps: usize,
    need: usize,
    /// Runs at once.
    jobs: usize,
    clock: Instant,
    budget: Duration,
    tried: usize,
    /// The candidates that failed often enough, in the order they were
    /// kept: each a reduction of the one before.
    kept: Vec<Candidate>,
    runs: usize,
    out_of_budget: bool,
}

impl Shrinker {
    /// Whether time is left for another candidate.
    fn can_go_on(&mut self) -> bool {
        if self.clock.elapsed() >= self.budget || crate::suite::child::signalled() {
            self.out_of_budget = true;
        }
        !self.out_of_budget
    }

    /// Whether `c` still fails (`need` of at most `reps` runs), and its
    /// earliest time to detect.
    fn check(&mut self, c: &Candidate, what: &str) -> anyhow::Result<(bool, Option<f64>)> {
        self.tried += 1;
        let (mut bad, mut good) = (0, 0);
        let mut ttd: Option<f64> = None;
        let n = self.tried;
        let scenario = c.playable(&format!("candidate-{n:03}"));
        let mut r = 0;
        while bad < self.need && good <= self.reps - self.need {
            let batch: Vec<(Scenario, u64)> =
                (r..r + useful(self.jobs, self.need, self.reps, bad, good))
                    .map(|rep| (scenario.clone(), self.rep_seed(rep)))
                    .collect();
            r += batch.len();
            for ran in self.run_batch(&batch)? {
                match ran.verdict {
                    Some(Verdict::Invalid) => {
                        bad += 1;
                        if let Some(t) = ran.time_to_detect_s {
                            ttd = Some(ttd.map_or(t, |u: f64| u.min(t)));
                        }
                    }
                    _ => good += 1,
                }
            }
        }
        let fails = bad >= self.need;
        eprintln!(
            "candidate {n:>3} · {:>4.0} s · {what}: {} steps ({} faults), {} s, {} nodes, {} clients: \
             {bad} invalid of {} → {}",
            self.clock.elapsed().as_secs_f64(),
            c.scenario.steps.len(),
            faults(&c.scenario),
            c.scenario.time_limit,
            c.scenario.nodes,
            c.concurrency,
            bad + good,
            if fails { "kept" } else { "dropped" }
        );
        if fails {
            self.kept.push(c.clone());
        }
        Ok((fails, ttd))
    }

    /// The seed of a candidate's repetition `rep`: the original run's
    /// first, then seeds drawn from it.
    fn rep_seed(&self, rep: usize) -> u64 {
        match rep {
            0 => self.seed,
            rep => super::run_seed(self.seed, rep),
        }
    }

    /// The runs of `batch`, at once (each bounded by its time limit plus
    /// 3 minutes for start, recovery and check).
    fn run_batch(&mut self, batch: &[(Scenario, u64)]) -> anyhow::Result<Vec<ChildRun>> {
        self.runs += batch.len();
        let longest = batch.iter().map(|(s, _)| s.time_limit).fold(0.0, f64::max);
        let limit = Duration::from_secs_f64(longest + 180.0);
        self.launcher.run_all(batch, limit)
    }

    /// Tries `candidate`; it replaces `best` when it still fails.
    fn attempt(
        &mut self,
        best: &mut Candidate,
        what: &str,
        candidate: Candidate,
    ) -> anyhow::Result<bool> {
        if !self.can_go_on() {
            return Ok(false);
        }
        let (fails, _) = self.check(&candidate, what)?;
        if fails {
            *best = candidate;
        }
        Ok(fails)
    }

    /// Every reduction, in order. When `flaky` (the original itself did
    /// not fail often enough) steps go first: a shorter run of the same
    /// plan would fail even less, but a plan without a fault that got in
    /// the way may fail more. `best` is replaced only by candidates that
    /// fail.
    fn reduce(
        &mut self,
        mut best: Candidate,
        ttd: Option<f64>,
        flaky: bool,
    ) -> anyhow::Result<Candidate> {
        let original = best.scenario.time_limit;
        if !flaky {
            self.shorten(&mut best, ttd, original)?;
        }
        self.remove_steps(&mut best)?;
        if flaky && self.kept.is_empty() {
            return Ok(best);
        }
        if best.scenario.nodes > 3 && !names_nodes(&best.scenario) {
            let mut c = best.clone();
            c.scenario.nodes = 3;
            c.concurrency = c.concurrency.min(6);
            self.attempt(&mut best, "3 nodes", c)?;
        }
        while best.concurrency > 2 {
            let mut c = best.clone();
            c.concurrency = (c.concurrency / 2).max(2);
            if !self.attempt(&mut best, "half the clients", c)? {
                break;
            }
        }
        for i in 0..best.scenario.steps.len() {
            if let Step::Control(Control::Sleep { seconds }) = best.scenario.steps[i] {
                if seconds > 0.2 {
                    let mut c = best.clone();
                    c.scenario.steps[i] = Step::Control(Control::Sleep {
                        seconds: round(seconds / 2.0).max(0.1),
                    });
                    self.attempt(&mut best, &format!("step {} sleeps half", i + 1), c)?;
                }
            }
        }
        self.shorten(&mut best, None, original)?;
        Ok(best)
    }

    /// A shorter time limit: just past the first detection, a third, a
    /// half, or a third of the `original` limit (a plan with fewer steps
    /// may now fail within it), shortest first.
    fn shorten(
        &mut self,
        best: &mut Candidate,
        ttd: Option<f64>,
        original: f64,
    ) -> anyhow::Result<()> {
        let t = best.scenario.time_limit;
        let mut limits: Vec<f64> = [
            ttd.map(|d| (d + 2.0).ceil()),
            Some(t / 3.0),
            Some(t / 2.0),
            Some(original / 3.0),
        ]
        .into_iter()
        .flatten()
        .map(|x| ((x * 10.0).floor() / 10.0).max(2.0))
        .filter(|&x| x < t)
        .collect();
        limits.sort_by(f64::total_cmp);
        limits.dedup();
        for l in limits {
            let mut c = best.clone();
            c.scenario.time_limit = l;
            if self.attempt(best, &format!("{l} s"), c)? {
                break;
            }
        }
        Ok(())
    }

    /// Delta debugging over the steps: chunks of half, a quarter, ...,
    /// single steps, each removed if the rest still fails.
    fn remove_steps(&mut self, best: &mut Candidate) -> anyhow::Result<()> {
        let mut chunk = best.scenario.steps.len() / 2;
        while chunk >= 1 {
            let mut start = 0;
            while start < best.scenario.steps.len() && best.scenario.steps.len() > 1 {
                let end = (start + chunk).min(best.scenario.steps.len());
                let mut c = best.clone();
                let removed: Vec<String> = c
                    .scenario
                    .steps
                    .drain(start..end)
                    .map(|s| super::actions::short(&serde_json::to_value(s).unwrap_or(json!({}))))
                    .collect();
                if c.scenario.steps.is_empty() || !valid(&c.scenario) {
                    start = end;
                    continue;
                }
                let what = format!("without {}", removed.join(", "));
                if !self.attempt(best, &what, c)? {
                    start = end;
                }
                if self.out_of_budget {
                    return Ok(());
                }
            }
            chunk /= 2;
        }
        Ok(())
    }
}

/// What the final check needs: fresh runs of a candidate, and the clock.
trait FinalCheck {
    /// How often `c` fails in fresh runs: (invalid, runs).
    fn final_check(&mut self, c: &Candidate) -> anyhow::Result<(usize, usize)>;
    /// Whether the budget allows another check.
    fn time_left(&mut self) -> bool;
    /// Whether the user stopped the shrink (Ctrl-C, SIGTERM): its runs
    /// would be killed, so no check can say anything.
    fn interrupted(&self) -> bool;
}

impl FinalCheck for Shrinker {
    /// All `reps` runs of `c`, at seeds none of the candidates' checks used.
    fn final_check(&mut self, c: &Candidate) -> anyhow::Result<(usize, usize)> {
        let scenario = c.playable("final");
        let mut bad = 0;
        let seeds: Vec<u64> = (0..self.reps)
            .map(|r| super::run_seed(self.seed ^ 0x5eed, r))
            .collect();
        for chunk in seeds.chunks(self.jobs) {
            let batch: Vec<(Scenario, u64)> =
                chunk.iter().map(|&s| (scenario.clone(), s)).collect();
            bad += self
                .run_batch(&batch)?
                .iter()
                .filter(|ran| ran.verdict == Some(Verdict::Invalid))
                .count();
        }
        eprintln!("final check: {bad} of {} runs invalid", self.reps);
        Ok((bad, self.reps))
    }
    fn time_left(&mut self) -> bool {
        self.can_go_on()
    }
    fn interrupted(&self) -> bool {
        crate::suite::child::signalled()
    }
}

/// The scenario to write among the `kept` candidates (each a reduction
/// of the one before), and how often it failed in its final check: the
/// smallest if it fails `need` of its fresh runs; if not (it was kept on a
/// lucky streak), the one kept before it, and so on while time is left;
/// when none does, the smallest, with its count. Interrupted, the
/// smallest, unchecked: (0, 0).
fn confirm(
    judge: &mut impl FinalCheck,
    kept: &[Candidate],
    need: usize,
) -> anyhow::Result<(Candidate, (usize, usize))> {
    let smallest = kept.last().cloned().context("no candidate was kept")?;
    let unchecked = |smallest: Candidate| {
        eprintln!("shrink: interrupted: the smallest failing scenario is written unchecked");
        Ok((smallest, (0, 0)))
    };
    if judge.interrupted() {
        return unchecked(smallest);
    }
    let first = judge.final_check(&smallest)?;
    if judge.interrupted() {
        // Its runs were killed: the count says nothing.
        return unchecked(smallest);
    }
    if first.0 >= need {
        return Ok((smallest, first));
    }
    for c in kept.iter().rev().skip(1) {
        if !judge.time_left() || judge.interrupted() {
            break;
        }
        eprintln!("final check: trying the candidate kept before it");
        let r = judge.final_check(c)?;
        if judge.interrupted() {
            break;
        }
        if r.0 >= need {
            return Ok((c.clone(), r));
        }
    }
    Ok((smallest, first))
}

/// How many more runs of a candidate to start at once, having seen `bad`
/// invalid and `good` other runs of it (kept at `need` invalid of at most
/// `reps`): at most `jobs`, and no more than it takes before the answer is
/// known whatever they show (the failures still needed, or the passes that
/// would drop it), so a run started at once is never one the candidate
/// could have done without.
fn useful(jobs: usize, need: usize, reps: usize, bad: usize, good: usize) -> usize {
    let to_keep = need.saturating_sub(bad);
    let to_drop = (reps + 1).saturating_sub(need + good);
    jobs.min(to_keep).min(to_drop).max(1)
}

/// Whether the scenario still parses (a wait for a crash needs an arm).
fn valid(s: &Scenario) -> bool {
    crate::scenario::parse(&crate::scenario::to_toml(s), Path::new("candidate.toml")).is_ok()
}

/// Whether a step names nodes by position (then the cluster keeps its size).
fn names_nodes(s: &Scenario) -> bool {
    s.steps.iter().any(|st| {
        serde_json::to_string(st)
            .map(|t| t.contains("\"nodes\""))
            .unwrap_or(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_becomes_sleeps_faults_and_heals() {
        let schedule = json!([
            {"fault": {"do": "kill", "target": {"nodes": [1]}}, "start": {"secs": 2, "nanos": 500000000}, "stop": {"secs": 4, "nanos": 0}},
            {"fault": {"do": "drop", "percent": 20}, "start": {"secs": 5, "nanos": 0}, "stop": {"secs": 7, "nanos": 0}},
        ]);
        let steps = schedule_steps(&schedule).unwrap();
        let text: Vec<String> = steps
            .iter()
            .map(|s| super::super::actions::short(&serde_json::to_value(s).unwrap()))
            .collect();
        assert_eq!(
            text,
            vec![
                "sleep 2.5",
                "kill {\"nodes\":[1]}",
                "sleep 1.5",
                "heal",
                "sleep 1",
                "drop percent=20",
                "sleep 2",
                "heal"
            ]
        );
    }

    /// Final checks answered from a table (by time limit), with a clock
    /// that allows `checks` of them.
    struct Table {
        fails: Vec<(f64, usize)>,
        checks: usize,
        asked: Vec<f64>,
        /// Interrupted after this many checks.
        stopped_after: Option<usize>,
    }

    /// A table that answers `fails` and allows `checks` checks.
    fn table(fails: &[(f64, usize)], checks: usize) -> Table {
        Table {
            fails: fails.to_vec(),
            checks,
            asked: Vec::new(),
            stopped_after: None,
        }
    }

    impl FinalCheck for Table {
        fn final_check(&mut self, c: &Candidate) -> anyhow::Result<(usize, usize)> {
            let t = c.scenario.time_limit;
            self.asked.push(t);
            let bad = self.fails.iter().find(|f| f.0 == t).map_or(0, |f| f.1);
            Ok((bad, 5))
        }
        fn time_left(&mut self) -> bool {
            self.asked.len() < self.checks
        }
        fn interrupted(&self) -> bool {
            self.stopped_after.is_some_and(|n| self.asked.len() >= n)
        }
    }

    fn kept(limits: &[f64]) -> Vec<Candidate> {
        limits
            .iter()
            .map(|&time_limit| Candidate {
                scenario: Scenario {
                    name: "c".into(),
                    description: String::new(),
                    workload: "register".into(),
                    nodes: 3,
                    time_limit,
                    rate: 200.0,
                    request_timeout_ms: None,
                    concurrency: None,
                    node_args: Vec::new(),
                    repeat: false,
                    steps: Vec::new(),
                },
                concurrency: 2,
            })
            .collect()
    }

    #[test]
    fn a_candidate_kept_on_a_lucky_streak_gives_way_to_the_one_before_it() {
        let chain = kept(&[10.0, 5.0, 3.0]);
        let mut judge = table(&[(10.0, 4), (5.0, 3), (3.0, 1)], 10);
        let (c, r) = confirm(&mut judge, &chain, 3).unwrap();
        assert_eq!((c.scenario.time_limit, r), (5.0, (3, 5)));
        assert_eq!(judge.asked, [3.0, 5.0]);
        let mut judge = table(&[(3.0, 3)], 10);
        let (c, _) = confirm(&mut judge, &chain, 3).unwrap();
        assert_eq!(
            c.scenario.time_limit, 3.0,
            "the smallest holds: no walk back"
        );
        assert_eq!(judge.asked, [3.0]);
    }

    #[test]
    fn without_time_or_a_candidate_that_holds_the_smallest_is_written_with_its_count() {
        let chain = kept(&[10.0, 5.0, 3.0]);
        let mut judge = table(&[(10.0, 4), (3.0, 2)], 1);
        let (c, r) = confirm(&mut judge, &chain, 3).unwrap();
        assert_eq!((c.scenario.time_limit, r), (3.0, (2, 5)));
        assert_eq!(judge.asked, [3.0], "no time for another check");
        let mut judge = table(&[], 10);
        let (c, r) = confirm(&mut judge, &chain, 3).unwrap();
        assert_eq!((c.scenario.time_limit, r), (3.0, (0, 5)));
        assert_eq!(judge.asked, [3.0, 5.0, 10.0]);
    }

    #[test]
    fn an_interrupted_shrink_writes_its_smallest_unchecked_and_walks_no_further() {
        let chain = kept(&[10.0, 5.0, 3.0]);
        let mut judge = Table {
            stopped_after: Some(0),
            ..table(&[(10.0, 4), (5.0, 3)], 10)
        };
        let (c, r) = confirm(&mut judge, &chain, 3).unwrap();
        assert_eq!((c.scenario.time_limit, r), (3.0, (0, 0)));
        assert!(judge.asked.is_empty(), "no run of a killed check counts");
        judge.stopped_after = Some(1);
        let (c, r) = confirm(&mut judge, &chain, 3).unwrap();
        assert_eq!(
            (c.scenario.time_limit, r),
            (3.0, (0, 0)),
            "a check cut short counts nothing"
        );
        assert_eq!(judge.asked, [3.0], "no walk back once interrupted");
        let mut judge = Table {
            stopped_after: Some(2),
            ..table(&[(10.0, 4), (5.0, 3)], 10)
        };
        let (c, r) = confirm(&mut judge, &chain, 3).unwrap();
        assert_eq!(
            (c.scenario.time_limit, r),
            (3.0, (0, 5)),
            "the walk back cut short: the smallest, with its whole check"
        );
        assert_eq!(judge.asked, [3.0, 5.0]);
    }

    #[test]
    fn runs_at_once_are_only_those_the_answer_still_needs() {
        // (jobs, bad, good) → runs to start, keeping at 3 invalid of 5.
        let table = [
            (1, 0, 0, 1),
            (4, 0, 0, 3),
            (2, 0, 0, 2),
            (4, 2, 1, 1),
            (4, 1, 2, 1),
            (4, 2, 0, 1),
            (4, 1, 1, 2),
            (4, 0, 2, 1),
        ];
        for (jobs, bad, good, want) in table {
            assert_eq!(
                useful(jobs, 3, 5, bad, good),
                want,
                "{jobs} jobs after {bad} invalid and {good} valid"
            );
        }
        assert_eq!(useful(8, 1, 1, 0, 0), 1, "one run decides 1 of 1");
        assert_eq!(
            useful(8, 5, 9, 0, 0),
            5,
            "5 of 9: five failures or five passes"
        );
    }

    #[test]
    fn the_recorded_command_keeps_only_what_the_scenario_does_not_carry() {
        let test = TestRecord {
            command_line: "faultline run explore-007 --scenarios /x/p.toml --seed 9 --system etcd --node-arg=--bug=x --store /s --recovery-time 3"
                .split(' ')
                .map(str::to_string)
                .collect(),
            options: crate::record::RunOptions {
                scenario: Some("explore-007".into()),
                ..Default::default()
            },
            ..TestRecord::default()
        };
        assert_eq!(
            passed_through(&test).join(" "),
            "--system etcd --node-arg=--bug=x --recovery-time 3"
        );
    }
}
