//! The fault executor's [`Probe`] for Maelstrom nodes. The protocol has no
//! status request, so no node is known to lead: the random schedule's
//! leader targets fall back to the node drawn with the schedule, and
//! scenario steps naming the leader (`leader`, `follower`,
//! `minority-with-leader`, `majority-without-leader`, `shortest-log`,
//! `longest-log`) find nobody to hit, and a `wait` until a leader is never
//! met.

use crate::nemesis::executor::ProbeFuture;
use crate::nemesis::Probe;
use crate::system::NodeStatus;

/// A probe that knows nothing about the nodes.
pub struct NoStatus;

impl Probe for NoStatus {
    fn status(&self, _i: usize) -> ProbeFuture<Option<NodeStatus>> {
        Box::pin(async { None })
    }

    fn set_failpoint(
        &self,
        _i: usize,
        name: &'static str,
        _armed: bool,
    ) -> ProbeFuture<Result<(), String>> {
        Box::pin(async move { Err(format!("failpoint {name}: Maelstrom nodes have none")) })
    }
}
