//! faultline's checker: the history model, importers for histories recorded
//! by other tools, models of the objects under test, and a fast, exact
//! linearizability search.
//!
//! ```
//! use faultline_checker::{check_events, CheckOptions, Verdict};
//! use faultline_checker::history::Event;
//! use faultline_checker::model::ModelKind;
//!
//! let history = r#"
//! {"index":0,"time":0,"process":0,"type":"invoke","f":"write","key":"x","value":1}
//! {"index":1,"time":5,"process":0,"type":"ok","f":"write","key":"x","value":1}
//! {"index":2,"time":6,"process":1,"type":"invoke","f":"read","key":"x","value":null}
//! {"index":3,"time":9,"process":1,"type":"ok","f":"read","key":"x","value":2}
//! "#;
//! let events: Vec<Event> = history
//!     .lines()
//!     .filter(|l| !l.is_empty())
//!     .map(|l| serde_json::from_str(l).unwrap())
//!     .collect();
//! let result = check_events(&events, ModelKind::Register, &CheckOptions::default()).unwrap();
//! assert_eq!(result.verdict, Verdict::Invalid); // 2 was never written
//! println!("{}", result.render_text());
//! ```

mod cache;
pub mod check;
pub mod counterexample;
pub mod generate;
pub mod history;
pub mod import;
pub mod linear;
mod linset;
pub mod model;
pub mod prepare;
pub mod search_op;
pub mod set_full;
pub mod txn;
pub mod verdict;

pub use check::{check_events, check_operation_refs, check_operations};
pub use verdict::{CheckError, CheckOptions, CheckResult, Verdict, DEFAULT_MEMORY_BYTES};
