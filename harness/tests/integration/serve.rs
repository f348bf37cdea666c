//! `faultline serve` and `faultline trend` over a store the test writes: a
//! few hundred synthetic run folders (ten nights of a suite in which the
//! `leader-isolation` row starts failing on night 5 and `set`/`partition`
//! both passes and fails at night 3's build, plain runs, a run still
//! running, a link out of the store). The server lists them, refuses every
//! path out of the store, and its page renders and filters in headless
//! Chromium; the trend marks night 5 with its build and the flaky row.
//!
//! The 10,000-run load time is the nightly test at the end.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use support::{faultline, Reaped};

/// Writes one run folder; `verdict` None: a run still running.
fn write_run(dir: &Path, test: &Value, verdict: Option<&str>) {
    std::fs::create_dir_all(dir.join("nodes")).unwrap();
    std::fs::write(dir.join("test.json"), test.to_string()).unwrap();
    std::fs::write(dir.join("history.jsonl"), "").unwrap();
    if let Some(v) = verdict {
        let ttd = (v == "invalid").then_some(3.25);
        std::fs::write(
            dir.join("results.json"),
            json!({"verdict": v, "checkers": [], "time_to_detect_s": ttd}).to_string(),
        )
        .unwrap();
        std::fs::write(
            dir.join("report.html"),
            format!("<!DOCTYPE html><title>report</title><p id=\"fixture\">{v}</p>"),
        )
        .unwrap();
    }
}

#[allow(clippy::too_many_arguments)]
fn test_json(
    system: &str,
    workload: &str,
    faults: &str,
    seed: u64,
    started: &str,
    commit: &str,
    version: &str,
) -> Value {
    let scenario = !["kill", "partition", "none"].contains(&faults);
    let nemesis: Vec<&str> = if scenario || faults == "none" {
        vec![]
    } else {
        faults.split(',').collect()
    };
    json!({
        "options": {"workload": workload, "seed": seed, "nemesis": nemesis,
                    "scenario": if scenario { Some(faults) } else { None }},
        "seed": seed,
        "nemesis": nemesis,
        "system": system,
        "system_binary": {"path": "/usr/bin/x", "version": version, "sha256": "00", "source": "PATH"},
        "started": started,
        "faultline_commit": commit,
        "schedule": [],
        "scenario": if scenario { json!({"name": faults, "steps": []}) } else { Value::Null },
    })
}

/// The fixture store; returns the number of runs and of invalid ones.
struct Fixture {
    base: tempfile::TempDir,
    runs: usize,
    invalid: usize,
}

impl Fixture {
    fn store(&self) -> PathBuf {
        self.base.path().join("store")
    }
}

const FAULTS: [&str; 3] = ["kill", "partition", "leader-isolation"];
const WORKLOADS: [&str; 3] = ["register", "set", "list-append"];

/// Night `n` (1-based) of the nightly suite: its commit.
fn commit(n: u32) -> String {
    format!("c{n:02}abcde")
}

