//! The peer transport: one persistent outgoing TCP connection per peer,
//! length-prefixed bincode frames, reconnect with backoff.
//!
//! The Raft loop never blocks on a peer: it hands messages to a bounded
//! per-peer outbox that drops its oldest message when full (Raft retries).
//! What queues up while a link is down is delivered when it is back, as a
//! slow network would: Raft must cope with late messages, and a transport
//! that silently discarded them would hide bugs from the harness.
//! Outgoing sockets are bound to this node's own peer address, so packets
//! between two nodes can be told apart (and cut) by their addresses.
//! A connection starts with a `Hello` naming the sender and its HTTP
//! address. Followers forward client requests to the leader over the same
//! links (`Forward` / `ForwardReply` frames): no second HTTP hop.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, Notify};

use crate::kv::{Applied, Command, Stored};
use crate::raft::{Message, NodeId};

use super::{Input, Refusal, Reply};

/// The largest frame accepted (a snapshot of the whole store travels in one).
const MAX_FRAME: usize = 1 << 30;
/// Messages queued per peer before the oldest are dropped.
const QUEUE: usize = 4096;
/// How long a write may stall (a partition, a paused peer) before the
/// connection is dropped and redialled.
const WRITE_STALL: Duration = Duration::from_millis(1500);
/// How often an idle outgoing link says hello again.
const PING: Duration = Duration::from_secs(1);
/// How long an incoming connection may stay silent before it is closed
/// (the dialer pings every [`PING`]: a silent link is a dead one).
const READ_IDLE: Duration = Duration::from_secs(5);

/// One frame on a peer connection.
#[derive(Debug, Serialize, Deserialize)]
enum Frame {
    /// The first frame: who is calling and where it serves clients.
    Hello {
        /// The sender's Raft id (its 1-based position in `--peers`).
        id: NodeId,
        /// The sender's HTTP address.
        http_addr: String,
    },
    /// A Raft message, handed to the Raft loop as is.
    Raft(Message),
    /// A client request a follower hands to the leader.
    Forward {
        /// The follower's request id.
        id: u64,
        /// The follower's id: where the `ForwardReply` goes.
        from: NodeId,
        /// The write or read the leader runs for the follower's client.
        req: Forwarded,
    },
    /// The leader's answer to a `Forward`.
    ForwardReply {
        /// The follower's request id.
        id: u64,
        /// What the leader's Raft loop answered, a refusal included.
        reply: ForwardedReply,
    },
}

/// A client request forwarded to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Forwarded {
    /// A put, cas or append to propose.
    Write(Command),
    /// A read; the leader serves it linearizably (ReadIndex), never from stale state.
    Read {
        /// The key whose value to read.
        key: String,
    },
}

/// The leader's outcome of a forwarded request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ForwardedReply {
    /// The answer to a forwarded write.
    Write(Result<Applied, Refusal>),
    /// The answer to a forwarded read.
    Read(Result<Option<Stored>, Refusal>),
}

impl From<Result<Applied, Refusal>> for ForwardedReply {
    fn from(outcome: Result<Applied, Refusal>) -> Self {
        ForwardedReply::Write(outcome)
    }
}

impl From<Result<Option<Stored>, Refusal>> for ForwardedReply {
    fn from(outcome: Result<Option<Stored>, Refusal>) -> Self {
        ForwardedReply::Read(outcome)
    }
}

/// The HTTP addresses of peers, learned from their `Hello` frames.
pub type HttpAddrs = Arc<RwLock<HashMap<NodeId, String>>>;

/// The frames waiting for one peer's link, newest kept.
#[derive(Debug, Default)]
struct Outbox {
    queue: Mutex<VecDeque<Frame>>,
    ready: Notify,
    /// Frames ever queued; `flush` waits until `settled` reaches it.
    pushed: AtomicU64,
    /// Frames written to the socket (or dropped when the queue was full).
    settled: AtomicU64,
}

