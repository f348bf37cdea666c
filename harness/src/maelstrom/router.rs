//! The router: the one thread every message goes through.
//!
//! Nodes talk only to the router (their stdout in, their stdin out);
//! clients and the built-in services too. The router parses every line a
//! node prints, names the node and the line when it breaks the protocol,
//! and delivers: to a node through that node's own writer queue (a paused
//! node, whose pipe fills, never blocks the others), to a client through
//! its channel, to a service by answering at once.
//!
//! Network faults live here, not in a packet filter, because Maelstrom
//! nodes have no network of their own:
//!
//! - latency (constant, uniform or exponential) on every hop between nodes
//!   and between nodes and services, none on client links;
//! - packet loss on node-to-node messages;
//! - partitions as a grudge (directed pairs that cannot talk), applied at
//!   delivery: a message in flight when a partition starts is dropped.
//!
//! A node may write any known node's or client's id into `src`, as
//! Maelstrom's network allows: Maelstrom's tutorial Raft has a follower
//! re-send a client's request to the leader with only `dest` changed, so
//! the leader answers the client directly. A `src` that names no node and
//! no client (open, retired or the setup client `c0`) is a protocol breach.
//! Faults follow the process that emitted a message (whose stdout it came
//! from), not its `src`: a grudge, packet loss and node-hop latency apply
//! to the follower's re-sent request as to any message between those two
//! nodes. Maelstrom partitions by `src`, so there the re-sent request,
//! which carries a client's id, crosses every partition; here it does not.
//!
//! The router also runs each node's setup: `init` (and, for broadcast,
//! `topology`) from client `c0`, at start and after every restart, each
//! answered within [`SETUP_TIMEOUT`] or the node is named as broken.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};

use super::journal::Journal;
use super::protocol::{parse_line, Envelope, LineError};
use super::services::Services;

mod breach;

pub use breach::{BadNode, Breach};

/// The client id the harness sets nodes up from (`init`, `topology`).
pub const SETUP_CLIENT: &str = "c0";
/// How long a node has to answer `init` (and `topology`), as in Maelstrom.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// The ChaCha stream of the router's draws (latency, loss, stale reads).
const ROUTER_STREAM: u64 = 7;

/// How message latency is distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LatencyDist {
    /// Every message takes exactly the latency.
    Constant,
    /// Uniform between 0 and twice the latency.
    Uniform,
    /// Exponential with the latency as its mean.
    Exponential,
}

/// Message latency on node-to-node and node-to-service hops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// The mean (constant: the value), milliseconds.
    pub mean_ms: f64,
    /// Its distribution.
    pub dist: LatencyDist,
}

impl Latency {
    fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        if self.mean_ms <= 0.0 {
            return Duration::ZERO;
        }
        let ms = match self.dist {
            LatencyDist::Constant => self.mean_ms,
            LatencyDist::Uniform => rng.gen_range(0.0..2.0 * self.mean_ms),
            LatencyDist::Exponential => {
                let u: f64 = rng.gen_range(f64::EPSILON..1.0);
                -self.mean_ms * u.ln()
            }
        };
        Duration::from_secs_f64(ms / 1000.0)
    }
}

/// What the router is told.
pub enum Input {
    /// A line node `node` printed on stdout (`generation`: which start of it).
    NodeLine {
        /// The node's index.
        node: usize,
        /// Which process of the node printed it.
        generation: u64,
        /// The line, without its newline.
        line: String,
    },
    /// A client's request.
    Client(Envelope),
    /// Node `node` runs (again): write to it through `stdin`, set it up.
    Attach {
        /// The node's index.
        node: usize,
        /// Which process of the node this is.
        generation: u64,
        /// Its writer queue.
        stdin: mpsc::Sender<String>,
    },
    /// Node `node` is down: messages to it are dropped.
    Detach {
        /// The node's index.
        node: usize,
    },
    /// A client joins: its replies go to `replies`.
    OpenClient {
        /// Its id (`c3`).
        id: String,
        /// Where its replies go.
        replies: tokio::sync::mpsc::UnboundedSender<Envelope>,
    },
    /// A client is done: later replies to it are dropped.
    CloseClient {
        /// Its id.
        id: String,
    },
    /// The directed pairs (from, to) that cannot talk, replacing any.
    SetGrudge(HashSet<(usize, usize)>),
    /// Drop this percentage of node-to-node messages (None: none).
    SetLoss(Option<u8>),
    /// Test time zero: the journal's clock restarts here.
    Zero(Instant),
    /// End the router.
    Stop,
}

