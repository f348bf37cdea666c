//! faultline-node, the Raft key-value node shipped with faultline: its
//! command line, and its HTTP API (which workloads speak natively).

use std::path::{Path, PathBuf};
use std::time::Duration;

use faultline_workloads::{Op, Reply, Workload};

use super::{BoxFuture, NodeCommand, System, SystemError};
use crate::client::{self, NodeStatus};
use crate::cluster::NodeSpec;

/// The system's name.
pub const NAME: &str = "faultline-node";

/// faultline-node run from `bin`, with `extra` arguments for every node.
#[derive(Debug, Clone)]
pub struct FaultlineNode {
    bin: PathBuf,
    extra: Vec<String>,
}

impl FaultlineNode {
    /// The node at `bin`, every node given `extra` arguments too.
    pub fn new(bin: PathBuf, extra: Vec<String>) -> FaultlineNode {
        FaultlineNode { bin, extra }
    }
}

/// The `--peers` list of faultline-node: `n1=ADDR,n2=ADDR,...`.
pub fn peers(nodes: &[NodeSpec]) -> String {
    nodes
        .iter()
        .map(|s| format!("{}={}", s.name, s.peer_addr))
        .collect::<Vec<_>>()
        .join(",")
}

/// faultline-node's arguments for `node` of `nodes`, then `extra`.
pub fn args(node: &NodeSpec, nodes: &[NodeSpec], extra: &[String]) -> Vec<String> {
    let mut a = vec![
        "--id".to_string(),
        node.name.clone(),
        "--peer-addr".into(),
        node.peer_addr.to_string(),
        "--http-addr".into(),
        node.http_addr.to_string(),
        "--peers".into(),
        peers(nodes),
        "--data-dir".into(),
        node.data_dir.display().to_string(),
        // Scenarios may arm crashes at named moments (harmless otherwise).
        "--failpoints".into(),
    ];
    a.extend(extra.iter().cloned());
    a
}

impl System for FaultlineNode {
    fn name(&self) -> &'static str {
        NAME
    }

    fn program(&self) -> String {
        self.bin.display().to_string()
    }

    fn command(&self, i: usize, nodes: &[NodeSpec]) -> NodeCommand {
        NodeCommand {
            program: self.bin.clone(),
            args: args(&nodes[i], nodes, &self.extra),
        }
    }

    fn status<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        Box::pin(client::status(http, node, timeout))
    }

    fn perform<'a>(
        &'a self,
        http: &'a reqwest::Client,
        base: &'a str,
        workload: &'a dyn Workload,
        op: &'a Op,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(client::perform(http, base, workload, op))
    }
}

/// faultline-node: `given` (`--node-bin`), or next to this executable.
pub fn find_bin(given: Option<&Path>) -> Result<PathBuf, SystemError> {
    if let Some(p) = given {
        if !p.is_file() {
            return Err(SystemError::Missing(format!(
                "--node-bin {}: no such file",
                p.display()
            )));
        }
        return Ok(p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
    }
    let exe = std::env::current_exe()
        .map_err(|e| SystemError::Missing(format!("locating the faultline executable: {e}")))?;
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    // Integration tests run from target/<profile>/deps.
    for candidate in [dir.join("faultline-node"), dir.join("../faultline-node")] {
        if candidate.is_file() {
            return Ok(candidate.canonicalize().unwrap_or(candidate));
        }
    }
    Err(SystemError::Missing(format!(
        "cannot find faultline-node next to {}; build it with `cargo build --release -p faultline-node`, or pass --node-bin",
        exe.display()
    )))
}
