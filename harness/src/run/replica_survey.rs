//! After the final reads, while the nodes still run: ask every node for its
//! own state ([`Replicas`]) once the replicas settle, for `replicas.json`
//! and the `replica-agreement` checker.
//!
//! Replicas may lag right after healing, so the survey first polls every
//! node's position until all answer at the same one, or until nothing
//! changes any more (no position moves, no node comes or goes) for
//! [`Wait::still`], or until [`Wait::limit`]; then it reads every node's
//! whole state once. A node that does not answer is recorded as
//! unreachable, with why. When no node can show its state at all (each
//! either says it has no such request or does not answer, at least one the
//! former), there is no survey: the run drops the check, saying why.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::system::replicas::{
    Answer, Observed, Position, ReplicaError, Replicas, Settled, Survey,
};
use faultline_platform::cluster::NodeSpec;

/// How long a survey waits for the replicas to settle, and how it asks.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// The longest it waits for one position.
    pub limit: Duration,
    /// How long nothing may change before it stops waiting.
    pub still: Duration,
    /// Between two polls of the positions.
    pub poll: Duration,
    /// The longest one node may take to give its position.
    pub ask_position: Duration,
    /// The longest one node may take to give its whole state.
    pub ask_state: Duration,
}

impl Wait {
    /// The wait of a run that gave the cluster `recovery` after healing:
    /// at least 10 s, at most 30 s; nothing changing for 3 s ends it.
    pub fn after_recovery(recovery: Duration) -> Wait {
        Wait {
            limit: recovery.clamp(Duration::from_secs(10), Duration::from_secs(30)),
            still: Duration::from_secs(3),
            poll: Duration::from_millis(200),
            ask_position: Duration::from_secs(1),
            ask_state: Duration::from_secs(10),
        }
    }
}

/// Waits (bounded by `wait`) for the replicas of `specs` to settle, then
/// reads each one's state; Err (why) when no node can show its state.
pub async fn survey(
    replicas: &dyn Replicas,
    specs: &[NodeSpec],
    wait: Wait,
) -> Result<Survey, String> {
    let started = Instant::now();
    let settled = settle(replicas, specs, wait).await?;
    let waited_ms = started.elapsed().as_millis() as u64;
    let states = join_all(specs.iter().map(|s| replicas.state(s, wait.ask_state))).await;
    if let Some(why) = unsupported(&states) {
        return Err(why);
    }
    let observed: Vec<Observed> = specs
        .iter()
        .zip(states)
        .map(|(spec, state)| Observed {
            node: spec.name.clone(),
            answer: match state {
                Ok(s) => Answer::State(s),
                Err(why) => Answer::Unreachable(why.to_string()),
            },
        })
        .collect();
    tracing::debug!(?settled, waited_ms, "surveyed the replicas");
    Ok(Survey {
        settled,
        waited_ms,
        replicas: observed,
    })
}

/// Polls every node's position until they are all together, nothing
/// changed for `wait.still`, or `wait.limit` passed; Err (why) at once
/// when no node can show its position.
async fn settle(
    replicas: &dyn Replicas,
    specs: &[NodeSpec],
    wait: Wait,
) -> Result<Settled, String> {
    let started = Instant::now();
    let mut last: Vec<Option<Position>> = Vec::new();
    let mut unchanged_since = started;
    loop {
        let answers = join_all(
            specs
                .iter()
                .map(|s| replicas.position(s, wait.ask_position)),
        )
        .await;
        if let Some(why) = unsupported(&answers) {
            return Err(why);
        }
        let now: Vec<Option<Position>> = answers.into_iter().map(Result::ok).collect();
        if together(&now) {
            return Ok(Settled::Together);
        }
        if now != last {
            last = now;
            unchanged_since = Instant::now();
        } else if unchanged_since.elapsed() >= wait.still {
            return Ok(Settled::Still);
        }
        if started.elapsed() >= wait.limit {
            return Ok(Settled::TimedOut);
        }
        tokio::time::sleep(wait.poll).await;
    }
}

/// Why no node can show its position or state: none did, and at least one
/// said it has no such request (its first such answer).
fn unsupported<T>(answers: &[Result<T, ReplicaError>]) -> Option<String> {
    if answers.iter().any(Result::is_ok) {
        return None;
    }
    answers.iter().find_map(|a| match a {
        Err(ReplicaError::Unsupported(why)) => Some(why.clone()),
        _ => None,
    })
}

