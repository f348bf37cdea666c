//! `register`, `kv`, `list-append`: is each key's history linearizable
//! against the model (Knossos, Porcupine)? The detail is the search's
//! [`CheckResult`]: counts, the keys that failed, and the counterexample
//! the report's counterexample section draws.

use faultline_checker::model::ModelKind;
use faultline_checker::{check_operation_refs, CheckResult, Verdict};

use super::{CheckContext, Checker, CheckerError, Judgement};
use crate::record::Anomaly;

/// The kind of detail these checkers write: a [`CheckResult`].
pub const KIND: &str = "linearizability";

/// Linearizability against one model, under a name of its own.
#[derive(Debug, Clone, Copy)]
pub struct Linearizable {
    /// The checker's name (the model's, or a workload's such as `lin-kv`).
    pub name: &'static str,
    /// The model the history is checked against.
    pub model: ModelKind,
}

impl Linearizable {
    /// Linearizability against `model`, named after it.
    pub const fn of(model: ModelKind) -> Linearizable {
        Linearizable {
            name: model.name(),
            model,
        }
    }
}

/// Read / write / cas registers, one per key.
pub const REGISTER: Linearizable = Linearizable::of(ModelKind::Register);
/// Get / put / append strings, one per key (Porcupine's KV).
pub const KV: Linearizable = Linearizable::of(ModelKind::Kv);
/// Appends to lists and whole-list reads, one per key.
pub const LIST_APPEND: Linearizable = Linearizable::of(ModelKind::ListAppend);

impl Checker for Linearizable {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        self.model.description()
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn history_only(&self) -> bool {
        true
    }

    fn online(&self) -> bool {
        true
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let result = check_operation_refs(ctx.operations()?, self.model, ctx.options)?;
        Ok(judgement(&result))
    }
}

/// The judgement a search's `result` amounts to (also for results read
/// back from older files).
pub fn judgement(result: &CheckResult) -> Judgement {
    let anomaly = (result.verdict == Verdict::Invalid).then(|| Anomaly {
        time: result.detected_at_time,
        index: result.detected_at_index,
        key: result
            .counterexample
            .as_ref()
            .and_then(|c| c.key.clone())
            .or_else(|| result.invalid_keys.first().cloned()),
        operation: result
            .counterexample
            .as_ref()
            .map(|c| c.operation.describe()),
    });
    Judgement::new(result.verdict, result.render_text(), result).with_anomaly(anomaly)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_names_its_checker() {
        assert_eq!(REGISTER.name(), "register");
        assert_eq!(REGISTER.title(), "register checker");
        assert_eq!(LIST_APPEND.name(), "list-append");
        assert_eq!(KV.model, ModelKind::Kv);
        assert!(REGISTER.history_only() && REGISTER.online());
    }
}
