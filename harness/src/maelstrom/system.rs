//! `--system maelstrom`: any node speaking Maelstrom's protocol (JSON lines
//! on stdin and stdout), started with `--node-cmd`, as a [`System`] of the
//! shared run: its clients speak the protocol through the router, and a
//! node counts as up once it answered `init` (Maelstrom nodes cannot say
//! who leads). [`start`] sets a run up: the nodes named `n0`, `n1`, ... as
//! in Maelstrom, the router with its journal, the [`MaelstromCluster`]
//! platform every fault goes through, and the system wired to them.

use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use faultline_workloads::Func;
use serde::{Deserialize, Serialize};

use crate::system::{
    on_path, BoxFuture, ClientSpec, NodeCommand, NodeStatus, Status, System, SystemClient,
    SystemError, SystemOptions, ROLE_UNKNOWN,
};
use faultline_platform::cluster::{node_ip, NodeSpec, HTTP_PORT, PEER_PORT};

use super::client::Client;
use super::journal::{Journal, JOURNAL_FILE};
use super::platform::{lock_router, MaelstromCluster, SharedRouter};
use super::router::{Input, Latency, LatencyDist, Router, RouterConfig};
use super::workload::{topology, Workload};

/// The network of a Maelstrom run: what `faultline maelstrom test` sets
/// beyond `faultline run`'s options (test.json records it among them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetOptions {
    /// Mean latency of node hops, milliseconds.
    #[serde(default)]
    pub latency: f64,
    /// Its distribution.
    #[serde(default = "constant", deserialize_with = "dist_named")]
    pub latency_dist: LatencyDist,
    /// The broadcast topology's name.
    #[serde(default = "grid")]
    pub topology: String,
    /// Whether partitions are one-way (see [`super::platform::one_way_grudge`]).
    #[serde(default)]
    pub one_way_partitions: bool,
}

fn constant() -> LatencyDist {
    LatencyDist::Constant
}

/// A latency distribution by the name `--latency-dist` takes.
fn dist_named<'de, D: serde::Deserializer<'de>>(d: D) -> Result<LatencyDist, D::Error> {
    let name = String::deserialize(d)?;
    <LatencyDist as clap::ValueEnum>::from_str(&name, true).map_err(serde::de::Error::custom)
}

fn grid() -> String {
    "grid".into()
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            latency: 0.0,
            latency_dist: constant(),
            topology: grid(),
            one_way_partitions: false,
        }
    }
}

/// What the system's clients reach the nodes through, once a run started.
#[derive(Clone)]
struct Wiring {
    router: SharedRouter,
    workload: Workload,
    numbers: Arc<AtomicU64>,
}

/// Maelstrom nodes as a system.
#[derive(Clone)]
pub struct MaelstromSystem {
    command: NodeCommand,
    wiring: Option<Wiring>,
}

impl std::fmt::Debug for MaelstromSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaelstromSystem")
            .field("command", &self.command)
            .field("wired", &self.wiring.is_some())
            .finish()
    }
}

/// Builds the system from `--node-cmd` (the registry's entry): not wired
/// to a router yet, which [`start`] does for a run.
pub fn build(opts: &SystemOptions) -> Result<Arc<dyn System>, SystemError> {
    let flags: crate::system::http::HttpArgs = opts.parse()?;
    let command = node_command(flags.node_cmd.as_deref())?;
    Ok(Arc::new(MaelstromSystem {
        command,
        wiring: None,
    }))
}

impl System for MaelstromSystem {
    fn name(&self) -> &'static str {
        super::SYSTEM_NAME
    }

    fn program(&self) -> String {
        self.command.program.display().to_string()
    }

    fn command(&self, _i: usize, _nodes: &[NodeSpec]) -> NodeCommand {
        self.command.clone()
    }

    fn status(&self) -> Option<&dyn Status> {
        Some(self)
    }

    fn tells_roles(&self) -> bool {
        false
    }

    /// The operations the wired workload's protocol has requests for
    /// (never `watch`: Maelstrom has no such request).
    fn supports(&self, f: Func) -> bool {
        f != Func::Watch
            && self
                .wiring
                .as_ref()
                .is_none_or(|w| super::client::speaks(w.workload, f))
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        let wiring = self
            .wiring
            .clone()
            .expect("the run wires the system before its clients");
        let router = lock_router(&wiring.router).sender();
        Box::new(Client {
            router,
            workload: wiring.workload,
            node: node.name.clone(),
            timeout: spec.timeout,
            numbers: wiring.numbers,
            conn: None,
        })
    }
}

/// A node is up (its role unknown: Maelstrom nodes cannot say who leads)
/// once every node answered its setup; before, none answers.
impl Status for MaelstromSystem {
    fn status<'a>(
        &'a self,
        node: &'a NodeSpec,
        _timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        let ready = self
            .wiring
            .as_ref()
            .is_some_and(|w| lock_router(&w.router).all_ready());
        Box::pin(async move {
            ready.then(|| NodeStatus {
                id: node.name.clone(),
                role: ROLE_UNKNOWN.into(),
                ..NodeStatus::default()
            })
        })
    }
}

