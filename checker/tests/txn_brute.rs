//! Property test: the transactional checker (`faultline_checker::txn`)
//! agrees with a brute-force search over every serial order, on small
//! random histories.
//!
//! **Brute force.** A history is serializable iff its committed (`ok`)
//! transactions and some subset of its unknown (`info`) ones, never its
//! failed ones, executed one at a time in some order from empty lists (nil
//! registers), make every committed read return exactly what it returned,
//! reads after the transaction's own writes included (an unknown
//! transaction's reads are not known and not checked). It is strong
//! session serializable iff such an order also keeps each process's
//! transactions in the process's order, and strictly serializable iff it
//! puts a transaction that committed before another was invoked first.
//! [`search`] tries every subset and every order depth-first, dropping a
//! prefix as soon as one of its reads comes out wrong.
//!
//! **What is generated.** 2 to 6 transactions over 1 to 3 keys, 1 to 3
//! micro-operations each (often on the key just used), appended (written)
//! values unique, about one in seven ending `info` and one in twenty
//! `fail`; each transaction has a random interval in real time and often
//! continues a process whose previous transaction ended before it began.
//! The reads come either from executing the transactions
//! serially in an order consistent with real time (failed ones not taking
//! effect, unknown ones half the time; then, half the time, one read
//! corrupted: truncated, an element dropped, two swapped, an element
//! repeated, a foreign or never-written value added, ...), or from a random
//! order of each key's appends of which every read shows a random prefix
//! (registers: a random written value or nil). Half the histories end with
//! a committed transaction reading every key.
//!
//! **list-append: equivalence, both ways, with no further condition.** With
//! unique appends, brute-force serializable ⇔ the checker finds no anomaly
//! against `serializable` (its verdict is valid, or unknown only because
//! the graph is empty), and the same for strong session serializability
//! and strict serializability (the checker's process and real-time edges
//! are exactly the orders the brute force keeps). Why no
//! restriction (such as "every append is read") is needed:
//! - *sound* (checker-invalid ⇒ not serializable): every edge the checker
//!   draws holds in every serial execution that reproduces the reads (a
//!   read is a prefix of the key's final list; an append no read shows comes
//!   after the last element any read shows and after every read of the
//!   whole known list), and each non-cyclic anomaly is impossible serially.
//!   An `info` transaction nobody observed gets no edge (leaving it out of
//!   the execution is always possible); a `fail` one none.
//! - *complete* (no anomaly ⇒ serializable): a topological order of the
//!   acyclic graph, with the observed `info` transactions in and the others
//!   out, puts, for every read, exactly the appenders of the prefix it saw
//!   before it and every other appender of the key after it (wr and ww chain
//!   before, rw and ww chain after; unread appends after the last element
//!   read, in any order, since no read tells them apart). Two things the
//!   edges alone did not give, both found by this test and fixed in
//!   list_append.rs: a transaction's elements must appear as its first
//!   appends in its own order (T appended 1 then 2, x reads [2 1 3]: no
//!   edge is wrong, yet no serial order gives it; now `incompatible-order`),
//!   and an observed `info` transaction's unread appends happened too (T
//!   info appended z 4 and x 5; a read of z = [4] and x = [] is a
//!   G-single-item).
//!
//! **rw-register: soundness, and equivalence where versions are known.**
//! The checker infers no ww edges (rw_register.rs), so it cannot see every
//! non-serializable history: asserted is checker-invalid ⇒ not
//! serializable (at each of the three levels). Where every key is written by at most one
//! transaction that may have taken effect, the version order of each key
//! (nil, then that writer's last write) is fully known and equivalence
//! holds both ways; that is asserted too.
//!
//! **The cycle classes.** The serializability properties only need *some*
//! cycle to be found; which class it gets (G-single-item or G2-item, ...)
//! decides the weaker models. So a third property checks
//! `cycles::search` itself on random labelled graphs of up to 6 nodes:
//! for every class (G0 ... G2-item, plain, `-process`, `-realtime`), it
//! reports one iff a brute-force search of the graph's closed walks finds
//! one (with the class's labels, each required label, exactly one rw /
//! rw never cyclically adjacent), every witness it gives is such a closed
//! walk of the graph, and, for the plain classes but G-nonadjacent, a
//! closed walk exists iff a simple cycle does (for G-nonadjacent two simple
//! cycles joined at a node can make a walk that no simple cycle is, see
//! txn_known.rs `g_nonadjacent_is_a_closed_walk`).

