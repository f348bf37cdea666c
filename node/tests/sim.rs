//! The deterministic simulated cluster and its scenarios.
//!
//! Every scenario is seeded: `SIM_SEED=N cargo test -p faultline-node
//! --release --test sim NAME` replays one seed, and a failing scenario prints
//! its seed. Invariants (election safety, log matching, leader completeness,
//! state machine safety, acknowledged writes, read freshness) are checked
//! after every step.
//!
//! The harness: `cluster` (the node's real replicas, virtual clock, Ready
//! handling, crash and restart), `network` (delay, loss, reordering,
//! partitions), `storage` (what a crash keeps, `no-fsync` included),
//! `client` (sends writes and reads, records the answers), `txns`
//! (transactions and their atomicity and freshness), `invariants`
//! (the checker),
//! `workload` (random faults), `seeds` (seed ranges and replay). The
//! scenarios: `election`, `agreement`, `persistence`, `figure8` (Figure 8
//! and churn), `snapshot`, `reads`, `damage` (disk damage that loses
//! acknowledged entries, repaired from the peers), and `bugs` (every injectable bug is
//! caught, and the same seeds pass without it).

mod sim {
    pub mod client;
    pub mod cluster;
    pub mod invariants;
    pub mod network;
    pub mod seeds;
    pub mod storage;
    pub mod txns;
    pub mod workload;

    mod agreement;
    mod bugs;
    mod damage;
    mod election;
    mod figure8;
    mod parallel_persist;
    mod persistence;
    mod reads;
    mod snapshot;
}
