//! The cluster as its nodes' statuses show it: whether it can take
//! operations, and who leads. One round of status requests, every node
//! asked at once, through the system's [`Status`] capability.

use std::time::Duration;

use super::{BoxFuture, NodeSpec, System, ROLE_UNKNOWN};

/// How long one node may take to answer a status request here.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);

/// What one round of status requests showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Whether the cluster can take operations: some node leads, or every
    /// node answered without being able to name a leader (`unknown`). A
    /// system without the status capability is always ready.
    pub ready: bool,
    /// The node (index) that leads: among nodes saying they lead, the one
    /// with the highest term. None when no node does (or none can say).
    pub leader: Option<usize>,
}

impl ClusterView {
    /// Asks every node of `nodes` for its status at once.
    pub async fn ask(system: &dyn System, nodes: &[NodeSpec]) -> ClusterView {
        let Some(status) = system.status() else {
            return ClusterView {
                ready: true,
                leader: None,
            };
        };
        let asks = nodes
            .iter()
            .map(|node| status.status(node, STATUS_TIMEOUT))
            .collect();
        let answers = join_all(asks).await;
        let mut best: Option<(u64, usize)> = None;
        for (i, answer) in answers.iter().enumerate() {
            if let Some(s) = answer {
                let better = best.is_none_or(|(term, _)| s.term > term);
                if s.role == "leader" && better {
                    best = Some((s.term, i));
                }
            }
        }
        let all_unknown = answers
            .iter()
            .all(|a| matches!(a, Some(s) if s.role == ROLE_UNKNOWN));
        ClusterView {
            ready: best.is_some() || all_unknown,
            leader: best.map(|(_, i)| i),
        }
    }
}

/// Awaits every future concurrently, answers in order.
async fn join_all<T>(futures: Vec<BoxFuture<'_, T>>) -> Vec<T> {
    let mut slots: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    let mut pending: Vec<(usize, BoxFuture<'_, T>)> = futures.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => {
                slots[*i] = Some(v);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::{ClientSpec, NodeCommand, NodeStatus, Status, SystemClient};
    use faultline_platform::cluster::layout;

    /// A system whose nodes answer with fixed statuses (None: silent).
    #[derive(Debug)]
    struct Fixed(Vec<Option<(&'static str, u64)>>);

    impl Status for Fixed {
        fn status<'a>(
            &'a self,
            node: &'a NodeSpec,
            _timeout: Duration,
        ) -> BoxFuture<'a, Option<NodeStatus>> {
            let i: usize = node.name[1..].parse::<usize>().unwrap() - 1;
            let answer = self.0[i].map(|(role, term)| NodeStatus {
                role: role.into(),
                term,
                ..NodeStatus::default()
            });
            Box::pin(async move { answer })
        }
    }

    impl System for Fixed {
        fn name(&self) -> &'static str {
            "fixed"
        }
        fn program(&self) -> String {
            String::new()
        }
        fn command(&self, _i: usize, _nodes: &[NodeSpec]) -> NodeCommand {
            NodeCommand {
                program: "true".into(),
                args: Vec::new(),
            }
        }
        fn client(&self, _node: &NodeSpec, _spec: &ClientSpec) -> Box<dyn SystemClient> {
            unreachable!("no client in these tests")
        }
        fn status(&self) -> Option<&dyn Status> {
            Some(self)
        }
    }

    /// The same nodes, without the status capability.
    #[derive(Debug)]
    struct Mute;

    impl System for Mute {
        fn name(&self) -> &'static str {
            "mute"
        }
        fn program(&self) -> String {
            String::new()
        }
        fn command(&self, _i: usize, _nodes: &[NodeSpec]) -> NodeCommand {
            NodeCommand {
                program: "true".into(),
                args: Vec::new(),
            }
        }
        fn client(&self, _node: &NodeSpec, _spec: &ClientSpec) -> Box<dyn SystemClient> {
            unreachable!("no client in these tests")
        }
    }

    fn view(system: &dyn System) -> ClusterView {
        let nodes = layout(3, std::path::Path::new("/tmp/run"), false);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(ClusterView::ask(system, &nodes))
    }

    #[test]
    fn the_leader_of_the_highest_term_leads_and_unknown_roles_are_ready() {
        let two_leaders = Fixed(vec![
            Some(("leader", 2)),
            Some(("leader", 3)),
            Some(("follower", 3)),
        ]);
        assert_eq!(
            view(&two_leaders),
            ClusterView {
                ready: true,
                leader: Some(1)
            }
        );
        let electing = Fixed(vec![Some(("candidate", 4)), None, Some(("follower", 3))]);
        assert_eq!(view(&electing), ClusterView::default());
        let unknown = Fixed(vec![Some((ROLE_UNKNOWN, 0)); 3]);
        assert!(view(&unknown).ready);
        let one_silent = Fixed(vec![Some((ROLE_UNKNOWN, 0)), None, Some((ROLE_UNKNOWN, 0))]);
        assert!(!view(&one_silent).ready);
    }

    #[test]
    fn a_system_without_status_is_ready_with_no_leader() {
        assert_eq!(
            view(&Mute),
            ClusterView {
                ready: true,
                leader: None
            }
        );
    }
}