use faultline_checker::txn::cycles::{self, Base, Class, Variant};
use faultline_checker::txn::graph::{Graph, PROCESS, REALTIME, RW, WR, WW};
use faultline_checker::txn::{check_text, TxnModel, TxnOptions, TxnResult};
use faultline_checker::Verdict;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A micro-operation; reads carry what they returned.
#[derive(Debug, Clone, PartialEq)]
enum Mop {
    Append(usize, i64),
    Write(usize, i64),
    /// A list read (`[]` for the initial state).
    ReadList(usize, Vec<i64>),
    /// A register read (`None` for nil).
    ReadReg(usize, Option<i64>),
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    /// Committed: took effect, its reads are known.
    Ok,
    /// Unknown: took effect or not, its reads are not known.
    Info,
    /// Certainly did not take effect.
    Fail,
}

/// A transaction and its interval: positions of its invocation and
/// completion among the history's events.
#[derive(Debug, Clone)]
struct Txn {
    mops: Vec<Mop>,
    end: End,
    process: usize,
    invoke: usize,
    complete: usize,
}

/// Which order, besides the data, a serial order must respect.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    /// None: serializable.
    Data,
    /// Each process's order: strong session serializable.
    Session,
    /// Real time (which contains each process's order): strict
    /// serializable.
    Realtime,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Model {
    List,
    Register,
}

const KEYS: [&str; 3] = ["x", "y", "z"];

/// The state serial execution works on.
#[derive(Debug, Clone)]
struct State {
    lists: Vec<Vec<i64>>,
    regs: Vec<Option<i64>>,
}

impl State {
    fn new(keys: usize) -> State {
        State {
            lists: vec![Vec::new(); keys],
            regs: vec![None; keys],
        }
    }
}

/// Runs `t` on `s`: `fill` overwrites its reads with what they see, else
/// returns whether every read saw what it recorded.
fn execute(t: &mut Txn, s: &mut State, fill: bool) -> bool {
    for m in &mut t.mops {
        match m {
            Mop::Append(k, v) => s.lists[*k].push(*v),
            Mop::Write(k, v) => s.regs[*k] = Some(*v),
            Mop::ReadList(k, seen) => {
                if fill {
                    *seen = s.lists[*k].clone();
                } else if *seen != s.lists[*k] {
                    return false;
                }
            }
            Mop::ReadReg(k, seen) => {
                if fill {
                    *seen = s.regs[*k];
                } else if *seen != s.regs[*k] {
                    return false;
                }
            }
        }
    }
    true
}

/// Whether some serial order reproduces every read (respecting real time
/// or process order as `order` says): of the committed transactions and of any subset of the
/// unknown ones (whose reads are not known), never of the failed ones.
fn search(txns: &[Txn], keys: usize, order: Order) -> bool {
    let info: Vec<usize> = (0..txns.len())
        .filter(|&t| txns[t].end == End::Info)
        .collect();
    (0..1u32 << info.len()).any(|subset| {
        let took = |t: usize| match txns[t].end {
            End::Ok => true,
            End::Fail => false,
            End::Info => {
                let bit = info.iter().position(|&i| i == t).expect("an info txn");
                (subset >> bit) & 1 == 1
            }
        };
        let mut placed: Vec<bool> = (0..txns.len()).map(|t| !took(t)).collect();
        go(txns, &mut placed, &State::new(keys), order)
    })
}

