//! `election-safety`: Raft's first safety property, at most one leader per
//! term, judged from every status the run saw (`states.jsonl`: the
//! sampler's every [`super::states::SAMPLE_EVERY_MS`] and the nemesis's own at each step).
//!
//! A client history shows two leaders of one term only when both served
//! conflicting operations; the statuses show it as soon as both said so.
//! The checker runs only for systems whose status is one snapshot of the
//! node (`System::status_is_exact`): a status that reads role and term
//! apart could pair an old role with a new term mid-election.

use std::collections::BTreeMap;

use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};

use super::states::{node_name, samples_of, Sample};
use super::{CheckContext, Checker, CheckerError, Judgement};
use crate::record::Anomaly;

/// The kind of detail this checker writes: an [`Elections`].
pub const KIND: &str = "election-safety";

/// A node seen leading a term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leading {
    /// The node's name.
    pub node: String,
    /// When it was first seen leading the term, seconds since the start.
    pub first_s: f64,
}

/// A term more than one node was seen leading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedTerm {
    /// The term.
    pub term: u64,
    /// Every node seen leading it, in the order they were first seen.
    pub leaders: Vec<Leading>,
}

/// What the statuses showed about elections: `results.json`'s detail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Elections {
    /// Status samples read.
    pub samples: usize,
    /// Distinct terms some node was seen leading.
    pub terms_led: usize,
    /// The terms with two leaders or more (the violations).
    pub shared: Vec<SharedTerm>,
}

impl Elections {
    /// The elections `samples` show: for each term, who said they led it.
    pub fn of(samples: &[Sample]) -> Elections {
        let mut by_term: BTreeMap<u64, Vec<Leading>> = BTreeMap::new();
        for s in samples {
            for (i, status) in s.nodes.iter().enumerate() {
                let Some(st) = status else { continue };
                if st.role != "leader" || st.term == 0 {
                    continue;
                }
                let node = node_name(i, st);
                let leaders = by_term.entry(st.term).or_default();
                match leaders.iter_mut().find(|l| l.node == node) {
                    Some(l) => l.first_s = l.first_s.min(s.at),
                    None => leaders.push(Leading {
                        node,
                        first_s: s.at,
                    }),
                }
            }
        }
        let terms_led = by_term.len();
        let shared = by_term
            .into_iter()
            .filter(|(_, l)| l.len() > 1)
            .map(|(term, mut leaders)| {
                leaders.sort_by(|a, b| a.first_s.total_cmp(&b.first_s));
                SharedTerm { term, leaders }
            })
            .collect();
        Elections {
            samples: samples.len(),
            terms_led,
            shared,
        }
    }

    /// Invalid when a term had two leaders.
    pub fn verdict(&self) -> Verdict {
        if self.shared.is_empty() {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }

    /// One line, then each shared term.
    pub fn summary(&self) -> String {
        if self.shared.is_empty() {
            return format!(
                "valid: one leader per term ({} terms led, {} status samples)",
                self.terms_led, self.samples
            );
        }
        let mut text = format!(
            "invalid: {} of {} terms had two leaders or more",
            self.shared.len(),
            self.terms_led
        );
        for t in &self.shared {
            let who: Vec<String> = t
                .leaders
                .iter()
                .map(|l| format!("{} (from {:.2} s)", l.node, l.first_s))
                .collect();
            text.push_str(&format!("\nterm {}: {}", t.term, who.join(", ")));
        }
        text
    }
}

/// The election-safety checker.
#[derive(Debug, Clone, Copy)]
pub struct ElectionSafety;

/// The registered checker.
pub const ELECTION_SAFETY: ElectionSafety = ElectionSafety;

impl Checker for ElectionSafety {
    fn name(&self) -> &'static str {
        "election-safety"
    }

    fn title(&self) -> String {
        "election safety".into()
    }

    fn description(&self) -> &'static str {
        "at most one leader per term, from every status the run saw (systems whose status is exact)"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let elections = Elections::of(&samples_of(ctx)?);
        let anomaly = elections.shared.first().map(|t| Anomaly {
            time: t.leaders.last().map(|l| (l.first_s * 1e9) as u64),
            operation: Some(format!(
                "term {} led by {}",
                t.term,
                t.leaders
                    .iter()
                    .map(|l| l.node.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )),
            ..Anomaly::default()
        });
        Ok(
            Judgement::new(elections.verdict(), elections.summary(), &elections)
                .with_anomaly(anomaly),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::NodeStatus;

    fn st(id: &str, role: &str, term: u64) -> Option<NodeStatus> {
        Some(NodeStatus {
            id: id.into(),
            role: role.into(),
            term,
            ..NodeStatus::default()
        })
    }

    fn sample(at: f64, nodes: Vec<Option<NodeStatus>>) -> Sample {
        Sample { at, nodes }
    }

    #[test]
    fn one_leader_per_term_over_time_is_valid() {
        let e = Elections::of(&[
            sample(0.25, vec![st("n1", "leader", 1), st("n2", "follower", 1)]),
            sample(0.5, vec![st("n1", "leader", 1), None]),
            sample(0.75, vec![None, st("n2", "leader", 2)]),
            sample(1.0, vec![st("n1", "candidate", 3), st("n2", "leader", 2)]),
        ]);
        assert_eq!(e.verdict(), Verdict::Valid);
        assert_eq!(e.terms_led, 2);
        assert!(e.summary().starts_with("valid: one leader per term"));
    }

    #[test]
    fn two_nodes_leading_one_term_even_at_different_times_is_invalid() {
        let e = Elections::of(&[
            sample(1.0, vec![st("n4", "leader", 4), None, None]),
            sample(1.25, vec![None, None, None]),
            sample(
                2.5,
                vec![None, st("", "leader", 4), st("n3", "follower", 4)],
            ),
            sample(2.75, vec![None, st("", "leader", 4), None]),
        ]);
        assert_eq!(e.verdict(), Verdict::Invalid);
        assert_eq!(
            e.shared,
            vec![SharedTerm {
                term: 4,
                leaders: vec![
                    Leading {
                        node: "n4".into(),
                        first_s: 1.0
                    },
                    Leading {
                        node: "n2".into(),
                        first_s: 2.5
                    },
                ],
            }]
        );
        assert!(e
            .summary()
            .contains("term 4: n4 (from 1.00 s), n2 (from 2.50 s)"));
    }

    #[test]
    fn terms_of_zero_and_unknown_roles_are_not_leadership() {
        let e = Elections::of(&[sample(
            0.0,
            vec![
                st("a", "leader", 0),
                st("b", "leader", 0),
                st("c", "unknown", 1),
            ],
        )]);
        assert_eq!((e.verdict(), e.terms_led), (Verdict::Valid, 0));
    }
}
