//! `faultline bench`: throughput and latency of a healthy cluster.
//!
//! For each system asked for (`--system`, or every one of `--compare`, one
//! after the other on the same machine): start an N-node cluster in the
//! run's private network namespace (or on the host's loopback with
//! `--net host`) and wait for a leader, as `faultline run` does (its
//! [`crate::run::local_cluster`] and [`crate::run::start_cluster`]), then
//! drive it with `--concurrency` closed-loop clients (tokio tasks, each
//! bound to one node, or all to the leader with `--target leader`, through
//! the system's own client). Each
//! client writes `--value-size`-byte values to random keys, or reads them
//! (`--reads` percent). Operations started during the warm-up are not
//! counted; the throughput is the operations that succeeded among those
//! started in the `--duration` window, divided by it. No faults.
//!
//! The table goes to stdout, everything to `<store>/bench-<time>/bench.json`
//! (node logs under `<store>/bench-<time>/<system>/nodes/`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use faultline_workloads::{Func, Op, Reply};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};

use crate::nemesis::{lock, SharedPlatform, Target};
use crate::system::{self, ClientSpec, System, SystemArgs, SystemClient};
use faultline_platform::cluster::NodeSpec;
use faultline_platform::netns::{self, NetMode};

/// Arguments of `faultline bench`.
#[derive(Debug, Clone, Args, Serialize)]
pub struct BenchArgs {
    /// The system to measure and its flags (--system, and each system's own:
    /// see `harness/src/system/`).
    #[command(flatten)]
    #[serde(flatten)]
    pub system: SystemArgs,
    /// Measure several systems one after the other and print the first one's
    /// ratios to the others, e.g. `--compare faultline-node,etcd` (overrides --system).
    #[arg(long, value_delimiter = ',', value_parser = system::parse_name)]
    pub compare: Vec<String>,
    /// Number of nodes in the benchmarked cluster.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub nodes: u16,
    /// Closed-loop clients (each has one operation in flight at a time).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Bytes of every value written.
    #[arg(long, default_value_t = 256)]
    pub value_size: usize,
    /// Share of reads, percent (the rest are writes).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub reads: u8,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1000)]
    pub keys: u64,
    /// all: client i talks to node i mod N (followers forward); leader: every
    /// client talks to the leader.
    #[arg(long, default_value = "all", value_parser = parse_target)]
    pub target: Target,
    /// Per-request timeout, milliseconds (past it the operation counts as an error).
    #[arg(long, default_value_t = 2000)]
    pub request_timeout_ms: u64,
    /// Seconds to wait for a leader at start.
    #[arg(long, default_value_t = 30.0)]
    pub leader_timeout: f64,
    /// Seed of the keys and the read/write mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where results are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// private: a network namespace of the bench's own; host: the host's loopback.
    #[arg(long, value_enum, default_value = "private")]
    pub net: NetMode,
    /// Measure every system twice, as it is and with the disk-fault layer
    /// mounted over its data (no fault injected), and report the layer's cost.
    #[arg(long)]
    pub disk_faults: bool,
}

/// `--target`: where the clients send their operations, in the fault
/// targets' vocabulary: `all` (client i talks to node i mod N) or `leader`
/// (every client talks to the node leading when the load starts).
fn parse_target(s: &str) -> Result<Target, String> {
    match s {
        "all" => Ok(Target::All),
        "leader" => Ok(Target::Leader),
        other => Err(format!("unknown target {other:?}; known: all, leader")),
    }
}

/// Latency and throughput of one kind of operation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OpStats {
    /// Operations that succeeded in the window.
    pub ok: u64,
    /// Operations that failed or timed out in the window.
    pub errors: u64,
    /// Successful operations per second.
    pub throughput: f64,
    /// Mean latency of the successful ones, milliseconds.
    pub mean_ms: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// 99.9th percentile, milliseconds.
    pub p999_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
}

