//! Where the nodes of a run live and how faults reach them: the layer below
//! every system and fault. It takes node command lines, never a system.
//!
//! - [`node`]: the node layout ([`node::NodeSpec`], addresses, data
//!   folders) and [`node::NodeCommand`];
//! - [`cluster`]: the [`cluster::Platform`] every fault goes through and
//!   [`cluster::LocalCluster`] (local processes);
//! - [`cut`]: who cannot reach whom (a partition, resolved);
//! - [`nft`]: a cut or a packet-loss share as nftables rules;
//! - [`netns`]: the run's private user + network + mount namespace;
//! - [`disk`]: the disk-fault layer over the nodes' data (power loss) and corruption;
//! - [`hosts`]: nodes on other machines over SSH ([`hosts::RemoteCluster`]).

pub mod cluster;
pub mod cut;
pub mod disk;
pub mod hosts;
pub mod netns;
pub mod nft;
pub mod node;
