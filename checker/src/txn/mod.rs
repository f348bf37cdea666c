//! Transactional histories judged the way Elle judges them: the
//! `txn-list-append` and `txn-rw-register` models, dependency inference,
//! a complete cycle search, and Elle's names for what it finds.
//!
//! A history's operations are transactions (`"f":"txn"`) whose value is a
//! list of micro-operations `[f, key, value]`: `append`, `w` and `r`
//! (docs/history.md). The checker
//!
//! 1. reads them into a compact [`TxnHistory`] ([`parse`] straight from
//!    EDN or JSON Lines text, [`events`] from a run's paired operations);
//! 2. infers, per model, the write-write, write-read and read-write
//!    dependencies between transactions and the anomalies visible without a
//!    cycle ([`list_append`], [`rw_register`]);
//! 3. adds process and real-time order when the consistency models need
//!    them ([`order`]);
//! 4. decides, for every cycle class the models forbid, whether the graph
//!    has one, by a complete search ([`cycles`]);
//! 5. turns the anomaly types into the models they rule out ([`lattice`])
//!    and explains each anomaly ([`explain`]).
//!
//! ```
//! use faultline_checker::txn::{check_text, TxnModel, TxnOptions};
//! use faultline_checker::Verdict;
//!
//! // Two transactions each read the other's key empty, then append to
//! // their own: each read misses the other's write (write skew, G2-item).
//! let history = "\
//! {:type :invoke, :f :txn, :value [[:r :x nil] [:append :y 1]], :process 0}
//! {:type :invoke, :f :txn, :value [[:r :y nil] [:append :x 1]], :process 1}
//! {:type :ok, :f :txn, :value [[:r :x []] [:append :y 1]], :process 0}
//! {:type :ok, :f :txn, :value [[:r :y []] [:append :x 1]], :process 1}
//! {:type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]], :process 2}
//! {:type :ok, :f :txn, :value [[:r :x [1]] [:r :y [1]]], :process 2}
//! ";
//! let opts = TxnOptions { consistency_models: vec!["serializable".into()], ..TxnOptions::default() };
//! let result = check_text(history, TxnModel::ListAppend, &opts).unwrap();
//! assert_eq!(result.valid, Verdict::Invalid);
//! assert_eq!(result.anomaly_types, vec!["G2-item"]);
//! assert_eq!(result.not, vec!["repeatable-read"]);
//! println!("{}", result.render_text());
//! ```

pub mod anomaly;
mod build;
pub mod check;
pub mod cycles;
pub mod events;
pub mod explain;
pub mod generate;
pub mod graph;
pub mod history;
pub mod infer;
pub mod lattice;
pub mod list_append;
pub mod order;
pub mod parse;
pub mod rw_register;

use std::path::{Path, PathBuf};

pub use check::{check, AnomalyReport, TxnCheckError, TxnModel, TxnOptions, TxnResult};
pub use history::TxnHistory;

/// Why a transactional history could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The history file.
        file: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A line could not be understood.
    #[error("{}:{}: {}", file.display(), error.line, error.message)]
    Parse {
        /// The history file.
        file: PathBuf,
        /// The line and what is wrong with it.
        error: parse::ParseError,
    },
    /// The options name something unknown.
    #[error(transparent)]
    Options(#[from] TxnCheckError),
}

/// Checks a history given as text (EDN or JSON Lines, one event a line).
pub fn check_text(text: &str, model: TxnModel, opts: &TxnOptions) -> Result<TxnResult, TxnError> {
    let h = parse::parse_text(text).map_err(|error| TxnError::Parse {
        file: PathBuf::from("<history>"),
        error,
    })?;
    Ok(check(&h, model, opts)?)
}

/// Reads and checks a history file.
pub fn check_file(path: &Path, model: TxnModel, opts: &TxnOptions) -> Result<TxnResult, TxnError> {
    let h = read_file(path)?;
    Ok(check(&h, model, opts)?)
}

/// Reads a history file into a [`TxnHistory`].
pub fn read_file(path: &Path) -> Result<TxnHistory, TxnError> {
    let text = std::fs::read_to_string(path).map_err(|source| TxnError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    parse::parse_text(&text).map_err(|error| TxnError::Parse {
        file: path.to_path_buf(),
        error,
    })
}