impl Outbox {
    /// Queues `msg`, dropping the oldest frame when full.
    fn push(&self, msg: Frame) {
        {
            let mut q = self.queue.lock().expect("outbox lock");
            if q.len() >= QUEUE {
                q.pop_front();
                self.settled.fetch_add(1, Ordering::SeqCst);
                tracing::trace!("peer outbox full: oldest message dropped");
            }
            q.push_back(msg);
            self.pushed.fetch_add(1, Ordering::SeqCst);
        }
        self.ready.notify_one();
    }

    /// Encodes queued messages into `out` (up to about 1 MiB); how many.
    fn take_into(&self, out: &mut Vec<u8>) -> u64 {
        let mut q = self.queue.lock().expect("outbox lock");
        let mut taken = 0;
        while out.len() < 1 << 20 {
            match q.pop_front() {
                Some(frame) => {
                    encode(&frame, out);
                    taken += 1;
                }
                None => break,
            }
        }
        taken
    }
}

/// Where a process's forward ids start: a random point, different in
/// every life of a node. The leader answers a forwarded request by sender
/// and id alone, and may answer long after (a write when it commits), so
/// ids a restarted node reused would let the answer meant for its previous
/// life settle a new request: a client told `not-leader` for a write the
/// leader goes on to commit.
fn first_forward_id() -> u64 {
    rand::random::<u64>() >> 1
}

/// What the transport's tasks share.
#[derive(Debug)]
struct Links {
    id: NodeId,
    outboxes: HashMap<NodeId, Arc<Outbox>>,
    http_addrs: HttpAddrs,
    /// Forwarded requests waiting for the leader's answer, by id.
    pending: Mutex<HashMap<u64, oneshot::Sender<ForwardedReply>>>,
    next_id: AtomicU64,
}

impl Links {
    fn push(&self, to: NodeId, frame: Frame) -> bool {
        match self.outboxes.get(&to) {
            Some(outbox) => {
                outbox.push(frame);
                true
            }
            None => false,
        }
    }
}

/// The sending side of the transport, used by the Raft loop and the HTTP API.
#[derive(Debug, Clone)]
pub struct Peers {
    links: Arc<Links>,
}

impl Peers {
    /// Starts the listener on `listen` and one dialer per peer. Incoming
    /// Raft messages go to `inbound`. Must be called inside a tokio runtime.
    pub async fn start(
        id: NodeId,
        listen: SocketAddr,
        http_addr: SocketAddr,
        peers: &[(NodeId, SocketAddr)],
        inbound: mpsc::Sender<Input>,
    ) -> io::Result<Peers> {
        let listener = TcpListener::bind(listen).await?;
        let mut outboxes = HashMap::new();
        for &(peer, addr) in peers {
            if peer == id {
                continue;
            }
            let outbox = Arc::new(Outbox::default());
            outboxes.insert(peer, outbox.clone());
            let hello = Frame::Hello {
                id,
                http_addr: http_addr.to_string(),
            };
            tokio::spawn(dial_loop(listen, addr, hello, outbox));
        }
        let links = Arc::new(Links {
            id,
            outboxes,
            http_addrs: Arc::default(),
            pending: Mutex::default(),
            next_id: AtomicU64::new(first_forward_id()),
        });
        tokio::spawn(accept_loop(listener, inbound, links.clone()));
        Ok(Peers { links })
    }

    /// Queues `msg` for its receiver (never blocks).
    pub fn send(&self, msg: Message) {
        self.links.push(msg.to, Frame::Raft(msg));
    }

