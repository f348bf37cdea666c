//! `local-reads`: faultline-node with every read served from the local
//! replica (`GET /kv/{k}?stale=true`, and `POST /txn?stale=true` for
//! read-only transactions), which the node offers for reads that may be
//! stale; writes, compare-and-set, appends and transactions that write go
//! through Raft as with `--system faultline-node`.
//!
//! It is a control for the harness, not a system to trust: a follower cut
//! off from the leader keeps answering reads from the state it had, so a
//! run under partitions must come out invalid (a stale read, drawn in the
//! report), with no bug planted in the node. A checker or client change
//! that made this system look linearizable would hide real stale reads.

use std::sync::Arc;

use super::faultline_node::{find_bin, FaultlineNode, FaultlineNodeArgs, NodeApi};
use super::{
    ClientSpec, Failpoints, NodeCommand, Registered, Replicas, Status, System, SystemClient,
};
use faultline_platform::cluster::NodeSpec;

/// The name `--system` takes.
pub const NAME: &str = "local-reads";

/// The registry entry of `--system local-reads`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: super::faultline_node::SYSTEM.disk,
    help: "faultline-node with reads served by the local replica (stale by design: a \
           control that a run under partitions is found invalid)",
    flags: <FaultlineNodeArgs as clap::Args>::augment_args,
    build: |opts| {
        let args: FaultlineNodeArgs = opts.parse()?;
        Ok(Arc::new(LocalReads {
            node: FaultlineNode::new(find_bin(args.node_bin.as_deref())?, args.node_args),
            api: NodeApi::local_reads(),
        }))
    },
};

/// faultline-node, its clients reading locally.
#[derive(Debug)]
pub struct LocalReads {
    node: FaultlineNode,
    api: NodeApi,
}

impl System for LocalReads {
    fn name(&self) -> &'static str {
        NAME
    }

    fn program(&self) -> String {
        self.node.program()
    }

    fn command(&self, i: usize, nodes: &[NodeSpec]) -> NodeCommand {
        self.node.command(i, nodes)
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        self.api.client(node, spec)
    }

    fn status(&self) -> Option<&dyn Status> {
        Some(&self.api)
    }

    fn status_is_exact(&self) -> bool {
        true
    }

    fn failpoints(&self) -> Option<&dyn Failpoints> {
        Some(&self.api)
    }

    fn replicas(&self) -> Option<&dyn Replicas> {
        Some(&self.api)
    }
}
