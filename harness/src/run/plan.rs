//! The first phase of a run: everything decided before a node starts.
//! Options and a scenario's defaults merged, the workload and system
//! chosen, the seed drawn, the private namespace entered, the run folder
//! made, the fault schedule drawn.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use faultline_workloads::Workload;

use crate::nemesis::schedule::{schedule, Planned, ScheduleOptions};
use crate::nemesis::{NemesisKind, NemesisSet, SharedPlatform};
use crate::scenario::{Scenario, Step};
use crate::store::RunDir;
use crate::system::{faultline_node, System};
use faultline_platform::cluster::{layout, LocalCluster, NodeSpec};
use faultline_platform::disk::DiskSettings;
use faultline_platform::netns::{self, NetMode};

use super::RunArgs;

/// Options that do not fit together or take values out of range: a usage
/// error (the command line is wrong, nothing ran).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadOptions(pub String);

/// What a run will do, fixed before the cluster starts.
pub struct Plan {
    /// The options, with the scenario's defaults and the seed filled in.
    pub args: RunArgs,
    /// The scenario played in place of the random schedule, if any.
    pub scenario: Option<Scenario>,
    /// The workload the clients drive.
    pub workload: Arc<dyn Workload>,
    /// The system under test.
    pub system: Arc<dyn System>,
    /// The seed of every random choice.
    pub seed: u64,
    /// The fault kinds the random schedule draws from (none with a scenario;
    /// without the network ones under `--net host`).
    pub kinds: Vec<NemesisKind>,
    /// The random schedule (empty with a scenario).
    pub steps: Vec<Planned>,
    /// The number of concurrent clients.
    pub concurrency: usize,
    /// Whether nodes run under group ids of their own (partition rules
    /// then also match by group).
    pub tag_groups: bool,
    /// The run's folder in the store.
    pub dir: RunDir,
    /// Whether the disk-fault layer is mounted over the nodes' data.
    pub disk_layer: bool,
    /// Each node's addresses, data directory and log.
    pub specs: Vec<NodeSpec>,
    /// The remote hosts the nodes run on (None: local processes).
    pub hosts: Option<Vec<faultline_platform::hosts::Host>>,
}

impl Plan {
    /// Decides the run. Must be called while the process is single-threaded:
    /// with `--net private` it enters the run's network namespace.
    pub fn prepare(mut args: RunArgs) -> anyhow::Result<Plan> {
        let scenario = apply_scenario(&mut args)?;
        let workload: Arc<dyn Workload> =
            crate::registry::workload(&args.workload).context("choosing the workload")?;
        if args.time_limit <= 0.0 || args.rate <= 0.0 || args.nemesis_interval <= 0.0 {
            return Err(BadOptions(
                "--time-limit, --rate and --nemesis-interval must be positive".into(),
            )
            .into());
        }
        let system =
            crate::system::build(&args.system.selected()).context("choosing the system")?;
        if args.consistency_models.is_empty() {
            args.consistency_models = system.consistency_models();
        }
        crate::checkers::txn::validate_models(&args.consistency_models)
            .map_err(|e| BadOptions(format!("--consistency-models: {e}")))?;
        let seed = args.seed.unwrap_or_else(fresh_seed);
        args.seed = Some(seed);
        let kinds = match &scenario {
            Some(_) => Vec::new(),
            None => args.nemesis.0.clone(),
        };
        let disk_layer = args.disk_faults
            || kinds.iter().any(|k| k.needs_disk_layer())
            || scenario.as_ref().is_some_and(|s| {
                s.steps
                    .iter()
                    .any(|st| matches!(st, Step::Fault(f) if f.needs_disk_layer()))
            });
        let hosts = args.hosts.load().map_err(|e| BadOptions(e.to_string()))?;
        let kinds = match &hosts {
            Some(h) => remote_options(&mut args, h, disk_layer, kinds)?,
            // A platform of its own makes the network faults itself.
            None if crate::registry::own_platform(&args.system.system).is_some() => kinds,
            None => enter_network(args.net, kinds, disk_layer)?,
        };
        let nodes = args.nodes as usize;
        let concurrency = args.concurrency.unwrap_or(2 * nodes).max(1);
        let tag_groups = args.net == NetMode::Private && netns::can_tag_groups();
        let label = label(scenario.as_ref(), &kinds);
        let dir = RunDir::create(&args.store, &args.workload, &label, seed)
            .with_context(|| format!("creating the run folder under {}", args.store.display()))?;
        let specs = match &hosts {
            Some(h) => faultline_platform::hosts::platform::layout(h, &dir.path),
            None => local_specs(nodes, &dir.path, tag_groups, disk_layer),
        };
        let steps = schedule(&ScheduleOptions {
            seed,
            kinds: kinds.clone(),
            nodes,
            interval: Duration::from_secs_f64(args.nemesis_interval),
            time_limit: Duration::from_secs_f64(args.time_limit),
            drop_percent: args.drop_percent,
        });
        Ok(Plan {
            args,
            scenario,
            workload,
            system,
            seed,
            kinds,
            steps,
            concurrency,
            tag_groups,
            dir,
            specs,
            disk_layer,
            hosts,
        })
    }