/// What the router shares with the run while it runs.
#[derive(Debug, Default)]
pub struct Status {
    /// Nodes that broke the protocol, in the order found.
    pub bad: Vec<BadNode>,
    /// Whether each node answered its setup since it last started.
    pub ready: Vec<bool>,
}

/// How the router is configured.
pub struct RouterConfig {
    /// The node ids, by index (`n0`, `n1`, ...).
    pub ids: Vec<String>,
    /// Latency on node hops.
    pub latency: Latency,
    /// Who each node's neighbours are (broadcast), sent after `init`.
    pub topology: Option<BTreeMap<String, Vec<String>>>,
    /// Seed of the router's draws.
    pub seed: u64,
}

/// The running router: its input and what it shares.
pub struct Router {
    tx: mpsc::Sender<Input>,
    status: Arc<Mutex<Status>>,
    join: Option<JoinHandle<std::io::Result<()>>>,
}

impl Router {
    /// Starts the router thread, journaling into `journal`.
    pub fn start(config: RouterConfig, journal: Journal) -> std::io::Result<Router> {
        let (tx, rx) = mpsc::channel();
        let status = Arc::new(Mutex::new(Status {
            bad: Vec::new(),
            ready: vec![false; config.ids.len()],
        }));
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(ROUTER_STREAM);
        let state = State {
            nodes: config.ids.iter().map(|_| None).collect(),
            index: config
                .ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect(),
            ids: config.ids,
            latency: config.latency,
            topology: config.topology,
            clients: HashMap::new(),
            retired: HashSet::new(),
            grudge: HashSet::new(),
            loss: None,
            services: Services::new(),
            rng,
            queue: BinaryHeap::new(),
            seq: 0,
            setup_ids: 0,
            journal,
            status: status.clone(),
        };
        let join = std::thread::Builder::new()
            .name("maelstrom-router".into())
            .spawn(move || state.run(rx))?;
        Ok(Router {
            tx,
            status,
            join: Some(join),
        })
    }

    /// A sender of inputs (for the platform and the clients).
    pub fn sender(&self) -> mpsc::Sender<Input> {
        self.tx.clone()
    }

    /// The nodes found broken so far.
    pub fn bad_nodes(&self) -> Vec<BadNode> {
        self.lock().bad.clone()
    }

    /// Records a node found broken outside the router (an exit).
    pub fn report(&self, bad: BadNode) {
        self.lock().bad.push(bad);
    }

    /// Whether every node answered its setup.
    pub fn all_ready(&self) -> bool {
        self.lock().ready.iter().all(|r| *r)
    }

