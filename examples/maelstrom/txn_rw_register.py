#!/usr/bin/env python3
"""Maelstrom `txn-rw-register` node, totally available (the Gossip Glomers
"totally-available, read-committed transactions" design).

Client operation:
    txn {txn: [[f, key, value], ...]} -> txn_ok {txn: [...]}
with micro-operations `["r", k, null]` (answered with the value of `k`,
`null` for a key never written) and `["w", k, v]`. Anything else is error
12 (malformed request), before any of it is applied.

Every node answers every transaction from its own copy, at once, whatever
the network does: it applies the transaction's micro-operations in order to
its copy, all under the node's lock (so no other transaction sees a part of
it), answers `txn_ok`, and then sends the transaction's writes, as one unit,
to every other node. A node applies such a unit under its lock too, so
other nodes also see a transaction's writes all at once and only the last
write of each key: nobody reads an intermediate write, nor a write of a
transaction that was not applied. That is read committed, and no more: two
nodes may apply two units in different orders, and a node reads what it
has, however old (the checker, held to strict serializability, Maelstrom's
default, finds stale reads, lost updates and the like).

Replication: `replicate {txns: [[id, writes], ...]}` -> `replicate_ok {ids}`;
each node keeps, per peer, the units the peer has not acknowledged and
sends them again, batched, every `--retry-ms` milliseconds (default 300),
so units held back by a partition arrive after it heals. Ids are
`NODE:BOOT:N` (a fresh boot token per process), and a node applies a unit
once. Memory only: a killed node comes back empty and gets only the units
not yet acknowledged to it.

Flags:
    --retry-ms N             resend period for unacknowledged units.
    --replicate-each-write   the bug: send each write to the other nodes as
                             it is applied, one unit per write, while the
                             transaction is still going on. The other nodes
                             then see the writes of a transaction one by
                             one, and a write the transaction overwrites
                             later can be the last one they apply (the
                             network, and the resending after a partition,
                             reorder units): they read intermediate writes,
                             G1b, which read committed forbids.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import MALFORMED_REQUEST, Node, RPCError  # noqa: E402


class Registers:
    """The node's copy and its replication (all under the node's lock)."""

    def __init__(self, node, each_write):
        self.node = node
        self.each_write = each_write
        self.kv = {}
        self.applied = set()  # unit ids applied here
        self.unacked = {}  # peer -> {unit id: writes}
        self.boot = os.urandom(4).hex()
        self.counter = 0

    def peers(self):
        return [n for n in self.node.node_ids if n != self.node.node_id]

    def new_unit(self, writes):
        """Queue `writes` ([[k, v], ...]) for every peer and send them now."""
        self.counter += 1
        uid = f"{self.node.node_id}:{self.boot}:{self.counter}"
        for peer in self.peers():
            self.unacked.setdefault(peer, {})[uid] = writes
            self.send(peer, [[uid, writes]])

    def send(self, peer, units):
        # The timeout only frees the callback: the unit stays queued.
        self.node.rpc(peer, {"type": "replicate", "txns": units},
                      lambda reply, peer=peer: self.acked(peer, reply),
                      timeout=5)

    def acked(self, peer, reply):
        if reply is None or reply.get("type") != "replicate_ok":
            return
        pending = self.unacked.get(peer, {})
        for uid in reply.get("ids", []):
            pending.pop(uid, None)

    def resend(self):
        for peer, pending in self.unacked.items():
            if pending:
                self.send(peer, [[uid, w] for uid, w in pending.items()])

    def on_txn(self, msg):
        txn = msg["body"].get("txn")
        if not isinstance(txn, list) or not all(_mop_ok(m) for m in txn):
            raise RPCError(MALFORMED_REQUEST, f"not a transaction: {txn!r}")
        done, writes = [], []
        for f, k, v in txn:
            if f == "r":
                done.append([f, k, self.kv.get(_key(k))])
                continue
            self.kv[_key(k)] = v
            done.append([f, k, v])
            if self.each_write:
                self.new_unit([[k, v]])
            else:
                writes.append([k, v])
        if writes:
            self.new_unit(writes)
        return {"type": "txn_ok", "txn": done}

    def on_replicate(self, msg):
        ids = []
        for uid, writes in msg["body"].get("txns", []):
            if uid not in self.applied:
                self.applied.add(uid)
                for k, v in writes:
                    self.kv[_key(k)] = v
            ids.append(uid)
        return {"type": "replicate_ok", "ids": ids}


def _mop_ok(mop):
    return (isinstance(mop, list) and len(mop) == 3 and mop[0] in ("r", "w")
            and (mop[0] == "w" or mop[2] is None))


def _key(k):
    """Keys as dictionary keys (JSON keys may be numbers or strings)."""
    return repr(k)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--retry-ms", type=int, default=300)
    ap.add_argument("--replicate-each-write", action="store_true")
    args = ap.parse_args()
    node = Node()
    regs = Registers(node, args.replicate_each_write)
    node.on("txn", regs.on_txn)
    node.on("replicate", regs.on_replicate)
    node.every(args.retry_ms / 1000, regs.resend)
    node.run()


if __name__ == "__main__":
    main()
