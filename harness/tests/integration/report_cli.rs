//! report.html and junit.xml: a run against a node with a stale-read bug
//! gets a report whose counterexample shows the stale read and a junit.xml
//! with a failing testcase, a valid run gets neither; `faultline report`
//! rebuilds both; `faultline check --report` writes the page for a history
//! alone; every page has no external URL and renders in headless Chromium
//! without console errors.
//!
//! The browser tests skip (saying so) only when chromium is absent and `CI`
//! is unset; `scripts/setup.sh` installs it.

use crate::support;

use crate::junit;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `faultline run ARGS` into a fresh store; returns the exit code, output and run folder.
fn run(args: &[&str]) -> (i32, String, PathBuf, tempfile::TempDir) {
    let store = tempfile::tempdir().unwrap();
    let mut cmd = support::faultline();
    cmd.arg("run")
        .arg("--node-bin")
        .arg(support::faultline_node())
        .arg("--store")
        .arg(store.path())
        .args(args);
    let (code, out, err) = support::bounded(cmd, Duration::from_secs(150));
    let dir = std::fs::canonicalize(store.path().join("latest")).expect("a run folder");
    (code, out + &err, dir, store)
}

/// No resource of the page comes from the network.
fn assert_self_contained(html: &str) {
    for attr in ["src=", "href=", "url("] {
        for quote in ["\"", "'", ""] {
            for scheme in ["http:", "https:", "//"] {
                let needle = format!("{attr}{quote}{scheme}");
                assert!(!html.contains(&needle), "the page refers to {needle}...");
            }
        }
    }
    assert!(!html.contains("@import"), "the page imports a style sheet");
}

/// Opens `page` in headless Chromium; returns the DOM after the page's
/// script ran, asserting the page reported success and logged no error.
fn render_in_chromium(browser: &Path, page: &Path) -> Option<String> {
    let (code, dom, log) = support::headless_dom(browser, &format!("file://{}", page.display()));
    assert_eq!(code, 0, "chromium failed:\n{log}");
    let console = support::console_without_errors(&log);
    assert!(
        console
            .iter()
            .any(|l| l.contains("faultline-report: rendered")),
        "the page did not log its rendering:\n{log}"
    );
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the page did not finish drawing: {}",
        dom.split("id=\"status\"")
            .nth(1)
            .unwrap_or("no status")
            .chars()
            .take(300)
            .collect::<String>()
    );
    Some(dom)
}

fn check_in_browser(page: &Path, verdict: &str) {
    let Some(browser) = support::chromium() else {
        return;
    };
    let dom = render_in_chromium(&browser, page).unwrap();
    assert!(
        dom.contains(&format!(
            "class=\"verdict {verdict}\">{}</span>",
            verdict.to_uppercase()
        )),
        "the verdict is not shown"
    );
    // The timeline canvas was sized (drawn) by the script.
    let canvas = dom
        .split("<canvas id=\"timeline\"")
        .nth(1)
        .expect("a timeline canvas");
    assert!(
        canvas.starts_with(" style=\"height:") || canvas.contains("width=\""),
        "the timeline was not drawn: {}",
        &canvas[..canvas.len().min(200)]
    );
}

#[test]
fn a_stale_read_run_shows_the_counterexample_and_fails_its_junit_testcase() {
    let (code, out, dir, _store) = run(&[
        "--node-arg=--bug=stale-read",
        "--nemesis",
        "partition",
        "--seed",
        "1",
        "--time-limit",
        "8",
    ]);
    assert_eq!(code, 1, "the stale read went unnoticed:\n{out}");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert_self_contained(&html);
    assert!(html.contains("data-verdict=\"invalid\""));
    let cx = html
        .split("<section id=\"counterexample\">")
        .nth(1)
        .expect("a counterexample section");
    assert!(
        cx.contains("<svg class=\"cx\""),
        "the counterexample is not drawn"
    );
    assert!(cx.contains("cx-op") && cx.contains("failing"));
    assert!(
        cx.contains("cannot place: p") && cx.contains(" read "),
        "the text does not name the read that cannot be placed"
    );
    assert!(cx.contains("state "), "the state reached is not shown");
    // The reproduce line is the command as typed.
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    let line: Vec<&str> = test["command_line"]
        .as_array()
        .expect("test.json stores the command line")
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(line[..3], ["faultline", "run", "--node-bin"]);
    let typed = "--node-arg=--bug=stale-read --nemesis partition --seed 1 --time-limit 8";
    assert!(line.join(" ").ends_with(typed), "{line:?}");
    assert!(html.contains("faultline run --node-bin ") && html.contains(typed));

    let xml = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    let suites = junit::read(&xml);
    assert_eq!(suites.len(), 1);
    let cases = &suites[0].cases;
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names[0], "register checker");
    assert_eq!(names[1..], support::NODE_RUN_CHECKERS);
    assert_eq!(cases[0].outcome.as_deref(), Some("failure"));
    assert!(
        cases[0].message.contains("not linearizable"),
        "{}",
        cases[0].message
    );
    assert!(cases[0].text.contains("cannot place"));

    // `faultline report` rebuilds the same page and file.
    std::fs::remove_file(dir.join("report.html")).unwrap();
    std::fs::remove_file(dir.join("junit.xml")).unwrap();
    let mut cmd = support::faultline();
    cmd.arg("report").arg(&dir);
    let (code, _, err) = support::bounded(cmd, Duration::from_secs(60));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("report.html")).unwrap(),
        html
    );
    assert_eq!(std::fs::read_to_string(dir.join("junit.xml")).unwrap(), xml);

    check_in_browser(&dir.join("report.html"), "invalid");
}

