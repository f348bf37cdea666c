//! How the fault executor asks the system under test about its nodes:
//! statuses (role, term, log indexes) and failpoints, through the system's
//! capabilities. A system without status has nodes that never answer (no
//! leader known); one without failpoints refuses every `arm`.

use std::sync::Arc;
use std::time::Duration;

use crate::nemesis::executor::ProbeFuture;
use crate::nemesis::Probe;
use crate::system::{NodeStatus, System};
use faultline_platform::cluster::NodeSpec;

/// A status probe gives up after this long (a paused node never answers).
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// The executor's [`Probe`] for a run.
pub struct SystemProbe {
    /// The system under test.
    pub system: Arc<dyn System>,
    /// The cluster's nodes, by index.
    pub specs: Vec<NodeSpec>,
}

impl Probe for SystemProbe {
    fn status(&self, i: usize) -> ProbeFuture<Option<NodeStatus>> {
        let system = self.system.clone();
        let node = self.specs[i].clone();
        Box::pin(async move { system.status()?.status(&node, PROBE_TIMEOUT).await })
    }

    fn set_failpoint(
        &self,
        i: usize,
        name: &'static str,
        armed: bool,
    ) -> ProbeFuture<Result<(), String>> {
        let system = self.system.clone();
        let node = self.specs[i].clone();
        Box::pin(async move {
            match system.failpoints() {
                Some(f) => f.set_failpoint(&node, name, armed).await,
                None => Err(format!(
                    "failpoint {name}: not supported by --system {}",
                    system.name()
                )),
            }
        })
    }

    fn data_files(&self) -> Vec<String> {
        crate::system::disk_profile(self.system.name())
            .data_files
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}
