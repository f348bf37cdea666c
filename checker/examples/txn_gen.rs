//! Writes a generated list-append history (Jepsen EDN) to stdout:
//! `cargo run --release -p faultline-checker --example txn_gen -- TXNS [SEED] [gsingle]`.

use std::io::{BufWriter, Write};

use faultline_checker::txn::generate::{write_edn, Plant, TxnShape};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let txns = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let plant = if args.get(3).map(String::as_str) == Some("gsingle") {
        Plant::GSingle
    } else {
        Plant::None
    };
    let shape = TxnShape {
        txns,
        ..TxnShape::default()
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let g = write_edn(&shape, seed, plant, &mut out)?;
    out.flush()?;
    eprintln!(
        "{} transactions, {} events, planted at {:?}",
        g.txns, g.events, g.planted
    );
    Ok(())
}