#[test]
fn a_valid_run_has_no_counterexample_and_no_failing_testcase() {
    let (code, out, dir, _store) = run(&[
        "--nemesis",
        "partition",
        "--seed",
        "1",
        "--time-limit",
        "8",
        "--recovery-time",
        "2",
    ]);
    assert_eq!(code, 0, "{out}");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert_self_contained(&html);
    assert!(html.contains("data-verdict=\"valid\""));
    assert!(!html.contains("id=\"counterexample\""));
    assert!(html.contains("partition {"), "the fault bands are missing");
    let suites = junit::read(&std::fs::read_to_string(dir.join("junit.xml")).unwrap());
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].cases.len(), 1 + support::NODE_RUN_CHECKERS.len());
    assert!(suites[0].cases.iter().all(|c| c.outcome.is_none()));
    check_in_browser(&dir.join("report.html"), "valid");
}

#[test]
fn check_writes_the_page_of_a_history_alone() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("h.jsonl");
    std::fs::write(
        &history,
        concat!(
            "{\"index\":0,\"time\":1000000,\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":1}\n",
            "{\"index\":1,\"time\":2000000,\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"x\",\"value\":1}\n",
            "{\"index\":2,\"time\":2500000,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill\",\"value\":[\"n1\"]}\n",
            "{\"index\":3,\"time\":3000000,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"value\":null}\n",
            "{\"index\":4,\"time\":4000000,\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":\"<script>\"}\n",
            "{\"index\":5,\"time\":5000000,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"restart\",\"value\":[\"n1\"]}\n",
        ),
    )
    .unwrap();
    let page = dir.path().join("page.html");
    let mut cmd = support::faultline();
    cmd.args(["check", "--model", "register", "--report"])
        .arg(&page)
        .arg(&history);
    let (code, out, err) = support::bounded(cmd, Duration::from_secs(60));
    assert_eq!(code, 1, "{out}{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("id=\"counterexample\""));
    assert!(html.contains("kill n1"));
    assert!(
        !html.contains("<script>\""),
        "a value escaped the data block"
    );
    assert!(html.contains("href=\"h.jsonl\""));
    check_in_browser(&page, "invalid");

    // One page per history: two histories are refused.
    let mut cmd = support::faultline();
    cmd.args(["check", "--report"])
        .arg(&page)
        .arg(&history)
        .arg(&history);
    let (code, _, err) = support::bounded(cmd, Duration::from_secs(60));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("one history"), "{err}");
}

/// A copy of the run folder `harness/tests/fixtures/NAME` (recorded by an
/// earlier faultline) in a temporary folder.
fn fixture(name: &str) -> (PathBuf, tempfile::TempDir) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    (dir, tmp)
}

fn report(dir: &Path) -> (i32, String, String) {
    let mut cmd = support::faultline();
    cmd.arg("report").arg(dir);
    support::bounded(cmd, Duration::from_secs(60))
}

#[test]
fn run_folders_recorded_by_an_earlier_faultline_still_report() {
    let (dir, _tmp) = fixture("run-invalid");
    let (code, _, err) = report(&dir);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("data-verdict=\"invalid\""));
    assert!(html.contains("id=\"counterexample\""));
    assert!(html.contains("--seed 2") && html.contains("--node-arg=--bug=stale-read"));
    assert!(!html.contains("INTERRUPTED"));
    let suites = junit::read(&std::fs::read_to_string(dir.join("junit.xml")).unwrap());
    let names: Vec<&str> = suites[0].cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["register checker", "stats", "node logs"]);
    assert_eq!(suites[0].cases[0].outcome.as_deref(), Some("failure"));

    let (dir, _tmp) = fixture("run-valid");
    let (code, _, err) = report(&dir);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("data-verdict=\"valid\""));
    assert!(html.contains("kill n"), "the fault bands are missing");
}

#[test]
fn an_interrupted_run_is_checked_and_reported_as_interrupted() {
    let (dir, _tmp) = fixture("run-interrupted");
    assert!(!dir.join("results.json").exists());
    let (code, out, err) = report(&dir);
    // The history so far is linearizable, but the run did not end.
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("register checker: valid"), "{out}");
    assert!(out.contains("verdict: UNKNOWN (interrupted"), "{out}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["interrupted"], true);
    assert_eq!(results["verdict"], "unknown");
    let register = results["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "register checker")
        .expect("the register checker's result");
    assert_eq!(register["verdict"], "valid");
    assert_eq!(register["kind"], "linearizability");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("id=\"interrupted\"") && html.contains("INTERRUPTED"));
    assert!(html.contains("data-verdict=\"unknown\""));
    let suites = junit::read(&std::fs::read_to_string(dir.join("junit.xml")).unwrap());
    assert!(
        suites[0].name.ends_with("(interrupted)"),
        "{}",
        suites[0].name
    );
    let run = suites[0].cases.iter().find(|c| c.name == "run").unwrap();
    assert_eq!(run.outcome.as_deref(), Some("error"));

    // Once checked, the folder reports like any other, still marked.
    let (code, _, err) = report(&dir);
    assert_eq!(code, 0, "{err}");
    let again = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(again.contains("id=\"interrupted\""));
    check_in_browser(&dir.join("report.html"), "unknown");
}
