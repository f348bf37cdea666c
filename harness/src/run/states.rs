//! The status log of a run: while the clients run, every node's status
//! every [`SAMPLE_EVERY_MS`], and every set of statuses the nemesis asked
//! for (to aim a fault, to wait for a leader), one [`Sample`] per line of
//! `states.jsonl` (what `cluster-states`, `election-safety`, the report and
//! `faultline explore` read).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::checkers::states::{Sample, SAMPLE_EVERY_MS};
use crate::nemesis::Probe;
use crate::recorder::Recorder;
use crate::system::NodeStatus;

/// Samples every node of `probe` and logs what arrives on `tapped` until
/// dropped, writing to `path`; returns at once (never finishing) when the
/// file cannot be made, after saying so.
pub(super) async fn sample(
    probe: Arc<dyn Probe>,
    nodes: usize,
    path: &Path,
    recorder: Recorder,
    mut tapped: UnboundedReceiver<Vec<Option<NodeStatus>>>,
) {
    let file = match File::create(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "faultline: warning: no status samples ({}: {e})",
                path.display()
            );
            return std::future::pending().await;
        }
    };
    let mut out = BufWriter::new(file);
    let mut tick = tokio::time::interval(Duration::from_millis(SAMPLE_EVERY_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let statuses = tokio::select! {
            _ = tick.tick() => {
                let asked = (0..nodes).map(|i| probe.status(i));
                futures_util::future::join_all(asked).await
            }
            Some(seen) = tapped.recv() => seen,
        };
        let line = Sample {
            at: recorder.elapsed().as_secs_f64(),
            nodes: statuses,
        };
        if let Ok(text) = serde_json::to_string(&line) {
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
}
