//! faultline's checker: the history model, importers for histories recorded
//! by other tools, models of the objects under test, and a fast, exact
//! linearizability search.

pub mod history;