    /// Blocks until every message queued so far for `to` has been written
    /// to its socket, at most `limit`; whether they were. For failpoints:
    /// a node about to crash on purpose first lets its last words out.
    pub fn flush(&self, to: NodeId, limit: Duration) -> bool {
        let Some(outbox) = self.links.outboxes.get(&to) else {
            return true;
        };
        let target = outbox.pushed.load(Ordering::SeqCst);
        let deadline = Instant::now() + limit;
        while outbox.settled.load(Ordering::SeqCst) < target {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }

    /// Hands `req` to `leader`; the answer arrives on the returned channel
    /// (never, when the link or the leader fails: the caller bounds its wait
    /// and then calls [`Peers::forgotten`] with the returned id). None when
    /// `leader` is not a peer.
    pub fn forward(
        &self,
        leader: NodeId,
        req: Forwarded,
    ) -> Option<(u64, oneshot::Receiver<ForwardedReply>)> {
        let id = self.links.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.links.pending.lock().ok()?.insert(id, tx);
        let frame = Frame::Forward {
            id,
            from: self.links.id,
            req,
        };
        if !self.links.push(leader, frame) {
            self.forgotten(id);
            return None;
        }
        Some((id, rx))
    }

    /// The leader's side: sends the outcome of `from`'s forwarded request `id`.
    pub fn reply(&self, from: NodeId, id: u64, reply: ForwardedReply) {
        self.links.push(from, Frame::ForwardReply { id, reply });
    }

    /// Drops a forwarded request nobody waits for any more.
    pub fn forgotten(&self, id: u64) {
        if let Ok(mut p) = self.links.pending.lock() {
            p.remove(&id);
        }
    }

    /// Where `peer` serves clients, once it has said so.
    pub fn http_addr(&self, peer: NodeId) -> Option<String> {
        self.links.http_addrs.read().ok()?.get(&peer).cloned()
    }
}

async fn accept_loop(listener: TcpListener, inbound: mpsc::Sender<Input>, links: Arc<Links>) {
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                let _ = stream.set_nodelay(true);
                let inbound = inbound.clone();
                let links = links.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_connection(stream, inbound, links).await {
                        tracing::debug!(%from, error = %e, "peer connection closed");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accepting a peer connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    inbound: mpsc::Sender<Input>,
    links: Arc<Links>,
) -> io::Result<()> {
    let mut reader = tokio::io::BufReader::with_capacity(256 * 1024, stream);
    let mut buf = Vec::new();
    loop {
        let frame = match tokio::time::timeout(READ_IDLE, read_frame(&mut reader, &mut buf)).await {
            Ok(frame) => frame?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "peer silent")),
        };
        match frame {
            Frame::Hello { id, http_addr } => {
                if let Ok(mut map) = links.http_addrs.write() {
                    map.insert(id, http_addr);
                }
            }
            Frame::Raft(msg) => {
                if inbound.send(Input::Peer(msg)).is_err() {
                    return Ok(());
                }
            }
            Frame::Forward { id, from, req } => serve_forwarded(&inbound, id, from, req),
            Frame::ForwardReply { id, reply } => {
                let waiting = links.pending.lock().ok().and_then(|mut p| p.remove(&id));
                if let Some(tx) = waiting {
                    let _ = tx.send(reply);
                }
            }
        }
    }
}

/// The leader's side of a forwarded request: hand it to the Raft loop, which
/// sends the outcome back to `from` itself. The follower bounds its wait.
fn serve_forwarded(inbound: &mpsc::Sender<Input>, id: u64, from: NodeId, req: Forwarded) {
    let input = match req {
        Forwarded::Write(cmd) => Input::Write {
            cmd,
            reply: Reply::Forwarded { from, id },
        },
        Forwarded::Read { key } => Input::Read {
            key,
            local: false,
            reply: Reply::Forwarded { from, id },
        },
    };
    let _ = inbound.send(input);
}

