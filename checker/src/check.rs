//! Checking a whole history: pair events, split by key
//! (P-compositionality), search every key in parallel (stopping the rest at
//! the first violation), and explain the failure.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::counterexample;
use crate::history::key_name;
use crate::history::{pair, Event, Operation};
use crate::linear::{Budget, SearchResult, SearchStats, Searcher, Stopped, Stuck};
use crate::model::{
    kv::Kv, list_append::ListAppend, register::Register, Model, ModelError, ModelKind,
};
use crate::prepare::{prepare_ops, reduce};
use crate::verdict::{CheckError, CheckOptions, CheckResult, Verdict};

/// Pairs `events` and checks them against `model`.
pub fn check_events(
    events: &[Event],
    model: ModelKind,
    opts: &CheckOptions,
) -> Result<CheckResult, CheckError> {
    let ops = pair(events, None)?;
    check_operations(&ops, model, opts)
}

/// Checks paired operations against `model`.
pub fn check_operations(
    ops: &[Operation],
    model: ModelKind,
    opts: &CheckOptions,
) -> Result<CheckResult, CheckError> {
    let refs: Vec<&Operation> = ops.iter().collect();
    check_operation_refs(&refs, model, opts)
}

/// Checks paired operations, given by reference (for a caller that keeps
/// them elsewhere and checks a selection, e.g. some keys of a history
/// still being recorded), against `model`.
pub fn check_operation_refs(
    ops: &[&Operation],
    model: ModelKind,
    opts: &CheckOptions,
) -> Result<CheckResult, CheckError> {
    let started = Instant::now();
    let mut result = match model {
        ModelKind::Register => linearizable(&Register, ops, opts, started)?,
        ModelKind::Kv => linearizable(&Kv, ops, opts, started)?,
        ModelKind::ListAppend => linearizable(&ListAppend, ops, opts, started)?,
    };
    result.model = model.name().to_string();
    result.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(result)
}

