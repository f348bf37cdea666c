//! `txn-list-append` and `txn-rw-register`: transactional histories judged
//! as Elle judges them (faultline_checker::txn), against the consistency
//! models of the check options (default strict-serializable). The detail is
//! a [`TxnResult`]; the report's transactions section draws its cycles.

use faultline_checker::txn::{check, events, TxnHistory, TxnModel, TxnOptions, TxnResult};
use faultline_checker::{CheckOptions, Verdict};

use super::{CheckContext, Checker, CheckerError, Judgement};
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
                "transactions of list appends and reads: Elle's anomalies (G0 .. G2-item, -process, -realtime, internal, G1a/b ...) against --consistency-models"
            }
            TxnModel::RwRegister => {
                "transactions of register writes and reads: Elle's anomalies against --consistency-models"
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
        judge(&h, self.0, ctx.options)
    }
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
