#!/usr/bin/env python3
"""Maelstrom `txn-list-append` (and `txn-rw-register`) node: one node
executes every transaction, one at a time.

Client operation:
    txn {txn: [[f, key, value], ...]} -> txn_ok {txn: [...]}
with micro-operations `["r", k, null]` (answered with the list of `k`, or
for a register its value; `null` for a key never written),
`["append", k, v]` and `["w", k, v]`. Anything else is error 12
(malformed request), before any of it is applied.

The node with the smallest id (`n0`) is the only one that holds data: it
applies each transaction's micro-operations in order, one transaction at a
time, so transactions take effect in the order they reach it, and every
transaction sees all that came before it: strict serializability, the
strongest model Maelstrom checks. The other nodes re-send the client's
request to `n0` with only `dest` changed (as Maelstrom's tutorial Raft
proxies), and `n0` answers the client directly; a request lost on the way
(a partition, a paused `n0`) is never answered, which the client takes as
an unknown outcome, never as a failure. Not available: while `n0` is cut
off or down, nothing completes.

`n0` appends each transaction that wrote something to `txn-<node>.jsonl`
in its working directory and fsyncs it before answering; on start it reads
the file back (dropping a torn last line), so a killed and restarted `n0`
keeps every transaction it acknowledged.
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import MALFORMED_REQUEST, Node, RPCError  # noqa: E402


class Serial:
    """The store of the executing node (all under the node's lock)."""

    def __init__(self, node):
        self.node = node
        self.data = {}  # repr(key) -> list (appends) or value (writes)
        self.log = None

    def leader(self):
        return min(self.node.node_ids)

    def on_init(self):
        if self.node.node_id != self.leader() or self.log is not None:
            return
        path = f"txn-{self.node.node_id}.jsonl"
        kept = []
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().split("\n")
            for i, line in enumerate(lines[:-1]):  # the last: "" or torn
                try:
                    writes = json.loads(line)
                except ValueError as err:
                    sys.exit(f"{path}:{i + 1}: damaged transaction: {err}")
                self.apply(writes)
                kept.append(line + "\n")
        with open(path + ".tmp", "w") as f:  # without any torn tail
            f.write("".join(kept))
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)
        self.log = open(path, "a")

    def apply(self, mops):
        """Apply the writes `mops`; return the transaction with its reads
        filled in."""
        done = []
        for f, k, v in mops:
            key = repr(k)
            if f == "r":
                cur = self.data.get(key)
                done.append([f, k, list(cur) if isinstance(cur, list) else cur])
            elif f == "append":
                cur = self.data.get(key)
                self.data[key] = (cur if isinstance(cur, list) else []) + [v]
                done.append([f, k, v])
            else:
                self.data[key] = v
                done.append([f, k, v])
        return done

    def on_txn(self, msg):
        if self.node.node_id != self.leader():
            self.node.resend(msg, self.leader())
            return None
        txn = msg["body"].get("txn")
        if not isinstance(txn, list) or not all(_mop_ok(m) for m in txn):
            raise RPCError(MALFORMED_REQUEST, f"not a transaction: {txn!r}")
        done = self.apply(txn)
        writes = [m for m in txn if m[0] != "r"]
        if writes:
            self.log.write(json.dumps(writes, separators=(",", ":")) + "\n")
            self.log.flush()
            os.fsync(self.log.fileno())
        return {"type": "txn_ok", "txn": done}


def _mop_ok(mop):
    return (isinstance(mop, list) and len(mop) == 3
            and mop[0] in ("r", "append", "w")
            and (mop[0] != "r" or mop[2] is None))


def main():
    node = Node()
    serial = Serial(node)
    node.on_init(serial.on_init)
    node.on("txn", serial.on_txn)
    node.run()


if __name__ == "__main__":
    main()
