#!/usr/bin/env python3
"""Maelstrom `broadcast` and `g-set` workload node.

Client operations:
    topology  {topology: {node: [neighbours]}}  -> topology_ok
    broadcast {message}                         -> broadcast_ok
    add       {element}                         -> add_ok      (g-set)
    read                                        -> read_ok {messages, value}
(`read_ok` carries the set twice: `messages` for broadcast, `value` for
g-set.)

Between nodes: `gossip` {messages: [...]} -> `gossip_ok`. A node that learns
new values (from a client or a neighbour) sends them to each of its
neighbours (from `topology`; every other node until a topology arrives),
except the neighbour it learned them from. The values each neighbour has not
acknowledged are kept per neighbour and sent again, batched, every
`--retry-ms` milliseconds (default 300) until a `gossip_ok` for a message
carrying them comes back, so values lost to a partition arrive after it
heals.

Values are kept in `broadcast-<node>.jsonl` in the working directory (one
value a line, fsynced before the `broadcast_ok`, `add_ok` or `gossip_ok`
that acknowledges them), so a killed node keeps what it acknowledged: on
start it reads the file back (dropping a torn last line) and gossips every
value to all its neighbours again until they acknowledge it (the topology is
not kept: after a restart the neighbours are all other nodes).

Flags:
    --no-retry    send each value to each neighbour once and never again:
                  values dropped by a partition stay lost, which a harness
                  must report (lost elements).
    --retry-ms N  resend period for unacknowledged values.
    --volatile    keep the values in memory only: a killed node forgets
                  them (a harness killing nodes must report lost elements).
"""

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import MALFORMED_REQUEST, Node, RPCError  # noqa: E402


class Broadcast:
    """The broadcast node's state and handlers (all run under the node's
    lock)."""

    def __init__(self, node, retry, retry_s, volatile):
        self.node = node
        self.retry = retry
        self.retry_s = retry_s
        self.volatile = volatile
        self.store = None  # the values file, open for appending
        self.messages = {}  # canonical JSON text -> value
        self.neighbours = None
        # neighbour -> {canonical JSON text: monotonic time last sent}
        self.unacked = {}

    def on_init(self):
        """Read back the values of an earlier life, to gossip them again."""
        if self.volatile or self.store is not None:
            return
        path = f"broadcast-{self.node.node_id}.jsonl"
        values = []
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().split("\n")
            for i, line in enumerate(lines):
                if i == len(lines) - 1:
                    break  # "" after the last newline, or a torn line
                try:
                    values.append(json.loads(line))
                except ValueError as err:
                    sys.exit(f"{path}:{i + 1}: damaged value: {err}")
        with open(path + ".tmp", "w") as f:  # without any torn tail
            f.write("".join(_canonical(v) + "\n" for v in values))
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)
        self.store = open(path, "a")
        for v in values:  # sent by the retry timer, after init_ok
            key = _canonical(v)
            self.messages[key] = v
            if self.retry:
                for nbr in self.my_neighbours():
                    self.unacked.setdefault(nbr, {})[key] = 0.0

    def my_neighbours(self):
        if self.neighbours is None:
            return [n for n in self.node.node_ids if n != self.node.node_id]
        return self.neighbours

    def topology(self, msg):
        topo = msg["body"].get("topology")
        if not isinstance(topo, dict):
            raise RPCError(MALFORMED_REQUEST, "topology must be an object")
        mine = topo.get(self.node.node_id)
        if mine is not None:
            self.neighbours = [n for n in mine if n != self.node.node_id]
        return {"type": "topology_ok"}

    def broadcast(self, msg):
        if "message" not in msg["body"]:
            raise RPCError(MALFORMED_REQUEST, "broadcast needs message")
        self.learn([msg["body"]["message"]], came_from=msg["src"])
        return {"type": "broadcast_ok"}

    def add(self, msg):
        if "element" not in msg["body"]:
            raise RPCError(MALFORMED_REQUEST, "add needs element")
        self.learn([msg["body"]["element"]], came_from=msg["src"])
        return {"type": "add_ok"}

    def read(self, _msg):
        values = list(self.messages.values())
        return {"type": "read_ok", "messages": values, "value": values}

    def gossip(self, msg):
        values = msg["body"].get("messages")
        if not isinstance(values, list):
            raise RPCError(MALFORMED_REQUEST, "gossip needs a messages list")
        self.learn(values, came_from=msg["src"])
        return {"type": "gossip_ok"}

    def learn(self, values, came_from):
        new = []
        for v in values:
            key = _canonical(v)
            if key not in self.messages:
                self.messages[key] = v
                new.append(key)
        if not new:
            return
        if self.store is not None:
            self.store.write("".join(k + "\n" for k in new))
            self.store.flush()
            os.fsync(self.store.fileno())
        for nbr in self.my_neighbours():
            if nbr == came_from:
                continue
            if self.retry:
                pending = self.unacked.setdefault(nbr, {})
                for key in new:
                    pending[key] = 0.0
            else:
                self.node.send(nbr, {"type": "gossip",
                                     "messages": self.values(new),
                                     "msg_id": self.node.new_msg_id()})
        if self.retry:
            self.flush()

    def flush(self):
        """Send every neighbour the unacknowledged values not sent within
        the retry period."""
        now = time.monotonic()
        for nbr, pending in self.unacked.items():
            due = [v for v, sent in pending.items()
                   if now - sent >= self.retry_s]
            if not due:
                continue
            for key in due:
                pending[key] = now
            self.node.rpc(nbr, {"type": "gossip",
                                "messages": self.values(due)},
                          self._acked(nbr, due), timeout=10 * self.retry_s)

    def _acked(self, nbr, values):
        def done(reply):
            if reply is None or reply.get("type") != "gossip_ok":
                return
            pending = self.unacked.get(nbr, {})
            for key in values:
                pending.pop(key, None)
        return done

    def values(self, keys):
        return [self.messages[k] for k in keys]


def _canonical(v):
    """A value's identity: its JSON text with sorted keys (values are
    usually integers, but any JSON works)."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-retry", action="store_true",
                        help="send each value once; never resend")
    parser.add_argument("--retry-ms", type=int, default=300,
                        help="resend period for unacknowledged values")
    parser.add_argument("--volatile", action="store_true",
                        help="keep the values in memory only")
    args = parser.parse_args()
    node = Node()
    state = Broadcast(node, retry=not args.no_retry,
                      retry_s=args.retry_ms / 1000, volatile=args.volatile)
    node.on_init(state.on_init)
    node.on("topology", state.topology)
    node.on("broadcast", state.broadcast)
    node.on("add", state.add)
    node.on("read", state.read)
    node.on("gossip", state.gossip)
    if not args.no_retry:
        node.every(min(0.05, state.retry_s / 2), state.flush)
    node.run()


if __name__ == "__main__":
    main()
