//! The checker must agree with every verdict in `../shared/corpus/`
//! (histories recorded by other tools, verdicts established by their authors).

use std::path::{Path, PathBuf};

use faultline_checker::history::pair;
use faultline_checker::import::{read_history_file, Format};
use faultline_checker::model::ModelKind;
use faultline_checker::{check_operations, CheckOptions, Verdict};

/// The corpus lives beside the repository (`shared/` next to the clone);
/// `FAULTLINE_CORPUS` overrides.
fn corpus() -> PathBuf {
    if let Ok(dir) = std::env::var("FAULTLINE_CORPUS") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("shared/corpus");
    assert!(
        dir.is_dir(),
        "corpus not found at {}: put shared/ beside the repository or set FAULTLINE_CORPUS",
        dir.display()
    );
    dir
}

fn expected(dir: &Path) -> Vec<(PathBuf, Verdict)> {
    let tsv = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    tsv.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (file, verdict) = l.split_once('\t').expect("file<TAB>verdict");
            let verdict = match verdict.trim() {
                "valid" => Verdict::Valid,
                "invalid" => Verdict::Invalid,
                other => panic!("unknown verdict {other:?}"),
            };
            (dir.join(file), verdict)
        })
        .collect()
}

fn agree_with(dir: &str, model: ModelKind, count: usize) {
    let dir = corpus().join(dir);
    let cases = expected(&dir);
    assert_eq!(cases.len(), count, "cases in {}", dir.display());
    let mut wrong = Vec::new();
    for (file, want) in cases {
        let h = read_history_file(&file, Format::Auto).unwrap();
        let ops = pair(&h.events, Some(&h.lines)).unwrap();
        let got = check_operations(&ops, model, &CheckOptions::default()).unwrap();
        if got.verdict != want {
            wrong.push(format!(
                "{}: expected {want}, got {}",
                file.display(),
                got.verdict
            ));
        }
        if got.verdict == Verdict::Invalid {
            let c = got
                .counterexample
                .expect("an invalid verdict explains itself");
            assert!(c.prefix_operations > 0 && !c.render_lines().is_empty());
        }
    }
    assert!(wrong.is_empty(), "disagreements:\n{}", wrong.join("\n"));
}

#[test]
fn porcupine_etcd_histories_get_their_published_verdicts() {
    agree_with("porcupine-etcd", ModelKind::Register, 102);
}

#[test]
fn porcupine_kv_histories_get_their_published_verdicts() {
    agree_with("porcupine-kv", ModelKind::Kv, 6);
}