/// Places the transactions not yet `placed` after state `s`, depth first.
fn go(txns: &[Txn], placed: &mut Vec<bool>, s: &State, order: Order) -> bool {
    if placed.iter().all(|&p| p) {
        return true;
    }
    for t in 0..txns.len() {
        if placed[t] {
            continue;
        }
        // Every transaction that committed before t began goes first (in
        // real time), or every earlier one of t's process (in a session).
        let waits = |u: usize| {
            !placed[u]
                && u != t
                && match order {
                    Order::Data => false,
                    Order::Session => {
                        txns[u].process == txns[t].process && txns[u].invoke < txns[t].invoke
                    }
                    Order::Realtime => txns[u].end == End::Ok && txns[u].complete < txns[t].invoke,
                }
        };
        if (0..txns.len()).any(waits) {
            continue;
        }
        let mut next = s.clone();
        let mut tx = txns[t].clone();
        // An unknown transaction's reads are not known: only its writes
        // count.
        if tx.end != End::Ok {
            tx.mops
                .retain(|m| matches!(m, Mop::Append(..) | Mop::Write(..)));
        }
        if execute(&mut tx, &mut next, false) {
            placed[t] = true;
            if go(txns, placed, &next, order) {
                return true;
            }
            placed[t] = false;
        }
    }
    false
}

/// A random history of `model`.
fn generate(seed: u64, model: Model) -> (Vec<Txn>, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = rng.gen_range(2..=6);
    let keys = rng.gen_range(1..=3);
    let mut next_value = 1i64;
    let mut txns: Vec<Txn> = Vec::new();
    for _ in 0..n {
        let mut mops = Vec::new();
        for _ in 0..rng.gen_range(1..=3) {
            // Often the key just used: appends of one transaction to one
            // key, and reads after its own appends.
            let k = match mops.last() {
                Some(
                    Mop::Append(k, _) | Mop::Write(k, _) | Mop::ReadList(k, _) | Mop::ReadReg(k, _),
                ) if rng.gen_bool(0.4) => *k,
                _ => rng.gen_range(0..keys),
            };
            if rng.gen_bool(0.5) {
                mops.push(match model {
                    Model::List => Mop::Append(k, next_value),
                    Model::Register => Mop::Write(k, next_value),
                });
                next_value += 1;
            } else {
                mops.push(match model {
                    Model::List => Mop::ReadList(k, Vec::new()),
                    Model::Register => Mop::ReadReg(k, None),
                });
            }
        }
        // Some end unknown or failed.
        let end = match rng.gen_range(0..20) {
            0..=2 => End::Info,
            3 => End::Fail,
            _ => End::Ok,
        };
        txns.push(Txn {
            mops,
            end,
            process: 0,
            invoke: 0,
            complete: 0,
        });
    }
    if rng.gen_bool(0.5) {
        let mops = (0..keys)
            .map(|k| match model {
                Model::List => Mop::ReadList(k, Vec::new()),
                Model::Register => Mop::ReadReg(k, None),
            })
            .collect();
        txns.push(Txn {
            mops,
            end: End::Ok,
            process: 0,
            invoke: 0,
            complete: 0,
        });
    }
    // Intervals: a random interleaving of invocations and completions.
    let overlap = rng.gen_range(1..=3);
    let mut waiting: Vec<usize> = (0..txns.len()).collect();
    waiting.shuffle(&mut rng);
    let mut open: Vec<usize> = Vec::new();
    let mut pos = 0;
    while !waiting.is_empty() || !open.is_empty() {
        let invoke =
            !waiting.is_empty() && (open.len() < overlap && rng.gen_bool(0.6) || open.is_empty());
        if invoke {
            let t = waiting.pop().expect("waiting");
            txns[t].invoke = pos;
            open.push(t);
        } else {
            let t = open.swap_remove(rng.gen_range(0..open.len()));
            txns[t].complete = pos;
        }
        pos += 1;
    }
    // Processes: a transaction often continues a process whose last
    // transaction ended before it began (not after an info: that process
    // is gone).
    let mut by_start: Vec<usize> = (0..txns.len()).collect();
    by_start.sort_by_key(|&t| txns[t].invoke);
    let mut processes: Vec<(usize, bool)> = Vec::new(); // (last completion, alive)
    for t in by_start {
        let free: Vec<usize> = (0..processes.len())
            .filter(|&p| processes[p].1 && processes[p].0 < txns[t].invoke)
            .collect();
        let p = match free.choose(&mut rng) {
            Some(&p) if rng.gen_bool(0.6) => p,
            _ => {
                processes.push((0, true));
                processes.len() - 1
            }
        };
        processes[p] = (txns[t].complete, txns[t].end != End::Info);
        txns[t].process = p;
    }
    if rng.gen_bool(0.6) {
        // Serially, at a random point inside each interval.
        let mut order: Vec<(f64, usize)> = txns
            .iter()
            .enumerate()
            .map(|(i, t)| (rng.gen_range(t.invoke as f64..t.complete as f64), i))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Failed transactions do not take effect, unknown ones half the
        // time.
        let mut s = State::new(keys);
        for &(_, t) in &order {
            let takes = match txns[t].end {
                End::Ok => true,
                End::Info => rng.gen_bool(0.5),
                End::Fail => false,
            };
            if takes {
                execute(&mut txns[t], &mut s, true);
            }
        }
        if rng.gen_bool(0.5) {
            corrupt(&mut rng, &mut txns, next_value);
        }
    } else {
        arbitrary_reads(&mut rng, &mut txns, keys);
    }
    (txns, keys)
}

