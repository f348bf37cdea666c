//! Failpoints: named moments inside the node where a test harness can make it
//! crash on purpose, as etcd's robustness tests do with gofail and TiKV with
//! fail-rs. A scenario arms one over HTTP (`PUT /debug/failpoints/NAME`, only
//! when the node runs with `--failpoints`); the next time the node passes that
//! moment it exits at once with [`EXIT_CODE`], which the harness reads as an
//! injected crash rather than a failure. A failpoint fires once, then disarms.
//!
//! Some Raft rules only matter in a window of a millisecond or two (between a
//! vote and the first Append of the leader it elected, say); a kill from
//! outside never lands there, a failpoint always does.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The exit status of a node that crashed at a failpoint.
pub const EXIT_CODE: i32 = 86;

/// A moment in the node where a harness can arm a crash; it fires once, then disarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failpoint {
    /// Right after a vote granted in a real election (not a PreVote) is
    /// durable and on its way to the candidate: the voter dies before it can
    /// hear from the leader it elected.
    CrashAfterVote,
    /// Right after a leader advances its commit index: it applies the newly
    /// committed entries and answers their clients, then dies without sending
    /// anything more (followers never learn the new commit index, and entries
    /// it was about to replicate stay where they are).
    CrashAfterCommit,
}

impl Failpoint {
    /// Every failpoint, in declaration order (its position is its slot in [`Failpoints`]).
    pub const ALL: [Failpoint; 2] = [Failpoint::CrashAfterVote, Failpoint::CrashAfterCommit];

    /// Its name in URLs and scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Failpoint::CrashAfterVote => "crash-after-vote",
            Failpoint::CrashAfterCommit => "crash-after-commit",
        }
    }

    /// What it does, one line.
    pub fn description(self) -> &'static str {
        match self {
            Failpoint::CrashAfterVote => {
                "exit right after a granted vote is durable and sent, before hearing from the new leader"
            }
            Failpoint::CrashAfterCommit => {
                "a leader exits right after it commits and answers, before sending anything more"
            }
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Failpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failpoint name nobody knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown failpoint {0:?} (known: {known})", known = known())]
pub struct UnknownFailpoint(pub String);

fn known() -> String {
    Failpoint::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Failpoint {
    type Err = UnknownFailpoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Failpoint::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFailpoint(s.to_string()))
    }
}

/// Which failpoints are armed now; shared by the HTTP API (which arms them)
/// and the Raft loop (which passes them).
#[derive(Debug, Clone, Default)]
pub struct Failpoints {
    armed: Arc<[AtomicBool; Failpoint::ALL.len()]>,
}

impl Failpoints {
    /// Arms `fp`: the next pass crashes the node.
    pub fn arm(&self, fp: Failpoint) {
        self.armed[fp.slot()].store(true, Ordering::SeqCst);
    }

    /// Disarms `fp` (a no-op if it was not armed), as `DELETE /debug/failpoints/NAME` does.
    pub fn disarm(&self, fp: Failpoint) {
        self.armed[fp.slot()].store(false, Ordering::SeqCst);
    }

    /// Whether `fp` is armed.
    pub fn is_armed(&self, fp: Failpoint) -> bool {
        self.armed[fp.slot()].load(Ordering::SeqCst)
    }

    /// Passes `fp`: true (and disarmed) when it was armed.
    pub fn take(&self, fp: Failpoint) -> bool {
        self.armed[fp.slot()].swap(false, Ordering::SeqCst)
    }

    /// The armed failpoints' names.
    pub fn armed(&self) -> Vec<&'static str> {
        Failpoint::ALL
            .into_iter()
            .filter(|&f| self.is_armed(f))
            .map(Failpoint::name)
            .collect()
    }
}

/// Ends the process at once, as a crash would (no destructors, no buffers
/// flushed beyond what was already written), with [`EXIT_CODE`].
pub fn crash(fp: Failpoint) -> ! {
    tracing::warn!(failpoint = fp.name(), "failpoint hit: crashing on purpose");
    // SAFETY: _exit ends the process without running anything else.
    unsafe { libc::_exit(EXIT_CODE) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for fp in Failpoint::ALL {
            assert_eq!(fp.name().parse::<Failpoint>(), Ok(fp));
        }
        let err = "crash-now".parse::<Failpoint>().unwrap_err();
        assert!(err.to_string().contains("crash-after-vote"), "{err}");
    }

    #[test]
    fn a_failpoint_fires_once() {
        let fps = Failpoints::default();
        assert!(!fps.take(Failpoint::CrashAfterVote));
        fps.arm(Failpoint::CrashAfterVote);
        assert_eq!(fps.armed(), vec!["crash-after-vote"]);
        assert!(fps.take(Failpoint::CrashAfterVote));
        assert!(!fps.take(Failpoint::CrashAfterVote));
        fps.arm(Failpoint::CrashAfterVote);
        fps.disarm(Failpoint::CrashAfterVote);
        assert!(fps.armed().is_empty());
    }
}
