//! Checker benchmarks: the Porcupine corpora of `../shared/corpus/` (read and
//! checked, as `faultline check` does) and a generated history of 1,000,000
//! events over 1,000 keys from 20 processes.
//!
//! Run with `cargo bench -p faultline-checker`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion};
use faultline_checker::history::{pair, Event, EventType, Process};
use faultline_checker::import::{read_history_file, Format};
use faultline_checker::model::ModelKind;
use faultline_checker::{check_operations, CheckOptions, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

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

/// A valid register history: `events` events, `keys` keys, `procs` clients;
/// each operation takes effect at a random instant inside its interval, and
/// one in 50 crashes (ends `info`, its client continues under a new number).
pub fn generate(events: usize, keys: usize, procs: usize, seed: u64) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut regs: Vec<Option<i64>> = vec![None; keys];
    struct Pending {
        key: usize,
        f: &'static str,
        input: Value,
        output: Value,
        ok: bool,
        applied: bool,
        crash: bool,
    }
    let mut pending: Vec<Option<Pending>> = (0..procs).map(|_| None).collect();
    let mut process: Vec<u64> = (0..procs as u64).collect();
    let mut next_process = procs as u64;
    let mut out: Vec<Event> = Vec::with_capacity(events);
    let push = |out: &mut Vec<Event>, p: u64, kind, f: &str, key: usize, value| {
        let index = out.len() as u64;
        out.push(Event {
            index,
            time: index * 1000,
            process: Process::Client(p),
            kind,
            f: f.to_string(),
            key: Some(key.to_string()),
            value,
            error: None,
        });
    };
    while out.len() < events || pending.iter().any(Option::is_some) {
        let c = rng.gen_range(0..procs);
        match &mut pending[c] {
            None if out.len() < events => {
                let key = rng.gen_range(0..keys);
                let (f, input) = match rng.gen_range(0..3) {
                    0 => ("read", Value::Null),
                    1 => ("write", json!(rng.gen_range(0..5))),
                    _ => ("cas", json!([rng.gen_range(0..5), rng.gen_range(0..5)])),
                };
                push(
                    &mut out,
                    process[c],
                    EventType::Invoke,
                    f,
                    key,
                    input.clone(),
                );
                pending[c] = Some(Pending {
                    key,
                    f,
                    input,
                    output: Value::Null,
                    ok: true,
                    applied: false,
                    crash: rng.gen_ratio(1, 50),
                });
            }
            None => {}
            Some(p) if !p.applied => {
                p.applied = true;
                let reg = &mut regs[p.key];
                match p.f {
                    "read" => p.output = reg.map(Value::from).unwrap_or(Value::Null),
                    "write" => *reg = p.input.as_i64(),
                    _ => {
                        if *reg == p.input[0].as_i64() {
                            *reg = p.input[1].as_i64();
                        } else {
                            p.ok = false;
                        }
                    }
                }
            }
            Some(p) => {
                let (kind, value) = if p.crash {
                    (EventType::Info, p.input.clone())
                } else if !p.ok {
                    (EventType::Fail, p.input.clone())
                } else if p.f == "read" {
                    (EventType::Ok, p.output.clone())
                } else {
                    (EventType::Ok, p.input.clone())
                };
                let (f, key, crash) = (p.f, p.key, p.crash);
                push(&mut out, process[c], kind, f, key, value);
                pending[c] = None;
                if crash {
                    process[c] = next_process;
                    next_process += 1;
                }
            }
        }
    }
    out
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
    let events = generate(1_000_000, 1_000, 20, 7);
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
