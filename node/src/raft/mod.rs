//! The pure, deterministic Raft core: no tokio, no clock, no OS randomness.
