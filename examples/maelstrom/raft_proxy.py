#!/usr/bin/env python3
"""Maelstrom `lin-kv` node: raft_kv.py's Raft, with followers that proxy
client requests the way Maelstrom's tutorial Raft does.

A follower that gets a client's `read`, `write` or `cas` does not wrap it
in a message of its own: it re-sends the client's message to the leader it
knows with only `dest` changed. The `src` is still the client's id, so the
leader, which answers whoever `src` names, replies to the client directly;
the follower keeps nothing for the request and never sees the answer.

    client c3 -> n1   {"src": "c3", "dest": "n1", "body": {"type": "write", ...}}
    n1 -> n0          {"src": "c3", "dest": "n0", "body": {"type": "write", ...}}
    n0 -> c3          {"src": "n0", "dest": "c3", "body": {"type": "write_ok", ...}}

Maelstrom's network accepts a message whose `src` is any node's or
client's id; so does faultline's router, which still applies partitions by
the node that emitted the message (n1 above), not by its `src`.

What this changes for the client: a follower without a known leader still
answers error 11 (nothing was done); a request the leader never gets (a
partition between follower and leader) or never commits gets no answer at
all, and the client times out (indefinite). A request may pass through
more than one follower while leadership moves.

Everything else (elections, replication, reads through the log,
persistence, `--volatile`, `--election-ms`, `--heartbeat-ms`) is
raft_kv.py's; `--forward-timeout-ms` only bounds how long the leader keeps
an uncommitted request waiting.
"""

import os
import sys

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import TEMPORARILY_UNAVAILABLE, RPCError  # noqa: E402
from raft_kv import Raft, main  # noqa: E402


class ProxyRaft(Raft):
    """raft_kv's Raft; a follower passes client requests on unchanged."""

    def client_request(self, msg):
        if self.role == "leader":
            # proposes, and answers msg["src"]: the client, even when a
            # follower passed the message on
            return super().client_request(msg)
        if self.leader is None:
            raise RPCError(TEMPORARILY_UNAVAILABLE, "no leader known")
        self.node.resend(msg, self.leader)
        return None


if __name__ == "__main__":
    main(ProxyRaft, __doc__)