    /// Where the nodes run: local processes, or remote hosts (checked
    /// first, every problem refused before any host is touched).
    pub fn platform(&self) -> anyhow::Result<SharedPlatform> {
        match &self.hosts {
            Some(hosts) => Ok(Arc::new(Mutex::new(
                faultline_platform::hosts::RemoteCluster::connect(
                    crate::system::commands(self.system.as_ref(), &self.specs),
                    hosts,
                    self.specs.clone(),
                    self.args.hosts.max_clock_skew,
                )?,
            ))),
            None => Ok(Arc::new(Mutex::new(self.cluster()?))),
        }
    }

    /// Node `i`'s full command line, as it runs (for test.json).
    pub fn command_line(&self, i: usize) -> Vec<String> {
        match &self.hosts {
            Some(h) => faultline_platform::hosts::platform::remote_command(
                self.system.command(i, &self.specs),
                &h[i],
            )
            .to_vec(),
            None => self.system.command(i, &self.specs).to_vec(),
        }
    }

    /// The processes of the cluster, not started yet (the disk-fault layer
    /// mounted when the run needs it).
    pub fn cluster(&self) -> anyhow::Result<LocalCluster> {
        local_cluster(
            self.system.as_ref(),
            self.specs.clone(),
            self.args.net == NetMode::Private,
            self.disk_layer
                .then(|| self.args.disk_metadata.settings(self.tag_groups)),
        )
    }

    /// The name of the faults in the store folder and the summary: the
    /// scenario's name, or `all`, `none`, `kill+pause`.
    pub fn label(&self) -> String {
        label(self.scenario.as_ref(), &self.kinds)
    }

    /// Whether the run cuts the network between nodes at some point.
    pub fn partitions(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.fault.kind() == NemesisKind::Partition)
    }

    /// The length of the faulty phase.
    pub fn time_limit(&self) -> Duration {
        Duration::from_secs_f64(self.args.time_limit)
    }
}

/// The scenario's name, or the fault kinds' label (`all`, `none`,
/// `kill+pause`).
fn label(scenario: Option<&Scenario>, kinds: &[NemesisKind]) -> String {
    match scenario {
        Some(s) => s.name.clone(),
        None => NemesisSet(kinds.to_vec()).label(),
    }
}

/// Loads the scenario the options name and fills in its defaults for the
/// options not given explicitly; its node arguments come before the
/// user's (so a user's repeated flag wins).
fn apply_scenario(args: &mut RunArgs) -> anyhow::Result<Option<Scenario>> {
    let Some(name) = &args.scenario else {
        return Ok(None);
    };
    let s = crate::scenario::resolve(name, args.scenarios.as_deref())?;
    let given = |name: &str| args.explicit.iter().any(|e| e == name);
    if !given("workload") {
        args.workload = s.workload.clone();
    }
    if !given("nodes") {
        args.nodes = s.nodes;
    }
    if !given("time_limit") {
        args.time_limit = s.time_limit;
    }
    if !given("rate") {
        args.rate = s.rate;
    }
    if let (false, Some(ms)) = (given("request_timeout_ms"), s.request_timeout_ms) {
        args.request_timeout_ms = ms;
    }
    if let (false, Some(c)) = (given("concurrency"), s.concurrency) {
        args.concurrency = Some(c);
    }
    args.system.prepend(faultline_node::NODE_ARGS, &s.node_args);
    Ok(Some(s))
}

