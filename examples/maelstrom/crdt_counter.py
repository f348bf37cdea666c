#!/usr/bin/env python3
"""Maelstrom `g-counter` and `pn-counter` node: a counter kept as a
state-based CRDT (a PN-counter), in the manner of Maelstrom's CRDT demos
(demo/js/crdt_pn_counter.js).

    add  {delta}  -> add_ok          (delta may be negative)
    read          -> read_ok {value: the sum this node knows of}

A PN-counter is two grow-only counters, one for increments and one for
decrements. Each holds one total per node, and only that node raises its
own total: `add` with delta 3 on n1 raises n1's increment total by 3, with
delta -2 its decrement total by 2. The value is the sum of all increment
totals minus the sum of all decrement totals. Two copies merge by keeping,
for each node, the larger total of the two; totals only grow, so the larger
one is the newer, and merging in any order, any number of times, gives the
same counter. (Under the `g-counter` workload every delta is >= 0 and the
decrement half stays empty.)

Every node answers from its own copy at once. Every `--gossip-ms` (default
5000, the demos' period) it sends both halves to every other node in a
`replicate` {inc, dec} message, unacknowledged; the next round carries the
whole state again, so after a partition heals every node reads the full sum
within one round.

The counter lives in memory only: a killed node comes back at zero for its
own totals. It takes its old totals back from the others' next round, but
an add it acknowledged before telling anyone, or one it makes before that
round arrives, is lost (merging keeps the larger total, not the sum).
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import Node  # noqa: E402


class GCounter:
    """A grow-only counter: one total per node, merged by maximum."""

    def __init__(self):
        self.totals = {}

    def add(self, node_id, amount):
        self.totals[node_id] = self.totals.get(node_id, 0) + amount

    def value(self):
        return sum(self.totals.values())

    def merge(self, other):
        for node_id, total in other.items():
            self.totals[node_id] = max(self.totals.get(node_id, 0), total)


class PNCounter:
    """Increments and decrements, each a grow-only counter."""

    def __init__(self):
        self.inc = GCounter()
        self.dec = GCounter()

    def add(self, node_id, delta):
        if delta >= 0:
            self.inc.add(node_id, delta)
        else:
            self.dec.add(node_id, -delta)

    def value(self):
        return self.inc.value() - self.dec.value()

    def state(self):
        return {"inc": dict(self.inc.totals), "dec": dict(self.dec.totals)}

    def merge(self, state):
        self.inc.merge(state["inc"])
        self.dec.merge(state["dec"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gossip-ms", type=int, default=5000,
                        help="period of the full-state gossip to every peer")
    args = parser.parse_args()
    node = Node()
    crdt = PNCounter()

    def add(msg):
        crdt.add(node.node_id, msg["body"]["delta"])
        return {"type": "add_ok"}

    def read(msg):
        return {"type": "read_ok", "value": crdt.value()}

    def replicate(msg):
        crdt.merge(msg["body"])
        return None  # gossip is not answered

    def gossip():
        body = dict(crdt.state(), type="replicate")
        for peer in node.node_ids:
            if peer != node.node_id:
                node.send(peer, body)

    node.on("add", add)
    node.on("read", read)
    node.on("replicate", replicate)
    node.every(args.gossip_ms / 1000, gossip)
    node.run()


if __name__ == "__main__":
    main()
