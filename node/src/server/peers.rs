//! The peer transport: one persistent outgoing TCP connection per peer,
//! length-prefixed bincode frames, reconnect with backoff.
//!
//! The Raft loop never blocks on a peer: it hands messages to a bounded
//! per-peer queue and drops them when the queue is full (Raft retries).
//! Outgoing sockets are bound to this node's own peer address, so packets
//! between two nodes can be told apart (and cut) by their addresses.
//! A connection starts with a `Hello` naming the sender and its HTTP
//! address, which is how followers learn where to forward client requests.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc as tmpsc;

use crate::raft::{Message, NodeId};

use super::Input;

/// The largest frame accepted (a snapshot of the whole store travels in one).
const MAX_FRAME: usize = 1 << 30;
/// Messages queued per peer before new ones are dropped.
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
        /// The sender's id.
        id: NodeId,
        /// The sender's HTTP address.
        http_addr: String,
    },
    /// A Raft message.
    Raft(Message),
}

/// The HTTP addresses of peers, learned from their `Hello` frames.
pub type HttpAddrs = Arc<RwLock<HashMap<NodeId, String>>>;

/// The sending side of the transport, used by the Raft loop.
#[derive(Debug, Clone)]
pub struct Peers {
    queues: HashMap<NodeId, tmpsc::Sender<Message>>,
    http_addrs: HttpAddrs,
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
        let http_addrs: HttpAddrs = Arc::default();
        tokio::spawn(accept_loop(listener, inbound, http_addrs.clone()));
        let mut queues = HashMap::new();
        for &(peer, addr) in peers {
            if peer == id {
                continue;
            }
            let (tx, rx) = tmpsc::channel(QUEUE);
            queues.insert(peer, tx);
            let hello = Frame::Hello {
                id,
                http_addr: http_addr.to_string(),
            };
            tokio::spawn(dial_loop(listen, addr, hello, rx));
        }
        Ok(Peers { queues, http_addrs })
    }

    /// Queues `msg` for its receiver; drops it when the queue is full.
    pub fn send(&self, msg: Message) {
        if let Some(q) = self.queues.get(&msg.to) {
            if q.try_send(msg).is_err() {
                tracing::trace!("peer queue full: message dropped");
            }
        }
    }

    /// Where `peer` serves clients, once it has said so.
    pub fn http_addr(&self, peer: NodeId) -> Option<String> {
        self.http_addrs.read().ok()?.get(&peer).cloned()
    }
}

async fn accept_loop(listener: TcpListener, inbound: mpsc::Sender<Input>, http_addrs: HttpAddrs) {
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                let _ = stream.set_nodelay(true);
                let inbound = inbound.clone();
                let http_addrs = http_addrs.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_connection(stream, inbound, http_addrs).await {
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
    http_addrs: HttpAddrs,
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
                if let Ok(mut map) = http_addrs.write() {
                    map.insert(id, http_addr);
                }
            }
            Frame::Raft(msg) => {
                if inbound.send(Input::Peer(msg)).is_err() {
                    return Ok(());
                }
            }
        }
    }
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

async fn dial_loop(
    local: SocketAddr,
    addr: SocketAddr,
    hello: Frame,
    mut rx: tmpsc::Receiver<Message>,
) {
    let mut backoff = Duration::from_millis(20);
    loop {
        // What queued up while disconnected is stale: Raft resends what matters.
        while rx.try_recv().is_ok() {}
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
        match send_frames(stream, &hello, &mut rx).await {
            Ok(()) => return,
            Err(e) => tracing::debug!(%addr, error = %e, "peer link lost"),
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

/// Writes the hello, then batches of queued messages, until the link fails
/// (Err) or the queue closes (Ok).
async fn send_frames(
    stream: TcpStream,
    hello: &Frame,
    rx: &mut tmpsc::Receiver<Message>,
) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(256 * 1024, stream);
    let mut out = Vec::with_capacity(64 * 1024);
    encode(hello, &mut out);
    loop {
        stalled(w.write_all(&out)).await?;
        stalled(w.flush()).await?;
        out.clear();
        match tokio::time::timeout(PING, rx.recv()).await {
            Ok(Some(first)) => encode(&Frame::Raft(first), &mut out),
            Ok(None) => return Ok(()),
            // Idle: say hello again, so the receiver knows the link lives.
            Err(_) => encode(hello, &mut out),
        }
        while out.len() < 1 << 20 {
            match rx.try_recv() {
                Ok(msg) => encode(&Frame::Raft(msg), &mut out),
                Err(_) => break,
            }
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
