#!/usr/bin/env python3
"""Maelstrom `g-counter` / `pn-counter` workload node backed by `seq-kv`.

Client operations:
    add  {delta}   -> add_ok       (delta may be negative: pn-counter)
    read           -> read_ok {value}

The whole counter is one integer under the key `counter` in the `seq-kv`
service (a pseudo-node reached through stdout/stdin like any other node:
`read` {key} -> `read_ok` {value} or error 20; `write` {key, value} ->
`write_ok`; `cas` {key, from, to, create_if_not_exists} -> `cas_ok`, error
22 or 20). Nodes keep no state of their own, so kills lose nothing.

Why this is correct although seq-kv is only sequentially consistent: seq-kv
may answer a `read` from an old state, but it applies every `write` and `cas`
to its latest state (that is what keeps one total order for all clients).

* add: read v (maybe stale), then `cas counter v -> v+delta`
  (create_if_not_exists, a missing key counting as 0). If v was stale the cas
  fails with 22 and the loop reads again; when it succeeds, the latest value
  was v, so exactly delta was added (a value that went v -> w -> v meanwhile
  is harmless: a counter is only its value). `add_ok` is sent only after the
  cas succeeded. A cas that got no answer may or may not have happened: the
  client gets error 0 (timeout, indefinite) and nothing is retried, so an add
  is never applied twice. Reads and cas that were refused definitely
  did nothing and are retried until `--deadline-ms`; then the client gets
  error 11 (temporarily unavailable: definitely not added).
* read: read v, then confirm it with `cas counter v -> v` (create 0 if
  missing). The confirming cas succeeds only if v is the latest value at the
  moment the cas is applied, so the answer reflects every add acknowledged
  before the read started, on any node (Gossip Glomers' stale-read trap). On
  22, the node first writes a per-node nonce key (a write moves this node's
  view of seq-kv to the latest state, so the next read is fresh) and tries
  again.

Flags:
    --rpc-timeout-ms N   wait for each seq-kv answer (default 1000)
    --deadline-ms N      give up on an operation after (default 5000)
"""

import argparse
import itertools
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import (  # noqa: E402
                            KEY_DOES_NOT_EXIST, MALFORMED_REQUEST,
                            PRECONDITION_FAILED, TEMPORARILY_UNAVAILABLE,
                            TIMEOUT, Node, RPCError)

SERVICE = "seq-kv"
KEY = "counter"


class Counter:
    """The counter's operations: each runs in its own thread and blocks on
    seq-kv answers."""

    def __init__(self, node, rpc_timeout, deadline):
        self.node = node
        self.rpc_timeout = rpc_timeout
        self.deadline = deadline
        self.nonces = itertools.count(1)

    def kv(self, body):
        return self.node.sync_rpc(SERVICE, body, self.rpc_timeout)

    def read_value(self):
        """The value seq-kv shows this node (maybe stale); 0 if missing.
        Raises RPCError(TIMEOUT) when seq-kv did not answer."""
        try:
            return self.kv({"type": "read", "key": KEY})["value"]
        except RPCError as err:
            if err.code == KEY_DOES_NOT_EXIST:
                return 0
            raise

    def cas(self, frm, to):
        """True if the cas was applied, False if it definitely was not
        (22). Raises RPCError(TIMEOUT) if it may or may not have been."""
        try:
            self.kv({"type": "cas", "key": KEY, "from": frm, "to": to,
                     "create_if_not_exists": True})
            return True
        except RPCError as err:
            if err.code == PRECONDITION_FAILED:
                return False
            if err.code == KEY_DOES_NOT_EXIST:
                return False
            raise

    def refresh_view(self):
        """Write this node's nonce key so its next read sees the latest
        state. Failures are ignored: the caller retries anyway."""
        try:
            self.kv({"type": "write", "key": f"nonce-{self.node.node_id}",
                     "value": next(self.nonces)})
        except RPCError:
            pass

    def add(self, msg):
        delta = msg["body"].get("delta")
        if not isinstance(delta, int) or isinstance(delta, bool):
            raise RPCError(MALFORMED_REQUEST, "add needs an integer delta")
        end = time.monotonic() + self.deadline
        while time.monotonic() < end:
            try:
                v = self.read_value()
            except RPCError:
                continue  # the read did nothing; try again
            if self.cas(v, v + delta):  # a timeout here propagates: code 0
                return {"type": "add_ok"}
            self.refresh_view()
        raise RPCError(TEMPORARILY_UNAVAILABLE,
                       "seq-kv kept refusing; nothing was added")

    def read(self, _msg):
        end = time.monotonic() + self.deadline
        while time.monotonic() < end:
            try:
                v = self.read_value()
                if self.cas(v, v):
                    return {"type": "read_ok", "value": v}
            except RPCError as err:
                if err.code != TIMEOUT:
                    raise
                continue
            self.refresh_view()
        raise RPCError(TEMPORARILY_UNAVAILABLE,
                       "could not confirm a current value")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rpc-timeout-ms", type=int, default=1000)
    parser.add_argument("--deadline-ms", type=int, default=5000)
    args = parser.parse_args()
    node = Node()
    counter = Counter(node, args.rpc_timeout_ms / 1000,
                      args.deadline_ms / 1000)
    node.on("add", counter.add, threaded=True)
    node.on("read", counter.read, threaded=True)
    node.run()


if __name__ == "__main__":
    main()
