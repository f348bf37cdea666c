//! Reads a JUnit XML file back (quick-xml) and checks the shape CI systems
//! read: `testsuites` > `testsuite` > `testcase` > `failure` | `error` |
//! `skipped` | `system-out`, with `tests`, `failures`, `errors` and
//! `skipped` attributes equal to what the elements hold.

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One test case as read back.
#[derive(Debug, Default, Clone)]
pub struct Case {
    /// `name`.
    pub name: String,
    /// `failure`, `error` or `skipped` when present.
    pub outcome: Option<String>,
    /// The failure's or error's `message`.
    pub message: String,
    /// The failure's or error's text.
    pub text: String,
}

/// One test suite as read back.
#[derive(Debug, Default, Clone)]
pub struct Suite {
    /// `name`.
    pub name: String,
    /// Its cases.
    pub cases: Vec<Case>,
}

fn attrs(e: &BytesStart) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("a well-formed attribute");
            (
                String::from_utf8_lossy(a.key.as_ref()).to_string(),
                a.unescape_value().expect("an escaped value").to_string(),
            )
        })
        .collect()
}

fn count(a: &BTreeMap<String, String>, key: &str) -> usize {
    a.get(key)
        .unwrap_or_else(|| panic!("attribute {key} missing in {a:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("attribute {key} is not a count in {a:?}"))
}

/// Parses `xml`, asserts its shape and counts, returns its suites.
pub fn read(xml: &str) -> Vec<Suite> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let mut suites: Vec<Suite> = Vec::new();
    let mut root: Option<BTreeMap<String, String>> = None;
    let mut suite_attrs: Vec<BTreeMap<String, String>> = Vec::new();
    loop {
        let ev = reader.read_event().expect("well-formed XML");
        let (e, empty) = match &ev {
            Event::Start(e) => (e.clone(), false),
            Event::Empty(e) => (e.clone(), true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Text(t) => {
                if matches!(stack.last().map(String::as_str), Some("failure" | "error")) {
                    let case = suites.last_mut().unwrap().cases.last_mut().unwrap();
                    case.text.push_str(&t.unescape().expect("escaped text"));
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).to_string();
        let parent = stack.last().map(String::as_str);
        let a = attrs(&e);
        match name.as_str() {
            "testsuites" => {
                assert!(
                    parent.is_none() && root.is_none(),
                    "testsuites must be the root"
                );
                root = Some(a);
            }
            "testsuite" => {
                assert_eq!(parent, Some("testsuites"), "testsuite outside testsuites");
                suites.push(Suite {
                    name: a.get("name").cloned().unwrap_or_default(),
                    cases: Vec::new(),
                });
                suite_attrs.push(a);
            }
            "testcase" => {
                assert_eq!(parent, Some("testsuite"), "testcase outside testsuite");
                assert!(
                    a.contains_key("classname") && a.contains_key("time"),
                    "{a:?}"
                );
                suites.last_mut().unwrap().cases.push(Case {
                    name: a.get("name").cloned().unwrap_or_default(),
                    ..Case::default()
                });
            }
            "failure" | "error" | "skipped" => {
                assert_eq!(parent, Some("testcase"), "{name} outside testcase");
                let case = suites.last_mut().unwrap().cases.last_mut().unwrap();
                assert!(case.outcome.is_none(), "two outcomes in one testcase");
                case.outcome = Some(name.clone());
                case.message = a.get("message").cloned().unwrap_or_default();
            }
            "system-out" | "system-err" | "properties" | "property" => {}
            other => panic!("unexpected element {other}"),
        }
        if !empty {
            stack.push(name);
        }
    }
    let root = root.expect("a testsuites root");
    let of = |suite: &Suite, kind: &str| {
        suite
            .cases
            .iter()
            .filter(|c| c.outcome.as_deref() == Some(kind))
            .count()
    };
    let mut totals = [0usize; 4];
    for (s, a) in suites.iter().zip(&suite_attrs) {
        let counts = [
            s.cases.len(),
            of(s, "failure"),
            of(s, "error"),
            of(s, "skipped"),
        ];
        for (i, key) in ["tests", "failures", "errors", "skipped"]
            .iter()
            .enumerate()
        {
            assert_eq!(count(a, key), counts[i], "{key} of testsuite {}", s.name);
            totals[i] += counts[i];
        }
    }
    for (i, key) in ["tests", "failures", "errors", "skipped"]
        .iter()
        .enumerate()
    {
        assert_eq!(count(&root, key), totals[i], "{key} of testsuites");
    }
    suites
}