/// Changes one read, if there is one.
fn corrupt(rng: &mut ChaCha8Rng, txns: &mut [Txn], next_value: i64) {
    let reads: Vec<(usize, usize)> = txns
        .iter()
        .enumerate()
        .flat_map(|(t, tx)| {
            tx.mops
                .iter()
                .enumerate()
                .filter(|(_, m)| matches!(m, Mop::ReadList(..) | Mop::ReadReg(..)))
                .map(move |(i, _)| (t, i))
        })
        .collect();
    let Some(&(t, i)) = reads.choose(rng) else {
        return;
    };
    // Values of the same key written anywhere, for plausible corruptions.
    let key = match txns[t].mops[i] {
        Mop::ReadList(k, _) | Mop::ReadReg(k, _) => k,
        _ => unreachable!(),
    };
    let written: Vec<i64> = txns
        .iter()
        .flat_map(|tx| tx.mops.iter())
        .filter_map(|m| match *m {
            Mop::Append(k, v) | Mop::Write(k, v) if k == key => Some(v),
            _ => None,
        })
        .collect();
    match &mut txns[t].mops[i] {
        Mop::ReadList(_, l) => match rng.gen_range(0..8) {
            0 => {
                l.pop();
            }
            1 if !l.is_empty() => {
                let j = rng.gen_range(0..l.len());
                l.remove(j);
            }
            2 if l.len() > 1 => {
                let j = rng.gen_range(0..l.len() - 1);
                l.swap(j, j + 1);
            }
            3 if !l.is_empty() => {
                let j = rng.gen_range(0..l.len());
                l.push(l[j]);
            }
            4 => {
                if let Some(&v) = written
                    .iter()
                    .filter(|v| !l.contains(v))
                    .collect::<Vec<_>>()
                    .choose(rng)
                {
                    l.push(*v);
                }
            }
            5 => l.push(next_value + 100),
            6 => {
                let keep = rng.gen_range(0..=l.len());
                l.truncate(keep);
            }
            _ => l.clear(),
        },
        Mop::ReadReg(_, r) => match rng.gen_range(0..3) {
            0 => *r = written.choose(rng).copied(),
            1 => *r = None,
            _ => *r = Some(next_value + 100),
        },
        _ => unreachable!(),
    }
}

/// Reads from no execution: per key a random order of its appends, each
/// read a random prefix of it (registers: a random written value or nil).
fn arbitrary_reads(rng: &mut ChaCha8Rng, txns: &mut [Txn], keys: usize) {
    let mut orders: Vec<Vec<i64>> = vec![Vec::new(); keys];
    for m in txns.iter().flat_map(|t| t.mops.iter()) {
        if let Mop::Append(k, v) | Mop::Write(k, v) = *m {
            orders[k].push(v);
        }
    }
    for o in &mut orders {
        o.shuffle(rng);
    }
    for m in txns.iter_mut().flat_map(|t| t.mops.iter_mut()) {
        match m {
            Mop::ReadList(k, l) => {
                let n = rng.gen_range(0..=orders[*k].len());
                *l = orders[*k][..n].to_vec();
            }
            Mop::ReadReg(k, r) => {
                let n = rng.gen_range(0..=orders[*k].len());
                *r = if n == 0 {
                    None
                } else {
                    Some(orders[*k][n - 1])
                };
            }
            _ => {}
        }
    }
}

