//! The status sampler of a run: while the clients run, every node's status
//! every [`SAMPLE_EVERY_MS`], one line of `states.jsonl` per sample (what
//! `cluster-states`, the report and `faultline explore` read).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::checkers::states::{Sample, SAMPLE_EVERY_MS};
use crate::nemesis::Probe;
use crate::recorder::Recorder;

/// Samples every node of `probe` until dropped, writing to `path`; returns
/// at once (never finishing) when the file cannot be made, after saying so.
pub(super) async fn sample(probe: Arc<dyn Probe>, nodes: usize, path: &Path, recorder: Recorder) {
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
        tick.tick().await;
        let at = recorder.elapsed().as_secs_f64();
        let asked = (0..nodes).map(|i| probe.status(i));
        let statuses = futures_util::future::join_all(asked).await;
        let line = Sample {
            at,
            nodes: statuses,
        };
        if let Ok(text) = serde_json::to_string(&line) {
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
}