fn fixture() -> Fixture {
    let base = tempfile::tempdir().unwrap();
    let store = base.path().join("store");
    let (mut runs, mut invalid) = (0, 0);
    for night in 1..=10u32 {
        let stamp = format!("202611{night:02}T020000");
        let suite = store.join(format!("suite-{stamp}"));
        let mut i = 0;
        for w in WORKLOADS {
            for f in FAULTS {
                for seed in 1..=3u64 {
                    i += 1;
                    let started = format!("202611{night:02}T02{:02}{:02}", i / 60, i % 60);
                    let fails = (w == "register" && f == "leader-isolation" && night >= 5)
                        || (w == "set" && f == "partition" && night == 3 && seed == 2);
                    let verdict = if fails { "invalid" } else { "valid" };
                    let group = format!("{w}-{}", f.replace(',', "+"));
                    let t = test_json("nats", w, f, seed, &started, &commit(night), "2.10.1");
                    write_run(
                        &suite.join(group).join(format!("{started}-{seed}")),
                        &t,
                        Some(verdict),
                    );
                    runs += 1;
                    invalid += fails as usize;
                }
            }
        }
        let manifest = json!({"name": "nightly", "started": stamp, "shard": null,
                              "plan": [], "runs": []});
        std::fs::write(suite.join("suite.json"), manifest.to_string()).unwrap();
        std::fs::write(suite.join("index.html"), "<title>suite index</title>").unwrap();
    }
    // Plain runs of other systems, beside the suites.
    for k in 0..30u32 {
        let started = format!("20261111T1{:01}{:02}00", k / 60, k % 60);
        let system = ["etcd", "faultline-node"][k as usize % 2];
        let t = test_json(
            system, "register", "kill", k as u64, &started, "d00d", "3.5.1",
        );
        let v = ["valid", "unknown", "invalid"][k as usize % 3];
        write_run(
            &store.join("register-kill").join(format!("{started}-{k}")),
            &t,
            Some(v),
        );
        runs += 1;
        invalid += (v == "invalid") as usize;
    }
    let t = test_json(
        "etcd",
        "set",
        "partition",
        77,
        "20261112T000000",
        "d00d",
        "3.5.1",
    );
    write_run(&store.join("set-partition/20261112T000000-77"), &t, None);
    runs += 1;
    std::fs::write(base.path().join("secret.txt"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(base.path().join("secret.txt"), store.join("escape")).unwrap();
    std::os::unix::fs::symlink(base.path(), store.join("escape-dir")).unwrap();
    Fixture {
        base,
        runs,
        invalid,
    }
}

/// `faultline serve` on a free port of 127.0.0.1: the process and its address.
fn serve(store: &Path) -> (Reaped, String) {
    let mut child = faultline()
        .args(["serve", "--addr", "127.0.0.1:0", "--store"])
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting faultline serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    assert!(addr.starts_with("127."), "{addr}");
    (Reaped(child), addr)
}

/// `GET path` as written (no normalization); the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

#[test]
fn serve_lists_every_run_and_serves_nothing_outside_the_store() {
    let f = fixture();
    let (_server, addr) = serve(&f.store());
    let (code, body) = get(&addr, "/api/runs");
    assert_eq!(code, 200);
    let listing: Value = serde_json::from_str(&body).unwrap();
    let runs = listing["runs"].as_array().unwrap();
    assert_eq!(runs.len(), f.runs);
    assert_eq!(listing["suites"].as_array().unwrap().len(), 10);
    // Newest first: the running run is the newest, and shows as running.
    assert_eq!(runs[0]["path"], "set-partition/20261112T000000-77");
    assert_eq!(runs[0]["status"], "running");
    let night5 = runs
        .iter()
        .find(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .starts_with("suite-20261105T020000/register-leader")
        })
        .unwrap();
    assert_eq!(
        (
            &night5["status"],
            &night5["commit"],
            &night5["version"],
            &night5["ttd"]
        ),
        (
            &json!("invalid"),
            &json!(commit(5)),
            &json!("2.10.1"),
            &json!(3.25)
        )
    );
    assert_eq!(night5["suite"], "suite-20261105T020000");
    assert_eq!(night5["faults"], "leader-isolation");
    let report = format!("/store/{}/report.html", night5["path"].as_str().unwrap());
    let (code, body) = get(&addr, &report);
    assert_eq!((code, body.contains("id=\"fixture\">invalid")), (200, true));
    let (code, body) = get(&addr, "/store/suite-20261105T020000/");
    assert_eq!((code, body.contains("suite index")), (200, true));
    let (code, _) = get(&addr, "/store/suite-20261105T020000");
    assert_eq!(code, 301);
    let (code, body) = get(&addr, "/store/register-kill/");
    assert!(code == 200 && body.contains("20261111T100000-0/"), "{body}");
    for bad in [
        "/store/../secret.txt",
        "/store/%2e%2e/secret.txt",
        "/store/%2E%2E%2Fsecret.txt",
        "/store/register-kill/..%2F..%2Fsecret.txt",
        "/store/escape",
        "/store/escape-dir/secret.txt",
        "/../secret.txt",
        "/store/..",
    ] {
        let (code, body) = get(&addr, bad);
        assert!(
            [403, 404, 400].contains(&code) && !body.contains("TOP-SECRET"),
            "{bad}: {code} {body}"
        );
    }
    let (code, body) = get(&addr, "/");
    assert_eq!(code, 200);
    assert!(body.contains("<script id=\"data\" type=\"application/json\">"));
    let (code, body) = get(&addr, "/trend");
    assert!(
        code == 200 && body.contains("failing since 2026-11-05 02:"),
        "{body}"
    );
}

/// The row of `key` (`system/workload/faults`) in a trend page.
fn trend_row<'a>(html: &'a str, key: &str) -> &'a str {
    let start = html
        .find(&format!("data-key=\"{key}\""))
        .unwrap_or_else(|| panic!("no row {key}"));
    let row = &html[start..];
    &row[..row.find("</tr>").unwrap()]
}

