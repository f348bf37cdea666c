//! `junit.xml`: the run's checkers as JUnit test cases, the shape CI systems
//! read (`testsuites/testsuite/testcase/failure`): one `testsuite` per run,
//! one `testcase` per checker result (the workload's, `stats`, `node logs`). An
//! invalid checker is a `failure` carrying the anomaly summary; an unknown
//! one is an `error` carrying why.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use faultline_checker::Verdict;

use crate::stored::StoredRun;

/// The run folder's file name.
pub const JUNIT_FILE: &str = "junit.xml";

/// How a test case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed: the checker found nothing.
    Passed,
    /// An anomaly: `message` is its one-line summary, `text` the details.
    Failure {
        /// One line: the failure's `message` attribute.
        message: String,
        /// Every line: the failure element's text.
        text: String,
    },
    /// Could not be decided (or the harness failed).
    Error {
        /// One line: the error's `message` attribute.
        message: String,
        /// Every line: the error element's text.
        text: String,
    },
    /// Not run (e.g. the suite's budget ran out).
    Skipped {
        /// Why it was not run.
        message: String,
    },
}

/// One test case: one checker of one run.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Its name (the checker).
    pub name: String,
    /// Its class name (the run).
    pub classname: String,
    /// Seconds the checker took.
    pub time: f64,
    /// How it ended: passed, failure, error or skipped.
    pub outcome: Outcome,
    /// Output kept with it.
    pub system_out: Option<String>,
}

/// One test suite (one run).
#[derive(Debug, Clone)]
pub struct TestSuite {
    /// Its name: `register-partition seed 1`.
    pub name: String,
    /// When it started, ISO 8601 (`2024-02-29T12:34:56`).
    pub timestamp: Option<String>,
    /// Seconds the run took.
    pub time: f64,
    /// The cases, one per checker.
    pub cases: Vec<TestCase>,
}

impl TestSuite {
    fn count(&self, pick: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| pick(&c.outcome)).count()
    }
    /// Cases that failed (an anomaly).
    pub fn failures(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failure { .. }))
    }
    /// Cases in error (unknown, or the harness failed).
    pub fn errors(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Error { .. }))
    }
    /// Cases not run (skipped).
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }
}

fn case(classname: &str, name: &str, verdict: Verdict, text: &str, time: f64) -> TestCase {
    let outcome = match verdict {
        Verdict::Valid => Outcome::Passed,
        Verdict::Invalid => Outcome::Failure {
            message: summary(text),
            text: text.to_string(),
        },
        Verdict::Unknown => Outcome::Error {
            message: summary(text),
            text: text.to_string(),
        },
    };
    TestCase {
        name: name.to_string(),
        classname: classname.to_string(),
        time,
        outcome,
        system_out: None,
    }
}

/// The anomaly in one line: the first line, then the lines naming the
/// failing key, the operation that cannot be placed, or a panic.
fn summary(text: &str) -> String {
    let mut lines = text.lines().map(str::trim);
    let mut parts = vec![lines.next().unwrap_or_default().to_string()];
    parts.extend(
        lines
            .filter(|l| {
                l.starts_with("cannot place:") || l.starts_with("key ") || l.starts_with("panic:")
            })
            .take(3)
            .map(str::to_string),
    );
    parts.join("; ")
}

/// The test suite of a stored run: one case per checker.
pub fn run_suite(run: &StoredRun) -> TestSuite {
    let workload = run.test.options.workload.as_deref().unwrap_or("run");
    let nemesis = run.test.nemesis_label();
    let seed = run
        .test
        .seed
        .map(|s| s.to_string())
        .unwrap_or_else(|| "?".into());
    let folder = run
        .dir
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let classname = format!("faultline.{workload}-{nemesis}.{folder}");
    let r = &run.results;
    let mut cases: Vec<TestCase> = r
        .checkers
        .iter()
        .map(|c| {
            case(
                &classname,
                &c.name,
                c.verdict,
                &c.text,
                c.elapsed_ms / 1000.0,
            )
        })
        .collect();
    if r.interrupted {
        let note = crate::record::INTERRUPTED_NOTE;
        cases.push(case(&classname, "run", Verdict::Unknown, note, 0.0));
    }
    let interrupted = if r.interrupted { " (interrupted)" } else { "" };
    TestSuite {
        name: format!("{workload}-{nemesis} seed {seed}{interrupted}"),
        timestamp: run.test.started.as_deref().and_then(iso_timestamp),
        time: run.events.iter().map(|e| e.time).max().unwrap_or(0) as f64 / 1e9,
        cases,
    }
}

