//! The transactional checker at scale: generated list-append histories
//! (4 micro-operations at most per transaction, 1,000 keys in use, 50
//! clients, strict serializable) of growing length, each written to a file
//! and then read and checked for strict-serializable in this process, with
//! and without one planted G-single-item; and Elle's `huge-scc.edn` from the
//! shared corpus when it is there. Prints time (read + check), time per
//! transaction (flat means linear), and peak resident memory.
//!
//! ```text
//! cargo bench -p faultline-checker --bench txn
//! FAULTLINE_TXN_SIZES=10000,100000 cargo bench -p faultline-checker --bench txn
//! ```
//!
//! Peak memory is the kernel's high-water mark (`VmHWM`), reset through
//! `/proc/self/clear_refs` before each case: the whole process, history
//! included.

use std::io::BufWriter;
use std::path::Path;
use std::time::Instant;

use faultline_checker::txn::generate::{write_edn, Plant, TxnShape};
use faultline_checker::txn::{check, read_file, TxnModel, TxnOptions};

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Reads and checks `file`; prints one row.
fn measure(label: &str, file: &Path) {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let h = read_file(file).expect("the history reads");
    let read = t.elapsed().as_secs_f64();
    let r = check(&h, TxnModel::ListAppend, &TxnOptions::default()).expect("the check runs");
    let total = t.elapsed().as_secs_f64();
    let peak_mb = status_kb("VmHWM:") as f64 / 1024.0;
    let n = h.txns.len().max(1);
    let mb = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "{label:<28} {:>9} txns {:>7.1} MB  read {:>6.2} s  check {:>6.2} s  total {:>6.2} s  {:>6.2} us/txn  peak {:>7.0} MB  {} {:?}",
        n,
        mb,
        read,
        total - read,
        total,
        total * 1e6 / n as f64,
        peak_mb,
        r.valid,
        r.anomaly_types
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::var("FAULTLINE_TXN_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    for &txns in &sizes {
        for plant in [Plant::None, Plant::GSingle] {
            let shape = TxnShape {
                txns,
                ..TxnShape::default()
            };
            let file = dir.path().join(format!("{txns}-{plant:?}.edn"));
            let out = std::fs::File::create(&file).expect("a history file");
            let mut out = BufWriter::new(out);
            write_edn(&shape, 1, plant, &mut out).expect("writing the history");
            drop(out);
            measure(&format!("generated, plant {plant:?}"), &file);
            let _ = std::fs::remove_file(&file);
        }
    }
    let huge = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/elle/huge-scc.edn");
    if huge.exists() {
        measure("elle huge-scc.edn", &huge);
    } else {
        println!("{} not found: skipped", huge.display());
    }
}
