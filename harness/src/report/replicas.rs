//! The replicas after the run, as the `replica-agreement` checker compared
//! them: each node's position, key count and digest (or why it did not
//! answer), then which nodes lack which keys the others hold, then the
//! keys whose values differ, a column per node. The page's section for
//! replica-agreement results.

use std::fmt::Write as _;

use super::{esc, Page, Section};
use crate::checkers::replicas::{self, Agreement};
use crate::record::CheckerResult;

/// The replicas' states of a replica-agreement result.
pub struct ReplicaStates;

/// The registered section.
pub const SECTION: ReplicaStates = ReplicaStates;

impl Section for ReplicaStates {
    fn kind(&self) -> &'static str {
        replicas::KIND
    }

    fn render(&self, result: &CheckerResult, _page: &Page<'_>) -> String {
        match result.detail::<Agreement>() {
            Some(detail) => section(&detail),
            None => String::new(),
        }
    }
}

/// The section of the page for `a`.
pub fn section(a: &Agreement) -> String {
    let mut h = format!(
        "<section id=\"replicas\"><h2>Replicas</h2><p class=\"hint\">Each node's own state, \
         read locally once the faults healed and the final reads were done \
         ({:.1} s spent waiting for the replicas to reach one position: {}): \
         <b>{}</b>.</p><table class=\"checkers\"><tr><th>node</th><th>position</th>\
         <th>keys</th><th>digest</th></tr>",
        a.waited_ms as f64 / 1e3,
        serde_json::to_value(a.settled)
            .ok()
            .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
            .unwrap_or_default(),
        a.verdict
    );
    for r in &a.replicas {
        match (&r.position, &r.unreachable) {
            (_, Some(why)) => {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td colspan=\"3\">unreachable: {}</td></tr>",
                    esc(&r.node),
                    esc(why)
                );
            }
            (position, None) => {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&r.node),
                    esc(&position.as_ref().map(|p| p.to_string()).unwrap_or_default()),
                    r.keys,
                    esc(r.digest.as_deref().unwrap_or("—"))
                );
            }
        }
    }
    h.push_str("</table>");
    if !a.lacking.is_empty() {
        h.push_str(
            "<table class=\"checkers\"><tr><th>nodes lacking</th><th>keys</th>\
             <th>the first of them</th></tr>",
        );
        for l in &a.lacking {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&l.nodes.join(", ")),
                l.keys,
                esc(&l.first.join(", "))
            );
        }
        h.push_str("</table>");
    }
    if let Some(first) = a.differences.first() {
        let _ = write!(
            h,
            "<p class=\"hint\">{} key{} differ{} (the first {} below).</p>\
             <table class=\"checkers\"><tr><th>key</th>",
            a.differing_keys,
            if a.differing_keys == 1 { "" } else { "s" },
            if a.differing_keys == 1 { "s" } else { "" },
            a.differences.len()
        );
        for held in &first.values {
            let _ = write!(h, "<th>{}</th>", esc(&held.node));
        }
        h.push_str("</tr>");
        for d in &a.differences {
            let _ = write!(h, "<tr><td>{}</td>", esc(&d.key));
            for held in &d.values {
                let _ = write!(h, "<td>{}</td>", esc(&replicas::shown(held.value.as_ref())));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::replicas::compare;
    use crate::system::replicas::{Answer, Observed, Position, ReplicaState, Settled, Survey};
    use serde_json::json;

    #[test]
    fn the_section_shows_each_node_and_the_differing_keys_per_node() {
        let node = |name: &str, answer: Answer| Observed {
            node: name.into(),
            answer,
        };
        let state = |v: i64| {
            Answer::State(ReplicaState {
                position: Position::of(&[("applied_index", 9)]),
                digest: None,
                kv: [("r<1>".to_string(), json!(v))].into(),
            })
        };
        let survey = Survey {
            settled: Settled::Together,
            waited_ms: 200,
            replicas: vec![
                node("n1", state(1)),
                node("n2", state(2)),
                node("n3", Answer::Unreachable("timeout".into())),
            ],
        };
        let html = section(&compare(&survey));
        assert!(
            html.contains("<td>n1</td><td>applied_index 9</td><td>1</td><td>—</td>"),
            "{html}"
        );
        assert!(
            html.contains("<td>n3</td><td colspan=\"3\">unreachable: timeout</td>"),
            "{html}"
        );
        assert!(
            html.contains("<th>key</th><th>n1</th><th>n2</th></tr>"),
            "{html}"
        );
        assert!(
            html.contains("<tr><td>r&lt;1&gt;</td><td>1</td><td>2</td></tr>"),
            "{html}"
        );
        assert!(html.contains("0.2 s spent waiting"), "{html}");
        assert!(!html.contains("nodes lacking"), "{html}");
    }

    #[test]
    fn the_section_says_which_nodes_lack_which_keys() {
        let node = |name: &str, keys: &[&str]| Observed {
            node: name.into(),
            answer: Answer::State(ReplicaState {
                position: Position::of(&[("last_seq", 3)]),
                digest: None,
                kv: keys.iter().map(|k| (k.to_string(), json!(1))).collect(),
            }),
        };
        let survey = Survey {
            settled: Settled::Still,
            waited_ms: 200,
            replicas: vec![
                node("n1", &["e1", "e2", "e3"]),
                node("n2", &["e1", "e2", "e3"]),
                node("n3", &["e1"]),
            ],
        };
        let html = section(&compare(&survey));
        assert!(
            html.contains("<tr><td>n3</td><td>2</td><td>e2, e3</td></tr>"),
            "{html}"
        );
    }
}
