//! The networked node around the pure Raft core: the Raft loop thread
//! ([`raft_loop`]), the peer transport ([`peers`]) and the client HTTP API
//! ([`http`]). [`Server::start`] wires them together.

pub mod failpoint_api;
pub mod http;
pub mod peers;
pub mod raft_loop;
pub mod txn_json;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use serde::Serialize;
use tokio::sync::oneshot;

use crate::bugs::Bugs;
use crate::kv::{Applied, Command, KvStore, MicroOp, Stored};
use crate::raft::{Config, Message, NodeId, RaftNode};
use crate::storage::{Storage, StorageError};

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// This node's name (`n1`).
    pub name: String,
    /// Every node's name and peer address, this one included, in cluster order.
    pub peers: Vec<(String, SocketAddr)>,
    /// Where this node serves clients.
    pub http_addr: SocketAddr,
    /// Where its WAL and snapshots live.
    pub data_dir: PathBuf,
    /// Election timeout range in milliseconds (lower inclusive, upper exclusive).
    pub election_timeout_ms: (u64, u64),
    /// Heartbeat interval in milliseconds.
    pub heartbeat_ms: u64,
    /// Take a snapshot and compact the log every this many applied entries.
    pub snapshot_every: u64,
    /// The most entries one Append message carries (catch-up goes in steps
    /// of this size).
    pub max_append_entries: usize,
    /// Known Raft bugs to switch on (`--bug`); empty for a correct node.
    pub bugs: Bugs,
    /// The seed of the core's randomness (election timeouts).
    pub seed: u64,
    /// Serve `/debug/failpoints`, where a test harness arms crashes.
    pub failpoints: bool,
    /// The leader sends its Appends before its own fdatasync (Raft thesis
    /// 10.2.1; see [`Config::persist_in_parallel`]).
    pub persist_in_parallel: bool,
}

/// Why a node could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `--id` is not among `--peers`.
    #[error("node {0:?} is not in the peer list")]
    NotAPeer(String),
    /// The WAL or snapshot could not be read or written.
    #[error(transparent)]
    Storage(StorageError),
    /// A snapshot's bytes are not a key-value store.
    #[error("the snapshot does not decode: {0}")]
    Snapshot(bincode::Error),
    /// A listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The peer or client (HTTP) address that could not be bound.
        addr: SocketAddr,
        /// The error `bind` returned (e.g. address in use).
        source: std::io::Error,
    },
    /// The storage lost acknowledged entries and a majority of the cluster
    /// is recovering too: no leader can be elected to give them back.
    #[error("beyond repair: {0}")]
    Unrepairable(String),
}

/// Where the outcome of a request goes.
#[derive(Debug)]
pub enum Reply<T> {
    /// To a handler of this node's own HTTP API.
    Local(oneshot::Sender<T>),
    /// Back over the peer link to the follower that forwarded the request.
    Forwarded {
        /// The follower that forwarded the request; the outcome goes back to it.
        from: NodeId,
        /// The follower's request id.
        id: u64,
    },
}

impl<T: Into<peers::ForwardedReply>> Reply<T> {
    /// Delivers `outcome` (a handler that stopped waiting is not an error).
    pub fn send(self, peers: &peers::Peers, outcome: T) {
        match self {
            Reply::Local(tx) => {
                let _ = tx.send(outcome);
            }
            Reply::Forwarded { from, id } => peers.reply(from, id, outcome.into()),
        }
    }
}

/// The leader as the Raft loop last saw it, for the HTTP handlers: a
/// follower hands writes straight to the leader over the peer link without
/// asking its own Raft loop first. 0: this node leads, or knows no leader.
#[derive(Debug, Clone, Default)]
pub struct LeaderHint(Arc<AtomicU64>);

impl LeaderHint {
    /// The other node this one follows, if any.
    pub fn remote(&self) -> Option<NodeId> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            id => Some(id),
        }
    }

    /// Records the leader `me` knows of.
    pub fn set(&self, me: NodeId, leader: Option<NodeId>) {
        let remote = leader.filter(|&l| l != me).unwrap_or(0);
        self.0.store(remote, Ordering::Relaxed);
    }
}

/// Something for the Raft loop to do.
pub enum Input {
    /// A message from a peer.
    Peer(Message),
    /// A client write; answered when its entry commits (or is lost).
    Write {
        /// The put, cas or append to propose.
        cmd: Command,
        /// Where the outcome goes.
        reply: Reply<Result<Applied, Refusal>>,
    },
    /// A client transaction; one log entry, unless it only reads and
    /// `local` asks for local state.
    Txn {
        /// Its micro-operations.
        ops: Vec<MicroOp>,
        /// Serve a read-only transaction from local state (not linearizable).
        local: bool,
        /// Where the outcome goes.
        reply: Reply<Result<Applied, Refusal>>,
    },
    /// A client read; linearizable unless `local`.
    Read {
        /// The key whose value to read.
        key: String,
        /// Serve from local state without asking anyone (not linearizable).
        local: bool,
        /// Where the value goes.
        reply: Reply<Result<Option<Stored>, Refusal>>,
    },
    /// A `GET /status`: the Raft loop answers with its current [`NodeStatus`].
    Status {
        /// Where the status goes.
        reply: oneshot::Sender<NodeStatus>,
    },
    /// A `GET /state`: the Raft loop answers with its whole state machine
    /// as it holds it now ([`LocalState`]).
    State {
        /// Where the state goes.
        reply: oneshot::Sender<LocalState>,
    },
}

