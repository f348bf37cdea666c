//! The failpoints a scenario can arm (`arm` / `disarm` steps): named
//! moments where faultline-node crashes on purpose.

use serde::{Deserialize, Serialize};

/// The failpoints of faultline-node a scenario can arm (the node's
/// `failpoints` module names them the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailpointName {
    /// Crash right after a granted vote is durable and sent.
    CrashAfterVote,
    /// A leader crashes right after it commits and answers, before it sends
    /// anything more.
    CrashAfterCommit,
}

impl FailpointName {
    /// Every failpoint, the order `disarm` clears them in.
    pub const ALL: [FailpointName; 2] = [
        FailpointName::CrashAfterVote,
        FailpointName::CrashAfterCommit,
    ];

    /// The name the node knows the failpoint by.
    pub fn name(self) -> &'static str {
        match self {
            FailpointName::CrashAfterVote => "crash-after-vote",
            FailpointName::CrashAfterCommit => "crash-after-commit",
        }
    }
}
