//! The transactional anomalies of a `txn-*` result: counts per type, the
//! models they rule out, and each of the first anomalies explained, a cycle
//! drawn as transactions (boxes) around a circle joined by labelled edges
//! (ww, wr, rw, process, realtime). The page's section for txn results.

use std::fmt::Write as _;

use faultline_checker::txn::{AnomalyReport, TxnResult};

use super::{esc, Page, Section};
use crate::checkers::txn::KIND;
use crate::record::CheckerResult;

/// The anomalies of a transactional result.
pub struct Cycles;

/// The registered section.
pub const SECTION: Cycles = Cycles;

/// Cycles longer than this are explained in text only.
const MAX_DRAWN: usize = 12;

impl Section for Cycles {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn render(&self, result: &CheckerResult, _page: &Page<'_>) -> String {
        match result.detail::<TxnResult>() {
            Some(r) if !r.anomaly_types.is_empty() => section(&r),
            _ => String::new(),
        }
    }
}

/// The section for one result.
pub fn section(r: &TxnResult) -> String {
    let mut h = format!(
        "<section id=\"txn\"><h2>Transactional anomalies ({})</h2><p class=\"hint\">Checked \
         against {}. Names are Elle's; <em>not</em> lists the weakest consistency models \
         the anomalies rule out, <em>also not</em> the stronger ones.</p>\
         <table class=\"checkers\"><tr><th>anomaly</th><th>found</th></tr>",
        esc(&r.model),
        esc(&r.consistency_models.join(", "))
    );
    for t in &r.anomaly_types {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(t),
            r.counts.get(t).copied().unwrap_or(0)
        );
    }
    let _ = write!(
        h,
        "</table><p>not: {}<br>also not: {}</p>",
        esc(&r.not.join(", ")),
        esc(&r.also_not.join(", "))
    );
    for (name, list) in &r.anomalies {
        let _ = write!(h, "<h3>{}</h3>", esc(name));
        for a in list {
            if !a.cycle.is_empty() && a.txns.len() <= MAX_DRAWN {
                h.push_str(&drawing(a));
            }
            let _ = write!(h, "<pre>{}</pre>", esc(&a.explanation));
        }
    }
    h.push_str("</section>");
    h
}

fn colour(kind: &str) -> &'static str {
    match kind {
        "ww" => "#1f77b4",
        "wr" => "#2ca02c",
        "rw" => "#d62728",
        "process" => "#9467bd",
        _ => "#7f7f7f",
    }
}

/// An SVG of one cycle: boxes around a circle, arrows in cycle order.
pub fn drawing(a: &AnomalyReport) -> String {
    let n = a.txns.len().max(1);
    let size = 160.0 + 40.0 * n as f64;
    let (cx, cy, radius) = (size / 2.0, size / 2.0, size / 2.0 - 50.0);
    let at = |i: usize| {
        let angle = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
        (cx + radius * angle.cos(), cy + radius * angle.sin())
    };
    let mut svg = format!(
        "<svg class=\"cycle\" width=\"{size:.0}\" height=\"{size:.0}\" viewBox=\"0 0 {size:.0} {size:.0}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" \
         refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M 0 0 L 10 5 L 0 10 z\"/></marker></defs>"
    );
    for s in &a.cycle {
        let ((x1, y1), (x2, y2)) = (at(s.from), at(s.to));
        // Stop short of the boxes.
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        let (sx, sy, ex, ey) = (
            x1 + ux * 28.0,
            y1 + uy * 16.0,
            x2 - ux * 28.0,
            y2 - uy * 16.0,
        );
        let label = match &s.key {
            Some(k) => format!("{} {}", s.kind, k),
            None => s.kind.clone(),
        };
        let _ = write!(
            svg,
            "<line x1=\"{sx:.1}\" y1=\"{sy:.1}\" x2=\"{ex:.1}\" y2=\"{ey:.1}\" stroke=\"{c}\" stroke-width=\"2\" \
             marker-end=\"url(#arrow)\"><title>{why}</title></line>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" fill=\"{c}\" font-size=\"12\" text-anchor=\"middle\">{l}</text>",
            c = colour(&s.kind),
            why = esc(&s.why),
            tx = (sx + ex) / 2.0 - uy * 10.0,
            ty = (sy + ey) / 2.0 + ux * 10.0,
            l = esc(&label)
        );
    }
    for (i, t) in a.txns.iter().enumerate() {
        let (x, y) = at(i);
        let _ = write!(
            svg,
            "<g><rect x=\"{:.1}\" y=\"{:.1}\" width=\"56\" height=\"28\" rx=\"4\" fill=\"#fff\" stroke=\"#333\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\
             <title>{}</title></g>",
            x - 28.0,
            y - 14.0,
            y + 4.0,
            esc(&t.name),
            esc(&format!("{} p{} {} (index {})", t.outcome, t.process, t.value, t.index))
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::txn::{check_text, TxnModel, TxnOptions};

    #[test]
    fn a_cycle_is_drawn_with_its_labelled_edges() {
        let history = "\
{:type :invoke, :f :txn, :value [[:r :x nil] [:append :y 1]], :process 0}
{:type :invoke, :f :txn, :value [[:r :y nil] [:append :x 1]], :process 1}
{:type :ok, :f :txn, :value [[:r :x []] [:append :y 1]], :process 0}
{:type :ok, :f :txn, :value [[:r :y []] [:append :x 1]], :process 1}
{:type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]], :process 2}
{:type :ok, :f :txn, :value [[:r :x [1]] [:r :y [1]]], :process 2}
";
        let r = check_text(history, TxnModel::ListAppend, &TxnOptions::default()).unwrap();
        let html = section(&r);
        assert!(html.contains("G2-item"), "{html}");
        assert_eq!(html.matches("<rect").count(), 2);
        assert_eq!(html.matches("<line").count(), 2);
        assert!(html.contains(">rw x<") && html.contains(">rw y<"), "{html}");
        assert!(html.contains("a contradiction!"));
    }
}
