//! Generated register histories, for benchmarks and property tests: clients
//! run read / write / cas on a set of registers, every operation takes effect
//! at one instant inside its interval (so the history is linearizable), some
//! crash (end `info`, and the client continues under a new process number, as
//! in Jepsen), and [`break_one_read`] can then make it non-linearizable.
//!
//! ```
//! use faultline_checker::generate::{generate, Shape};
//! use faultline_checker::history::pair;
//! use faultline_checker::model::ModelKind;
//! use faultline_checker::{check_operations, CheckOptions, Verdict};
//!
//! let shape = Shape { events: 2_000, keys: 3, clients: 5, values: 5, crash_per_mille: 20 };
//! let events = generate(&shape, 7);
//! let ops = pair(&events, None).unwrap();
//! let r = check_operations(&ops, ModelKind::Register, &CheckOptions::default()).unwrap();
//! assert_eq!(r.verdict, Verdict::Valid);
//! ```

use serde_json::{json, Value};

use crate::history::{Event, EventType, Process};

/// The parameters of a generated history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Events to generate (a few more if operations are open at the end).
    pub events: usize,
    /// Registers (keys `"0"`, `"1"`, ...).
    pub keys: usize,
    /// Clients running at once.
    pub clients: usize,
    /// Values are drawn from `0..values`.
    pub values: i64,
    /// Per mille of operations that crash (end `info`).
    pub crash_per_mille: u32,
}

/// A small seeded generator (SplitMix64): the crate needs no `rand`.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Pending {
    key: usize,
    f: &'static str,
    input: Value,
    output: Value,
    ok: bool,
    applied: bool,
    crash: bool,
}

/// Generates a linearizable register history of `shape`, the same for the
/// same `seed`.
pub fn generate(shape: &Shape, seed: u64) -> Vec<Event> {
    let mut rng = Rng(seed ^ 0x6661_756c_746c_696e);
    let clients = shape.clients.max(1);
    let keys = shape.keys.max(1);
    let mut regs: Vec<Option<i64>> = vec![None; keys];
    let mut pending: Vec<Option<Pending>> = (0..clients).map(|_| None).collect();
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut out: Vec<Event> = Vec::with_capacity(shape.events + 2 * clients);
    let value = |rng: &mut Rng| rng.below(shape.values.max(1) as u64) as i64;
    while out.len() < shape.events || pending.iter().any(Option::is_some) {
        let c = rng.below(clients as u64) as usize;
        match &mut pending[c] {
            None if out.len() < shape.events => {
                let key = rng.below(keys as u64) as usize;
                let (f, input) = match rng.below(3) {
                    0 => ("read", Value::Null),
                    1 => ("write", json!(value(&mut rng))),
                    _ => ("cas", json!([value(&mut rng), value(&mut rng)])),
                };
                push(
                    &mut out,
                    process[c],
                    EventType::Invoke,
                    f,
                    key,
                    input.clone(),
                );
                let crash = rng.below(1000) < u64::from(shape.crash_per_mille);
                pending[c] = Some(Pending {
                    key,
                    f,
                    input,
                    output: Value::Null,
                    ok: true,
                    applied: false,
                    crash,
                });
            }
            None => {}
            Some(p) if !p.applied => {
                p.applied = true;
                // A crashed operation may or may not take effect.
                if p.crash && rng.below(2) == 0 {
                    continue;
                }
                let reg = &mut regs[p.key];
                match p.f {
                    "read" => p.output = reg.map(Value::from).unwrap_or(Value::Null),
                    "write" => *reg = p.input.as_i64(),
                    _ => {
                        if *reg == p.input[0].as_i64() {
                            *reg = p.input[1].as_i64();
                        } else {
                            p.ok = false;
                        }
                    }
                }
            }
            Some(p) => {
                let (kind, value) = if p.crash {
                    (EventType::Info, p.input.clone())
                } else if !p.ok {
                    (EventType::Fail, p.input.clone())
                } else if p.f == "read" {
                    (EventType::Ok, p.output.clone())
                } else {
                    (EventType::Ok, p.input.clone())
                };
                let (f, key, crash) = (p.f, p.key, p.crash);
                push(&mut out, process[c], kind, f, key, value);
                pending[c] = None;
                if crash {
                    process[c] = next_process;
                    next_process += 1;
                }
            }
        }
    }
    out
}

fn push(out: &mut Vec<Event>, p: u64, kind: EventType, f: &str, key: usize, value: Value) {
    let index = out.len() as u64;
    out.push(Event {
        index,
        time: index * 1000,
        process: Process::Client(p),
        kind,
        f: f.to_string(),
        key: Some(key.to_string()),
        value,
        error: None,
    });
}

/// Makes the history non-linearizable: one successful read, chosen by
/// `seed` among those in the second half, now returns a value no operation
/// ever wrote. Returns its index, or None when there is no such read.
pub fn break_one_read(events: &mut [Event], seed: u64) -> Option<u64> {
    let reads: Vec<usize> = events
        .iter()
        .enumerate()
        .skip(events.len() / 2)
        .filter(|(_, e)| e.kind == EventType::Ok && e.f == "read")
        .map(|(i, _)| i)
        .collect();
    if reads.is_empty() {
        return None;
    }
    let at = reads[Rng(seed).below(reads.len() as u64) as usize];
    events[at].value = json!(-1);
    Some(events[at].index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_history_and_crashes_change_processes() {
        let shape = Shape {
            events: 5_000,
            keys: 2,
            clients: 4,
            values: 5,
            crash_per_mille: 100,
        };
        let a = generate(&shape, 3);
        assert_eq!(a, generate(&shape, 3));
        assert_ne!(a, generate(&shape, 4));
        let infos = a.iter().filter(|e| e.kind == EventType::Info).count();
        assert!(infos > 100, "{infos} crashes");
        let processes: std::collections::HashSet<_> = a.iter().map(|e| e.process).collect();
        assert!(processes.len() > 100);
        assert!(crate::history::pair(&a, None).is_ok());
    }

    #[test]
    fn a_broken_read_returns_a_value_never_written() {
        let shape = Shape {
            events: 200,
            keys: 1,
            clients: 3,
            values: 3,
            crash_per_mille: 0,
        };
        let mut h = generate(&shape, 1);
        let at = break_one_read(&mut h, 1).expect("a read in the second half");
        assert_eq!(h[at as usize].value, json!(-1));
    }
}
