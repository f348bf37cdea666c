//! `--shard I/N`: a deterministic slice of a suite's runs, so that N CI
//! runners can each run one and together run the whole suite once.
//!
//! Runs are dealt in the suite's own order, each to the slice with the
//! least expected time so far (ties to the lowest slice): equal runs go
//! round-robin, and a matrix of long and short runs still splits evenly.
//! The deal depends only on the suite file, so every runner computes the
//! same slices.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::PlannedRun;

/// Seconds a run is expected to take beyond its workload: start-up,
/// recovery, final reads and checking.
const OVERHEAD_SECS: f64 = 20.0;

/// Slice `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which slice, 1..=count.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

/// Why a `--shard` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    /// Not of the form `I/N`.
    #[error("`{0}` is not I/N (e.g. 2/4)")]
    Form(String),
    /// I outside 1..=N, or N is 0.
    #[error("shard {index}/{count}: I must be between 1 and N")]
    Range {
        /// The slice asked for.
        index: usize,
        /// The number of slices.
        count: usize,
    },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let form = || ShardError::Form(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(form)?;
        let index: usize = i.trim().parse().map_err(|_| form())?;
        let count: usize = n.trim().parse().map_err(|_| form())?;
        if count == 0 || index == 0 || index > count {
            return Err(ShardError::Range { index, count });
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The positions in `runs` (the whole suite's plan) that `shard` runs, in order.
pub fn shard_of(runs: &[PlannedRun], shard: Shard) -> Vec<usize> {
    let mut load = vec![0.0f64; shard.count];
    let mut picked = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let mut best = 0;
        for s in 1..shard.count {
            if load[s] < load[best] {
                best = s;
            }
        }
        load[best] += run.time_limit.max(0.0) + OVERHEAD_SECS;
        if best + 1 == shard.index {
            picked.push(i);
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{parse, plan};

    #[test]
    fn shard_values_parse_and_bad_ones_are_named() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(
            "0/3".parse::<Shard>(),
            Err(ShardError::Range { index: 0, count: 3 })
        );
        assert_eq!(
            "4/3".parse::<Shard>(),
            Err(ShardError::Range { index: 4, count: 3 })
        );
        assert!(matches!("3".parse::<Shard>(), Err(ShardError::Form(_))));
        assert!(matches!("a/3".parse::<Shard>(), Err(ShardError::Form(_))));
    }

    #[test]
    fn the_nightly_shards_cover_every_run_exactly_once() {
        let (file, _) = parse(include_str!("../../../suites/nightly.toml")).unwrap();
        let runs = plan(&file).unwrap();
        for count in [1, 2, 3, 4, 7] {
            let mut seen = vec![0usize; runs.len()];
            let mut sizes = Vec::new();
            for index in 1..=count {
                let picked = shard_of(&runs, Shard { index, count });
                assert!(picked.windows(2).all(|w| w[0] < w[1]), "in suite order");
                sizes.push(picked.len());
                for i in picked {
                    seen[i] += 1;
                }
            }
            assert!(
                seen.iter().all(|&n| n == 1),
                "{count} shards: every run once, got {seen:?}"
            );
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(max - min <= 1, "{count} shards of equal runs: {sizes:?}");
        }
    }

    #[test]
    fn uneven_runs_are_balanced_by_time() {
        let text = "[[matrix]]\nworkloads=[\"register\"]\nnemeses=[\"none\"]\nseeds=[1]\n\
                    options={time_limit=100}\n\
                    [[matrix]]\nworkloads=[\"register\"]\nnemeses=[\"none\"]\nseeds=[2,3,4]\n\
                    options={time_limit=10}\n";
        let runs = plan(&parse(text).unwrap().0).unwrap();
        assert_eq!(shard_of(&runs, Shard { index: 1, count: 2 }), vec![0]);
        assert_eq!(shard_of(&runs, Shard { index: 2, count: 2 }), vec![1, 2, 3]);
    }
}
