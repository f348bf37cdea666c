//! Property test: the fast checker agrees with a brute-force reference on
//! random small concurrent histories, made by simulating a real register
//! (operations take effect at a random instant inside their interval; some
//! crash and end `info`), some of them then corrupted.

use faultline_checker::history::{pair, Event, EventType, Operation, Outcome, Process};
use faultline_checker::model::ModelKind;
use faultline_checker::{check_operations, CheckOptions, Verdict};
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Read,
    Write(i64),
    Cas(i64, i64),
}

/// Simulates up to 14 operations by `procs` clients on one register, values
/// `0..3`, one in six crashing. `plan` supplies the random choices.
fn simulate(plan: &[u32], procs: usize) -> Vec<Event> {
    simulate_with(plan, procs, 6, 3, 14)
}

/// Simulates up to `max_ops` operations by `procs` clients on one register:
/// values `0..values`, one operation in `crash_one_in` crashing (ending
/// `info`, taking effect or not). Returns the events.
fn simulate_with(
    plan: &[u32],
    procs: usize,
    crash_one_in: u32,
    values: u32,
    max_ops: usize,
) -> Vec<Event> {
    let mut choices = plan.iter().copied().cycle();
    let mut next = move |m: u32| choices.next().unwrap_or(0) % m.max(1);
    let mut reg: Option<i64> = None;
    let mut events: Vec<Event> = Vec::new();
    let mut time = 0u64;
    // Per client: (process number, pending op and whether it applied, result)
    struct Pending {
        kind: Kind,
        applied: bool,
        result: Value,
        ok: bool,
        crash: bool,
    }
    let mut pending: Vec<Option<Pending>> = (0..procs).map(|_| None).collect();
    let mut process: Vec<u64> = (0..procs as u64).collect();
    let mut next_process = procs as u64;
    let mut started = 0;
    let total = plan.len().min(max_ops);
    let emit = |events: &mut Vec<Event>, p: u64, t: EventType, f: &str, v: Value, time: u64| {
        events.push(Event {
            index: events.len() as u64,
            time,
            process: Process::Client(p),
            kind: t,
            f: f.to_string(),
            key: None,
            value: v,
            error: None,
        });
    };
    let fname = |k: Kind| match k {
        Kind::Read => "read",
        Kind::Write(_) => "write",
        Kind::Cas(..) => "cas",
    };
    let input = |k: Kind| match k {
        Kind::Read => Value::Null,
        Kind::Write(v) => json!(v),
        Kind::Cas(a, b) => json!([a, b]),
    };
    loop {
        time += 1;
        let c = next(procs as u32) as usize;
        match &mut pending[c] {
            None => {
                if started >= total {
                    if pending.iter().all(Option::is_none) {
                        break;
                    }
                    continue;
                }
                started += 1;
                let kind = match next(3) {
                    0 => Kind::Read,
                    1 => Kind::Write(next(values) as i64),
                    _ => Kind::Cas(next(values) as i64, next(values) as i64),
                };
                emit(
                    &mut events,
                    process[c],
                    EventType::Invoke,
                    fname(kind),
                    input(kind),
                    time,
                );
                pending[c] = Some(Pending {
                    kind,
                    applied: false,
                    result: Value::Null,
                    ok: true,
                    crash: next(crash_one_in) == 0,
                });
            }
            Some(p) if !p.applied => {
                // The operation takes effect now (a crashed one maybe never).
                p.applied = true;
                if p.crash && next(2) == 0 {
                    continue;
                }
                match p.kind {
                    Kind::Read => p.result = reg.map(Value::from).unwrap_or(Value::Null),
                    Kind::Write(v) => reg = Some(v),
                    Kind::Cas(a, b) => {
                        if reg == Some(a) {
                            reg = Some(b);
                        } else {
                            p.ok = false;
                        }
                    }
                }
            }
            Some(p) => {
                let (t, v) = if p.crash {
                    (EventType::Info, input(p.kind))
                } else if !p.ok {
                    (EventType::Fail, input(p.kind))
                } else if matches!(p.kind, Kind::Read) {
                    (EventType::Ok, p.result.clone())
                } else {
                    (EventType::Ok, input(p.kind))
                };
                let f = fname(p.kind);
                let crashed = p.crash;
                emit(&mut events, process[c], t, f, v, time);
                pending[c] = None;
                if crashed {
                    process[c] = next_process;
                    next_process += 1;
                }
            }
        }
    }
    events
}

