//! What a finished run showed the search: its *features*, strings whose
//! novelty the search rewards.
//!
//! - `state: LABEL`: each abstract cluster state of the run's
//!   `cluster-states` result (`checkers::states`), and `change: A -> B` for
//!   each change between two of them: from systems that tell their nodes'
//!   status;
//! - `unavailable ≥ Ns`: the longest stretch without a successful
//!   operation, in powers of two seconds; `info ≥ N%`: the share of
//!   operations whose outcome is unknown;
//! - `error: CLASS`: each error text the clients saw, digits and addresses
//!   blurred (so `timeout after 1000 ms` and `… 999 ms` are one class);
//! - `latency ≥ Nms`: the slowest successful operation, in powers of two;
//!
//! so a system without status still steers the search by what its clients
//! saw.

use std::collections::{BTreeSet, HashMap};

use faultline_checker::history::{Event, EventType, Process};

use crate::checkers::states::{StatesDetail, KIND};
use crate::stored::StoredRun;

/// The features of a finished run: its `cluster-states` result (the
/// abstract states and the changes between them) and its clients' operations.
pub fn features(run: &StoredRun) -> BTreeSet<String> {
    let mut f = BTreeSet::new();
    let detail = run
        .results
        .checkers
        .iter()
        .find(|c| c.kind == KIND)
        .and_then(|c| c.detail::<StatesDetail>());
    if let Some(d) = detail {
        for s in &d.states {
            f.insert(format!("state: {}", s.label));
        }
        for w in d.changes.windows(2) {
            let (a, b) = (&d.states[w[0].1].label, &d.states[w[1].1].label);
            f.insert(format!("change: {a} -> {b}"));
        }
    }
    f.extend(client_features(&run.events));
    f
}

/// The features of the clients' operations alone.
pub fn client_features(events: &[Event]) -> BTreeSet<String> {
    let mut f = BTreeSet::new();
    let clients = || {
        events
            .iter()
            .filter(|e| matches!(e.process, Process::Client(_)))
    };
    let mut last_ok = clients().next().map_or(0, |e| e.time);
    let mut longest = 0u64;
    let mut invoked: HashMap<Process, u64> = HashMap::new();
    let (mut done, mut info, mut slowest) = (0u64, 0u64, 0u64);
    for e in clients() {
        match e.kind {
            EventType::Invoke => {
                invoked.insert(e.process, e.time);
            }
            EventType::Ok => {
                longest = longest.max(e.time.saturating_sub(last_ok));
                last_ok = e.time;
                if let Some(start) = invoked.remove(&e.process) {
                    slowest = slowest.max(e.time.saturating_sub(start));
                }
                done += 1;
            }
            EventType::Fail | EventType::Info => {
                invoked.remove(&e.process);
                done += 1;
                if e.kind == EventType::Info {
                    info += 1;
                }
                if let Some(err) = &e.error {
                    f.insert(format!("error: {}", blur(err)));
                }
            }
        }
    }
    if let Some(end) = clients().next_back() {
        longest = longest.max(end.time.saturating_sub(last_ok));
    }
    let secs = longest / 1_000_000_000;
    if secs >= 1 {
        f.insert(format!("unavailable ≥ {}s", power_of_two_below(secs)));
    }
    if done > 0 && info > 0 {
        let pct = (100 * info / done).max(1);
        f.insert(format!("info ≥ {}%", power_of_two_below(pct)));
    }
    let ms = slowest / 1_000_000;
    if ms >= 1 {
        f.insert(format!("latency ≥ {}ms", power_of_two_below(ms)));
    }
    f
}

/// The largest power of two at most `n` (n ≥ 1).
fn power_of_two_below(n: u64) -> u64 {
    1 << (63 - n.max(1).leading_zeros())
}

/// An error text with its numbers blurred to `#` and cut to 60 characters.
pub fn blur(text: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else if in_number && (c == '.' || c == ':') {
            continue;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn ev(time_ms: u64, p: u64, kind: EventType, error: Option<&str>) -> Event {
        Event {
            index: 0,
            time: time_ms * 1_000_000,
            process: Process::Client(p),
            kind,
            f: "read".into(),
            key: None,
            value: Value::Null,
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn clients_show_unavailability_unknown_outcomes_errors_and_latency() {
        let events = vec![
            ev(0, 0, EventType::Invoke, None),
            ev(5, 0, EventType::Ok, None),
            ev(10, 1, EventType::Invoke, None),
            ev(
                1010,
                1,
                EventType::Info,
                Some("timeout after 1000 ms to 127.0.0.3:7001"),
            ),
            ev(2500, 0, EventType::Invoke, None),
            ev(2600, 0, EventType::Ok, None),
        ];
        let f = client_features(&events);
        let want = [
            "error: timeout after # ms to #",
            "info ≥ 32%",
            "latency ≥ 64ms",
            "unavailable ≥ 2s",
        ];
        assert_eq!(f.iter().map(String::as_str).collect::<Vec<_>>(), want);
    }

    #[test]
    fn numbers_blur_and_powers_round_down() {
        assert_eq!(blur("term 12 at 3.5s"), "term # at #s");
        assert_eq!(power_of_two_below(1), 1);
        assert_eq!(power_of_two_below(7), 4);
        assert_eq!(power_of_two_below(8), 8);
    }
}
