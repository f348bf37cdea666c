//! `replica-agreement`: after the faults healed and the final reads were
//! done, do the replicas hold the same state? It reads `replicas.json`,
//! each node's own keys, values, position and digest as the run surveyed
//! them (`run/replica_survey.rs`), and compares the nodes that answered:
//! valid when all are at one position with the same keys and values (and
//! the same digest, when the system computes one); invalid naming the
//! positions and the keys whose values differ, a value per node, and
//! which nodes lack which keys the others hold (grouped by the nodes that
//! lack them: a split copy shows as two groups); unknown when fewer than
//! two nodes answered. A node that did not answer is
//! named, not counted as a divergence.
//!
//! A run adds it for the systems that can show each replica's state
//! (`System::replicas`): `crate::registry::system_checkers`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CheckContext, Checker, CheckerError, Judgement};
use crate::record::Anomaly;
use crate::system::replicas::{Position, ReplicaState, Settled, Survey, FILE};

/// The kind of detail this checker writes: an [`Agreement`].
pub const KIND: &str = "replicas";

/// The most differing keys the detail lists.
pub const MAX_LISTED: usize = 100;

/// The most differing keys the text lists.
const MAX_TEXT: usize = 10;

/// The most keys the text names for each group of nodes lacking keys.
const MAX_LACKING_TEXT: usize = 5;

/// The longest a value is shown in the text, in characters.
const MAX_VALUE_TEXT: usize = 60;

/// The replica-agreement checker.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaAgreement;

/// The registered checker.
pub const REPLICA_AGREEMENT: ReplicaAgreement = ReplicaAgreement;

impl Checker for ReplicaAgreement {
    fn name(&self) -> &'static str {
        "replica-agreement"
    }

    fn title(&self) -> String {
        "replica agreement".into()
    }

    fn description(&self) -> &'static str {
        "after healing, every replica's own state (read locally) is the same: \
         position, keys and values, digest"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let dir = ctx
            .run
            .dir
            .as_ref()
            .ok_or_else(|| CheckerError::Evidence(format!("no run folder, so no {FILE}")))?;
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| CheckerError::Evidence(format!("reading {}: {e}", path.display())))?;
        let survey: Survey = serde_json::from_str(&text)
            .map_err(|e| CheckerError::Evidence(format!("parsing {}: {e}", path.display())))?;
        let agreement = compare(&survey);
        let anomaly = agreement.differences.first().map(|d| Anomaly {
            key: Some(d.key.clone()),
            ..Anomaly::default()
        });
        Ok(
            Judgement::new(agreement.verdict, agreement.summary(), &agreement)
                .with_anomaly(anomaly),
        )
    }
}

/// The comparison of the replicas: what `results.json` holds as this
/// checker's detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Valid when every node that answered agrees; unknown when fewer than
    /// two answered.
    pub verdict: Verdict,
    /// How the wait for one position ended.
    pub settled: Settled,
    /// How long the wait took, milliseconds.
    pub waited_ms: u64,
    /// Every node, in cluster order.
    pub replicas: Vec<Replica>,
    /// Whether the nodes that answered are at different positions.
    #[serde(default)]
    pub positions_differ: bool,
    /// Whether their digests differ (compared when all have one and they
    /// are at one position).
    #[serde(default)]
    pub digests_differ: bool,
    /// How many keys differ between them.
    #[serde(default)]
    pub differing_keys: usize,
    /// The first [`MAX_LISTED`] keys that differ, by key.
    #[serde(default)]
    pub differences: Vec<KeyDifference>,
    /// The keys some nodes lack while others hold them, grouped by the
    /// nodes that lack them; the groups lacking most keys first.
    #[serde(default)]
    pub lacking: Vec<Lacking>,
}

/// Keys that the same nodes lack, and every other node that answered
/// holds (with one value or more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lacking {
    /// The nodes that lack them, in cluster order.
    pub nodes: Vec<String>,
    /// How many keys they lack.
    pub keys: usize,
    /// The first [`MAX_LISTED`] of those keys, by key.
    pub first: Vec<String>,
}

