//! Pretend processes for the nemesis's unit tests: a platform that follows
//! signals and records network faults, a probe where node 1 leads, and an
//! executor over both recording into a history file.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use faultline_diskfs::{FileLoss, PowerLossOptions, PowerLossReport};

use crate::recorder::{Recorder, Writer};
use crate::system::NodeStatus;
use faultline_platform::cluster::{
    layout, ClusterError, Exit, NodeSpec, NodeState, Platform, Signal,
};

use super::executor::{Probe, ProbeFuture};
use super::partition::Cut;
use super::{Executor, SharedPlatform};

/// A platform of pretend processes that records the network faults and
/// every signal.
pub struct Fake {
    /// The nodes.
    pub specs: Vec<NodeSpec>,
    /// Each node's state.
    pub states: Vec<NodeState>,
    /// The partition in force.
    pub cut: Option<Cut>,
    /// The packet loss in force.
    pub loss: Option<u8>,
    /// Every signal sent, in order.
    pub signals: Vec<(usize, Signal)>,
}

impl Platform for Fake {
    fn nodes(&self) -> &[NodeSpec] {
        &self.specs
    }
    fn state(&self, i: usize) -> NodeState {
        self.states[i]
    }
    fn start(&mut self, i: usize) -> Result<(), ClusterError> {
        self.states[i] = NodeState::Running;
        Ok(())
    }
    fn signal(&mut self, i: usize, signal: Signal) -> Result<(), ClusterError> {
        self.signals.push((i, signal));
        self.states[i] = match signal {
            Signal::Kill => NodeState::Killed,
            Signal::Stop => NodeState::Paused,
            Signal::Cont => NodeState::Running,
        };
        Ok(())
    }
    fn read_log(&self, _: usize) -> io::Result<String> {
        Ok(String::new())
    }
    fn set_partition(&mut self, cut: Option<&Cut>) -> Result<(), ClusterError> {
        self.cut = cut.cloned();
        Ok(())
    }
    fn set_packet_loss(&mut self, percent: Option<u8>) -> Result<(), ClusterError> {
        self.loss = percent;
        Ok(())
    }
    fn reap(&mut self) -> Vec<(usize, Exit)> {
        Vec::new()
    }
    fn shutdown(&mut self) {}
    /// Every node loses 10 bytes of `wal` past its durable size.
    fn power_loss(
        &mut self,
        i: usize,
        options: PowerLossOptions,
    ) -> Result<PowerLossReport, ClusterError> {
        assert_eq!(
            self.states[i],
            NodeState::Killed,
            "power loss of a running node"
        );
        Ok(PowerLossReport {
            options,
            files: vec![FileLoss {
                path: self.specs[i].data_dir.join("wal"),
                size_before: 30,
                durable_size: 20,
                size_after: 20,
                ..Default::default()
            }],
            namespace: Vec::new(),
        })
    }
}

/// Node 1 leads in term 2; failpoints are refused by node 2.
pub struct FakeProbe;

impl Probe for FakeProbe {
    fn status(&self, i: usize) -> ProbeFuture<Option<NodeStatus>> {
        Box::pin(async move {
            Some(NodeStatus {
                role: if i == 1 { "leader" } else { "follower" }.into(),
                term: 2,
                ..NodeStatus::default()
            })
        })
    }
    fn set_failpoint(&self, i: usize, _: &'static str, _: bool) -> ProbeFuture<Result<(), String>> {
        Box::pin(async move {
            if i == 2 {
                Err("no failpoints here".into())
            } else {
                Ok(())
            }
        })
    }
}

/// An executor over three pretend nodes in `dir` (all running), their
/// platform, and the history's writer.
pub fn fixture(dir: &std::path::Path) -> (Executor, Arc<Mutex<Fake>>, Writer) {
    let specs = layout(3, dir, false);
    let platform = Arc::new(Mutex::new(Fake {
        specs,
        states: vec![NodeState::Running; 3],
        cut: None,
        loss: None,
        signals: Vec::new(),
    }));
    let (recorder, writer) = Recorder::create(&dir.join("h.jsonl"), Instant::now()).unwrap();
    let shared: SharedPlatform = platform.clone();
    let exec = Executor::new(shared, recorder, Arc::new(FakeProbe), 1);
    (exec, platform, writer)
}

/// The nemesis events `exec` recorded, as `f value` lines.
pub fn faults(exec: &Executor, writer: Writer) -> Vec<String> {
    exec.recorder().close();
    writer
        .finish()
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.f, e.value))
        .collect()
}

/// Runs `f` on a current-thread runtime with timers.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