/// The history as EDN, one event a line, in event order.
fn render(txns: &[Txn]) -> String {
    let mut events: Vec<(usize, String)> = Vec::new();
    for t in txns {
        let p = t.process;
        let mop = |m: &Mop, done: bool| match m {
            Mop::Append(k, v) => format!("[:append :{} {v}]", KEYS[*k]),
            Mop::Write(k, v) => format!("[:w :{} {v}]", KEYS[*k]),
            Mop::ReadList(k, l) if done => {
                let items: Vec<String> = l.iter().map(|e| e.to_string()).collect();
                format!("[:r :{} [{}]]", KEYS[*k], items.join(" "))
            }
            Mop::ReadReg(k, Some(v)) if done => format!("[:r :{} {v}]", KEYS[*k]),
            Mop::ReadList(k, _) | Mop::ReadReg(k, _) => format!("[:r :{} nil]", KEYS[*k]),
        };
        let end = match t.end {
            End::Ok => "ok",
            End::Info => "info",
            End::Fail => "fail",
        };
        let done = t.end == End::Ok;
        for (pos, kind, done) in [(t.invoke, "invoke", false), (t.complete, end, done)] {
            let mops: Vec<String> = t.mops.iter().map(|m| mop(m, done)).collect();
            events.push((
                pos,
                format!(
                    "{{:type :{kind}, :f :txn, :value [{}], :process {p}, :index {pos}}}",
                    mops.join(" ")
                ),
            ));
        }
    }
    events.sort();
    let lines: Vec<String> = events.into_iter().map(|e| e.1).collect();
    lines.join("\n") + "\n"
}