async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<Frame> {
    let len = r.read_u32_le().await? as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    buf.resize(len, 0);
    r.read_exact(buf).await?;
    bincode::deserialize(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn encode(frame: &Frame, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    bincode::serialize_into(&mut *out, frame).expect("frames always serialize");
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

async fn dial_loop(local: SocketAddr, addr: SocketAddr, hello: Frame, outbox: Arc<Outbox>) {
    let mut backoff = Duration::from_millis(20);
    loop {
        let stream = match connect(local, addr).await {
            Ok(s) => s,
            Err(e) => {
                tracing::trace!(%addr, error = %e, "dial failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
                continue;
            }
        };
        backoff = Duration::from_millis(20);
        tracing::debug!(%addr, "peer connected");
        if let Err(e) = send_frames(stream, &hello, &outbox).await {
            tracing::debug!(%addr, error = %e, "peer link lost");
        }
    }
}

async fn connect(local: SocketAddr, addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(local.ip(), 0))?;
    let stream = tokio::time::timeout(Duration::from_millis(500), socket.connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes the hello, then batches of queued messages, until the link fails.
async fn send_frames(stream: TcpStream, hello: &Frame, outbox: &Outbox) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(256 * 1024, stream);
    let mut out = Vec::with_capacity(64 * 1024);
    encode(hello, &mut out);
    let mut taken = 0;
    loop {
        let written = async {
            stalled(w.write_all(&out)).await?;
            stalled(w.flush()).await
        }
        .await;
        // Written, or lost with the link: either way no longer pending.
        outbox.settled.fetch_add(taken, Ordering::SeqCst);
        written?;
        out.clear();
        loop {
            taken = outbox.take_into(&mut out);
            if taken > 0 {
                break;
            }
            if tokio::time::timeout(PING, outbox.ready.notified())
                .await
                .is_err()
            {
                // Idle: say hello again, so the receiver knows the link lives.
                encode(hello, &mut out);
                break;
            }
            // Woken by the first frame: let the other tasks that are ready
            // (HTTP handlers forwarding their requests) queue theirs too,
            // so that one write carries them all.
            tokio::task::yield_now().await;
        }
    }
}

async fn stalled<F: std::future::Future<Output = io::Result<()>>>(f: F) -> io::Result<()> {
    tokio::time::timeout(WRITE_STALL, f)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write stalled"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::MessageBody;

    #[test]
    fn a_full_outbox_keeps_the_newest_messages() {
        let outbox = Outbox::default();
        for term in 0..(QUEUE as u64 + 10) {
            outbox.push(Frame::Raft(Message {
                from: 1,
                to: 2,
                term,
                body: MessageBody::HeartbeatResp { ctx: 0 },
            }));
        }
        let q = outbox.queue.lock().unwrap();
        assert_eq!(q.len(), QUEUE);
        let term = |f: Option<&Frame>| match f {
            Some(Frame::Raft(m)) => m.term,
            other => panic!("{other:?}"),
        };
        assert_eq!(term(q.front()), 10);
        assert_eq!(term(q.back()), QUEUE as u64 + 9);
    }

    #[test]
    fn a_restarted_node_does_not_reuse_the_ids_of_its_forwards() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
            let leader: SocketAddr = "127.0.0.1:9".parse().unwrap();
            let mut first_ids = Vec::new();
            for _life in 0..2 {
                let (tx, _rx) = mpsc::channel();
                let peers = Peers::start(1, listen, listen, &[(2, leader)], tx)
                    .await
                    .unwrap();
                let (id, _answer) = peers
                    .forward(2, Forwarded::Read { key: "k".into() })
                    .expect("the leader is a peer");
                first_ids.push(id);
            }
            assert_ne!(
                first_ids[0], first_ids[1],
                "a late answer to the first life's request would settle the second's"
            );
        });
    }

    #[test]
    fn frames_round_trip() {
        let msg = Message {
            from: 1,
            to: 2,
            term: 3,
            body: MessageBody::Heartbeat { commit: 4, ctx: 5 },
        };
        let mut out = Vec::new();
        encode(&Frame::Raft(msg.clone()), &mut out);
        encode(
            &Frame::Hello {
                id: 1,
                http_addr: "127.0.0.1:8001".into(),
            },
            &mut out,
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut r = &out[..];
            let mut buf = Vec::new();
            match read_frame(&mut r, &mut buf).await.unwrap() {
                Frame::Raft(m) => assert_eq!(m, msg),
                other => panic!("{other:?}"),
            }
            match read_frame(&mut r, &mut buf).await.unwrap() {
                Frame::Hello { id, http_addr } => {
                    assert_eq!((id, http_addr.as_str()), (1, "127.0.0.1:8001"))
                }
                other => panic!("{other:?}"),
            }
            assert!(read_frame(&mut r, &mut buf).await.is_err(), "end of input");
        });
    }
}