impl OpStats {
    /// Stats of `latencies` (microseconds, any order) over `window`.
    pub fn of(mut latencies: Vec<u32>, errors: u64, window: Duration) -> OpStats {
        latencies.sort_unstable();
        let n = latencies.len();
        let ms = |us: u32| f64::from(us) / 1000.0;
        let at = |q: f64| {
            if n == 0 {
                0.0
            } else {
                let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
                ms(latencies[rank - 1])
            }
        };
        let sum: u64 = latencies.iter().map(|&l| u64::from(l)).sum();
        OpStats {
            ok: n as u64,
            errors,
            throughput: n as f64 / window.as_secs_f64().max(1e-9),
            mean_ms: if n == 0 {
                0.0
            } else {
                sum as f64 / n as f64 / 1000.0
            },
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: latencies.last().copied().map(ms).unwrap_or(0.0),
        }
    }
}

/// The measurement of one system.
#[derive(Debug, Clone, Serialize)]
pub struct SystemBench {
    /// The `--system` name of the system measured.
    pub system: String,
    /// The program its nodes ran.
    pub program: String,
    /// Whether the disk-fault layer was mounted over the nodes' data.
    pub disk_layer: bool,
    /// Each node's command line.
    pub command_lines: Vec<Vec<String>>,
    /// Latency and throughput of the writes in the window.
    pub writes: OpStats,
    /// Latency and throughput of the reads in the window.
    pub reads: OpStats,
    /// A few error messages, for diagnosis.
    pub error_samples: Vec<String>,
}