/// Enters the private namespace, or, on the host's network, leaves out the
/// fault kinds that need one (saying so); with the disk layer, a mount
/// namespace of the run's own either way.
fn enter_network(
    net: NetMode,
    mut kinds: Vec<NemesisKind>,
    disk_layer: bool,
) -> anyhow::Result<Vec<NemesisKind>> {
    enter_namespace(net, disk_layer)?;
    if net == NetMode::Host {
        let dropped: Vec<&str> = kinds
            .iter()
            .filter(|k| k.needs_firewall())
            .map(|k| k.name())
            .collect();
        if !dropped.is_empty() {
            eprintln!(
                "faultline: --net host: {} unavailable without a private namespace; running without them",
                dropped.join(" and ")
            );
        }
        kinds.retain(|k| !k.needs_firewall());
    }
    Ok(kinds)
}

/// Enters the namespace nodes on this machine run in: with `--net
/// private`, a private network (and mount) namespace of the process's own;
/// on the host's network, a mount namespace of its own when the disk-fault
/// layer is mounted. Must be called while the process is single-threaded.
pub fn enter_namespace(net: NetMode, disk_layer: bool) -> anyhow::Result<()> {
    match net {
        NetMode::Private => netns::enter_private().context("--net private"),
        NetMode::Host if disk_layer => netns::enter_private_mounts()
            .context("--net host: a mount namespace for the disk-fault layer"),
        NetMode::Host => Ok(()),
    }
}

/// The layout of `nodes` local nodes under `dir` (addresses, data
/// directories, logs), their disk-fault layers placed when `disk_layer`.
pub fn local_specs(nodes: usize, dir: &Path, tag_groups: bool, disk_layer: bool) -> Vec<NodeSpec> {
    let mut specs = layout(nodes, dir, tag_groups);
    if disk_layer {
        faultline_platform::disk::place_layers(&mut specs, dir);
    }
    specs
}

/// The local processes of a cluster of `system` on `specs`, not started
/// yet; `firewall`: whether packet rules may be applied (only in the
/// private namespace); the disk-fault layer mounted with `disk` when given.
pub fn local_cluster(
    system: &dyn System,
    specs: Vec<NodeSpec>,
    firewall: bool,
    disk: Option<DiskSettings>,
) -> anyhow::Result<LocalCluster> {
    let mut cluster = LocalCluster::new(crate::system::commands(system, &specs), specs, firewall);
    if let Some(settings) = disk {
        cluster
            .mount_disks(settings)
            .context("mounting the disk-fault layer")?;
    }
    Ok(cluster)
}

/// Nodes on remote hosts: one per host (`--nodes`, when given, must
/// agree), no private namespace (the hosts are reached over the real
/// network), no disk layer (refused: the hosts do not run it).
fn remote_options(
    args: &mut RunArgs,
    hosts: &[faultline_platform::hosts::Host],
    disk_layer: bool,
    kinds: Vec<NemesisKind>,
) -> anyhow::Result<Vec<NemesisKind>> {
    if args.explicit.iter().any(|e| e == "nodes") && args.nodes as usize != hosts.len() {
        return Err(BadOptions(format!(
            "--nodes {} but {} hosts are given: one node runs on each host",
            args.nodes,
            hosts.len()
        ))
        .into());
    }
    if disk_layer || kinds.iter().any(|k| k.name() == "corrupt") {
        return Err(BadOptions(
            "power-loss, corrupt and --disk-faults need faultline's filesystem layer, \
             which hosts reached over SSH do not run: leave those faults out with --hosts/--ssh"
                .into(),
        )
        .into());
    }
    args.nodes = hosts.len() as u16;
    args.net = NetMode::Host;
    Ok(kinds)
}

/// A seed from the clock and the process id.
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // Keep it short enough to type.
    (nanos ^ (std::process::id() as u64).rotate_left(32)) % 1_000_000_000
}
