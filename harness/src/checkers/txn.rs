//! `txn-list-append` and `txn-rw-register`: transactional histories judged
//! as Elle judges them (faultline_checker::txn), against the consistency
//! models of the check options when they name any (`faultline check
//! --consistency-models`), else those the run recorded in `test.json`
//! ([`OPTION`]: `faultline run --consistency-models`, or what the system's
//! settings promise), else strict-serializable. The detail is a
//! [`TxnResult`]; the report's transactions section draws its cycles.

use faultline_checker::txn::{check, events, lattice, TxnHistory, TxnModel, TxnOptions, TxnResult};
use faultline_checker::{CheckOptions, Verdict};

use super::{recorded, CheckContext, Checker, CheckerError, Judgement};
use crate::record::Anomaly;

/// The kind of detail these checkers write: a [`TxnResult`].
pub const KIND: &str = "txn";

/// A transactional checker for one model.
#[derive(Debug, Clone, Copy)]
pub struct TxnChecker(pub TxnModel);

/// The list-append checker.
pub const TXN_LIST_APPEND: TxnChecker = TxnChecker(TxnModel::ListAppend);
/// The rw-register checker.
pub const TXN_RW_REGISTER: TxnChecker = TxnChecker(TxnModel::RwRegister);

impl Checker for TxnChecker {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn description(&self) -> &'static str {
        match self.0 {
            TxnModel::ListAppend => {
                "transactions of list appends and reads: Elle's anomalies (G0 .. G2-item, -process, -realtime, internal, G1a/b ...) against the run's consistency models (--consistency-models, else what the system promises)"
            }
            TxnModel::RwRegister => {
                "transactions of register writes and reads: Elle's anomalies against the run's consistency models (--consistency-models, else what the system promises)"
            }
        }
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn history_only(&self) -> bool {
        true
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let h = events::from_operations(ctx.operations()?)
            .map_err(|e| CheckerError::History(e.to_string()))?;
        let opts = CheckOptions {
            consistency_models: models(ctx)?,
            ..ctx.options.clone()
        };
        judge(&h, self.0, &opts)
    }
}

/// The option (a key of `test.json`'s options) holding the consistency
/// models a transactional run is held to.
pub const OPTION: &str = "consistency_models";
/// The models a run is held to when neither the check nor the run names
/// any: the strongest, which a system that promises less must say.
pub const DEFAULT_MODELS: [&str; 1] = ["strict-serializable"];

/// Checks that every name in `models` is a consistency model the lattice
/// knows (Elle's names and aliases: `read-committed`, `serializable`,
/// `PL-2`, ...); the error names the first unknown one and lists them all.
pub fn validate_models(models: &[String]) -> Result<(), String> {
    for m in models {
        lattice::canonical(m).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The models a check holds the history to: the check options' own when
/// set (a re-check that names them), else those `test.json` records, else
/// [`DEFAULT_MODELS`]. A record that cannot be read, or whose models are
/// not a list of known names, is an error: the check must not fall back
/// to models the run was not given.
fn models(ctx: &CheckContext<'_>) -> Result<Vec<String>, CheckerError> {
    if !ctx.options.consistency_models.is_empty() {
        return Ok(ctx.options.consistency_models.clone());
    }
    let default = || DEFAULT_MODELS.map(String::from).to_vec();
    let Some(v) = recorded(ctx, OPTION)? else {
        return Ok(default());
    };
    let bad = |why: String| CheckerError::History(format!("the run's consistency models: {why}"));
    let models: Vec<String> =
        serde_json::from_value(v.clone()).map_err(|e| bad(format!("{v}: {e}")))?;
    if models.is_empty() {
        return Ok(default());
    }
    validate_models(&models).map_err(bad)?;
    Ok(models)
}

/// Judges a transactional history of `model` against the options'
/// consistency models: the verdict, the text, the [`TxnResult`] as detail
/// and the anomaly seen first.
pub fn judge(
    h: &TxnHistory,
    model: TxnModel,
    options: &CheckOptions,
) -> Result<Judgement, CheckerError> {
    let result = check(h, model, &TxnOptions::from_check(options))
        .map_err(|e| CheckerError::History(e.to_string()))?;
    let anomaly = first_anomaly(&result);
    Ok(Judgement::new(result.valid, result.render_text(), &result).with_anomaly(anomaly))
}

/// The anomaly that became visible first (the one whose last transaction
/// completed earliest, among those reported in full), as the run summary's
/// pointer and time to detect.
fn first_anomaly(result: &TxnResult) -> Option<Anomaly> {
    if result.valid != Verdict::Invalid {
        return None;
    }
    let (a, t) = result
        .anomalies
        .values()
        .flatten()
        .filter_map(|a| a.txns.iter().max_by_key(|t| t.index).map(|t| (a, t)))
        .min_by_key(|(_, t)| t.index)?;
    Some(Anomaly {
        time: Some(t.time),
        index: Some(t.index),
        key: a.key.clone(),
        operation: Some(format!(
            "{} ({}): p{} {} {}",
            a.name, t.name, t.process, t.outcome, t.value
        )),
    })
}