/// Runs `faultline bench`; returns the exit code.
///
/// Must be called while the process is single-threaded (it enters the
/// network namespace first).
pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
    if args.duration <= 0.0 || args.warmup < 0.0 || args.concurrency == 0 {
        bail!("--duration and --concurrency must be positive, --warmup not negative");
    }
    let systems = build_systems(&args)?;
    crate::run::enter_namespace(args.net, args.disk_faults)?;
    let tag_groups = args.net == NetMode::Private && netns::can_tag_groups();
    let started = crate::store::timestamp(std::time::SystemTime::now());
    let dir = args.store.join(format!("bench-{started}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let names: Vec<&str> = systems.iter().map(|s| s.name()).collect();
    eprintln!(
        "faultline bench: {} · {} nodes · {} clients · {}s after {}s warm-up · {} B values · {}% reads",
        names.join(" vs "),
        args.nodes,
        args.concurrency,
        args.duration,
        args.warmup,
        args.value_size,
        args.reads
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let layers: &[bool] = if args.disk_faults {
        &[false, true]
    } else {
        &[false]
    };
    let mut results = Vec::new();
    for system in &systems {
        for &disk in layers {
            let bench = Bench {
                args: &args,
                system,
                disk,
                tag_groups,
            };
            results.push(bench.measure(&rt, &dir)?);
        }
    }
    drop(rt);
    write_results(&args, &started, &dir, &results)?;
    Ok(0)
}

/// The systems measured (`--system`, or every one of `--compare`), each
/// built with the flags it takes (a flag none of them takes is refused);
/// refused when one cannot perform the operations the load issues.
fn build_systems(args: &BenchArgs) -> anyhow::Result<Vec<Arc<dyn System>>> {
    let names = if args.compare.is_empty() {
        vec![args.system.system.clone()]
    } else {
        args.compare.clone()
    };
    let named: Vec<&str> = names.iter().map(String::as_str).collect();
    args.system.refuse_flags_of_others(&named)?;
    let mut systems = Vec::new();
    for name in &names {
        let system = system::build(&args.system.options(name).only_own())
            .with_context(|| format!("choosing the system {name}"))?;
        let needed = [(Func::Write, true), (Func::Read, args.reads > 0)];
        if let Some((f, _)) = needed.iter().find(|(f, n)| *n && !system.supports(*f)) {
            return Err(crate::run::BadOptions(format!(
                "--system {name} does not perform {f}, which the bench issues"
            ))
            .into());
        }
        systems.push(system);
    }
    Ok(systems)
}

/// Prints the table and writes `bench.json`.
fn write_results(
    args: &BenchArgs,
    started: &str,
    dir: &Path,
    results: &[SystemBench],
) -> anyhow::Result<()> {
    print!("{}", render(args, results));
    let doc = json!({
        "started": started,
        "options": args,
        "results": results,
        "ratios": ratios(results),
    });
    let path = dir.join("bench.json");
    let text = serde_json::to_string_pretty(&doc).context("serializing bench.json")?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    println!("bench.json: {}", path.display());
    Ok(())
}

/// One measurement: a system, with or without the disk-fault layer.
struct Bench<'a> {
    args: &'a BenchArgs,
    system: &'a Arc<dyn System>,
    disk: bool,
    tag_groups: bool,
}

impl Bench<'_> {
    /// The name in the table: the system's, `+disk` with the layer.
    fn label(&self) -> String {
        if self.disk {
            format!("{}{DISK_SUFFIX}", self.system.name())
        } else {
            self.system.name().to_string()
        }
    }

    /// The cluster made, started and measured under `dir`, then stopped.
    fn measure(&self, rt: &tokio::runtime::Runtime, dir: &Path) -> anyhow::Result<SystemBench> {
        let label = self.label();
        let sub = dir.join(&label);
        let specs =
            crate::run::local_specs(self.args.nodes as usize, &sub, self.tag_groups, self.disk);
        let settings = faultline_platform::disk::DiskSettings {
            allow_other: self.tag_groups,
            ..Default::default()
        };
        let cluster = crate::run::local_cluster(
            self.system.as_ref(),
            specs.clone(),
            false,
            self.disk.then_some(settings),
        )?;
        let command_lines = (0..specs.len()).map(|i| cluster.command_line(i)).collect();
        let platform: SharedPlatform = Arc::new(Mutex::new(cluster));
        eprintln!("  {label}: starting {} nodes", self.args.nodes);
        let result = rt.block_on(self.load(&platform, &specs));
        lock(&platform).shutdown();
        self.system.shutdown();
        let (writes, reads, error_samples) = result.with_context(|| {
            format!(
                "benchmarking {label} (node logs under {})",
                sub.join("nodes").display()
            )
        })?;
        Ok(SystemBench {
            system: label,
            program: self.system.program(),
            disk_layer: self.disk,
            command_lines,
            writes,
            reads,
            error_samples,
        })
    }

    /// Starts the cluster, waits for its leader, drives the load; the
    /// writes' and reads' numbers and a few errors.
    async fn load(
        &self,
        platform: &SharedPlatform,
        specs: &[NodeSpec],
    ) -> anyhow::Result<(OpStats, OpStats, Vec<String>)> {
        let args = self.args;
        let limit = Duration::from_secs_f64(args.leader_timeout);
        let system = self.system.as_ref();
        // A system that cannot name its leader: node 0 stands in.
        let leader = crate::run::start_cluster(platform, system, specs, limit)
            .await?
            .unwrap_or(0);
        let window_start = Instant::now() + Duration::from_secs_f64(args.warmup);
        let window = Duration::from_secs_f64(args.duration);
        let value = Value::String("x".repeat(args.value_size));
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..args.concurrency {
            let node = match args.target {
                Target::Leader => leader,
                _ => c % specs.len(),
            };
            let spec = ClientSpec {
                name: format!("c{c}"),
                timeout: Duration::from_millis(args.request_timeout_ms.max(1)),
                write_revisions: false,
            };
            let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
            rng.set_stream(c as u64);
            let load = Load {
                client: system.client(&specs[node], &spec),
                value: value.clone(),
                reads: f64::from(args.reads) / 100.0,
                keys: args.keys.max(1),
                rng,
                window_start,
                window_end: window_start + window,
            };
            tasks.spawn(load.run());
        }
        let mut all = Tally::default();
        while let Some(done) = tasks.join_next().await {
            all.merge(done.context("a client task failed")?);
        }
        eprintln!(
            "  {}: {} writes, {} reads, {} errors",
            system.name(),
            all.writes.len(),
            all.reads.len(),
            all.write_errors + all.read_errors
        );
        let writes = OpStats::of(all.writes, all.write_errors, window);
        let reads = OpStats::of(all.reads, all.read_errors, window);
        Ok((writes, reads, all.samples))
    }
}