/// Groups operations by key, keeping history order within each key.
pub fn split_by_key<'a>(ops: &[&'a Operation]) -> Vec<(Option<String>, Vec<&'a Operation>)> {
    let mut index: HashMap<Option<&str>, usize> = HashMap::new();
    let mut groups: Vec<(Option<String>, Vec<&'a Operation>)> = Vec::new();
    for &op in ops {
        let slot = *index.entry(op.key.as_deref()).or_insert_with(|| {
            groups.push((op.key.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(op);
    }
    groups
}

fn empty_result(ops: &[&Operation], keys: usize) -> CheckResult {
    CheckResult {
        verdict: Verdict::Valid,
        model: String::new(),
        operations: ops.len(),
        keys,
        invalid_keys: Vec::new(),
        unknown_keys: Vec::new(),
        reason: None,
        counterexample: None,
        detected_at_time: None,
        detected_at_index: None,
        steps: 0,
        configurations: 0,
        cache_resets: 0,
        elapsed_ms: 0.0,
    }
}

/// Steps each key may take in the first round; doubled every round, so a key
/// that fails fast stops the others early, as goroutines per key would.
const FIRST_SLICE: u64 = 1 << 14;

/// An invalid key: its group, the search-to-history map, where it got stuck.
type Failed<'a, S> = (usize, &'a [usize], Stuck<S>, Option<&'a str>);

/// One key's search: created when first scheduled, dropped once decided,
/// so only undecided keys hold memory.
struct KeyJob<'m, M: Model> {
    group: usize,
    source: Vec<usize>,
    searcher: Option<Searcher<'m, M>>,
    result: Option<SearchResult<M::State>>,
    stats: SearchStats,
    error: Option<ModelError>,
    /// Why the failing operation is impossible, when known without a search.
    impossible: Option<String>,
}

impl<'m, M: Model> KeyJob<'m, M> {
    fn step(&mut self, model: &'m M, ops: &[&Operation], slice: u64, budget: &Budget<'_>) {
        if self.searcher.is_none() {
            let prepared = match prepare_ops(model, ops) {
                Ok(p) if budget.prune => reduce(model, p),
                Ok(p) => p,
                Err(e) => {
                    self.error = Some(e);
                    self.result = Some(SearchResult::Unknown(Stopped::Cancelled));
                    return;
                }
            };
            self.source = prepared.source;
            if budget.prune {
                if let Some((op, why)) = model.impossible(&prepared.ops) {
                    self.impossible = Some(why);
                    self.result = Some(SearchResult::NotLinearizable(Stuck {
                        op,
                        paths: Vec::new(),
                    }));
                    return;
                }
            }
            self.searcher = Some(Searcher::new(model, prepared.ops));
        }
        let searcher = self.searcher.as_mut().expect("created above");
        self.result = searcher.run(slice, budget);
        self.stats = searcher.stats;
        if self.result.is_some() {
            self.searcher = None;
        }
    }
}

fn linearizable<M: Model>(
    model: &M,
    ops: &[&Operation],
    opts: &CheckOptions,
    started: Instant,
) -> Result<CheckResult, CheckError> {
    let groups = split_by_key(ops);
    let mut result = empty_result(ops, groups.len());
    let jobs = search_all(model, &groups, opts, started)?;
    result.steps = jobs.iter().map(|j| j.stats.steps).sum();
    result.configurations = jobs.iter().map(|j| j.stats.placements).sum();
    result.cache_resets = jobs.iter().map(|j| j.stats.cache_resets).sum();
    conclude(model, &groups, &jobs, opts, &mut result);
    Ok(result)
}

/// Searches every key's group round-robin in parallel, with doubling step
/// allowances, until each is decided (or, stopping at the first, one
/// fails). Returns the keys' jobs, their searches dropped.
fn search_all<'m, M: Model>(
    model: &'m M,
    groups: &[(Option<String>, Vec<&Operation>)],
    opts: &CheckOptions,
    started: Instant,
) -> Result<Vec<KeyJob<'m, M>>, CheckError> {
    let cancel = AtomicBool::new(false);
    let in_use = AtomicUsize::new(0);
    let budget = Budget {
        deadline: opts.timeout.map(|t| started + t),
        cancel: opts.stop_at_first.then_some(&cancel),
        memory: crate::linear::Memory {
            limit: opts.memory_bytes,
            in_use: Some(&in_use),
        },
        prune: opts.prune,
    };
    let mut jobs: Vec<KeyJob<M>> = (0..groups.len())
        .map(|group| KeyJob {
            group,
            source: Vec::new(),
            searcher: None,
            result: None,
            stats: SearchStats::default(),
            error: None,
            impossible: None,
        })
        .collect();
    let mut slice = FIRST_SLICE;
    while jobs.iter().any(|j| j.result.is_none()) {
        jobs.par_iter_mut()
            .filter(|j| j.result.is_none())
            .for_each(|j| {
                j.step(model, &groups[j.group].1, slice, &budget);
                if matches!(j.result, Some(SearchResult::NotLinearizable(_))) {
                    cancel.store(true, Ordering::Relaxed);
                }
            });
        if let Some(e) = jobs.iter_mut().find_map(|j| j.error.take()) {
            return Err(e.into());
        }
        if opts.stop_at_first && cancel.load(Ordering::Relaxed) {
            break;
        }
        slice = slice.saturating_mul(2);
    }
    for job in &mut jobs {
        job.searcher = None;
    }
    Ok(jobs)
}

/// The verdict of the searched `jobs`, the keys undecided or invalid, and
/// the counterexample of the invalid key that starts earliest.
fn conclude<M: Model>(
    model: &M,
    groups: &[(Option<String>, Vec<&Operation>)],
    jobs: &[KeyJob<'_, M>],
    opts: &CheckOptions,
    result: &mut CheckResult,
) {
    let mut invalid: Vec<Failed<'_, M::State>> = Vec::new();
    let mut timed_out = false;
    for job in jobs {
        match &job.result {
            Some(SearchResult::Linearizable) => {}
            Some(SearchResult::NotLinearizable(stuck)) => invalid.push((
                job.group,
                &job.source,
                stuck.clone(),
                job.impossible.as_deref(),
            )),
            Some(SearchResult::Unknown(s)) => {
                timed_out |= *s == Stopped::Timeout;
                result.unknown_keys.push(key_name(&groups[job.group].0));
            }
            None => result.unknown_keys.push(key_name(&groups[job.group].0)),
        }
    }
    if invalid.is_empty() {
        if !result.unknown_keys.is_empty() {
            result.verdict = Verdict::Unknown;
            result.reason = Some(format!(
                "{} of {} keys not decided: {}",
                result.unknown_keys.len(),
                result.keys,
                if timed_out { "out of time" } else { "stopped" }
            ));
        }
        return;
    }
    result.verdict = Verdict::Invalid;
    // Keys undecided only because another key already failed are not news.
    if opts.stop_at_first {
        result.unknown_keys.clear();
    }
    // Explain the invalid key that starts earliest, so the answer does not
    // depend on which thread finished first.
    invalid.sort_by_key(|(g, _, _, _)| groups[*g].1.first().map(|o| o.invoke_index));
    result.invalid_keys = invalid
        .iter()
        .map(|(g, _, _, _)| key_name(&groups[*g].0))
        .collect();
    if opts.counterexample {
        let (g, source, stuck, impossible) = &invalid[0];
        let (key, key_ops) = &groups[*g];
        let stuck = original_states(model, key_ops, source, stuck);
        let mut c = counterexample::build(model, key.clone(), key_ops, source, &stuck);
        c.impossible = impossible.map(str::to_string);
        result.detected_at_index = c.operation.complete_index;
        result.detected_at_time = c.operation.complete_time;
        result.counterexample = Some(c);
    }
}

/// The stuck configurations with their states recomputed from the original
/// operations: the search may have run on reduced ones (merged values).
fn original_states<M: Model>(
    model: &M,
    key_ops: &[&Operation],
    source: &[usize],
    stuck: &Stuck<M::State>,
) -> Stuck<M::State> {
    let Ok(original) = prepare_ops(model, key_ops) else {
        return stuck.clone();
    };
    let mut by_source: HashMap<usize, &M::Op> = HashMap::new();
    for (op, &src) in original.ops.iter().zip(&original.source) {
        by_source.insert(src, &op.op);
    }
    let paths = stuck
        .paths
        .iter()
        .map(|(path, reduced)| {
            let replayed = path.iter().try_fold(model.init(), |state, &i| {
                by_source
                    .get(&source[i])
                    .and_then(|op| model.step(&state, op))
            });
            (path.clone(), replayed.unwrap_or_else(|| reduced.clone()))
        })
        .collect();
    Stuck {
        op: stuck.op,
        paths,
    }
}
