//! Named faultline workloads: what operations clients issue, how they map to a
//! system's API, and which checkers judge the resulting history.
