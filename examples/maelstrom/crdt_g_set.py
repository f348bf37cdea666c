#!/usr/bin/env python3
"""Maelstrom `g-set` node: a grow-only set kept as a state-based CRDT, in
the manner of Maelstrom's CRDT demos (demo/js/crdt_gset.js).

    add  {element}  -> add_ok
    read            -> read_ok {value: [every element this node has]}

Each node keeps its own copy of the set and answers from it at once, so it
stays available through any partition. Every `--gossip-ms` (default 5000,
the demos' period) it sends its whole set to every other node in a
`replicate` {value} message, unacknowledged; the receiver merges by union.
A lost message needs no retry: the next round carries the whole state
again. So after a partition heals, every node has every element within one
round, and a final read taken later than that (Maelstrom waits 10 s after
healing; so does `faultline maelstrom test` by default) sees them all.

The set lives in memory only: a node that is killed comes back empty and
relearns the others' elements from their next round, but an element it
acknowledged and had not yet sent anywhere is gone.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import Node  # noqa: E402


class GSet:
    """The set, and the three things a state-based CRDT needs: the local
    update, the state to ship, and the merge of a shipped state."""

    def __init__(self):
        self.elements = set()

    def add(self, element):
        self.elements.add(element)

    def state(self):
        return sorted(self.elements)

    def merge(self, other):
        self.elements.update(other)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gossip-ms", type=int, default=5000,
                        help="period of the full-state gossip to every peer")
    args = parser.parse_args()
    node = Node()
    crdt = GSet()

    def add(msg):
        crdt.add(msg["body"]["element"])
        return {"type": "add_ok"}

    def read(msg):
        return {"type": "read_ok", "value": crdt.state()}

    def replicate(msg):
        crdt.merge(msg["body"]["value"])
        return None  # gossip is not answered

    def gossip():
        state = crdt.state()
        for peer in node.node_ids:
            if peer != node.node_id:
                node.send(peer, {"type": "replicate", "value": state})

    node.on("add", add)
    node.on("read", read)
    node.on("replicate", replicate)
    node.every(args.gossip_ms / 1000, gossip)
    node.run()


if __name__ == "__main__":
    main()
