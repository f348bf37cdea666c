//! Seeds: every scenario is a function of its seed. `SIM_SEED=N` replays one
//! seed; a failing run prints the seed to replay.

/// The seed given in `SIM_SEED`, if any.
pub fn env_seed() -> Option<u64> {
    let s = std::env::var("SIM_SEED").ok()?;
    Some(
        s.trim()
            .parse()
            .expect("SIM_SEED must be an unsigned integer"),
    )
}

/// Prints how to replay a seed if the scenario panics while it is alive.
struct ReplayHint<'a> {
    name: &'a str,
    seed: u64,
}

impl Drop for ReplayHint<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "scenario {} failed at seed {}; replay with: SIM_SEED={} cargo test -p faultline-node --release --test sim {}",
                self.name, self.seed, self.seed, self.name
            );
        }
    }
}

/// Runs `body` for seeds `base .. base + count` (or only `SIM_SEED`).
pub fn for_seeds(name: &str, base: u64, count: u64, mut body: impl FnMut(u64)) {
    let seeds: Vec<u64> = match env_seed() {
        Some(s) => vec![s],
        None => (base..base + count).collect(),
    };
    for seed in seeds {
        let _hint = ReplayHint { name, seed };
        body(seed);
    }
}

/// The first seed in `base .. base + max` (or `SIM_SEED`) for which
/// `violates` returns true.
pub fn find_seed(
    name: &str,
    base: u64,
    max: u64,
    mut violates: impl FnMut(u64) -> bool,
) -> Option<u64> {
    let seeds: Vec<u64> = match env_seed() {
        Some(s) => vec![s],
        None => (base..base + max).collect(),
    };
    for seed in seeds {
        let _hint = ReplayHint { name, seed };
        if violates(seed) {
            eprintln!("scenario {name}: violation found at seed {seed}");
            return Some(seed);
        }
    }
    None
}