#[test]
fn the_trend_marks_night_5_with_its_build_and_the_flaky_row() {
    let f = fixture();
    let out = f.base.path().join("trend");
    let run = || {
        let o = faultline()
            .args(["trend", "--store"])
            .arg(f.store())
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let printed = run();
    assert!(printed.contains("trend: "), "{printed}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for needle in [
        "src=\"http",
        "href=\"http",
        "url(",
        "<script src",
        "@import",
    ] {
        assert!(!html.contains(needle), "the page refers to {needle}");
    }
    let row = trend_row(&html, "nats/register/leader-isolation");
    // Thirty cells, oldest first; the onset is the first of night 5.
    assert_eq!(row.matches("class=\"c ").count(), 30);
    let onset = row.find(" onset\"").expect("an onset");
    assert_eq!(row.matches(" onset\"").count(), 1);
    let cell = &row[row[..onset].rfind("<span class=\"col\"").unwrap()..];
    assert!(
        cell.contains(&format!("data-build=\"{} · 2.10.1\"", commit(5))),
        "{}",
        &cell[..300]
    );
    assert!(cell.contains("title=\"2026-11-05 02:"), "{}", &cell[..300]);
    assert!(
        row.contains(&format!(
            "failing since 2026-11-05 02:00 (seed 1) at {} · 2.10.1",
            commit(5)
        )),
        "{row}"
    );
    // The report of the onset is linked, relative to the page.
    assert!(cell.contains("href=\"../store/suite-20261105T020000/register-leader-isolation/"));
    let flaky = trend_row(&html, "nats/set/partition");
    assert!(
        flaky.starts_with("data-key")
            && flaky.contains(&format!("flaky at {} · 2.10.1", commit(3))),
        "{flaky}"
    );
    assert!(html.contains("<tr class=\"flaky\" data-key=\"nats/set/partition\""));
    assert!(!trend_row(&html, "nats/set/kill").contains("flaky at"));
    assert!(html.contains("<tr class=\"failing\" data-key=\"nats/register/leader-isolation\""));
    // Again into the same folder: the same cells; a new night adds to them.
    run();
    let again = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(
        again.matches("class=\"c ").count(),
        html.matches("class=\"c ").count()
    );
    let night11 = f.base.path().join("night11");
    let t = test_json(
        "nats",
        "register",
        "leader-isolation",
        1,
        "20261120T020000",
        "c11",
        "2.10.2",
    );
    write_run(
        &night11.join("register-li/20261120T020000-1"),
        &t,
        Some("valid"),
    );
    let o = faultline()
        .args(["trend", "--store"])
        .arg(&night11)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let row = trend_row(&html, "nats/register/leader-isolation");
    assert_eq!(row.matches("class=\"c ").count(), 31);
    assert!(html.contains("<tr class=\"passing\" data-key=\"nats/register/leader-isolation\""));
}

/// The DOM of `url` after its script ran, in headless Chromium; asserts
/// no console error.
fn dump_dom(browser: &Path, url: &str) -> String {
    let (_, dom, log) = support::headless_dom(browser, url);
    support::console_without_errors(&log);
    dom
}

/// A `data-NAME="N"` attribute of the page's body.
fn body_attr(dom: &str, name: &str) -> Option<u64> {
    let at = dom.find(&format!("data-{name}=\""))? + name.len() + 7;
    dom[at..].split('"').next()?.parse().ok()
}

/// The start of a drawn row (the page's script holds the same markup
/// before its date).
const ROW: &str = "<tr class=\"run\"><td>2026";

/// One load in Chromium (each costs seconds): the rows drawn, three
/// filters applied, a row's report opened.
#[test]
fn the_served_page_renders_its_rows_and_filters_in_chromium() {
    let Some(browser) = support::chromium() else {
        return;
    };
    let f = fixture();
    let (_server, addr) = serve(&f.store());
    // Three filters at once, from the URL's fragment (as a shared link
    // gives them): leader-isolation's failing nights from the 6th on;
    // night 3's flake is before the date, etcd's failures another system.
    let filtered = format!("http://{addr}/#status=invalid&system=nats&from=2026-11-06");
    let dom = dump_dom(&browser, &filtered);
    let rows = dom.matches(ROW).count();
    assert_eq!(body_attr(&dom, "shown"), Some(rows as u64));
    assert_eq!(
        rows,
        5 * 3,
        "nights 6 to 10 of leader-isolation, 3 seeds each"
    );
    assert_eq!(
        dom.matches("<span class=\"v invalid\">invalid</span></td>")
            .count(),
        rows
    );
    assert!(f.invalid > rows);
    // Every run reached the page, which drew the 15 its filters keep.
    let count = format!("<span id=\"count\">15 of {} runs</span>", f.runs);
    assert!(dom.contains(&count), "no {count}");
    let link = dom
        .split("<a class=\"report\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a report link");
    assert!(
        link.starts_with("/store/suite-202611") && link.contains("/register-leader-isolation/"),
        "{link}"
    );
    let (code, body) = get(&addr, link);
    assert_eq!(
        (code, body.contains("id=\"fixture\">invalid")),
        (200, true),
        "{link}"
    );
}

#[test]
#[ignore = "nightly: writes 10,000 run folders and times the page in Chromium"]
// Prints the time from server start to the rows drawn (the acceptance of
// the serve issue: under 1 s on the 2-core machine); a timed assertion
// would fail on a loaded machine without a bug.
fn ten_thousand_runs_list_and_the_time_to_the_rows_drawn_is_printed() {
    let Some(browser) = support::chromium() else {
        return;
    };
    let base = tempfile::tempdir().unwrap();
    let store = base.path().join("store");
    for k in 0..10_000u32 {
        let started = format!(
            "2026{:02}{:02}T{:02}0000",
            1 + k / 2800,
            1 + k / 100 % 28,
            k % 24
        );
        let (w, f) = (WORKLOADS[k as usize % 3], FAULTS[k as usize / 3 % 3]);
        let t = test_json("nats", w, f, (k % 5) as u64, &started, "c1", "2.10.1");
        let dir = store
            .join(format!("{w}-{f}"))
            .join(format!("{started}-{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("test.json"), t.to_string()).unwrap();
        let v = ["valid", "invalid", "unknown"][k as usize % 3];
        std::fs::write(
            dir.join("results.json"),
            json!({"verdict": v, "checkers": []}).to_string(),
        )
        .unwrap();
    }
    let t0 = Instant::now();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (_server, addr) = serve(&store);
    let listening = t0.elapsed();
    // The page itself, the store listed cold: what a browser that is
    // already open waits for.
    let (code, body) = get(&addr, "/");
    let answered = t0.elapsed();
    assert_eq!(code, 200);
    assert!(body.len() > 100_000, "{} bytes", body.len());
    let dom = dump_dom(&browser, &format!("http://{addr}/"));
    assert_eq!(body_attr(&dom, "shown"), Some(10_000));
    let rendered = body_attr(&dom, "rendered-ms").expect("the render time");
    let origin = body_attr(&dom, "origin-ms").expect("the navigation's start");
    // The wall clock from the server's start to the rows drawn, Chromium's
    // own start-up (between the two) included.
    let wall = (origin + rendered).saturating_sub(started);
    eprintln!(
        "10,000 runs: server listening after {} ms, the page ({} KB) answered {} ms after the \
         server started; in Chromium, navigation began {} ms after the server \
         started; after it: first byte {:?} ms, page loaded {:?} ms, rows drawn {rendered} ms \
         (painted {:?} ms); {wall} ms from server start to the rows drawn",
        listening.as_millis(),
        body.len() / 1000,
        answered.as_millis(),
        origin.saturating_sub(started),
        body_attr(&dom, "first-byte-ms"),
        body_attr(&dom, "loaded-ms"),
        body_attr(&dom, "painted-ms"),
    );
}