/// `YYYYMMDDTHHMMSS` (a run folder's stamp) to ISO 8601 `YYYY-MM-DDTHH:MM:SS`; None for anything else.
pub fn iso_timestamp(stamp: &str) -> Option<String> {
    let b = stamp.as_bytes();
    if b.len() != 15 || b[8] != b'T' || !stamp.is_ascii() {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    ))
}

/// A `testsuites` document holding `suites`.
pub fn document(name: &str, suites: &[TestSuite]) -> String {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(TestSuite::failures).sum();
    let errors: usize = suites.iter().map(TestSuite::errors).sum();
    let skipped: usize = suites.iter().map(TestSuite::skipped).sum();
    let time: f64 = suites.iter().map(|s| s.time).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" \
         skipped=\"{skipped}\" time=\"{time:.3}\">",
        xml(name)
    );
    for (id, s) in suites.iter().enumerate() {
        let _ = write!(
            x,
            "  <testsuite name=\"{}\" id=\"{id}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" \
             skipped=\"{}\" time=\"{:.3}\"",
            xml(&s.name),
            s.cases.len(),
            s.failures(),
            s.errors(),
            s.skipped(),
            s.time
        );
        if let Some(t) = &s.timestamp {
            let _ = write!(x, " timestamp=\"{}\"", xml(t));
        }
        x.push_str(">\n");
        for c in &s.cases {
            let _ = write!(
                x,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                xml(&c.name),
                xml(&c.classname),
                c.time
            );
            if c.outcome == Outcome::Passed && c.system_out.is_none() {
                x.push_str("/>\n");
                continue;
            }
            x.push_str(">\n");
            match &c.outcome {
                Outcome::Passed => {}
                Outcome::Failure { message, text } => {
                    let _ = writeln!(
                        x,
                        "      <failure message=\"{}\" type=\"anomaly\">{}</failure>",
                        xml(message),
                        xml(text)
                    );
                }
                Outcome::Error { message, text } => {
                    let _ = writeln!(
                        x,
                        "      <error message=\"{}\" type=\"unknown\">{}</error>",
                        xml(message),
                        xml(text)
                    );
                }
                Outcome::Skipped { message } => {
                    let _ = writeln!(x, "      <skipped message=\"{}\"/>", xml(message));
                }
            }
            if let Some(out) = &c.system_out {
                let _ = writeln!(x, "      <system-out>{}</system-out>", xml(out));
            }
            x.push_str("    </testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// Escapes text for XML content and attributes (where a newline reads as a
/// space), dropping characters XML 1.0 cannot carry.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes the run's `junit.xml`; returns its path.
pub fn write_run(run: &StoredRun) -> anyhow::Result<PathBuf> {
    let path = run.dir.join(JUNIT_FILE);
    let suite = run_suite(run);
    std::fs::write(&path, document(&suite.name, std::slice::from_ref(&suite)))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_cases_and_text_is_escaped() {
        let suite = TestSuite {
            name: "a<b".into(),
            timestamp: iso_timestamp("20240229T123456"),
            time: 1.5,
            cases: vec![
                case(
                    "c",
                    "register checker",
                    Verdict::Invalid,
                    "invalid: x\n  cannot place: p1 read -> ok 2",
                    0.1,
                ),
                case("c", "stats", Verdict::Valid, "valid", 0.0),
                case(
                    "c",
                    "node logs",
                    Verdict::Unknown,
                    "unknown: \u{1} & more",
                    0.0,
                ),
            ],
        };
        let doc = document("all", &[suite]);
        assert!(doc.contains("tests=\"3\" failures=\"1\" errors=\"1\" skipped=\"0\""));
        assert!(doc.contains("name=\"a&lt;b\""));
        assert!(doc.contains("timestamp=\"2024-02-29T12:34:56\""));
        assert!(doc.contains("message=\"invalid: x; cannot place: p1 read -&gt; ok 2\""));
        assert!(doc.contains("unknown:  &amp; more"));
        assert!(!doc.contains('\u{1}'));
    }
}
