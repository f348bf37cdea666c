//! The checkers of Maelstrom's `txn-list-append` and `txn-rw-register`:
//! faultline's transactional checkers (`crate::checkers::txn`, Elle's
//! anomalies), held as they hold every run to the consistency models the
//! run was given (`faultline maelstrom test --consistency-models`, which
//! `test.json` records as the option [`OPTION`]) or, without any, to
//! Maelstrom's default, strict-serializable ([`DEFAULT_MODELS`]). They are
//! named after the workloads' registry names, as `lin-kv`'s checker is
//! after its workload.

pub use crate::checkers::txn::{validate_models, DEFAULT_MODELS, OPTION};
use crate::checkers::txn::{TxnChecker, KIND, TXN_LIST_APPEND, TXN_RW_REGISTER};
use crate::checkers::{CheckContext, Checker, CheckerError, Judgement};

/// The name of the `txn-list-append` workload's checker.
pub const LIST_APPEND_NAME: &str = "maelstrom-txn-list-append";
/// The name of the `txn-rw-register` workload's checker.
pub const RW_REGISTER_NAME: &str = "maelstrom-txn-rw-register";

/// A Maelstrom transactional checker: faultline's, with the run's models.
#[derive(Debug, Clone, Copy)]
pub struct MaelstromTxn {
    name: &'static str,
    description: &'static str,
    inner: TxnChecker,
}

/// `maelstrom-txn-list-append`.
pub const MAELSTROM_TXN_LIST_APPEND: MaelstromTxn = MaelstromTxn {
    name: LIST_APPEND_NAME,
    description: "Maelstrom txn-list-append: Elle's list-append anomalies against the run's --consistency-models (default strict-serializable)",
    inner: TXN_LIST_APPEND,
};
/// `maelstrom-txn-rw-register`.
pub const MAELSTROM_TXN_RW_REGISTER: MaelstromTxn = MaelstromTxn {
    name: RW_REGISTER_NAME,
    description: "Maelstrom txn-rw-register: Elle's rw-register anomalies against the run's --consistency-models (default strict-serializable)",
    inner: TXN_RW_REGISTER,
};

impl Checker for MaelstromTxn {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        self.inner.check(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::{run, RunEvidence};
    use faultline_checker::history::{pair, Event, EventType, Operation, Process};
    use faultline_checker::{CheckOptions, Verdict};
    use serde_json::json;
    use serde_json::Value;

    fn ev(i: u64, p: u64, kind: EventType, value: Value) -> Event {
        Event {
            index: i,
            time: i,
            process: Process::Client(p),
            kind,
            f: "txn".into(),
            key: None,
            value,
            error: None,
        }
    }

    /// T1 writes 1 then 2 to key 1; T2 reads the intermediate 1 (G1b).
    fn intermediate_read() -> Vec<Event> {
        use EventType::*;
        vec![
            ev(0, 0, Invoke, json!([["w", 1, 1], ["w", 1, 2]])),
            ev(1, 0, Ok, json!([["w", 1, 1], ["w", 1, 2]])),
            ev(2, 1, Invoke, json!([["r", 1, null]])),
            ev(3, 1, Ok, json!([["r", 1, 1]])),
        ]
    }

    fn judge(
        events: &[Event],
        options: &CheckOptions,
        dir: Option<&std::path::Path>,
    ) -> (Verdict, String) {
        let ops = pair(events, None).unwrap();
        let refs: Vec<&Operation> = ops.iter().collect();
        let evidence = RunEvidence {
            dir: dir.map(std::path::Path::to_path_buf),
            ..RunEvidence::default()
        };
        let ctx = CheckContext {
            events,
            operations: Ok(&refs),
            options,
            run: &evidence,
        };
        let r = run(&MAELSTROM_TXN_RW_REGISTER, &ctx);
        (r.verdict, r.text)
    }

    fn run_dir(options: Value) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let test = json!({"options": options, "system": "maelstrom"});
        std::fs::write(dir.path().join("test.json"), test.to_string()).unwrap();
        dir
    }

    #[test]
    fn the_run_s_models_come_from_test_json_and_default_to_maelstrom_s() {
        let h = intermediate_read();
        let none = CheckOptions::default();
        let (v, text) = judge(&h, &none, None);
        assert_eq!(v, Verdict::Invalid, "{text}");
        assert!(text.contains("G1b"), "{text}");
        let uncommitted = run_dir(json!({OPTION: ["read-uncommitted"]}));
        let (v, text) = judge(&h, &none, Some(uncommitted.path()));
        assert_eq!(v, Verdict::Valid, "read-uncommitted allows G1b: {text}");
        let committed = run_dir(json!({OPTION: ["read-committed"]}));
        let (v, text) = judge(&h, &none, Some(committed.path()));
        assert_eq!(v, Verdict::Invalid, "{text}");
        assert!(text.contains("G1b"), "{text}");
        let unset = run_dir(json!({"workload": "maelstrom-txn-rw-register"}));
        assert_eq!(judge(&h, &none, Some(unset.path())).0, Verdict::Invalid);
        let named = CheckOptions {
            consistency_models: vec!["read-uncommitted".into()],
            ..CheckOptions::default()
        };
        assert_eq!(judge(&h, &named, Some(committed.path())).0, Verdict::Valid);
    }

    #[test]
    fn unreadable_models_leave_the_verdict_unknown() {
        let h = intermediate_read();
        for bad in [json!("read-committed"), json!(["read-comitted"])] {
            let dir = run_dir(json!({OPTION: bad}));
            let (v, text) = judge(&h, &CheckOptions::default(), Some(dir.path()));
            assert_eq!(v, Verdict::Unknown, "{bad}: {text}");
            assert!(text.contains("consistency models"), "{text}");
        }
        assert!(validate_models(&["read-committed".into(), "serializable".into()]).is_ok());
        let e = validate_models(&["snapshot".into()]).unwrap_err();
        assert!(
            e.contains("snapshot") && e.contains("read-committed"),
            "{e}"
        );
    }
}
