//! The node alone: a 3-node cluster on loopback with fsync on, closed-loop
//! clients writing 256-byte values to the leader at 1, 16 and 64 concurrent
//! clients; writes/s and p50/p99 latency. The same load against the same
//! cluster started with `--bug no-fsync` runs as the in-process baseline, so
//! the ratio shows what durability costs after group commit.
//!
//! `cargo bench -p faultline-node --bench cluster` (seconds per step:
//! `FAULTLINE_BENCH_SECS`, default 5).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::Cluster;

struct Row {
    clients: usize,
    writes_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn load(c: &Cluster, leader: usize, clients: usize, secs: f64) -> Row {
    let url = format!("http://{}/kv/", c.nodes[leader].http_addr);
    let value = "x".repeat(256);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|w| {
            let url = url.clone();
            let body = serde_json::json!({ "value": value }).to_string();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .no_proxy()
                    .build()
                    .unwrap();
                let mut lat = Vec::new();
                let mut errors = 0;
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let t = Instant::now();
                    let ok = http
                        .put(format!("{url}w{w}-{}", i % 1000))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .map(|r| r.status().is_success())
                        .unwrap_or(false);
                    if ok {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (lat, e) = w.join().unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    Row {
        clients,
        writes_per_s: all.len() as f64 / elapsed,
        p50_ms: quantile(&all, 0.5),
        p99_ms: quantile(&all, 0.99),
        errors,
    }
}

fn run(label: &str, net: u8, extra: &[&str], secs: f64) -> Vec<Row> {
    let c = Cluster::new(3, net, extra).start();
    let (leader, _) = c.await_leader(Duration::from_secs(10));
    let rows: Vec<Row> = [1, 16, 64]
        .iter()
        .map(|&n| load(&c, leader, n, secs))
        .collect();
    for r in &rows {
        println!(
            "{label:<10} clients={:<3} writes/s={:>8.0} p50={:>6.2} ms p99={:>6.2} ms errors={}",
            r.clients, r.writes_per_s, r.p50_ms, r.p99_ms, r.errors
        );
    }
    rows
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs: f64 = std::env::var("FAULTLINE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let durable = run("fsync", 61, &[], secs);
    let volatile = run("no-fsync", 62, &["--bug", "no-fsync"], secs);
    println!("\nclients  fsync w/s  no-fsync w/s  durable/volatile");
    for (d, v) in durable.iter().zip(&volatile) {
        println!(
            "{:<8} {:>9.0} {:>13.0} {:>17.2}",
            d.clients,
            d.writes_per_s,
            v.writes_per_s,
            d.writes_per_s / v.writes_per_s
        );
    }
}
