//! Writes a generated register history (JSON Lines) to stdout, to try
//! `faultline check` on histories of a chosen shape:
//!
//! ```text
//! cargo run --release -p faultline-checker --example generate -- \
//!     EVENTS KEYS CLIENTS VALUES CRASH_PER_MILLE SEED [broken] > history.jsonl
//! ```
//!
//! `broken` makes one read return a value never written (not linearizable).

use std::io::Write;

use faultline_checker::generate::{break_one_read, generate, Shape};
use faultline_checker::history::to_jsonl;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> u64 {
        let Some(a) = args.get(i) else {
            eprintln!("usage: generate EVENTS KEYS CLIENTS VALUES CRASH_PER_MILLE SEED [broken]");
            std::process::exit(64);
        };
        a.parse().unwrap_or_else(|_| {
            eprintln!(
                "argument {} must be a non-negative integer, got {a:?}",
                i + 1
            );
            std::process::exit(64);
        })
    };
    let shape = Shape {
        events: num(0) as usize,
        keys: num(1) as usize,
        clients: num(2) as usize,
        values: num(3) as i64,
        crash_per_mille: num(4) as u32,
    };
    let mut events = generate(&shape, num(5));
    if args.get(6).is_some_and(|a| a == "broken") {
        break_one_read(&mut events, num(5));
    }
    std::io::stdout()
        .write_all(to_jsonl(&events).as_bytes())
        .expect("write the history to stdout");
}
