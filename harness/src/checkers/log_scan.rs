//! `node-logs`: panics in the node logs, and nodes that failed on their own
//! during the run (exits, or what their platform reports, such as a
//! Maelstrom node breaking the protocol).

use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};

use super::{CheckContext, Checker, CheckerError, Judgement};

/// The kind of detail this checker writes: a [`LogScan`].
pub const KIND: &str = "log-scan";

/// The node-log checker.
#[derive(Debug, Clone, Copy)]
pub struct NodeLogs;

/// The registered checker.
pub const NODE_LOGS: NodeLogs = NodeLogs;

impl Checker for NodeLogs {
    fn name(&self) -> &'static str {
        "node-logs"
    }

    fn title(&self) -> String {
        "node logs".into()
    }

    fn description(&self) -> &'static str {
        "panics in the node logs, nodes that failed on their own during the run"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let scan = scan_logs(&ctx.run.logs, ctx.run.crashes.clone());
        Ok(Judgement::new(scan.verdict, scan.summary(), &scan))
    }
}

/// The log scan: panics in node logs, nodes that exited on their own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogScan {
    /// Invalid when a node panicked or died on its own.
    pub verdict: Verdict,
    /// `node: line` for every panic found (at most 20).
    #[serde(default)]
    pub panics: Vec<String>,
    /// `node: exit status` for every node that died without being killed.
    #[serde(default)]
    pub crashes: Vec<String>,
}

impl LogScan {
    /// The verdict and every panic and crash, a line each.
    pub fn summary(&self) -> String {
        let mut s = self.verdict.to_string();
        if self.panics.is_empty() && self.crashes.is_empty() {
            s.push_str(": no panics, no node died on its own");
        }
        for p in &self.panics {
            s.push_str(&format!("\npanic: {p}"));
        }
        for c in &self.crashes {
            s.push_str(&format!("\ncrashed: {c}"));
        }
        s
    }
}

/// Scans `(node name, log text)` pairs and the crashes seen during the run.
pub fn scan_logs(logs: &[(String, String)], crashes: Vec<String>) -> LogScan {
    let mut panics = Vec::new();
    for (name, text) in logs {
        for line in text.lines().filter(|l| l.contains("panicked at")) {
            if panics.len() < 20 {
                panics.push(format!("{name}: {}", line.trim()));
            }
        }
    }
    LogScan {
        verdict: if panics.is_empty() && crashes.is_empty() {
            Verdict::Valid
        } else {
            Verdict::Invalid
        },
        panics,
        crashes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_and_crashes_make_the_log_scan_invalid() {
        let clean = vec![("n1".to_string(), "INFO started\n".to_string())];
        assert_eq!(scan_logs(&clean, vec![]).verdict, Verdict::Valid);
        let panicked = vec![(
            "n2".to_string(),
            "thread 'main' panicked at src/raft/log.rs:10:5:\n".to_string(),
        )];
        let scan = scan_logs(&panicked, vec![]);
        assert_eq!(scan.verdict, Verdict::Invalid);
        assert!(scan.panics[0].starts_with("n2: thread 'main' panicked"));
        assert_eq!(
            scan_logs(&clean, vec!["n1: exit status: 1".into()]).verdict,
            Verdict::Invalid
        );
    }
}