/// One node as the comparison saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replica {
    /// The node's name.
    pub node: String,
    /// Its position (None: it did not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// How many keys it holds.
    #[serde(default)]
    pub keys: usize,
    /// Its digest, when the system computes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Why it did not answer, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
}

/// A key whose value is not the same on every node that answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyDifference {
    /// The key.
    pub key: String,
    /// What each node that answered holds, in cluster order.
    pub values: Vec<Held>,
}

/// What one node holds for a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    /// The node's name.
    pub node: String,
    /// Its value (`null` included); None, and no field, when it does not
    /// have the key.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub value: Option<Value>,
}

/// A field that is there, `null` included, as Some.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Compares the states of `survey`.
pub fn compare(survey: &Survey) -> Agreement {
    let reachable: Vec<(&str, &ReplicaState)> = survey.reachable().collect();
    let replicas = survey
        .replicas
        .iter()
        .map(|o| match &o.answer {
            crate::system::replicas::Answer::State(s) => Replica {
                node: o.node.clone(),
                position: Some(s.position.clone()),
                keys: s.kv.len(),
                digest: s.digest.clone(),
                unreachable: None,
            },
            crate::system::replicas::Answer::Unreachable(why) => Replica {
                node: o.node.clone(),
                position: None,
                keys: 0,
                digest: None,
                unreachable: Some(why.clone()),
            },
        })
        .collect();
    let positions_differ = reachable
        .windows(2)
        .any(|w| w[0].1.position != w[1].1.position);
    let digests: Option<Vec<&String>> = reachable.iter().map(|(_, s)| s.digest.as_ref()).collect();
    let digests_differ =
        !positions_differ && digests.is_some_and(|d| d.windows(2).any(|w| w[0] != w[1]));
    let differences = differing_keys(&reachable);
    let lacking = lacking(&differences);
    let verdict = if reachable.len() < 2 {
        Verdict::Unknown
    } else if positions_differ || digests_differ || !differences.is_empty() {
        Verdict::Invalid
    } else {
        Verdict::Valid
    };
    Agreement {
        verdict,
        settled: survey.settled,
        waited_ms: survey.waited_ms,
        replicas,
        positions_differ,
        digests_differ,
        differing_keys: differences.len(),
        differences: differences.into_iter().take(MAX_LISTED).collect(),
        lacking,
    }
}

/// The differing keys that some nodes lack, grouped by those nodes.
fn lacking(differences: &[KeyDifference]) -> Vec<Lacking> {
    let mut groups: Vec<Lacking> = Vec::new();
    for d in differences {
        let nodes: Vec<String> = d
            .values
            .iter()
            .filter(|h| h.value.is_none())
            .map(|h| h.node.clone())
            .collect();
        if nodes.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|g| g.nodes == nodes) {
            Some(g) => {
                g.keys += 1;
                if g.first.len() < MAX_LISTED {
                    g.first.push(d.key.clone());
                }
            }
            None => groups.push(Lacking {
                nodes,
                keys: 1,
                first: vec![d.key.clone()],
            }),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.keys));
    groups
}

/// Every key not held alike by all of `reachable`, by key.
fn differing_keys(reachable: &[(&str, &ReplicaState)]) -> Vec<KeyDifference> {
    let keys: BTreeSet<&String> = reachable.iter().flat_map(|(_, s)| s.kv.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let values: Vec<Held> = reachable
                .iter()
                .map(|(node, s)| Held {
                    node: node.to_string(),
                    value: s.kv.get(key).cloned(),
                })
                .collect();
            let alike = values.windows(2).all(|w| w[0].value == w[1].value);
            (!alike).then(|| KeyDifference {
                key: key.clone(),
                values,
            })
        })
        .collect()
}