/// Whether every node answered, all at one position.
fn together(positions: &[Option<Position>]) -> bool {
    match positions.first() {
        Some(Some(first)) => positions.iter().all(|p| p.as_ref() == Some(first)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use faultline_checker::{CheckOptions, Verdict};
    use faultline_platform::cluster::{layout, NodeCommand};
    use serde_json::{json, Value};

    use super::*;
    use crate::checkers::{check_all, RunEvidence};
    use crate::system::replicas::{ReplicaState, FILE};
    use crate::system::{BoxFuture, ClientSpec, System, SystemClient};

    /// A cluster of fake replicas: `kv` per node, `None` for a node that
    /// does not answer; node `lagging` starts `lag` entries behind and
    /// catches up one entry per poll.
    #[derive(Debug)]
    struct Fake {
        kv: Vec<Option<BTreeMap<String, Value>>>,
        applied: Vec<u64>,
        lagging: usize,
        lag: AtomicU64,
        /// Every node says it has no such request.
        unsupported: bool,
        /// Every node gives its position but says it cannot give its state.
        stateless: bool,
    }

    impl Fake {
        fn new(kv: Vec<Option<Value>>, applied: Vec<u64>) -> Fake {
            let kv = kv
                .into_iter()
                .map(|k| k.map(|k| serde_json::from_value(k).unwrap()))
                .collect();
            Fake {
                kv,
                applied,
                lagging: 0,
                lag: AtomicU64::new(0),
                unsupported: false,
                stateless: false,
            }
        }

        fn node(&self, spec: &NodeSpec) -> usize {
            spec.name[1..].parse::<usize>().unwrap() - 1
        }

        fn at(&self, i: usize) -> Result<Position, ReplicaError> {
            if self.unsupported {
                return Err(ReplicaError::Unsupported("no /state (404)".into()));
            }
            self.kv[i]
                .as_ref()
                .ok_or(ReplicaError::Unreachable("connection refused".into()))?;
            let behind = if i == self.lagging {
                self.lag.load(Ordering::SeqCst)
            } else {
                0
            };
            Ok(Position::of(&[("applied_index", self.applied[i] - behind)]))
        }
    }

    impl Replicas for Fake {
        fn position<'a>(
            &'a self,
            node: &'a NodeSpec,
            _: Duration,
        ) -> BoxFuture<'a, Result<Position, ReplicaError>> {
            let i = self.node(node);
            let at = self.at(i);
            if i == self.lagging {
                let _ = self
                    .lag
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1));
            }
            Box::pin(async move { at })
        }

        fn state<'a>(
            &'a self,
            node: &'a NodeSpec,
            _: Duration,
        ) -> BoxFuture<'a, Result<ReplicaState, ReplicaError>> {
            let i = self.node(node);
            Box::pin(async move {
                if self.stateless {
                    return Err(ReplicaError::Unsupported("no /state (404)".into()));
                }
                Ok(ReplicaState {
                    position: self.at(i)?,
                    digest: None,
                    kv: self.kv[i].clone().unwrap_or_default(),
                })
            })
        }
    }

    /// The fake as a system: only its replicas matter.
    impl System for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn program(&self) -> String {
            "fake".into()
        }
        fn command(&self, _: usize, _: &[NodeSpec]) -> NodeCommand {
            NodeCommand {
                program: "true".into(),
                args: Vec::new(),
            }
        }
        fn client(&self, _: &NodeSpec, _: &ClientSpec) -> Box<dyn SystemClient> {
            unreachable!("the fake has no clients")
        }
        fn replicas(&self) -> Option<&dyn Replicas> {
            Some(self)
        }
    }

    fn quick() -> Wait {
        Wait {
            limit: Duration::from_secs(5),
            still: Duration::from_millis(100),
            poll: Duration::from_millis(10),
            ask_position: Duration::from_millis(100),
            ask_state: Duration::from_millis(100),
        }
    }

    /// Surveys `system` as a run does, writes `replicas.json` into a run
    /// folder and runs the checkers a run adds for it on that folder.
    fn judge(system: &dyn System) -> (Survey, crate::record::CheckerResult) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let specs = layout(3, Path::new("/tmp/fake-run"), false);
        let survey = rt
            .block_on(survey(system.replicas().unwrap(), &specs, quick()))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), serde_json::to_vec(&survey).unwrap()).unwrap();
        let checkers = crate::registry::system_checkers(system, specs.len());
        assert_eq!(checkers.len(), 1);
        let evidence = RunEvidence {
            dir: Some(dir.path().to_path_buf()),
            ..RunEvidence::default()
        };
        let mut results = check_all(&checkers, &[], &CheckOptions::default(), &evidence);
        (survey, results.remove(0))
    }

    #[test]
    fn a_lagging_replica_is_waited_for_and_then_agrees() {
        let kv = json!({"r1": 3, "l2": [1, 2]});
        let mut fake = Fake::new(vec![Some(kv.clone()); 3], vec![40; 3]);
        fake.lagging = 2;
        fake.lag = AtomicU64::new(5);
        let (survey, result) = judge(&fake);
        assert_eq!(survey.settled, Settled::Together);
        assert_eq!(result.name, "replica agreement");
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.text);
        assert!(result.text.contains("applied_index 40"), "{}", result.text);
    }

    #[test]
    fn a_planted_divergence_is_found_through_the_checker() {
        let fake = Fake::new(
            vec![
                Some(json!({"r1": 3, "r2": 5})),
                Some(json!({"r1": 3, "r2": 6})),
                Some(json!({"r1": 3, "r2": 5})),
            ],
            vec![40; 3],
        );
        let (survey, result) = judge(&fake);
        assert_eq!(survey.settled, Settled::Together);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result.text.contains("\nr2: 5 on n1, n3; 6 on n2"),
            "{}",
            result.text
        );
        assert_eq!(result.anomaly.unwrap().key.as_deref(), Some("r2"));
    }

    #[test]
    fn replicas_apart_and_a_silent_node_end_the_wait_when_nothing_changes() {
        let fake = Fake::new(
            vec![Some(json!({"r1": 3})), Some(json!({"r1": 3})), None],
            vec![40, 38, 40],
        );
        let (survey, result) = judge(&fake);
        assert_eq!(survey.settled, Settled::Still);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result.text.contains("n2 applied_index 38"),
            "{}",
            result.text
        );
        assert!(result.text.contains("n3 unreachable"), "{}", result.text);
    }

    #[test]
    fn nodes_that_cannot_show_their_state_end_the_survey_at_once() {
        let mut fake = Fake::new(vec![Some(json!({})), None, Some(json!({}))], vec![1; 3]);
        fake.unsupported = true;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let specs = layout(3, Path::new("/tmp/fake-run"), false);
        let wait = Wait {
            still: Duration::from_secs(60),
            ..quick()
        };
        let started = Instant::now();
        let answer = rt.block_on(survey(&fake, &specs, wait));
        assert_eq!(answer, Err("no /state (404)".to_string()));
        assert!(started.elapsed() < Duration::from_secs(1));
        fake.unsupported = false;
        fake.stateless = true;
        fake.kv[1] = Some(BTreeMap::new());
        let answer = rt.block_on(survey(&fake, &specs, wait));
        assert_eq!(answer, Err("no /state (404)".to_string()));
    }

    #[test]
    fn a_system_without_the_capability_or_a_single_node_gets_no_replica_check() {
        #[derive(Debug)]
        struct Plain;
        impl System for Plain {
            fn name(&self) -> &'static str {
                "plain"
            }
            fn program(&self) -> String {
                "plain".into()
            }
            fn command(&self, _: usize, _: &[NodeSpec]) -> NodeCommand {
                NodeCommand {
                    program: "true".into(),
                    args: Vec::new(),
                }
            }
            fn client(&self, _: &NodeSpec, _: &ClientSpec) -> Box<dyn SystemClient> {
                unreachable!("no clients")
            }
        }
        assert!(crate::registry::system_checkers(&Plain, 3).is_empty());
        let fake: Arc<dyn System> = Arc::new(Fake::new(vec![None], vec![0]));
        assert_eq!(
            crate::registry::system_checkers(fake.as_ref(), 3)[0].name(),
            "replica-agreement"
        );
        assert!(
            crate::registry::system_checkers(fake.as_ref(), 1).is_empty(),
            "one replica has nothing to agree with"
        );
    }
}
