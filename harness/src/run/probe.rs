//! How the fault executor asks the system under test about its nodes:
//! statuses (role, term, log indexes) and failpoints.

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::NodeSpec;
use crate::nemesis::executor::ProbeFuture;
use crate::nemesis::{Probe, Probed};
use crate::system::System;

/// A status probe gives up after this long (a paused node never answers).
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// The executor's [`Probe`] for a run: through the system's own calls.
pub struct SystemProbe {
    /// The system under test.
    pub system: Arc<dyn System>,
    /// The HTTP client of the run.
    pub http: reqwest::Client,
    /// The cluster's nodes, by index.
    pub specs: Vec<NodeSpec>,
}

impl Probe for SystemProbe {
    fn status(&self, i: usize) -> ProbeFuture<Option<Probed>> {
        let system = self.system.clone();
        let http = self.http.clone();
        let node = self.specs[i].clone();
        Box::pin(async move {
            let status = system.status(&http, &node, PROBE_TIMEOUT).await?;
            let raw: Option<serde_json::Value> = match http
                .get(format!("http://{}/status", node.http_addr))
                .timeout(PROBE_TIMEOUT)
                .send()
                .await
            {
                Ok(resp) if resp.status().is_success() => resp.json().await.ok(),
                _ => None,
            };
            let index = |field: &str| {
                raw.as_ref()
                    .and_then(|r| r.get(field))
                    .and_then(|v| v.as_u64())
            };
            Some(Probed {
                role: status.role,
                term: status.term,
                last_log_index: index("last_log_index"),
                snapshot_index: index("snapshot_index"),
            })
        })
    }

    fn set_failpoint(
        &self,
        i: usize,
        name: &'static str,
        armed: bool,
    ) -> ProbeFuture<Result<(), u16>> {
        let http = self.http.clone();
        let url = format!("http://{}/debug/failpoints/{name}", self.specs[i].http_addr);
        Box::pin(async move {
            let req = if armed {
                http.put(url)
            } else {
                http.delete(url)
            };
            match req.timeout(PROBE_TIMEOUT).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(r.status().as_u16()),
                Err(_) => Err(0),
            }
        })
    }
}
