//! The harness's integration tests, one file a subject, built as one test
//! binary: the files share `support` and `junit` and run side by side
//! (`cargo test --workspace --release` runs them two at a time on a
//! two-core machine), and CI builds and links one binary instead of one
//! per file. `tests/partition.rs` stays a binary of its own: it enters a
//! network namespace for its whole process.
//!
//! Name filters still pick a file's tests: `./scripts/test.sh hosts` runs
//! `hosts::*`.

mod junit;
mod support;

mod bench;
mod check_cli;
mod disk_faults;
mod exec_system;
mod explore;
mod galera;
mod hosts;
mod maelstrom;
mod online_check;
mod postgres;
mod real_node;
mod replica_agreement;
mod report_cli;
mod run_cli;
mod serve;
mod stutter;
mod suite_cli;
mod systems;
mod teardown;
mod workflows;
