//! `faultline maelstrom test`: Maelstrom's own flags, so a tutorial's
//! command works with `maelstrom` replaced by `faultline maelstrom`. The
//! flags are translated into the `faultline run --system maelstrom` run
//! they mean (the network ones into the platform's [`NetOptions`]), which
//! runs as any other.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use faultline::maelstrom::checkers::availability::{self, Availability};
use faultline::maelstrom::checkers::txn;
use faultline::maelstrom::router::LatencyDist;
use faultline::maelstrom::system::NetOptions;
use faultline::maelstrom::workload::Workload;
use faultline::run::RunArgs;

/// Arguments of `faultline maelstrom`.
#[derive(Debug, Args)]
pub struct MaelstromArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: MaelstromAction,
}

/// `faultline maelstrom` actions.
#[derive(Debug, Subcommand)]
pub enum MaelstromAction {
    /// Run a Maelstrom workload against a node binary (Maelstrom's flags).
    Test(TestArgs),
}

/// Maelstrom's `test` flags.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The workload: echo, unique-ids, broadcast, g-set, g-counter,
    /// pn-counter, lin-kv, txn-list-append, txn-rw-register (kafka is not
    /// supported yet).
    #[arg(short = 'w', long)]
    pub workload: String,
    /// The node's program (split like a shell would when it holds spaces);
    /// arguments for it may also follow `--` at the end.
    #[arg(long)]
    pub bin: String,
    /// Arguments for the node program (after `--`).
    #[arg(last = true)]
    pub bin_args: Vec<String>,
    /// Number of nodes (n0, n1, ...); 5 as in Maelstrom, whose default is
    /// Jepsen's five nodes.
    #[arg(long, default_value_t = 5)]
    pub node_count: u16,
    /// Seconds of workload (Maelstrom's default: 60).
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Requests per second over all clients.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Clients: a number, or `Kn` for K per node (e.g. `2n`).
    #[arg(long, default_value = "1n")]
    pub concurrency: String,
    /// Mean latency of messages between nodes (and to services),
    /// milliseconds; none on client links.
    #[arg(long, default_value_t = 0.0)]
    pub latency: f64,
    /// constant, uniform (0 to twice --latency) or exponential (mean --latency).
    #[arg(long, value_enum, default_value = "constant")]
    pub latency_dist: LatencyDist,
    /// Faults: a comma list of partition, kill, pause (and faultline's
    /// drop); empty for none.
    #[arg(long, default_value = "")]
    pub nemesis: String,
    /// faultline's: every partition one-way: the smaller side cannot send
    /// to the other, which still reaches it (an isolated node hears all,
    /// nobody hears it).
    #[arg(long)]
    pub one_way_partitions: bool,
    /// Seconds between fault starts.
    #[arg(long, default_value_t = 10.0)]
    pub nemesis_interval: f64,
    /// faultline's: a named fault scenario (`faultline list scenarios`)
    /// played in place of --nemesis. Steps naming the leader find nobody:
    /// Maelstrom nodes do not say who leads.
    #[arg(long)]
    pub scenario: Option<String>,
    /// faultline's: a TOML file of user scenarios.
    #[arg(long, value_name = "FILE")]
    pub scenarios: Option<PathBuf>,
    /// Seed of every random choice (faults, operations, latency).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Broadcast topology: grid, line, total, tree2, tree3, tree4.
    #[arg(long, default_value = "grid")]
    pub topology: String,
    /// The consistency models the txn workloads' history must satisfy,
    /// comma-separated, Elle's names (read-uncommitted, read-committed,
    /// snapshot-isolation, serializable, strict-serializable, ...; default
    /// Maelstrom's, strict-serializable).
    #[arg(long, value_delimiter = ',', value_name = "MODELS")]
    pub consistency_models: Vec<String>,
    /// What share of the operations must succeed: `total` (every one) or a
    /// fraction between 0 and 1 (Maelstrom's availability checker); none
    /// by default.
    #[arg(long, value_name = "total|FRACTION")]
    pub availability: Option<Availability>,
    /// Milliseconds a client waits for a reply before the operation is
    /// info. Default: Maelstrom's, 5000; for lin-kv 10 × --latency, at
    /// least 1000.
    #[arg(long)]
    pub request_timeout_ms: Option<u64>,
    /// Seconds the nodes get after the faults heal, before the final reads
    /// (Maelstrom waits 10).
    #[arg(long, default_value_t = 10.0)]
    pub recovery_time: f64,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Accepted for Maelstrom's sake; node stderr always goes to
    /// `nodes/nX.log` in the run folder.
    #[arg(long)]
    pub log_stderr: bool,
}

/// Parses `faultline run` options from an argument list.
#[derive(Debug, Parser)]
#[command(name = "faultline-run")]
struct RunOnly {
    #[command(flatten)]
    run: RunArgs,
}

