//! The abstract cluster states a run went through, as `cluster-states`
//! found them: one row per state, a bar wherever the run was in it, so the
//! faults' effect reads from left to right. For a run of `faultline
//! explore`, the states the search had not seen before that run are marked
//! (its `explore.json` beside the history).

use std::fmt::Write as _;

use super::{esc, Page, Section};
use crate::checkers::states::{self, StatesDetail};
use crate::record::CheckerResult;

/// The file `faultline explore` writes into each run folder it made.
pub const EXPLORE_FILE: &str = "explore.json";

/// What `faultline explore` says about one of its runs.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ExploreMark {
    /// The run's number in the search (1-based).
    pub run: usize,
    /// The search's seed.
    pub search_seed: u64,
    /// The labels of the states this run reached first.
    pub new_states: Vec<String>,
    /// Distinct states the search had seen after this run.
    pub seen_after: usize,
}

/// The states section.
pub struct States;

/// The registered section.
pub const SECTION: States = States;

/// Width of the bars' area, pixels.
const WIDTH: f64 = 640.0;
/// Rows drawn at most (the rest are counted).
const MAX_ROWS: usize = 40;

impl Section for States {
    fn kind(&self) -> &'static str {
        states::KIND
    }

    fn render(&self, result: &CheckerResult, page: &Page<'_>) -> String {
        let Some(detail) = result.detail::<StatesDetail>() else {
            return String::new();
        };
        if detail.states.is_empty() {
            return String::new();
        }
        let mark: Option<ExploreMark> = page
            .dir
            .and_then(|d| std::fs::read(d.join(EXPLORE_FILE)).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        section(&detail, mark.as_ref())
    }
}

/// The section's HTML for `d`, marking `mark`'s new states.
pub fn section(d: &StatesDetail, mark: Option<&ExploreMark>) -> String {
    let span = d.last_s.max(0.001) + d.every_ms as f64 / 1e3;
    let x = |t: f64| (t / span * WIDTH).clamp(0.0, WIDTH);
    let mut h = format!(
        "<section id=\"states\"><h2>Cluster states</h2><p class=\"hint\">Every node's \
         status, sampled every {} ms and whenever the nemesis asked ({} samples), each sample reduced to an abstract \
         state: leaders, each other node's role, term (&lt; = &gt; the leader's) and log \
         (behind its commit, even, ahead of its end), nodes that did not answer.{}</p>\
         <table class=\"checkers\"><tr><th>state</th><th>first</th><th>samples</th>\
         <th>0 s … {:.1} s</th></tr>",
        d.every_ms,
        d.samples,
        match mark {
            Some(m) => format!(
                " Run {} of an exploration (seed {}): <b>new</b> marks the {} states \
                 this run reached first; {} distinct states were known after it.",
                m.run,
                m.search_seed,
                m.new_states.len(),
                m.seen_after
            ),
            None => String::new(),
        },
        span
    );
    for (i, s) in d.states.iter().enumerate().take(MAX_ROWS) {
        let mut bars = String::new();
        for (k, &(at, state)) in d.changes.iter().enumerate() {
            if state != i {
                continue;
            }
            let end = d.changes.get(k + 1).map_or(span, |&(t, _)| t);
            let _ = write!(
                bars,
                "<rect x=\"{:.1}\" y=\"2\" width=\"{:.1}\" height=\"10\" fill=\"#4a7bd0\"/>",
                x(at),
                (x(end) - x(at)).max(1.0)
            );
        }
        let new = mark.is_some_and(|m| m.new_states.contains(&s.label));
        let _ = write!(
            h,
            "<tr><td>{}{}</td><td>{:.2} s</td><td>{}</td><td><svg width=\"{WIDTH}\" \
             height=\"14\">{bars}</svg></td></tr>",
            if new { "<b>new</b> " } else { "" },
            esc(&s.label),
            s.first_s,
            s.samples
        );
    }
    if d.states.len() > MAX_ROWS {
        let _ = write!(
            h,
            "<tr><td colspan=\"4\">… {} more states (results.json)</td></tr>",
            d.states.len() - MAX_ROWS
        );
    }
    h.push_str("</table></section>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::states::StateSeen;

    #[test]
    fn rows_are_drawn_per_state_with_new_ones_marked() {
        let d = StatesDetail {
            samples: 3,
            every_ms: 250,
            states: vec![
                StateSeen {
                    label: "1 leader".into(),
                    first_s: 0.0,
                    samples: 2,
                },
                StateSeen {
                    label: "no leader; silent ×1".into(),
                    first_s: 0.25,
                    samples: 1,
                },
            ],
            changes: vec![(0.0, 0), (0.25, 1), (0.5, 0)],
            last_s: 0.5,
        };
        let mark = ExploreMark {
            run: 3,
            search_seed: 7,
            new_states: vec!["no leader; silent ×1".into()],
            seen_after: 9,
        };
        let h = section(&d, Some(&mark));
        assert_eq!(h.matches("<rect").count(), 3);
        assert!(h.contains("<b>new</b> no leader; silent ×1"), "{h}");
        assert!(!h.contains("<b>new</b> 1 leader"));
        assert!(h.contains("Run 3 of an exploration"));
    }
}
