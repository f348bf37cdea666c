//! The fault schedule, drawn from the seed before the run starts.
//!
//! The schedule is a pure function of the seed, the enabled faults, the
//! cluster size and the timing options, computed from a ChaCha stream of
//! its own: client timing cannot perturb it, and a seed replays the same
//! faults at the same times. Only what depends on the cluster at the moment
//! (which node leads) is resolved when a fault starts.
//!
//! Fault `k` starts at `interval · k` plus a jitter of a quarter to three
//! quarters of an interval, and lasts half an interval to 1.1 intervals, so
//! consecutive faults sometimes overlap. The kinds come from a shuffled bag
//! (every enabled kind once, then reshuffled), so a few intervals cover them
//! all; a kind still active when its turn comes is skipped for this slot.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::executor::{Executor, FaultId};
use super::faults::{Fault, NemesisKind};
use super::kind::Draw;
use faultline_platform::cluster::ClusterError;

/// The ChaCha stream number of the nemesis schedule (clients use others).
pub const NEMESIS_STREAM: u64 = 1;

/// A fault and when it starts and stops (since the test start).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    /// When it starts, since the test start.
    pub start: Duration,
    /// When it stops (at most the time limit).
    pub stop: Duration,
    /// The fault, with its targets drawn from the seed.
    pub fault: Fault,
}

/// What the schedule is drawn for.
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    /// The run's seed (the schedule uses a ChaCha stream of its own).
    pub seed: u64,
    /// The kinds drawn from (`--nemesis`).
    pub kinds: Vec<NemesisKind>,
    /// Cluster size (kinds impossible with it are left out).
    pub nodes: usize,
    /// Time between fault starts.
    pub interval: Duration,
    /// Length of the faulty phase.
    pub time_limit: Duration,
    /// The share of packets a drop fault drops, percent.
    pub drop_percent: u8,
}

/// Draws the schedule: a pure function of the options.
pub fn schedule(opts: &ScheduleOptions) -> Vec<Planned> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    rng.set_stream(NEMESIS_STREAM);
    let kinds: Vec<NemesisKind> = opts
        .kinds
        .iter()
        .copied()
        .filter(|k| k.is_drawn() && k.possible_with(opts.nodes))
        .collect();
    let mut steps: Vec<Planned> = Vec::new();
    if kinds.is_empty() || opts.interval.is_zero() {
        return steps;
    }
    let draw = Draw {
        nodes: opts.nodes,
        drop_percent: opts.drop_percent,
    };
    let mut bag: Vec<NemesisKind> = Vec::new();
    let interval = opts.interval.as_secs_f64();
    for k in 0.. {
        let start = interval * (k as f64 + rng.gen_range(0.25..0.75));
        if start >= opts.time_limit.as_secs_f64() {
            break;
        }
        let length = interval * rng.gen_range(0.5..1.1);
        let stop = (start + length).min(opts.time_limit.as_secs_f64());
        let start = Duration::from_secs_f64(start);
        let stop = Duration::from_secs_f64(stop);
        if bag.is_empty() {
            bag = kinds.clone();
            bag.shuffle(&mut rng);
        }
        let active: Vec<NemesisKind> = steps
            .iter()
            .filter(|s| s.stop > start)
            .map(|s| s.fault.kind())
            .collect();
        let Some(pos) = bag.iter().position(|k| !active.contains(k)) else {
            continue;
        };
        let kind = bag.remove(pos);
        if let Some(fault) = kind.draw(&draw, &mut rng) {
            steps.push(Planned { start, stop, fault });
        }
    }
    steps
}

/// Plays `steps` through `executor` until every step ran or `until` (since
/// the test start) passed; faults still active stay active: the run heals
/// them with [`Executor::heal`].
pub async fn play(
    executor: &mut Executor,
    steps: &[Planned],
    until: Duration,
) -> Result<(), ClusterError> {
    let mut timeline: Vec<(Duration, bool, usize)> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        timeline.push((s.start, true, i));
        timeline.push((s.stop, false, i));
    }
    // Stops before starts at the same instant.
    timeline.sort_by_key(|&(at, start, i)| (at, start, i));
    let mut started: Vec<Option<FaultId>> = vec![None; steps.len()];
    for (at, start, i) in timeline {
        if at >= until {
            break;
        }
        let now = executor.recorder().elapsed();
        if at > now {
            tokio::time::sleep(at - now).await;
        }
        if start {
            started[i] = executor.start(&steps[i].fault).await?;
        } else if let Some(id) = started[i].take() {
            executor.stop(id)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::Target;

    fn opts(seed: u64) -> ScheduleOptions {
        ScheduleOptions {
            seed,
            kinds: NemesisKind::classic(),
            nodes: 5,
            interval: Duration::from_secs(5),
            time_limit: Duration::from_secs(30),
            drop_percent: 20,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        assert_eq!(schedule(&opts(7)), schedule(&opts(7)));
        assert_ne!(schedule(&opts(7)), schedule(&opts(8)));
    }

    #[test]
    fn a_thirty_second_run_covers_every_kind_within_the_time_limit() {
        for seed in 0..50 {
            let steps = schedule(&opts(seed));
            for kind in NemesisKind::classic() {
                assert!(
                    steps.iter().any(|s| s.fault.kind() == kind),
                    "seed {seed}: no {kind:?} in {steps:?}"
                );
            }
            for s in &steps {
                assert!(s.start < s.stop && s.stop <= Duration::from_secs(30));
            }
            // A kind never overlaps itself.
            for (i, a) in steps.iter().enumerate() {
                for b in &steps[i + 1..] {
                    if a.fault.kind() == b.fault.kind() {
                        assert!(a.stop <= b.start, "seed {seed}: {a:?} overlaps {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn targets_are_at_most_a_minority_and_impossible_kinds_are_left_out() {
        for seed in 0..50 {
            for s in schedule(&opts(seed)) {
                if let (Fault::Kill(_) | Fault::Pause(_), Some(Target::Nodes(t))) =
                    (&s.fault, s.fault.target())
                {
                    assert!(!t.is_empty() && t.len() <= 2, "{t:?}");
                }
            }
        }
        let single = ScheduleOptions {
            nodes: 1,
            ..opts(1)
        };
        assert!(schedule(&single).iter().all(
            |s| s.fault.kind() != NemesisKind::Partition && s.fault.kind() != NemesisKind::Drop
        ));
    }
}
