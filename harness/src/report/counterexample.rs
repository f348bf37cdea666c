//! The counterexample drawn as Knossos and Porcupine draw it: one lane per
//! process, each operation around the failure a bar from invocation to
//! completion, the operations of the longest linearizable order numbered in
//! that order with the state it reaches, and the operation that cannot be
//! placed outlined in red. An inline SVG, drawn here so it needs no script.
//! The page's section for linearizability results.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use faultline_checker::counterexample::Counterexample;
use faultline_checker::history::{Operation, Outcome};
use faultline_checker::CheckResult;

use super::{esc, Page, Section};
use crate::checkers::linearizable;
use crate::record::CheckerResult;

/// The counterexample of an invalid linearizability result.
pub struct Counterexamples;

/// The registered section.
pub const SECTION: Counterexamples = Counterexamples;

impl Section for Counterexamples {
    fn kind(&self) -> &'static str {
        linearizable::KIND
    }

    fn render(&self, result: &CheckerResult, _page: &Page<'_>) -> String {
        let Some(c) = result
            .detail::<CheckResult>()
            .and_then(|r| r.counterexample)
        else {
            return String::new();
        };
        format!(
            "<section id=\"counterexample\"><h2>Counterexample</h2>\
             <p class=\"hint\">The operations around the failure, a row each, grouped by \
             process, in history order: the end of the longest linearizable order found is \
             numbered #1, #2, … and reaches the state shown; the operation outlined in red \
             cannot be placed after it.</p>{}\
             <pre class=\"cx-text\">{}</pre></section>",
            svg(&c),
            esc(&c.render_lines().join("\n"))
        )
    }
}

const ROW: f64 = 22.0;
const LEFT: f64 = 48.0;
const WIDTH: f64 = 1000.0;
const TOP: f64 = 22.0;
/// At most this many concurrent operations are drawn (the text lists them all).
const MAX_CONCURRENT: usize = 24;

/// The SVG of `c` (no namespace attribute: it is inline HTML).
///
/// One row per operation, grouped by process; the horizontal axis is the
/// order of the invocations and completions in the history (not to scale,
/// as Knossos draws it), so short operations stay readable.
pub fn svg(c: &Counterexample) -> String {
    let order: Vec<&Operation> = c
        .longest
        .first()
        .map(|l| l.tail.iter().collect())
        .unwrap_or_default();
    let ops = shown(c, &order);
    // The history positions of every shown invocation and completion, in order.
    let mut points: Vec<u64> = ops
        .iter()
        .flat_map(|o| [Some(o.invoke_index), o.complete_index])
        .flatten()
        .collect();
    points.sort_unstable();
    points.dedup();
    let slots = points.len() as f64 + 1.0;
    let step = (WIDTH - LEFT - 160.0) / slots;
    let x = |index: u64| LEFT + 4.0 + points.partition_point(|&p| p < index) as f64 * step;
    let height = TOP + ROW * ops.len() as f64 + 26.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"cx\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" role=\"img\" \
         aria-label=\"operations around the failure\">\
         <text x=\"{LEFT}\" y=\"14\" class=\"cx-axis\">history order →  (hover an operation for its times)</text>"
    );
    let mut previous: Option<u64> = None;
    for (row, op) in ops.iter().enumerate() {
        let y = TOP + ROW * row as f64;
        if previous != Some(op.process) {
            let _ = write!(
                s,
                "<line x1=\"0\" x2=\"{WIDTH}\" y1=\"{y}\" y2=\"{y}\" class=\"cx-lane\"/>\
                 <text x=\"4\" y=\"{:.1}\" class=\"cx-proc\">p{}</text>",
                y + ROW / 2.0 + 4.0,
                op.process
            );
            previous = Some(op.process);
        }
        let x0 = x(op.invoke_index);
        let x1 = match op.complete_index {
            Some(i) => x(i),
            None => LEFT + 4.0 + slots * step,
        }
        .max(x0 + 4.0);
        let failing = op.id == c.operation.id;
        let class = match op.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        };
        let place = order.iter().position(|o| o.id == op.id);
        let (title, text) = labels(op, place, failing);
        let _ = write!(
            s,
            "<g class=\"cx-op {class}{}\"><title>{}</title>\
             <rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            if failing { " failing" } else { "" },
            esc(&title),
            y + 4.0,
            x1 - x0,
            ROW - 8.0,
            x1 + 5.0,
            y + ROW / 2.0 + 1.0,
            esc(&text)
        );
    }
    // The state the longest order reaches, after its last operation.
    if let (Some(last), Some(l)) = (order.last(), c.longest.first()) {
        let at = x(last.complete_index.unwrap_or(last.invoke_index));
        state_mark(
            &mut s,
            at,
            height,
            &l.state.to_string(),
            c.longest.len() - 1,
        );
    }
    s.push_str("</svg>");
    s
}