/// Brute force: try every order of the operations that respects real time,
/// where each `info` operation is either placed anywhere after its call or
/// left out.
fn reference(ops: &[Operation]) -> bool {
    let ops: Vec<&Operation> = ops
        .iter()
        .filter(|o| !(o.outcome == Outcome::Fail && o.f != "cas"))
        .filter(|o| !(o.f == "read" && o.outcome != Outcome::Ok))
        .collect();
    fn go(ops: &[&Operation], placed: &mut Vec<bool>, reg: Value) -> bool {
        let required_left = ops
            .iter()
            .zip(placed.iter())
            .any(|(o, p)| !p && o.outcome != Outcome::Info);
        if !required_left {
            return true;
        }
        for i in 0..ops.len() {
            if placed[i] {
                continue;
            }
            // i may go next only if no unplaced required op returned before i was called.
            let blocked = ops.iter().zip(placed.iter()).any(|(o, p)| {
                !p && o.outcome != Outcome::Info
                    && o.complete_index.is_some_and(|c| c < ops[i].invoke_index)
            });
            if blocked {
                continue;
            }
            let o = ops[i];
            let next = match (o.f.as_str(), o.outcome) {
                ("read", _) => (o.output == reg).then(|| reg.clone()),
                ("write", _) => Some(o.input.clone()),
                ("cas", out) => {
                    let matches = o.input[0] == reg;
                    match out {
                        Outcome::Ok => matches.then(|| o.input[1].clone()),
                        Outcome::Fail => (!matches).then(|| reg.clone()),
                        Outcome::Info => Some(if matches {
                            o.input[1].clone()
                        } else {
                            reg.clone()
                        }),
                    }
                }
                _ => None,
            };
            if let Some(next) = next {
                placed[i] = true;
                if go(ops, placed, next) {
                    return true;
                }
                placed[i] = false;
            }
        }
        false
    }
    let mut placed = vec![false; ops.len()];
    go(&ops, &mut placed, Value::Null)
}

fn corrupt(events: &mut [Event], how: &[u32]) {
    if how.is_empty() || events.is_empty() {
        return;
    }
    let i = how[0] as usize % events.len();
    if events[i].kind == EventType::Ok && events[i].f == "read" {
        events[i].value = json!(how.get(1).copied().unwrap_or(0) % 4);
    } else if events[i].kind == EventType::Fail {
        events[i].kind = EventType::Ok;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn fast_checker_agrees_with_brute_force(
        plan in proptest::collection::vec(0u32..1000, 6..60),
        procs in 2usize..5,
        damage in proptest::collection::vec(0u32..1000, 0..3),
    ) {
        let mut events = simulate(&plan, procs);
        corrupt(&mut events, &damage);
        let ops = pair(&events, None).unwrap();
        let got = check_operations(&ops, ModelKind::Register, &CheckOptions::default()).unwrap();
        let want = if reference(&ops) { Verdict::Valid } else { Verdict::Invalid };
        prop_assert_eq!(got.verdict, want, "history:\n{}", faultline_checker::history::to_jsonl(&events));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Crash-heavy histories (up to half the operations `info`, many equal
    /// crashed operations, values nobody reads): what the symmetry,
    /// dominance and value-merging reductions work on.
    #[test]
    fn fast_checker_agrees_with_brute_force_when_clients_crash_often(
        plan in proptest::collection::vec(0u32..1000, 6..60),
        procs in 2usize..7,
        crash_one_in in 2u32..4,
        values in 2u32..6,
        damage in proptest::collection::vec(0u32..1000, 0..3),
    ) {
        let mut events = simulate_with(&plan, procs, crash_one_in, values, 13);
        corrupt(&mut events, &damage);
        let ops = pair(&events, None).unwrap();
        let got = check_operations(&ops, ModelKind::Register, &CheckOptions::default()).unwrap();
        let want = if reference(&ops) { Verdict::Valid } else { Verdict::Invalid };
        prop_assert_eq!(got.verdict, want, "history:\n{}", faultline_checker::history::to_jsonl(&events));
    }
}

#[test]
fn simulated_histories_without_corruption_are_valid() {
    for seed in 0..200u32 {
        let plan: Vec<u32> = (0..40).map(|i| (seed * 7919 + i * 104729) % 997).collect();
        let events = simulate(&plan, 3);
        let ops = pair(&events, None).unwrap();
        let got = check_operations(&ops, ModelKind::Register, &CheckOptions::default()).unwrap();
        assert_eq!(got.verdict, Verdict::Valid, "seed {seed}");
    }
}