/// This replica's own state machine and the index it reflects: what
/// `GET /state` shows (never through the leader).
#[derive(Debug, Clone)]
pub struct LocalState {
    /// This node's name.
    pub id: String,
    /// The last log index applied to `kv`.
    pub applied_index: u64,
    /// Every key and what it holds.
    pub kv: KvStore,
}

pub use crate::replica::Refusal;

/// The answer to `GET /status`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// This node's name, as given by `--id` (e.g. `n1`).
    pub id: String,
    /// `leader`, `follower`, `candidate` or `pre-candidate`.
    pub role: String,
    /// The latest term the node has seen.
    pub term: u64,
    /// The leader it knows of.
    pub leader: Option<String>,
    /// The highest log index it knows committed (a follower may lag the leader).
    pub commit_index: u64,
    /// The last index applied to the state machine.
    pub applied_index: u64,
    /// Its last log index.
    pub last_log_index: u64,
    /// The first index still held as a log entry.
    pub first_log_index: u64,
    /// The index the log was compacted up to.
    pub snapshot_index: u64,
    /// A non-voting learner recovering entries its damaged storage lost
    /// (protocol-aware recovery): it votes again once a leader gave them back.
    pub recovering: bool,
    /// Keys in the state machine.
    pub keys: usize,
    /// The state machine's digest at `applied_index` (16 hex digits,
    /// [`crate::kv::KvStore::digest`]): nodes that applied the same entries
    /// report the same one.
    pub state_digest: String,
}

/// A running node: the Raft loop thread plus the tasks on the caller's runtime.
pub struct Server {
    raft_thread: JoinHandle<Result<(), ServerError>>,
}

impl Server {
    /// Opens storage, binds both ports and starts the Raft loop. Must be
    /// called inside a tokio runtime (the transport and HTTP tasks run there).
    pub async fn start(cfg: ServerConfig) -> Result<Server, ServerError> {
        let position = cfg
            .peers
            .iter()
            .position(|(name, _)| *name == cfg.name)
            .ok_or_else(|| ServerError::NotAPeer(cfg.name.clone()))?;
        let id = position as NodeId + 1;
        let peer_addr = cfg.peers[position].1;
        let fsync = crate::replica::syncs_writes(&cfg.bugs);
        let (storage, restored) =
            Storage::open(&cfg.data_dir, fsync).map_err(ServerError::Storage)?;
        let snapshot = restored.snapshot.clone();
        let voters: Vec<NodeId> = (1..=cfg.peers.len() as NodeId).collect();
        let mut config = Config::new(id, voters, cfg.seed);
        config.election_ticks_min = ticks(cfg.election_timeout_ms.0).max(2);
        config.election_ticks_max =
            ticks(cfg.election_timeout_ms.1).max(config.election_ticks_min + 1);
        config.heartbeat_ticks = ticks(cfg.heartbeat_ms).max(1);
        config.max_entries_per_msg = cfg.max_append_entries.max(1);
        config.bugs = cfg.bugs.clone();
        config.persist_in_parallel = cfg.persist_in_parallel;
        for bug in cfg.bugs.iter() {
            tracing::warn!(
                bug = bug.name(),
                "KNOWN BUG SWITCHED ON: {}",
                bug.description()
            );
        }
        tracing::info!(
            id = %cfg.name,
            term = restored.hard_state.term,
            entries = restored.entries.len(),
            snapshot_index = snapshot.as_ref().map(|s| s.meta.index).unwrap_or(0),
            "restored from {}",
            cfg.data_dir.display()
        );
        let raft = RaftNode::new(config, restored);

        let (tx, rx) = mpsc::channel();
        let ids: Vec<(NodeId, SocketAddr)> = cfg
            .peers
            .iter()
            .enumerate()
            .map(|(i, (_, addr))| (i as NodeId + 1, *addr))
            .collect();
        let peers = peers::Peers::start(id, peer_addr, cfg.http_addr, &ids, tx.clone())
            .await
            .map_err(|source| ServerError::Bind {
                addr: peer_addr,
                source,
            })?;
        let listener = tokio::net::TcpListener::bind(cfg.http_addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: cfg.http_addr,
                source,
            })?;
        let names: Vec<String> = cfg.peers.iter().map(|(n, _)| n.clone()).collect();
        let failpoints = crate::failpoints::Failpoints::default();
        let leader = LeaderHint::default();
        let shared = raft_loop::Shared {
            peers: peers.clone(),
            failpoints: failpoints.clone(),
            leader_hint: leader.clone(),
        };
        let raft_loop = raft_loop::RaftLoop::new(
            raft,
            storage,
            snapshot.as_ref(),
            shared,
            names.clone(),
            cfg.snapshot_every,
        )?;
        let raft_thread = std::thread::Builder::new()
            .name("raft".into())
            .spawn(move || raft_loop.run(rx))
            .expect("spawning the raft thread");
        let mut app = http::router(http::Api::new(tx, peers, names, leader));
        if cfg.failpoints {
            app = app.merge(failpoint_api::routes(failpoints));
        }
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        });
        tracing::info!(id = %cfg.name, peer = %peer_addr, http = %cfg.http_addr, "serving");
        Ok(Server { raft_thread })
    }

    /// Waits for the Raft loop to stop (it only stops on a storage failure).
    pub fn join(self) -> Result<(), ServerError> {
        self.raft_thread.join().unwrap_or(Ok(()))
    }

    /// Whether the Raft loop has stopped.
    pub fn is_finished(&self) -> bool {
        self.raft_thread.is_finished()
    }
}

fn ticks(ms: u64) -> u32 {
    (ms / raft_loop::TICK.as_millis() as u64).max(1) as u32
}