    /// The first node (index) that has not answered its setup, if any.
    pub fn first_not_ready(&self) -> Option<usize> {
        self.lock().ready.iter().position(|r| !*r)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the router and flushes the journal.
    pub fn stop(&mut self) -> std::io::Result<()> {
        let _ = self.tx.send(Input::Stop);
        match self.join.take() {
            Some(j) => j
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the router thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A node process the router writes to.
struct Link {
    generation: u64,
    stdin: mpsc::Sender<String>,
    /// The setup message it must answer, and by when.
    setup: Option<Setup>,
}

struct Setup {
    what: &'static str,
    msg_id: u64,
    line: String,
    deadline: Instant,
}

/// A message waiting for its latency to pass.
struct Delayed {
    at: Instant,
    seq: u64,
    id: u64,
    /// The node whose stdout it came from (None: a client or a service).
    from: Option<usize>,
    msg: Envelope,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct State {
    ids: Vec<String>,
    index: HashMap<String, usize>,
    nodes: Vec<Option<Link>>,
    latency: Latency,
    topology: Option<BTreeMap<String, Vec<String>>>,
    clients: HashMap<String, tokio::sync::mpsc::UnboundedSender<Envelope>>,
    retired: HashSet<String>,
    grudge: HashSet<(usize, usize)>,
    loss: Option<u8>,
    services: Services,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Reverse<Delayed>>,
    seq: u64,
    setup_ids: u64,
    journal: Journal,
    status: Arc<Mutex<Status>>,
}

impl State {
    fn run(mut self, rx: mpsc::Receiver<Input>) -> std::io::Result<()> {
        loop {
            let wait = self.next_wake().saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(Input::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(input) => self.handle(input),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.deliver_due();
            self.check_setups();
        }
        self.journal.finish()
    }

    fn next_wake(&self) -> Instant {
        let mut wake = Instant::now() + Duration::from_millis(50);
        if let Some(Reverse(d)) = self.queue.peek() {
            wake = wake.min(d.at);
        }
        wake
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn breach(&mut self, node: usize, breach: Breach, line: &str) {
        let bad = BadNode {
            node: self.ids[node].clone(),
            breach,
            line: line.to_string(),
        };
        tracing::warn!("{bad}");
        self.status().bad.push(bad);
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::NodeLine {
                node,
                generation,
                line,
            } => {
                let current = self.nodes[node].as_ref().map(|l| l.generation);
                if current == Some(generation) {
                    self.node_line(node, &line);
                }
            }
            Input::Client(msg) => {
                let id = self.journal.send(&msg);
                self.route(id, None, msg);
            }
            Input::Attach {
                node,
                generation,
                stdin,
            } => {
                self.status().ready[node] = false;
                self.nodes[node] = Some(Link {
                    generation,
                    stdin,
                    setup: None,
                });
                let body = json!({
                    "type": "init",
                    "node_id": self.ids[node],
                    "node_ids": self.ids,
                });
                self.send_setup(node, "init", body);
            }
            Input::Detach { node } => {
                self.nodes[node] = None;
                self.status().ready[node] = false;
            }
            Input::OpenClient { id, replies } => {
                self.clients.insert(id, replies);
            }
            Input::CloseClient { id } => {
                self.clients.remove(&id);
                self.retired.insert(id);
            }
            Input::SetGrudge(g) => self.grudge = g,
            Input::SetLoss(l) => self.loss = l,
            Input::Zero(at) => self.journal.set_zero(at),
            Input::Stop => {}
        }
    }

    /// Sends a setup message from [`SETUP_CLIENT`] to `node`.
    fn send_setup(&mut self, node: usize, what: &'static str, mut body: Value) {
        self.setup_ids += 1;
        body["msg_id"] = self.setup_ids.into();
        let msg = Envelope::new(SETUP_CLIENT, self.ids[node].clone(), body);
        let line = msg.to_line();
        if let Some(link) = self.nodes[node].as_mut() {
            link.setup = Some(Setup {
                what,
                msg_id: self.setup_ids,
                line,
                deadline: Instant::now() + SETUP_TIMEOUT,
            });
        }
        let id = self.journal.send(&msg);
        self.route(id, None, msg);
    }

    fn check_setups(&mut self) {
        let now = Instant::now();
        let mut late = Vec::new();
        for (i, link) in self.nodes.iter_mut().enumerate() {
            if let Some(l) = link {
                if l.setup.as_ref().is_some_and(|s| s.deadline <= now) {
                    let s = l.setup.take().expect("checked above");
                    late.push((i, s));
                }
            }
        }
        for (i, s) in late {
            self.breach(i, Breach::NoSetupReply(s.what.to_string()), &s.line);
        }
    }

    /// A reply to the setup client: the node's setup moves on.
    fn setup_reply(&mut self, node: usize, msg: &Envelope, line: &str) {
        let Some(link) = self.nodes[node].as_mut() else {
            return;
        };
        let Some(setup) = link.setup.as_ref() else {
            return;
        };
        if msg.in_reply_to() != Some(setup.msg_id) {
            return;
        }
        let what = setup.what;
        link.setup = None;
        if msg.kind() != format!("{what}_ok") {
            self.breach(node, Breach::BadSetupReply(what.to_string()), line);
            return;
        }
        let neighbours = self
            .topology
            .as_ref()
            .map(|t| t.get(&self.ids[node]).cloned().unwrap_or_default());
        match (what, neighbours) {
            ("init", Some(_)) => {
                let topology = self.topology.clone().unwrap_or_default();
                self.send_setup(
                    node,
                    "topology",
                    json!({"type": "topology", "topology": topology}),
                );
            }
            _ => self.status().ready[node] = true,
        }
    }

    fn node_line(&mut self, node: usize, line: &str) {
        let msg = match parse_line(line) {
            Ok(m) => m,
            Err(LineError::MissingSrc) => {
                return self.breach(node, Breach::BadLine("missing \"src\"".into()), line)
            }
            Err(e) => return self.breach(node, Breach::BadLine(e.to_string()), line),
        };
        if !self.index.contains_key(&msg.src) && !self.is_a_client(&msg.src) {
            let src = msg.src.clone();
            return self.breach(node, Breach::WrongSrc(src), line);
        }
        let dest = msg.dest.as_str();
        let to_client = self.is_a_client(dest);
        let known = to_client || self.index.contains_key(dest) || Services::is_service(dest);
        if !known {
            let dest = dest.to_string();
            return self.breach(node, Breach::UnknownDest(dest), line);
        }
        if to_client && msg.in_reply_to().is_none() {
            return self.breach(node, Breach::ReplyWithoutInReplyTo, line);
        }
        let id = self.journal.send(&msg);
        if dest == SETUP_CLIENT {
            self.journal.deliver(id);
            self.setup_reply(node, &msg, line);
            return;
        }
        self.route(id, Some(node), msg);
    }

    /// Whether `id` names a client of this run: the setup client, an open
    /// one or a retired one.
    fn is_a_client(&self, id: &str) -> bool {
        id == SETUP_CLIENT || self.clients.contains_key(id) || self.retired.contains(id)
    }

    /// Sends message `id` on its way: after its latency on node hops, at
    /// once to clients.
    fn route(&mut self, id: u64, from: Option<usize>, msg: Envelope) {
        let to_client = !self.index.contains_key(&msg.dest) && !Services::is_service(&msg.dest);
        let delay = if to_client || (from.is_none() && is_client(&msg.src)) {
            Duration::ZERO
        } else {
            self.latency.sample(&mut self.rng)
        };
        if delay.is_zero() {
            self.deliver(id, from, msg);
        } else {
            self.seq += 1;
            self.queue.push(Reverse(Delayed {
                at: Instant::now() + delay,
                seq: self.seq,
                id,
                from,
                msg,
            }));
        }
    }

    fn deliver_due(&mut self) {
        let now = Instant::now();
        while self.queue.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Some(Reverse(d)) = self.queue.pop() else {
                break;
            };
            self.deliver(d.id, d.from, d.msg);
        }
    }

    /// Delivers message `id` now, unless a fault stops it: partitions and
    /// loss go by `from`, the node that emitted it, whatever its `src` says.
    fn deliver(&mut self, id: u64, from: Option<usize>, msg: Envelope) {
        if let Some(&to) = self.index.get(&msg.dest) {
            if let Some(f) = from {
                if self.grudge.contains(&(f, to)) {
                    return self.journal.drop_message(id, "partition");
                }
                if let Some(p) = self.loss {
                    if self.rng.gen_range(0..100u32) < u32::from(p) {
                        return self.journal.drop_message(id, "loss");
                    }
                }
            }
            let sent = self.nodes[to]
                .as_ref()
                .is_some_and(|l| l.stdin.send(msg.to_line()).is_ok());
            if sent {
                self.journal.deliver(id);
            } else {
                self.journal.drop_message(id, "node down");
            }
        } else if Services::is_service(&msg.dest) {
            self.journal.deliver(id);
            let reply = self
                .services
                .handle(&msg.dest, &msg.src, &msg.body, &mut self.rng);
            if let Some(body) = reply {
                let reply = Envelope::new(msg.dest.clone(), msg.src.clone(), body);
                let rid = self.journal.send(&reply);
                self.route(rid, None, reply);
            }
        } else if let Some(tx) = self.clients.get(&msg.dest) {
            if tx.send(msg).is_ok() {
                self.journal.deliver(id);
            } else {
                self.journal.drop_message(id, "client gone");
            }
        } else {
            self.journal.drop_message(id, "client retired");
        }
    }
}

/// Whether `id` names a client (`c` and a number).
pub fn is_client(id: &str) -> bool {
    id.strip_prefix('c')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests;