fn run(text: &str, model: Model, consistency: &str) -> TxnResult {
    let opts = TxnOptions {
        consistency_models: vec![consistency.to_string()],
        ..TxnOptions::default()
    };
    let m = match model {
        Model::List => TxnModel::ListAppend,
        Model::Register => TxnModel::RwRegister,
    };
    check_text(text, m, &opts).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Whether the checker found nothing wrong: valid, or unknown only for an
/// empty graph (no read observed another transaction: nothing to order).
fn clean(r: &TxnResult, text: &str) -> bool {
    match r.valid {
        Verdict::Valid => true,
        Verdict::Invalid => false,
        Verdict::Unknown => {
            assert_eq!(
                r.anomaly_types,
                vec!["empty-transaction-graph".to_string()],
                "unknown for another reason\n{text}{}",
                r.render_text()
            );
            true
        }
    }
}

/// Every process and real-time step of a reported cycle is a fact of the
/// history: the same process ran its ends in that order, or the first
/// committed before the second was invoked (real-time steps are folded
/// from paths through barrier nodes).
fn order_steps_hold(txns: &[Txn], r: &TxnResult, why: &dyn Fn() -> String) {
    // A report names a transaction by its completion index (its invocation
    // index when it has none), which render() makes its event position.
    let find = |index: u64| {
        txns.iter()
            .find(|t| {
                let at = if t.end == End::Info {
                    t.invoke
                } else {
                    t.complete
                };
                at as u64 == index
            })
            .expect("a reported transaction")
    };
    for report in r.anomalies.values().flatten() {
        for step in &report.cycle {
            let a = find(report.txns[step.from].index);
            let b = find(report.txns[step.to].index);
            match step.kind.as_str() {
                "process" => assert!(
                    a.process == b.process && a.invoke < b.invoke,
                    "process step {step:?}: {}",
                    why()
                ),
                "realtime" => assert!(
                    a.end == End::Ok && a.complete < b.invoke,
                    "realtime step {step:?}: {}",
                    why()
                ),
                _ => {}
            }
        }
    }
}

/// Whether every key is written by at most one transaction.
fn single_writer(txns: &[Txn], keys: usize) -> bool {
    (0..keys).all(|k| {
        txns.iter()
            .filter(|t| t.end != End::Fail)
            .filter(|t| {
                t.mops
                    .iter()
                    .any(|m| matches!(*m, Mop::Write(j, _) if j == k))
            })
            .count()
            <= 1
    })
}

/// One generated case of `model`: the assertions of the module doc.
/// Returns the brute force's answers: serializable, strong session
/// serializable, strictly serializable.
fn case(seed: u64, model: Model) -> [bool; 3] {
    let (txns, keys) = generate(seed, model);
    let text = render(&txns);
    let mut outcome = [false; 3];
    let levels = [
        ("serializable", Order::Data),
        ("strong-session-serializable", Order::Session),
        ("strict-serializable", Order::Realtime),
    ];
    for (i, (consistency, order)) in levels.into_iter().enumerate() {
        let brute = search(&txns, keys, order);
        let r = run(&text, model, consistency);
        let checker = clean(&r, &text);
        let why = || {
            format!(
                "seed {seed}, {consistency}: brute force says {}, the checker {}\n{text}{}",
                if brute { "yes" } else { "no" },
                r.valid,
                r.render_text()
            )
        };
        match model {
            Model::List => assert_eq!(brute, checker, "{}", why()),
            Model::Register => {
                if !checker {
                    assert!(!brute, "unsound: {}", why());
                }
                if single_writer(&txns, keys) {
                    assert_eq!(brute, checker, "single writer per key: {}", why());
                }
            }
        }
        order_steps_hold(&txns, &r, &why);
        outcome[i] = brute;
    }
    outcome
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn list_append_agrees_with_brute_force(seed in any::<u64>()) {
        case(seed, Model::List);
    }

    #[test]
    fn rw_register_is_sound_against_brute_force(seed in any::<u64>()) {
        case(seed, Model::Register);
    }
}

/// The generator makes both answers often enough for the properties to
/// mean something, and the session and real-time orders change the answer
/// often enough. (Seeds 0..2000 are also fixed regression cases: against
/// the checker as it was before this test, seed 350 fails (an info
/// transaction's appends read out of its order) and, with that fixed, seed
/// 450 (an observed info transaction's unread appends).)
#[test]
fn generator_covers_both_answers() {
    for model in [Model::List, Model::Register] {
        let n = 2000usize;
        let (mut yes, mut session, mut realtime) = ([0usize; 3], 0, 0);
        for seed in 0..n as u64 {
            let a = case(seed, model);
            for i in 0..3 {
                yes[i] += a[i] as usize;
            }
            session += (a[0] != a[1]) as usize;
            realtime += (a[1] != a[2]) as usize;
        }
        eprintln!(
            "{model:?}: of {n}, {} serializable, {} strong session serializable, {} strictly; \
             the session changes {session} answers, real time {realtime} more",
            yes[0], yes[1], yes[2]
        );
        assert!(yes[0] > n / 5 && yes[0] < n * 4 / 5, "{model:?}: {yes:?}");
        assert!(yes[2] > n / 10, "{model:?}: {yes:?}");
        assert!(
            session > n / 100 && realtime > n / 100,
            "{model:?}: {session} {realtime}"
        );
    }
}

/// The kind of case the property found: a transaction's appends read out
/// of its own order (T1 appended 1 then 2; x reads [2 1 3]) pass every
/// edge check.
#[test]
fn found_appends_out_of_order() {
    let t = |mops: Vec<Mop>, invoke, complete| Txn {
        mops,
        end: End::Ok,
        process: invoke,
        invoke,
        complete,
    };
    let txns = vec![
        t(vec![Mop::Append(0, 1), Mop::Append(0, 2)], 0, 1),
        t(vec![Mop::Append(0, 3)], 2, 3),
        t(vec![Mop::ReadList(0, vec![2, 1, 3])], 4, 5),
    ];
    let text = render(&txns);
    assert!(!search(&txns, 1, Order::Data));
    let r = run(&text, Model::List, "serializable");
    assert_eq!(r.valid, Verdict::Invalid, "{}", r.render_text());
}

/// Prints the history of seed `SEED` (`SEED=123 cargo test --test
/// txn_brute show_seed -- --ignored --nocapture`), for a failure's report.
#[test]
#[ignore]
fn show_seed() {
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for model in [Model::List, Model::Register] {
        let (txns, keys) = generate(seed, model);
        let text = render(&txns);
        eprintln!(
            "{model:?} seed {seed}: serializable {}, strong session {}, strictly {}\n{text}",
            search(&txns, keys, Order::Data),
            search(&txns, keys, Order::Session),
            search(&txns, keys, Order::Realtime)
        );
    }
}

// ---------------------------------------------------------------------------
// The cycle classes against a brute-force search of closed walks

/// The labels a class may use and the one it must use besides its data
/// shape (0: none).
fn labels(c: Class) -> (u8, u8) {
    let data = match c.base {
        Base::G0 => WW,
        Base::G1c => WW | WR,
        _ => WW | WR | RW,
    };
    match c.variant {
        Variant::Plain => (data, 0),
        Variant::Process => (data | PROCESS, PROCESS),
        Variant::Realtime => (data | PROCESS | REALTIME, REALTIME),
    }
}

/// Whether a cyclic sequence of labels is a walk of class `c`.
fn fits(c: Class, steps: &[u8]) -> bool {
    let (allowed, required) = labels(c);
    let rw = steps.iter().filter(|&&k| k == RW).count();
    let adjacent = (0..steps.len()).any(|i| steps[i] == RW && steps[(i + 1) % steps.len()] == RW);
    !steps.is_empty()
        && steps.iter().all(|&k| k & allowed != 0)
        && (required == 0 || steps.contains(&required))
        && match c.base {
            Base::G0 => true,
            Base::G1c => steps.contains(&WR),
            Base::GSingle => rw == 1,
            Base::GNonadjacent => rw >= 1 && !adjacent,
            Base::G2 => rw >= 1,
        }
}

/// Whether `edges` has a closed walk of class `c`: a search of states
/// (node, rw count capped at 2, a wr seen, the required label seen, the
/// first step was rw, the last step was rw) from every start node.
fn walk_exists(n: usize, edges: &[(u32, u32, u8)], c: Class) -> bool {
    use std::collections::HashSet;
    type S = (u32, u8, bool, bool, bool, bool);
    let (allowed, required) = labels(c);
    let step = |s: S, k: u8, w: u32| -> Option<S> {
        let (_, rw, wr, req, first, last) = s;
        if k & allowed == 0 || (c.base == Base::GNonadjacent && last && k == RW) {
            return None;
        }
        Some((
            w,
            (rw + (k == RW) as u8).min(2),
            wr || k == WR,
            req || k == required,
            first,
            k == RW,
        ))
    };
    let accept = |s: S| {
        let (_, rw, wr, req, first, last) = s;
        (required == 0 || req)
            && match c.base {
                Base::G0 => true,
                Base::G1c => wr,
                Base::GSingle => rw == 1,
                Base::GNonadjacent => rw >= 1 && !(first && last),
                Base::G2 => rw >= 1,
            }
    };
    for start in 0..n as u32 {
        let mut seen: HashSet<S> = HashSet::new();
        let mut stack: Vec<S> = Vec::new();
        for &(u, w, k) in edges {
            if u == start {
                let s0 = (start, 0, false, false, k == RW, false);
                if let Some(s) = step(s0, k, w) {
                    let s = (s.0, s.1, s.2, s.3, k == RW, s.5);
                    if seen.insert(s) {
                        stack.push(s);
                    }
                }
            }
        }
        while let Some(s) = stack.pop() {
            if s.0 == start && accept(s) {
                return true;
            }
            for &(u, w, k) in edges {
                if u == s.0 {
                    if let Some(t) = step(s, k, w) {
                        if seen.insert(t) {
                            stack.push(t);
                        }
                    }
                }
            }
        }
    }
    false
}

/// Whether some simple cycle of `edges` is of class `c`.
fn simple_cycle_exists(n: usize, edges: &[(u32, u32, u8)], c: Class) -> bool {
    fn go(
        edges: &[(u32, u32, u8)],
        c: Class,
        start: u32,
        at: u32,
        on: &mut Vec<bool>,
        steps: &mut Vec<u8>,
    ) -> bool {
        for &(u, w, k) in edges {
            if u != at || w < start {
                continue;
            }
            steps.push(k);
            let found = if w == start {
                fits(c, steps)
            } else if !on[w as usize] {
                on[w as usize] = true;
                let f = go(edges, c, start, w, on, steps);
                on[w as usize] = false;
                f
            } else {
                false
            };
            steps.pop();
            if found {
                return true;
            }
        }
        false
    }
    (0..n as u32).any(|s| {
        let mut on = vec![false; n];
        on[s as usize] = true;
        go(edges, c, s, s, &mut on, &mut Vec::new())
    })
}

fn random_graph(seed: u64) -> (usize, Vec<(u32, u32, u8)>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = rng.gen_range(2..=6);
    let p = rng.gen_range(0.05..0.25);
    let mut edges = Vec::new();
    for u in 0..n as u32 {
        for w in 0..n as u32 {
            for k in [WW, WR, RW, PROCESS, REALTIME] {
                if u != w && rng.gen_bool(p) {
                    edges.push((u, w, k));
                }
            }
        }
    }
    (n, edges)
}

fn cycle_case(seed: u64) {
    let (n, edges) = random_graph(seed);
    let g = Graph::from_edges(n, edges.clone());
    let never = |_: &[String], _: &str| false;
    let all = cycles::search(&g, n, &Class::all(), &never);
    for c in Class::all() {
        let name = c.name();
        let alone = cycles::search(&g, n, &[c], &never);
        let ours = alone.iter().any(|f| f.name == name);
        let brute = walk_exists(n, &edges, c);
        assert_eq!(ours, brute, "seed {seed}: {name}, edges {edges:?}");
        assert_eq!(
            ours,
            all.iter().any(|f| f.name == name),
            "seed {seed}: {name} alone and among all"
        );
        if c.variant == Variant::Plain && c.base != Base::GNonadjacent {
            let simple = simple_cycle_exists(n, &edges, c);
            assert_eq!(
                brute, simple,
                "seed {seed}: {name} walk vs cycle, {edges:?}"
            );
        }
    }
    // Every witness is a closed walk of the graph, of its class.
    for f in &all {
        let c = Class::all()
            .into_iter()
            .find(|c| c.name() == f.name)
            .expect("a class");
        let len = f.txns.len();
        assert_eq!(len, f.steps.len(), "seed {seed}: {f:?}");
        for i in 0..len {
            let (u, w, k) = (f.txns[i] as u32, f.txns[(i + 1) % len] as u32, f.steps[i]);
            assert!(
                edges.contains(&(u, w, k)),
                "seed {seed}: {} step {u} -{k}-> {w} is no edge: {f:?} {edges:?}",
                f.name
            );
        }
        assert!(fits(c, &f.steps), "seed {seed}: {f:?} is not {}", f.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn cycle_classes_agree_with_brute_force(seed in any::<u64>()) {
        cycle_case(seed);
    }
}

/// Seeds 0..3000, and every class both present and absent often enough.
#[test]
fn cycle_classes_fixed_seeds() {
    let classes = Class::all();
    let mut present = vec![0usize; classes.len()];
    let n = 3000;
    for seed in 0..n as u64 {
        cycle_case(seed);
        let (nodes, edges) = random_graph(seed);
        for (i, &c) in classes.iter().enumerate() {
            present[i] += walk_exists(nodes, &edges, c) as usize;
        }
    }
    for (c, p) in classes.iter().zip(&present) {
        eprintln!("{}: {p}/{n}", c.name());
        assert!(*p > n / 100 && *p < n * 99 / 100, "{}: {p}/{n}", c.name());
    }
}
