//! Checking a whole history: pair events, split by key
//! (P-compositionality), search every key in parallel (stopping the rest at
//! the first violation), and explain the failure.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::counterexample;
use crate::history::{pair, Event, Operation};
use crate::linear::{search, Budget, SearchResult, Stopped, Stuck};
use crate::model::{kv::Kv, list_append::ListAppend, register::Register, Model, ModelError, ModelKind};
use crate::prepare::prepare_ops;
use crate::set_full;
use crate::verdict::{key_name, CheckError, CheckOptions, CheckResult, Verdict};

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
    let started = Instant::now();
    let mut result = match model {
        ModelKind::Register => linearizable(&Register, ops, opts, started)?,
        ModelKind::Kv => linearizable(&Kv, ops, opts, started)?,
        ModelKind::ListAppend => linearizable(&ListAppend, ops, opts, started)?,
        ModelKind::Set => set(ops)?,
    };
    result.model = model.name().to_string();
    result.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(result)
}

/// Groups operations by key, keeping history order within each key.
pub fn split_by_key(ops: &[Operation]) -> Vec<(Option<String>, Vec<&Operation>)> {
    let mut index: HashMap<Option<&str>, usize> = HashMap::new();
    let mut groups: Vec<(Option<String>, Vec<&Operation>)> = Vec::new();
    for op in ops {
        let slot = *index.entry(op.key.as_deref()).or_insert_with(|| {
            groups.push((op.key.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(op);
    }
    groups
}

fn empty_result(ops: &[Operation], keys: usize) -> CheckResult {
    CheckResult {
        verdict: Verdict::Valid,
        model: String::new(),
        operations: ops.len(),
        keys,
        invalid_keys: Vec::new(),
        unknown_keys: Vec::new(),
        reason: None,
        counterexample: None,
        set: Vec::new(),
        detected_at_time: None,
        detected_at_index: None,
        steps: 0,
        cache_resets: 0,
        elapsed_ms: 0.0,
    }
}

enum KeyOutcome<S> {
    Valid,
    Invalid(Vec<usize>, Stuck<S>),
    Unknown(Stopped),
}

fn linearizable<M: Model>(
    model: &M,
    ops: &[Operation],
    opts: &CheckOptions,
    started: Instant,
) -> Result<CheckResult, CheckError> {
    let mut groups = split_by_key(ops);
    let mut result = empty_result(ops, groups.len());
    // Largest keys first, so one big key does not start last.
    groups.sort_by_key(|(_, g)| std::cmp::Reverse(g.len()));
    let deadline = opts.timeout.map(|t| started + t);
    let cancel = AtomicBool::new(false);
    let steps = AtomicU64::new(0);
    let resets = AtomicU32::new(0);
    let per_search = opts.memory_bytes / rayon::current_num_threads().max(1);
    let budget = Budget {
        deadline,
        cancel: opts.stop_at_first.then_some(&cancel),
        cache_bytes: per_search,
    };
    let outcomes: Vec<Result<KeyOutcome<M::State>, ModelError>> = groups
        .par_iter()
        .map(|(_, key_ops)| {
            if budget.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Ok(KeyOutcome::Unknown(Stopped::Cancelled));
            }
            let prepared = prepare_ops(model, key_ops)?;
            let (r, stats) = search(model, &prepared.ops, &budget);
            steps.fetch_add(stats.steps, Ordering::Relaxed);
            resets.fetch_add(stats.cache_resets, Ordering::Relaxed);
            Ok(match r {
                SearchResult::Linearizable => KeyOutcome::Valid,
                SearchResult::NotLinearizable(stuck) => {
                    cancel.store(true, Ordering::Relaxed);
                    KeyOutcome::Invalid(prepared.source, stuck)
                }
                SearchResult::Unknown(s) => KeyOutcome::Unknown(s),
            })
        })
        .collect();
    result.steps = steps.into_inner();
    result.cache_resets = resets.into_inner();

    let mut invalid: Vec<(usize, Vec<usize>, Stuck<M::State>)> = Vec::new();
    let mut timed_out = false;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome? {
            KeyOutcome::Valid => {}
            KeyOutcome::Invalid(source, stuck) => invalid.push((i, source, stuck)),
            KeyOutcome::Unknown(s) => {
                timed_out |= s == Stopped::Timeout;
                result.unknown_keys.push(key_name(&groups[i].0));
            }
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
        return Ok(result);
    }
    result.verdict = Verdict::Invalid;
    // Keys undecided only because another key already failed are not news.
    if opts.stop_at_first {
        result.unknown_keys.clear();
    }
    // Explain the invalid key that starts earliest, so the answer does not
    // depend on which thread finished first.
    invalid.sort_by_key(|(i, _, _)| groups[*i].1.first().map(|o| o.invoke_index));
    result.invalid_keys = invalid.iter().map(|(i, _, _)| key_name(&groups[*i].0)).collect();
    if opts.counterexample {
        let (i, source, stuck) = &invalid[0];
        let (key, key_ops) = &groups[*i];
        let c = counterexample::build(model, key.clone(), key_ops, source, stuck);
        result.detected_at_index = c.operation.complete_index;
        result.detected_at_time = c.operation.complete_time;
        result.counterexample = Some(c);
    }
    Ok(result)
}

fn set(ops: &[Operation]) -> Result<CheckResult, CheckError> {
    let groups = split_by_key(ops);
    let mut result = empty_result(ops, groups.len());
    for (key, key_ops) in groups {
        let report = set_full::analyse(key, &key_ops)?;
        if !report.is_valid() {
            result.verdict = Verdict::Invalid;
            result.invalid_keys.push(key_name(&report.key));
            if report.first_anomaly_index < result.detected_at_index || result.detected_at_index.is_none() {
                result.detected_at_index = report.first_anomaly_index;
                result.detected_at_time = report.first_anomaly_time;
            }
        }
        result.set.push(report);
    }
    Ok(result)
}
