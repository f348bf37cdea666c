//! The deterministic simulated cluster and its scenarios.
//!
//! Every scenario is seeded: `SIM_SEED=N cargo test -p faultline-node
//! --release --test sim NAME` replays one seed, and a failing scenario prints
//! its seed. Invariants (election safety, log matching, leader completeness,
//! state machine safety, acknowledged writes, read freshness) are checked
//! after every step.

mod sim {
    pub mod client;
    pub mod cluster;
    pub mod invariants;
    pub mod network;
    pub mod seeds;
    pub mod storage;
    pub mod workload;

    mod agreement;
    mod bugs;

    mod election;
    mod figure8;
    mod persistence;
    mod reads;
    mod snapshot;
}