/// What one client saw in the window.
#[derive(Debug, Default)]
struct Tally {
    writes: Vec<u32>,
    reads: Vec<u32>,
    write_errors: u64,
    read_errors: u64,
    samples: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.writes.extend(other.writes);
        self.reads.extend(other.reads);
        self.write_errors += other.write_errors;
        self.read_errors += other.read_errors;
        for s in other.samples {
            if self.samples.len() < 10 && !self.samples.contains(&s) {
                self.samples.push(s);
            }
        }
    }
}

/// One closed-loop client: the next operation starts when one ends.
struct Load {
    client: Box<dyn SystemClient>,
    value: Value,
    reads: f64,
    keys: u64,
    rng: ChaCha8Rng,
    window_start: Instant,
    window_end: Instant,
}

impl Load {
    async fn run(mut self) -> Tally {
        let mut tally = Tally::default();
        loop {
            let start = Instant::now();
            if start >= self.window_end {
                return tally;
            }
            let key = format!("b{}", self.rng.gen_range(0..self.keys));
            let read = self.rng.gen_bool(self.reads);
            let op = if read {
                Op::new(Func::Read, key, Value::Null)
            } else {
                Op::new(Func::Write, key, self.value.clone())
            };
            let reply = self.client.invoke(&op).await;
            if start < self.window_start {
                continue;
            }
            let micros = start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            match (reply, read) {
                (Reply::Ok(_), true) => tally.reads.push(micros),
                (Reply::Ok(_), false) => tally.writes.push(micros),
                (Reply::Fail(e) | Reply::Info(e), read) => {
                    if read {
                        tally.read_errors += 1;
                    } else {
                        tally.write_errors += 1;
                    }
                    if tally.samples.len() < 3 && !tally.samples.contains(&e) {
                        tally.samples.push(e);
                    }
                }
            }
        }
    }
}

/// The first system's throughput and p99 over each other's.
/// The label suffix of a system measured with the disk-fault layer.
pub const DISK_SUFFIX: &str = "+disk";

/// The pairs of results compared: the first system as it is against each
/// other system as it is, and each system as it is against itself with the
/// disk-fault layer (`--disk-faults`).
fn comparisons(results: &[SystemBench]) -> Vec<(&SystemBench, &SystemBench)> {
    let plain: Vec<&SystemBench> = results.iter().filter(|r| !r.disk_layer).collect();
    let mut pairs = Vec::new();
    if let Some((first, rest)) = plain.split_first() {
        pairs.extend(rest.iter().map(|o| (*first, *o)));
    }
    for p in &plain {
        let with = format!("{}{DISK_SUFFIX}", p.system);
        if let Some(d) = results.iter().find(|r| r.disk_layer && r.system == with) {
            pairs.push((*p, d));
        }
    }
    pairs
}

fn ratios(results: &[SystemBench]) -> Value {
    let div = |a: f64, b: f64| if b > 0.0 { Some(a / b) } else { None };
    let list: Vec<Value> = comparisons(results)
        .into_iter()
        .map(|(first, other)| {
            json!({
                "of": first.system,
                "to": other.system,
                "write_throughput": div(first.writes.throughput, other.writes.throughput),
                "write_p99": div(first.writes.p99_ms, other.writes.p99_ms),
                "read_throughput": div(first.reads.throughput, other.reads.throughput),
                "read_p99": div(first.reads.p99_ms, other.reads.p99_ms),
            })
        })
        .collect();
    Value::Array(list)
}