impl Agreement {
    /// The verdict and why, then a line per node that needs one and per
    /// differing key (the first few).
    pub fn summary(&self) -> String {
        let answered: Vec<&Replica> = self
            .replicas
            .iter()
            .filter(|r| r.position.is_some())
            .collect();
        let mut s = match self.verdict {
            Verdict::Unknown => format!(
                "unknown: {} of {} replicas answered; at least two are needed to compare",
                answered.len(),
                self.replicas.len()
            ),
            Verdict::Valid => {
                let first = answered[0];
                let digest = first
                    .digest
                    .as_deref()
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default();
                format!(
                    "valid: {} replicas agree at {} ({}{digest})",
                    answered.len(),
                    first
                        .position
                        .as_ref()
                        .map(Position::to_string)
                        .unwrap_or_default(),
                    keys(first.keys)
                )
            }
            Verdict::Invalid => {
                let mut why = Vec::new();
                if self.positions_differ {
                    why.push(format!(
                        "at different positions after waiting {:.1} s",
                        self.waited_ms as f64 / 1e3
                    ));
                }
                if self.differing_keys > 0 {
                    let verb = if self.differing_keys == 1 {
                        "differs"
                    } else {
                        "differ"
                    };
                    why.push(format!("{} {verb}", keys(self.differing_keys)));
                }
                if self.digests_differ {
                    why.push("their digests differ".into());
                }
                format!("invalid: the replicas diverge: {}", why.join("; "))
            }
        };
        let invalid = self.verdict == Verdict::Invalid;
        for r in &self.replicas {
            match (&r.position, &r.unreachable) {
                (_, Some(why)) => {
                    let _ = write!(s, "\n{} unreachable: {why}", r.node);
                }
                (Some(p), None) if invalid => {
                    let digest = r
                        .digest
                        .as_deref()
                        .map(|d| format!(", {d}"))
                        .unwrap_or_default();
                    let _ = write!(s, "\n{} {p}: {}{digest}", r.node, keys(r.keys));
                }
                _ => {}
            }
        }
        for l in &self.lacking {
            let shown: Vec<&str> = l
                .first
                .iter()
                .take(MAX_LACKING_TEXT)
                .map(String::as_str)
                .collect();
            let more = if l.keys > shown.len() { ", ..." } else { "" };
            let _ = write!(
                s,
                "\n{} lack{} {} the others hold: {}{more}",
                l.nodes.join(", "),
                if l.nodes.len() == 1 { "s" } else { "" },
                keys(l.keys),
                shown.join(", ")
            );
        }
        for d in self.differences.iter().take(MAX_TEXT) {
            let _ = write!(s, "\n{}: {}", d.key, d.by_value());
        }
        let listed = self.differences.len().min(MAX_TEXT);
        if self.differing_keys > listed {
            let _ = write!(
                s,
                "\n... and {} more differing keys (the detail lists the first {})",
                self.differing_keys - listed,
                self.differences.len()
            );
        }
        s
    }
}

impl KeyDifference {
    /// Each value held and the nodes holding it, in the order the nodes
    /// come: `3 on n1, n3; 4 on n2`.
    pub fn by_value(&self) -> String {
        let mut groups: Vec<(Option<&Value>, Vec<&str>)> = Vec::new();
        for h in &self.values {
            match groups.iter_mut().find(|(v, _)| *v == h.value.as_ref()) {
                Some((_, nodes)) => nodes.push(&h.node),
                None => groups.push((h.value.as_ref(), vec![&h.node])),
            }
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(v, nodes)| format!("{} on {}", shown(*v), nodes.join(", ")))
            .collect();
        parts.join("; ")
    }
}

/// `1 key`, `2 keys`.
fn keys(n: usize) -> String {
    format!("{n} key{}", if n == 1 { "" } else { "s" })
}

