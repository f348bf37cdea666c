//! `local-reads`: faultline-node with every read served from the local
//! replica (`GET /kv/{k}?stale=true`), which the node offers for reads that
//! may be stale; writes, compare-and-set and appends go through Raft as
//! with `--system faultline-node`.
//!
//! It is a control for the harness, not a system to trust: a follower cut
//! off from the leader keeps answering reads from the state it had, so a
//! run under partitions must come out invalid (a stale read, drawn in the
//! report), with no bug planted in the node. A checker or client change
//! that made this system look linearizable would hide real stale reads.

use std::sync::Arc;
use std::time::Duration;

use faultline_workloads::{Func, Op, Reply};
use serde_json::Value;

use super::faultline_node::{find_bin, perform, FaultlineNode, FaultlineNodeArgs};
use super::transport::HttpTransport;
use super::{
    root_cause, BoxFuture, ClientSpec, DiskProfile, Failpoints, NodeCommand, Registered, Status,
    System, SystemClient,
};
use faultline_platform::cluster::NodeSpec;

/// The name `--system` takes.
pub const NAME: &str = "local-reads";

/// The registry entry of `--system local-reads`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: DiskProfile {
        data_files: &["wal/*.log", "snap/*.snap"],
        power_loss: "as faultline-node",
        corruption: "as faultline-node",
    },
    help: "faultline-node with reads served by the local replica (stale by design: a \
           control that a run under partitions is found invalid)",
    flags: <FaultlineNodeArgs as clap::Args>::augment_args,
    build: |opts| {
        let args: FaultlineNodeArgs = opts.parse()?;
        Ok(Arc::new(LocalReads {
            node: FaultlineNode::new(find_bin(args.node_bin.as_deref())?, args.node_args),
            http: HttpTransport::default(),
        }))
    },
};

/// faultline-node, its clients reading locally.
#[derive(Debug)]
pub struct LocalReads {
    node: FaultlineNode,
    http: HttpTransport,
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
        Box::new(LocalReadClient {
            http: self.http.client().cloned(),
            base: format!("http://{}", node.http_addr),
            timeout: spec.timeout,
        })
    }

    fn status(&self) -> Option<&dyn Status> {
        self.node.status()
    }

    fn failpoints(&self) -> Option<&dyn Failpoints> {
        self.node.failpoints()
    }
}

/// A client of one node: reads from its replica, the rest through Raft.
struct LocalReadClient {
    http: Result<reqwest::Client, String>,
    base: String,
    timeout: Duration,
}

impl SystemClient for LocalReadClient {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let http = match &self.http {
                Ok(h) => h,
                // Nothing was sent.
                Err(e) => return Reply::Fail(e.clone()),
            };
            match op.f {
                Func::Read => read_local(http, &self.base, op, self.timeout).await,
                _ => perform(http, &self.base, op, self.timeout).await,
            }
        })
    }
}

/// `GET /kv/{k}?stale=true`: 200 with the replica's value, 404 for none;
/// a refused connection fails (nothing was read), anything else is `info`.
async fn read_local(http: &reqwest::Client, base: &str, op: &Op, timeout: Duration) -> Reply {
    let url = format!("{base}/kv/{}?stale=true", op.key_or_default());
    let resp = match http.get(&url).timeout(timeout).send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Reply::Fail(format!("connect: {}", root_cause(&e))),
        Err(e) => return Reply::Info(format!("read: {}", root_cause(&e))),
    };
    let status = resp.status().as_u16();
    let body: Value = match resp.bytes().await {
        Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
        Err(e) => return Reply::Info(format!("read: {}", root_cause(&e))),
    };
    match status {
        200 => Reply::Ok(body.get("value").cloned().unwrap_or(Value::Null)),
        404 => Reply::Ok(Value::Null),
        // A read changes nothing: whatever went wrong, it observed nothing.
        _ => Reply::Fail(format!("unexpected status {status}: {body}")),
    }
}