/// The table printed on stdout.
pub fn render(args: &BenchArgs, results: &[SystemBench]) -> String {
    let mut out = format!(
        "{} nodes · {} clients ({}) · {}s measured after {}s warm-up · {} B values · {}% reads\n",
        args.nodes,
        args.concurrency,
        match args.target {
            Target::Leader => "all on the leader",
            _ => "spread over the nodes",
        },
        args.duration,
        args.warmup,
        args.value_size,
        args.reads
    );
    out.push_str(&format!(
        "{:<20} {:<6} {:>10} {:>8} {:>8} {:>8} {:>9} {:>8} {:>7}\n",
        "system", "op", "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors"
    ));
    for r in results {
        for (op, s) in [("write", &r.writes), ("read", &r.reads)] {
            if s.ok == 0 && s.errors == 0 {
                continue;
            }
            out.push_str(&format!(
                "{:<20} {:<6} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>8.2} {:>7}\n",
                r.system,
                op,
                s.throughput,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.p999_ms,
                s.max_ms,
                s.errors
            ));
        }
    }
    {
        for (first, other) in comparisons(results) {
            let mut parts = Vec::new();
            for (op, a, b) in [
                ("write", &first.writes, &other.writes),
                ("read", &first.reads, &other.reads),
            ] {
                if a.ok > 0 && b.ok > 0 {
                    parts.push(format!(
                        "{op} throughput {:.2}x, {op} p99 {:.2}x",
                        a.throughput / b.throughput,
                        a.p99_ms / b.p99_ms.max(1e-9)
                    ));
                }
            }
            if !parts.is_empty() {
                out.push_str(&format!(
                    "{} / {}: {}\n",
                    first.system,
                    other.system,
                    parts.join(", ")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let lat: Vec<u32> = (1..=1000).rev().map(|i| i * 1000).collect();
        let s = OpStats::of(lat, 2, Duration::from_secs(2));
        assert_eq!(s.ok, 1000);
        assert_eq!(s.errors, 2);
        assert_eq!(s.throughput, 500.0);
        assert_eq!(
            (s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms),
            (500.0, 900.0, 990.0, 999.0, 1000.0)
        );
        assert_eq!(s.mean_ms, 500.5);
        let empty = OpStats::of(Vec::new(), 0, Duration::from_secs(1));
        assert_eq!((empty.p99_ms, empty.throughput), (0.0, 0.0));
    }

    #[test]
    fn the_table_shows_each_system_and_the_ratio() {
        let args = BenchArgs {
            system: SystemArgs::default(),
            compare: vec!["faultline-node".into(), "etcd".into()],
            nodes: 3,
            concurrency: 64,
            duration: 20.0,
            warmup: 1.0,
            value_size: 256,
            reads: 0,
            keys: 1000,
            target: Target::All,
            request_timeout_ms: 2000,
            leader_timeout: 30.0,
            seed: 1,
            store: "store".into(),
            net: NetMode::Private,
            disk_faults: true,
        };
        let bench = |name: &str, us: u32| SystemBench {
            system: name.into(),
            program: name.into(),
            disk_layer: name.ends_with(DISK_SUFFIX),
            command_lines: Vec::new(),
            writes: OpStats::of(vec![us; 100], 0, Duration::from_secs(1)),
            reads: OpStats::default(),
            error_samples: Vec::new(),
        };
        let results = [
            bench("faultline-node", 1000),
            bench("faultline-node+disk", 1250),
            bench("etcd", 4000),
        ];
        let table = render(&args, &results);
        assert!(table.contains("faultline-node       write"), "{table}");
        assert!(table.contains("etcd                 write"), "{table}");
        assert!(!table.contains(" read "), "{table}");
        assert!(
            table.contains("faultline-node / etcd: write throughput 1.00x, write p99 0.25x"),
            "{table}"
        );
        assert!(
            table.contains(
                "faultline-node / faultline-node+disk: write throughput 1.00x, write p99 0.80x"
            ),
            "{table}"
        );
        let r = ratios(&results);
        assert_eq!(r[0]["write_p99"], json!(0.25));
        assert_eq!(r[0]["read_p99"], Value::Null);
        assert_eq!(r[1]["to"], json!("faultline-node+disk"));
    }
}