/// The line at `at` marking the `state` the longest order reaches, and
/// how many other orders (`more`) got as far.
fn state_mark(s: &mut String, at: f64, height: f64, state: &str, more: usize) {
    let _ = write!(
        s,
        "<line x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{TOP}\" y2=\"{:.1}\" class=\"cx-state-line\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"cx-state\">state {}{}</text>",
        height - 20.0,
        at + 3.0,
        height - 8.0,
        esc(state),
        if more > 0 {
            format!(" (or {more} more: see below)")
        } else {
            String::new()
        }
    );
}

/// The operations drawn: the end of the longest order, the concurrent
/// ones (at most [`MAX_CONCURRENT`]) and the one that cannot be placed,
/// each once, by process and invocation.
fn shown<'a>(c: &'a Counterexample, order: &[&'a Operation]) -> Vec<&'a Operation> {
    let mut ops: Vec<&Operation> = Vec::new();
    let mut seen = BTreeSet::new();
    for op in order
        .iter()
        .copied()
        .chain(c.concurrent.iter().take(MAX_CONCURRENT))
        .chain(std::iter::once(&c.operation))
    {
        if seen.insert(op.id) {
            ops.push(op);
        }
    }
    ops.sort_by_key(|o| (o.process, o.invoke_index));
    ops
}

/// An operation's tooltip and its bar's label: what it did, when, its
/// place in the longest order (`place`), whether it is the one that
/// cannot be placed.
fn labels(op: &Operation, place: Option<usize>, failing: bool) -> (String, String) {
    let mut title = op.describe();
    let _ = write!(
        title,
        "\ninvoked at {:.6} s (index {}), ",
        op.invoke_time as f64 / 1e9,
        op.invoke_index
    );
    match (op.complete_time, op.complete_index) {
        (Some(t), Some(i)) => {
            let _ = write!(title, "completed at {:.6} s (index {i})", t as f64 / 1e9);
        }
        _ => title.push_str("never completed"),
    }
    if let Some(k) = place {
        let _ = write!(title, "\nlinearized #{}", k + 1);
    }
    if failing {
        title.push_str("\ncannot be placed");
    }
    let mut text = short_op(op);
    if let Some(k) = place {
        text = format!("#{} {text}", k + 1);
    }
    if failing {
        text = format!("✗ {text}  (cannot be placed)");
    }
    (title, text)
}

/// `write 3`, `read → 3`, `cas [1,2] fail`: what fits in a bar.
fn short_op(op: &Operation) -> String {
    let key = op
        .key
        .as_deref()
        .map(|k| format!(" {k}"))
        .unwrap_or_default();
    let input = if op.input.is_null() {
        String::new()
    } else {
        format!(" {}", op.input)
    };
    let result = match op.outcome {
        Outcome::Ok if !op.output.is_null() && op.output != op.input => format!(" → {}", op.output),
        Outcome::Ok => String::new(),
        Outcome::Fail => " fail".to_string(),
        Outcome::Info => " ?".to_string(),
    };
    format!("{}{key}{input}{result}", op.f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::counterexample::Linearization;
    use serde_json::{json, Value};

    fn op(id: usize, p: u64, f: &str, input: Value, output: Value, t: (u64, u64)) -> Operation {
        Operation {
            id,
            process: p,
            f: f.into(),
            key: Some("x".into()),
            input,
            output,
            outcome: Outcome::Ok,
            error: None,
            invoke_index: id as u64 * 2,
            complete_index: Some(id as u64 * 2 + 1),
            invoke_time: t.0,
            complete_time: Some(t.1),
        }
    }

    #[test]
    fn the_failing_operation_and_the_order_are_drawn() {
        let w = op(0, 1, "write", json!(2), Value::Null, (0, 10));
        let r = op(1, 2, "read", Value::Null, json!(1), (20, 30));
        let c = Counterexample {
            key: Some("x".into()),
            operation: r.clone(),
            prefix_end_index: 3,
            prefix_operations: 2,
            concurrent: vec![],
            linearized: 1,
            longest: vec![Linearization {
                tail: vec![w],
                elided: 0,
                state: json!(2),
            }],
            impossible: None,
        };
        let s = svg(&c);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(!s.contains("http"));
        assert!(s.contains("cx-op ok failing"));
        assert!(s.contains("✗ read x → 1  (cannot be placed)"));
        assert!(s.contains("#1 write x 2"));
        assert!(s.contains("state 2"));
        assert!(s.contains(">p1<") && s.contains(">p2<"));
    }
}