/// A value for the text: its JSON, cut short; `(missing)` for none.
pub fn shown(value: Option<&Value>) -> String {
    let Some(v) = value else {
        return "(missing)".into();
    };
    let text = v.to_string();
    if text.chars().count() <= MAX_VALUE_TEXT {
        return text;
    }
    let cut: String = text.chars().take(MAX_VALUE_TEXT).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::replicas::{Answer, Observed};
    use serde_json::json;

    fn state(applied: u64, kv: Value) -> Answer {
        Answer::State(ReplicaState {
            position: Position::of(&[("applied_index", applied), ("revision", applied / 2)]),
            digest: None,
            kv: serde_json::from_value(kv).unwrap(),
        })
    }

    fn survey(answers: Vec<Answer>) -> Survey {
        Survey {
            settled: Settled::Together,
            waited_ms: 1500,
            replicas: answers
                .into_iter()
                .enumerate()
                .map(|(i, answer)| Observed {
                    node: format!("n{}", i + 1),
                    answer,
                })
                .collect(),
        }
    }

    fn agreeing() -> Vec<Answer> {
        (0..3)
            .map(|_| state(40, json!({"r1": 3, "l2": [1, 2]})))
            .collect()
    }

    #[test]
    fn agreeing_replicas_are_valid() {
        let a = compare(&survey(agreeing()));
        assert_eq!(a.verdict, Verdict::Valid);
        assert_eq!(
            a.summary(),
            "valid: 3 replicas agree at applied_index 40, revision 20 (2 keys)"
        );
    }

    #[test]
    fn a_different_value_is_invalid_naming_the_key_and_each_nodes_value() {
        let mut answers = agreeing();
        answers[1] = state(40, json!({"r1": 4, "l2": [1, 2]}));
        let a = compare(&survey(answers));
        assert_eq!(a.verdict, Verdict::Invalid);
        assert!(!a.positions_differ);
        assert_eq!(a.differing_keys, 1);
        let text = a.summary();
        assert!(
            text.starts_with("invalid: the replicas diverge: 1 key differs"),
            "{text}"
        );
        assert!(text.contains("\nr1: 3 on n1, n3; 4 on n2"), "{text}");
        assert!(
            text.contains("\nn2 applied_index 40, revision 20: 2 keys"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_key_is_invalid_and_shown_as_missing() {
        let mut answers = agreeing();
        answers[2] = state(40, json!({"r1": 3}));
        let a = compare(&survey(answers));
        assert_eq!(a.verdict, Verdict::Invalid);
        assert_eq!(a.differences[0].key, "l2");
        assert_eq!(a.differences[0].values[2].value, None);
        assert!(
            a.summary()
                .contains("\nl2: [1,2] on n1, n2; (missing) on n3"),
            "{}",
            a.summary()
        );
    }

    #[test]
    fn a_split_copy_names_which_nodes_lack_which_keys_grouped_by_those_nodes() {
        // n1-n3 hold elements 1-4; n4 and n5 hold 1, 2 and their own 9.
        let full = json!({"e1": 1, "e2": 2, "e3": 3, "e4": 4});
        let split = json!({"e1": 1, "e2": 2, "e9": 3});
        let a = compare(&survey(vec![
            state(4, full.clone()),
            state(4, full.clone()),
            state(4, full),
            state(4, split.clone()),
            state(4, split),
        ]));
        assert_eq!(a.verdict, Verdict::Invalid);
        assert_eq!(a.differing_keys, 3);
        let groups: Vec<(Vec<String>, usize, Vec<String>)> = a
            .lacking
            .iter()
            .map(|l| (l.nodes.clone(), l.keys, l.first.clone()))
            .collect();
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            groups,
            vec![
                (names(&["n4", "n5"]), 2, names(&["e3", "e4"])),
                (names(&["n1", "n2", "n3"]), 1, names(&["e9"])),
            ]
        );
        let text = a.summary();
        assert!(
            text.contains("\nn4, n5 lack 2 keys the others hold: e3, e4\n"),
            "{text}"
        );
        assert!(
            text.contains("\nn1, n2, n3 lack 1 key the others hold: e9\n"),
            "{text}"
        );
        // A key held everywhere with different values is no lack.
        let mut answers = agreeing();
        answers[1] = state(40, json!({"r1": 4, "l2": [1, 2]}));
        assert!(compare(&survey(answers)).lacking.is_empty());
    }

    #[test]
    fn a_replica_left_at_another_position_is_invalid_even_with_the_same_keys() {
        let mut answers = agreeing();
        answers[0] = state(38, json!({"r1": 3, "l2": [1, 2]}));
        let a = compare(&survey(answers));
        assert_eq!(a.verdict, Verdict::Invalid);
        assert!(a.positions_differ);
        assert_eq!(a.differing_keys, 0);
        let text = a.summary();
        assert!(
            text.contains("at different positions after waiting 1.5 s"),
            "{text}"
        );
        assert!(
            text.contains("\nn1 applied_index 38, revision 19: 2 keys"),
            "{text}"
        );
    }

    #[test]
    fn same_position_and_keys_but_different_digests_is_invalid() {
        let digest = |d: &str| {
            let Answer::State(mut s) = state(40, json!({"r1": 3})) else {
                unreachable!()
            };
            s.digest = Some(d.into());
            Answer::State(s)
        };
        let a = compare(&survey(vec![
            digest("hash 1"),
            digest("hash 1"),
            digest("hash 2"),
        ]));
        assert_eq!(a.verdict, Verdict::Invalid);
        assert!(a.digests_differ);
        assert!(
            a.summary().contains("their digests differ"),
            "{}",
            a.summary()
        );
        let a = compare(&survey(vec![digest("hash 1"), digest("hash 1")]));
        assert_eq!(a.verdict, Verdict::Valid);
        assert!(a.summary().ends_with("(1 key, hash 1)"), "{}", a.summary());
    }

    #[test]
    fn an_unreachable_replica_is_named_but_the_others_still_decide() {
        let mut answers = agreeing();
        answers[2] = Answer::Unreachable("/state: connection refused".into());
        let a = compare(&survey(answers.clone()));
        assert_eq!(a.verdict, Verdict::Valid);
        let text = a.summary();
        assert!(text.starts_with("valid: 2 replicas agree"), "{text}");
        assert!(
            text.contains("\nn3 unreachable: /state: connection refused"),
            "{text}"
        );
        answers[1] = Answer::Unreachable("timeout".into());
        let a = compare(&survey(answers));
        assert_eq!(a.verdict, Verdict::Unknown);
        assert!(
            a.summary().starts_with("unknown: 1 of 3 replicas answered"),
            "{}",
            a.summary()
        );
    }

    #[test]
    fn long_lists_of_differences_are_capped() {
        let many: serde_json::Map<String, Value> =
            (0..150).map(|i| (format!("k{i:03}"), json!(i))).collect();
        let mut answers = agreeing();
        answers[0] = state(40, Value::Object(many));
        let a = compare(&survey(answers));
        assert_eq!(a.differing_keys, 152);
        assert_eq!(a.differences.len(), MAX_LISTED);
        let text = a.summary();
        assert_eq!(
            text.lines().filter(|l| l.starts_with('k')).count(),
            MAX_TEXT
        );
        assert!(
            text.contains("... and 142 more differing keys (the detail lists the first 100)"),
            "{text}"
        );
        assert_eq!(
            shown(Some(&json!("x".repeat(100)))).chars().count(),
            MAX_VALUE_TEXT + 1
        );
    }

    #[test]
    fn the_detail_round_trips_telling_a_null_value_from_a_missing_key() {
        let mut answers = agreeing();
        answers[1] = state(40, json!({"r1": null, "l2": [1, 2]}));
        let a = compare(&survey(answers));
        assert_eq!(a.differences[0].values[1].value, Some(Value::Null));
        let back: Agreement = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        answers = agreeing();
        answers[1] = state(40, json!({"l2": [1, 2]}));
        let a = compare(&survey(answers));
        assert_eq!(a.differences[0].values[1].value, None);
        let back: Agreement = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }
}