/// The node command from `--node-cmd` (or `--bin`): split like a shell
/// would, the program made absolute (nodes run in their own directory).
pub fn node_command(cmd: Option<&str>) -> Result<NodeCommand, SystemError> {
    let bad = SystemError::BadOption;
    let Some(cmd) = cmd else {
        return Err(bad(
            "--system maelstrom needs --node-cmd (the node's command line)".into(),
        ));
    };
    let words = shell_words::split(cmd).map_err(|e| bad(format!("--node-cmd {cmd:?}: {e}")))?;
    let Some((program, args)) = words.split_first() else {
        return Err(bad("--node-cmd is empty".into()));
    };
    let path = PathBuf::from(program);
    let program = if program.contains('/') {
        path.canonicalize()
            .map_err(|e| bad(format!("the node program {program}: {e}")))?
    } else {
        on_path(program)
            .ok_or_else(|| bad(format!("the node program {program:?} is not on PATH")))?
    };
    Ok(NodeCommand {
        program,
        args: args.to_vec(),
    })
}

/// The nodes of a run in `dir`: `n0`, `n1`, ... as Maelstrom names them,
/// each working in `data/nX` and logging to `nodes/nX.log`.
pub fn layout(n: usize, dir: &Path) -> Vec<NodeSpec> {
    (0..n)
        .map(|i| {
            let id = format!("n{i}");
            NodeSpec {
                ip: node_ip(i),
                peer_addr: SocketAddr::V4(SocketAddrV4::new(node_ip(i), PEER_PORT)),
                http_addr: SocketAddr::V4(SocketAddrV4::new(node_ip(i), HTTP_PORT)),
                data_dir: dir.join(faultline_platform::node::DATA_DIR).join(&id),
                backing_dir: None,
                log_path: dir.join("nodes").join(format!("{id}.log")),
                gid: None,
                name: id,
            }
        })
        .collect()
}

/// A Maelstrom run set up: the system wired to the router, the platform
/// that owns the router, and how to tell the router the test's time zero.
pub struct Started {
    /// The system, its clients wired to the router.
    pub system: Arc<dyn System>,
    /// The nodes' platform (stopping it writes the journal).
    pub platform: MaelstromCluster,
    /// Tells the router the test's time zero (the journal's clock).
    pub zero: Box<dyn Fn(Instant) + Send + Sync>,
}

/// Sets up a run of `workload` in `dir`: nodes `specs` running `command`,
/// the router (seeded with `seed`, journaling to `messages.jsonl`) with
/// the network `net`.
pub fn start(
    command: NodeCommand,
    workload: &str,
    specs: Vec<NodeSpec>,
    dir: &Path,
    seed: u64,
    net: &NetOptions,
) -> anyhow::Result<Started> {
    let workload = Workload::parse(workload).map_err(anyhow::Error::msg)?;
    let ids: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let topology = match workload.needs_topology() {
        true => Some(topology(&net.topology, &ids).map_err(anyhow::Error::msg)?),
        false => None,
    };
    let journal = Journal::create(&dir.join(JOURNAL_FILE)).context("creating messages.jsonl")?;
    let config = RouterConfig {
        ids,
        latency: Latency {
            mean_ms: net.latency.max(0.0),
            dist: net.latency_dist,
        },
        topology,
        seed,
    };
    let router = Router::start(config, journal).context("starting the router")?;
    let input = router.sender();
    let router: SharedRouter = Arc::new(Mutex::new(router));
    let platform = MaelstromCluster::new(command.clone(), specs, router.clone())
        .with_one_way_partitions(net.one_way_partitions);
    let system = MaelstromSystem {
        command,
        wiring: Some(Wiring {
            router,
            workload,
            numbers: Arc::new(AtomicU64::new(1)),
        }),
    };
    Ok(Started {
        system: Arc::new(system),
        platform,
        zero: Box::new(move |at| {
            let _ = input.send(Input::Zero(at));
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_named_from_n0_and_a_missing_command_is_a_usage_error() {
        let specs = layout(3, Path::new("/run"));
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["n0", "n1", "n2"]);
        assert_eq!(specs[2].log_path, Path::new("/run/nodes/n2.log"));
        let err = node_command(None).unwrap_err().to_string();
        assert!(err.contains("--node-cmd"), "{err}");
        let sh = node_command(Some("sh -c 'exit 0'")).unwrap();
        assert_eq!(sh.args, ["-c", "exit 0"]);
    }

    #[test]
    fn net_options_read_back_as_test_json_records_them() {
        let json = serde_json::json!({"latency": 10.0, "latency_dist": "exponential"});
        let net: NetOptions = serde_json::from_value(json).unwrap();
        assert_eq!(net.latency_dist, LatencyDist::Exponential);
        assert_eq!(net.topology, "grid");
        assert!(!net.one_way_partitions);
    }
}
