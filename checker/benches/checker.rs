//! Checker benchmarks: the Porcupine corpora of `../shared/corpus/` (read and
//! checked, as `faultline check` does) and a generated history of 1,000,000
//! events over 1,000 keys from 20 processes.
//!
//! Run with `cargo bench -p faultline-checker`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion};
use faultline_checker::generate::{generate, Shape};
use faultline_checker::history::pair;
use faultline_checker::import::{read_history_file, Format};
use faultline_checker::model::ModelKind;
use faultline_checker::{check_operations, CheckOptions, Verdict};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let root = std::env::var("FAULTLINE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
        .expect("corpus folder (shared/ beside the repository, or FAULTLINE_CORPUS)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log" || e == "txt"))
        .collect();
    files.sort();
    files
}

fn check_files(files: &[PathBuf], model: ModelKind) -> usize {
    check_files_with(files, model, &CheckOptions::default())
}

fn check_files_with(files: &[PathBuf], model: ModelKind, opts: &CheckOptions) -> usize {
    let mut invalid = 0;
    for f in files {
        let h = read_history_file(f, Format::Auto).unwrap();
        let ops = pair(&h.events, Some(&h.lines)).unwrap();
        let r = check_operations(&ops, model, opts).unwrap();
        invalid += usize::from(r.verdict == Verdict::Invalid);
    }
    invalid
}

fn benches(c: &mut Criterion) {
    let etcd = corpus("porcupine-etcd");
    let kv = corpus("porcupine-kv");
    let c50_ok: Vec<PathBuf> = kv
        .iter()
        .filter(|p| p.ends_with("c50-ok.txt"))
        .cloned()
        .collect();
    let mut g = c.benchmark_group("corpus");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("porcupine-etcd (102 histories)", |b| {
        b.iter(|| check_files(&etcd, ModelKind::Register))
    });
    g.bench_function("porcupine-kv (6 histories)", |b| {
        b.iter(|| check_files(&kv, ModelKind::Kv))
    });
    g.bench_function("porcupine-kv c50-ok", |b| {
        b.iter(|| check_files(&c50_ok, ModelKind::Kv))
    });
    g.finish();

    // The baseline, in the same process: the classic search without the
    // prunings, on the same files, with the ratio printed.
    let classic = CheckOptions {
        prune: false,
        ..CheckOptions::default()
    };
    for (name, files, model) in [
        ("porcupine-etcd (102 histories)", &etcd, ModelKind::Register),
        ("porcupine-kv (6 histories)", &kv, ModelKind::Kv),
        ("porcupine-kv c50-ok", &c50_ok, ModelKind::Kv),
    ] {
        let time = |opts: &CheckOptions| {
            let t = Instant::now();
            let mut runs = 0u32;
            while runs < 3 || t.elapsed() < Duration::from_secs(2) {
                check_files_with(files, model, opts);
                runs += 1;
            }
            t.elapsed() / runs
        };
        let (base, ours) = (time(&classic), time(&CheckOptions::default()));
        eprintln!(
            "baseline {name}: classic search {base:.2?}, faultline {ours:.2?}: {:.1}x faster",
            base.as_secs_f64() / ours.as_secs_f64()
        );
    }

    let t = Instant::now();
    let shape = Shape {
        events: 1_000_000,
        keys: 1_000,
        clients: 20,
        values: 5,
        crash_per_mille: 20,
    };
    let events = generate(&shape, 7);
    let jsonl = faultline_checker::history::to_jsonl(&events);
    eprintln!(
        "generated {} events ({} MB of JSONL) in {:.2?}",
        events.len(),
        jsonl.len() >> 20,
        t.elapsed()
    );
    if let Ok(path) = std::env::var("FAULTLINE_BENCH_DUMP") {
        // For measuring `faultline check` on the same history from outside (time, memory).
        std::fs::write(&path, &jsonl).expect("write FAULTLINE_BENCH_DUMP");
        eprintln!("wrote the generated history to {path}");
    }
    let mut g = c.benchmark_group("generated");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("1M events, 1000 keys, 20 processes: pair + check", |b| {
        b.iter(|| {
            let ops = pair(&events, None).unwrap();
            let r = check_operations(&ops, ModelKind::Register, &CheckOptions::default()).unwrap();
            assert_eq!(r.verdict, Verdict::Valid);
        })
    });
    g.bench_function(
        "1M events, 1000 keys, 20 processes: parse JSONL + pair + check",
        |b| {
            b.iter(|| {
                let h = faultline_checker::import::read_history_str(
                    &jsonl,
                    Path::new("generated.jsonl"),
                    Format::Jsonl,
                    Default::default(),
                )
                .unwrap();
                let ops = pair(&h.events, Some(&h.lines)).unwrap();
                let r =
                    check_operations(&ops, ModelKind::Register, &CheckOptions::default()).unwrap();
                assert_eq!(r.verdict, Verdict::Valid);
            })
        },
    );
    g.finish();
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(checker, super::benches);
}
use group::checker;
criterion_main!(checker);
