//! A family of generated register histories (keys, clients, value range,
//! crash rate), each checked by faultline's search and, in the same process,
//! by the classic Wing–Gong/Lowe search (no prunings, no reductions): time,
//! verdict and peak resident memory growth per case. Each case is also
//! broken (one read returns a value never written) and checked again.
//!
//! ```text
//! cargo bench -p faultline-checker --bench families            # the table
//! FAULTLINE_FAMILY_SWEEP=1 cargo bench -p faultline-checker --bench families
//!     # time against --memory-mb on the hardest cases (how the default was chosen)
//! FAULTLINE_FAMILY_DUMP=DIR ...                                # also write each history
//! FAULTLINE_FAMILY_CASES=1,3 ...                               # only these cases
//! ```
//!
//! Peak memory is measured by resetting the kernel's high-water mark
//! (`/proc/self/clear_refs`, 5) before each check and reading `VmHWM`
//! after it, minus the resident size before it (the history itself).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use faultline_checker::generate::{break_one_read, generate, Shape};
use faultline_checker::history::{pair, to_jsonl, Operation};
use faultline_checker::model::ModelKind;
use faultline_checker::{check_operations, CheckOptions, Verdict};

/// The cases: the shapes a user hit the checker's limits with.
const CASES: [(&str, Shape); 5] = [
    (
        "1M events, 1000 keys, 20 clients, 0.5% crash",
        Shape {
            events: 1_000_000,
            keys: 1000,
            clients: 20,
            values: 10,
            crash_per_mille: 5,
        },
    ),
    (
        "200k events, 5 keys, 10 clients, 2% crash",
        Shape {
            events: 200_000,
            keys: 5,
            clients: 10,
            values: 5,
            crash_per_mille: 20,
        },
    ),
    (
        "200k events, 5 keys, 30 clients, 5% crash",
        Shape {
            events: 200_000,
            keys: 5,
            clients: 30,
            values: 5,
            crash_per_mille: 50,
        },
    ),
    (
        "200k events, 3 keys, 50 clients, 10% crash",
        Shape {
            events: 200_000,
            keys: 3,
            clients: 50,
            values: 5,
            crash_per_mille: 100,
        },
    ),
    (
        "200k events, 1 key, 20 clients, 2% crash",
        Shape {
            events: 200_000,
            keys: 1,
            clients: 20,
            values: 5,
            crash_per_mille: 20,
        },
    ),
];

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs one check; returns (verdict, seconds, peak growth in MiB).
fn measure(ops: &[Operation], opts: &CheckOptions) -> (Verdict, f64, f64) {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kb("VmRSS:");
    let t = Instant::now();
    let r = check_operations(ops, ModelKind::Register, opts).expect("generated histories check");
    let secs = t.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM:");
    (r.verdict, secs, peak.saturating_sub(before) as f64 / 1024.0)
}

fn options(memory_mb: usize, timeout: u64, prune: bool) -> CheckOptions {
    CheckOptions {
        timeout: Some(Duration::from_secs(timeout)),
        memory_bytes: memory_mb << 20,
        prune,
        ..CheckOptions::default()
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let timeout = 60;
    let sweep = std::env::var_os("FAULTLINE_FAMILY_SWEEP").is_some();
    let dump = std::env::var_os("FAULTLINE_FAMILY_DUMP").map(PathBuf::from);
    let only: Option<Vec<usize>> = std::env::var("FAULTLINE_FAMILY_CASES")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect());
    let ours = options(CheckOptions::default().memory_bytes >> 20, timeout, true);
    let classic = options(CheckOptions::default().memory_bytes >> 20, timeout, false);
    println!(
        "| history | ops | faultline | peak MiB | classic search | peak MiB | broken: faultline | broken: classic |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, (name, shape)) in CASES.iter().enumerate() {
        if only.as_ref().is_some_and(|o| !o.contains(&(i + 1))) {
            continue;
        }
        let mut events = generate(shape, 7);
        if let Some(dir) = &dump {
            let path = dir.join(format!("case{}.jsonl", i + 1));
            std::fs::write(&path, to_jsonl(&events)).expect("write FAULTLINE_FAMILY_DUMP");
        }
        let ops = pair(&events, None).expect("generated histories pair");
        if sweep {
            if i < 3 {
                continue;
            }
            for mb in [32, 64, 128, 256, 512, 1024, 2048, 4096] {
                let (v, s, m) = measure(&ops, &options(mb, timeout, true));
                println!("sweep | {name} | --memory-mb {mb} | {v} {s:.2} s | {m:.0} MiB");
            }
            continue;
        }
        let (v1, s1, m1) = measure(&ops, &ours);
        let (v2, s2, m2) = measure(&ops, &classic);
        break_one_read(&mut events, 7);
        let broken = pair(&events, None).expect("generated histories pair");
        drop(ops);
        let (b1, bs1, _) = measure(&broken, &ours);
        let (b2, bs2, _) = measure(&broken, &classic);
        println!(
            "| {name} | {} | {v1} {s1:.2} s | {m1:.0} | {v2} {s2:.2} s | {m2:.0} | {b1} {bs1:.2} s | {b2} {bs2:.2} s |",
            broken.len()
        );
    }
}