impl TestArgs {
    /// Clients for `--concurrency` over `nodes` nodes.
    fn clients(&self, nodes: u16) -> Result<usize, String> {
        let c = self.concurrency.trim();
        let n = match c.strip_suffix('n') {
            Some(k) => k.parse::<usize>().map(|k| k * usize::from(nodes)),
            None => c.parse::<usize>(),
        };
        n.ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("--concurrency {c:?}: a number or Kn (K clients per node)"))
    }

    /// `--request-timeout-ms`, or Maelstrom's client timeout for the
    /// workload: 5000 ms, and for lin-kv ten mean latencies, at least 1000.
    fn request_timeout_ms(&self, workload: Workload) -> u64 {
        self.request_timeout_ms
            .unwrap_or(if workload == Workload::LinKv {
                (10.0 * self.latency.max(0.0)).max(1000.0).round() as u64
            } else {
                5000
            })
    }

    /// `--consistency-models`, checked: for the txn workloads only, each a
    /// model Elle knows; Maelstrom's default when none is given.
    fn consistency_models(&self, workload: Workload) -> Result<Option<Vec<String>>, String> {
        let models: Vec<String> = self
            .consistency_models
            .iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        if !workload.is_txn() {
            return match models.is_empty() {
                true => Ok(None),
                false => Err(format!(
                    "--consistency-models applies to txn-list-append and txn-rw-register, not {}",
                    workload.name()
                )),
            };
        }
        if models.is_empty() {
            return Ok(Some(txn::DEFAULT_MODELS.map(String::from).to_vec()));
        }
        txn::validate_models(&models).map_err(|e| format!("--consistency-models: {e}"))?;
        Ok(Some(models))
    }

    /// The same run as `faultline run --system maelstrom` options.
    pub fn translate(&self) -> anyhow::Result<RunArgs> {
        let workload = Workload::parse(&self.workload).map_err(faultline::run::BadOptions)?;
        let models = self
            .consistency_models(workload)
            .map_err(faultline::run::BadOptions)?;
        let clients = self
            .clients(self.node_count)
            .map_err(faultline::run::BadOptions)?;
        let mut cmd = vec![self.bin.clone()];
        if self.bin.contains(' ') {
            cmd = shell_words::split(&self.bin)
                .map_err(|e| faultline::run::BadOptions(format!("--bin {:?}: {e}", self.bin)))?;
        }
        cmd.extend(self.bin_args.iter().cloned());
        let nemesis = if self.nemesis.trim().is_empty() {
            "none".to_string()
        } else {
            self.nemesis.clone()
        };
        let mut argv: Vec<String> = vec!["faultline-run".into()];
        let mut flag = |name: &str, value: String| {
            argv.push(format!("--{name}"));
            argv.push(value);
        };
        flag("system", faultline::maelstrom::SYSTEM_NAME.into());
        flag("node-cmd", shell_words::join(&cmd));
        flag("workload", workload.run_name().into());
        flag("nodes", self.node_count.to_string());
        flag("time-limit", self.time_limit.to_string());
        flag("rate", self.rate.to_string());
        flag("concurrency", clients.to_string());
        flag("nemesis", nemesis);
        flag("nemesis-interval", self.nemesis_interval.to_string());
        flag(
            "request-timeout-ms",
            self.request_timeout_ms(workload).to_string(),
        );
        flag("recovery-time", self.recovery_time.to_string());
        flag("store", self.store.display().to_string());
        flag("net", "host".into());
        if let Some(s) = self.seed {
            flag("seed", s.to_string());
        }
        if let Some(f) = &self.scenarios {
            flag("scenarios", f.display().to_string());
        }
        if let Some(name) = &self.scenario {
            argv.push(name.clone());
        }
        let mut run = RunOnly::try_parse_from(&argv)
            .map_err(|e| faultline::run::BadOptions(e.to_string()))?
            .run;
        // Every one of these is given: a scenario's defaults must not replace them.
        run.explicit = [
            "workload",
            "nodes",
            "time_limit",
            "rate",
            "request_timeout_ms",
        ]
        .map(str::to_string)
        .to_vec();
        let net = NetOptions {
            latency: self.latency.max(0.0),
            latency_dist: self.latency_dist,
            topology: self.topology.clone(),
            one_way_partitions: self.one_way_partitions,
        };
        if let serde_json::Value::Object(options) = serde_json::to_value(net)? {
            run.platform = options.into_iter().collect();
        }
        if let Some(models) = models {
            run.consistency_models = models;
        }
        if let Some(a) = self.availability {
            run.platform
                .insert(availability::OPTION.into(), a.to_json());
        }
        Ok(run)
    }
}

/// Runs `faultline maelstrom ...`; returns the exit code.
pub fn run(args: MaelstromArgs) -> anyhow::Result<i32> {
    match args.action {
        MaelstromAction::Test(t) => faultline::run::run(t.translate()?),
    }
}
