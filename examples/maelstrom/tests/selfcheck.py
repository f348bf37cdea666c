#!/usr/bin/env python3
"""Self-check of the example Maelstrom nodes, without faultline (stdlib only).

    python3 examples/maelstrom/tests/selfcheck.py [-k NAME] [-v]

A small router of its own: starts N node processes (each in its own process
group and its own working directory under a temporary directory), sends
`init`, moves every stdout line of a node to the stdin of its `dest` (or to a
client's inbox, or to a built-in `seq-kv` that serves stale reads the way
Maelstrom's does), drops messages between partitioned node pairs, and can
SIGKILL a node and restart it in the same directory (`init` again, same id).
Each check prints PASS/FAIL; the exit code is the number of failed checks.
Every process is killed at the end, and the whole run is bounded by an alarm.
"""

import argparse
import heapq
import itertools
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
NODES = os.path.dirname(HERE)
VERBOSE = False


class CheckFailed(Exception):
    """An assertion of a check did not hold."""


def check(cond, what):
    """Fail the current check with `what` unless `cond`."""
    if not cond:
        raise CheckFailed(what)


class SeqKV:
    """Maelstrom's seq-kv semantics: writes and cas apply to the latest
    state; a read may return any state from the last one this client saw up
    to the latest."""

    def __init__(self, rng):
        self.rng = rng
        self.states = [{}]
        self.seen = {}
        self.lock = threading.Lock()

    def handle(self, src, body):
        """The reply body to `body` from node `src`."""
        with self.lock:
            t = body.get("type")
            key = json.dumps(body.get("key"))
            latest = self.states[-1]
            if t == "read":
                idx = self.rng.randint(self.seen.get(src, 0),
                                       len(self.states) - 1)
                self.seen[src] = idx
                state = self.states[idx]
                if key not in state:
                    return {"type": "error", "code": 20, "text": "no key"}
                return {"type": "read_ok", "value": state[key]}
            self.seen[src] = len(self.states) - 1
            if t == "write":
                self._push(dict(latest, **{key: body["value"]}))
                return {"type": "write_ok"}
            if t == "cas":
                if key not in latest:
                    if body.get("create_if_not_exists"):
                        self._push(dict(latest, **{key: body["to"]}))
                        return {"type": "cas_ok"}
                    return {"type": "error", "code": 20, "text": "no key"}
                if latest[key] != body["from"]:
                    return {"type": "error", "code": 22, "text": "mismatch"}
                self._push(dict(latest, **{key: body["to"]}))
                return {"type": "cas_ok"}
            return {"type": "error", "code": 10, "text": f"seq-kv: {t}?"}

    def _push(self, state):
        self.states.append(state)


class Cluster:
    """N node processes and the router between them."""

    def __init__(self, script, args, n, root, seed=1, latency_ms=0):
        self.latency = latency_ms / 1000
        self.rng = random.Random(seed)
        self.delayed = []  # heap of (due, seq, msg) between nodes
        self.delay_seq = itertools.count()
        self.delay_cv = threading.Condition()
        if self.latency:
            threading.Thread(target=self._delay_loop, daemon=True).start()
        self.cmd = [sys.executable, os.path.join(NODES, script), *args]
        self.ids = [f"n{i}" for i in range(n)]
        self.root = root
        self.procs = {}
        self.writers = {}  # node -> queue of lines for its stdin
        self.blocked = set()
        self.inboxes = {}
        self.seq_kv = SeqKV(random.Random(seed))
        self.lock = threading.Lock()
        self.client_ids = itertools.count(1)
        self.observers = []
        self.errors = []
        try:
            for nid in self.ids:
                os.makedirs(os.path.join(root, nid), exist_ok=True)
                self.start(nid)
        except BaseException:
            self.close()
            raise

    # ---- processes ----------------------------------------------------

    def start(self, nid):
        """Start node `nid` in its directory and wait for `init_ok`."""
        cwd = os.path.join(self.root, nid)
        err = open(os.path.join(cwd, "stderr.log"), "ab")
        proc = subprocess.Popen(self.cmd, cwd=cwd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)
        err.close()
        self.procs[nid] = proc
        self.writers[nid] = queue.Queue()
        threading.Thread(target=self._pump, args=(nid, proc),
                         daemon=True).start()
        threading.Thread(target=self._feed, args=(proc, self.writers[nid]),
                         daemon=True).start()
        reply = self.client().call(nid, {"type": "init", "node_id": nid,
                                         "node_ids": self.ids}, timeout=10)
        check(reply is not None and reply["type"] == "init_ok",
              f"{nid} answered init with {reply}")

    def kill(self, nid):
        """SIGKILL a node's process group; messages to it are discarded."""
        proc = self.procs.pop(nid)
        self.writers.pop(nid).put(None)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def signal(self, nid, sig):
        """Send `sig` (SIGSTOP, SIGCONT) to a node's process group."""
        os.killpg(self.procs[nid].pid, sig)

    def restart(self, nid):
        """Kill a node and start it again in the same directory."""
        self.kill(nid)
        self.start(nid)

    def close(self):
        """Kill every node."""
        for nid in list(self.procs):
            self.kill(nid)

    # ---- network ------------------------------------------------------

    def partition(self, *groups):
        """Drop every message between nodes of different groups."""
        where = {n: i for i, g in enumerate(groups) for n in g}
        with self.lock:
            self.blocked = {(a, b) for a in where for b in where
                            if where[a] != where[b]}

    def heal(self):
        """Deliver every message again."""
        with self.lock:
            self.blocked = set()

    def _pump(self, nid, proc):
        """Route each stdout line of a node."""
        for raw in proc.stdout:
            try:
                msg = json.loads(raw)
                msg["body"]["type"]
            except (ValueError, KeyError, TypeError):
                self.errors.append(f"{nid} printed {raw!r}")
                continue
            if msg.get("src") != nid:
                self.errors.append(f"{nid} sent with src {msg.get('src')}")
            if VERBOSE:
                print("   ", raw.decode().rstrip(), file=sys.stderr)
            for obs in self.observers:
                obs(msg)
            self.deliver(msg)

    @staticmethod
    def _feed(proc, lines):
        """Write queued lines to a node's stdin (a paused node blocks only
        its own writer)."""
        while True:
            line = lines.get()
            if line is None:
                return
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return

    def _delay_loop(self):
        """Deliver node-to-node messages when their delay is over."""
        while True:
            with self.delay_cv:
                while not self.delayed or self.delayed[0][0] > \
                        time.monotonic():
                    wait = (self.delayed[0][0] - time.monotonic()
                            if self.delayed else None)
                    self.delay_cv.wait(wait)
                _, _, msg = heapq.heappop(self.delayed)
            self.deliver(msg, delayed=True)

    def deliver(self, msg, delayed=False):
        """Route one message: to a node, the seq-kv service or a client.
        With a latency, messages between nodes wait a uniform random delay
        in [0, latency] (so they may be reordered); a partition applies at
        delivery."""
        src, dest = msg["src"], msg["dest"]
        if self.latency and not delayed and src in self.ids and \
                dest in self.ids:
            with self.delay_cv:
                due = time.monotonic() + self.rng.uniform(0, self.latency)
                heapq.heappush(self.delayed, (due, next(self.delay_seq), msg))
                self.delay_cv.notify()
            return
        if dest == "seq-kv":
            body = self.seq_kv.handle(src, msg["body"])
            body["in_reply_to"] = msg["body"].get("msg_id")
            self.deliver({"src": "seq-kv", "dest": src, "body": body})
        elif dest in self.ids:
            with self.lock:
                if (src, dest) in self.blocked:
                    return
                writer = self.writers.get(dest)
            if writer is not None:  # else dead: discarded
                writer.put((json.dumps(msg) + "\n").encode())
        else:
            with self.lock:
                box = self.inboxes.get(dest)
            if box is None:
                self.errors.append(f"message to unknown {dest}: {msg}")
            else:
                box.put(msg["body"])

    # ---- clients ------------------------------------------------------

    def client(self):
        """A new client with a fresh id."""
        return Client(self, f"c{next(self.client_ids)}")


class Client:
    """One Maelstrom client: one request in flight."""

    def __init__(self, cluster, cid):
        self.cluster = cluster
        self.id = cid
        self.msg_ids = itertools.count(1)
        self.inbox = queue.Queue()
        with cluster.lock:
            cluster.inboxes[cid] = self.inbox

    def call(self, nid, body, timeout=3.0):
        """The reply body, or None after `timeout` seconds."""
        mid = next(self.msg_ids)
        self.cluster.deliver({"src": self.id, "dest": nid,
                              "body": dict(body, msg_id=mid)})
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                reply = self.inbox.get(timeout=left)
            except queue.Empty:
                return None
            if reply.get("in_reply_to") == mid:
                return reply


def until(fn, timeout, step=0.1):
    """Call fn until it returns a true value (returned) or time runs out
    (None)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = fn()
        if out:
            return out
        time.sleep(step)
    return None


# ---- checks ---------------------------------------------------------------

def check_echo(root):
    """echo echoes; an unknown type gets error 10."""
    c = Cluster("echo.py", [], 1, root)
    try:
        cl = c.client()
        for i in range(5):
            r = cl.call("n0", {"type": "echo", "echo": f"hello {i}"})
            check(r == {"type": "echo_ok", "echo": f"hello {i}",
                        "in_reply_to": i + 1}, f"echo reply {r}")
        r = cl.call("n0", {"type": "no-such-op"})
        check(r and r["type"] == "error" and r["code"] == 10,
              f"unknown type answered {r}")
        check(not c.errors, c.errors)
    finally:
        c.close()


def check_unique_ids(root):
    """Ids from 3 nodes, two of them restarted twice, are unique."""
    c = Cluster("unique_ids.py", [], 3, root)
    try:
        ids = []
        cl = c.client()
        for round_ in range(2):
            for nid in c.ids:
                for _ in range(20):
                    r = cl.call(nid, {"type": "generate"})
                    check(r and r["type"] == "generate_ok", f"generate {r}")
                    ids.append(r["id"])
            c.restart("n0")
            c.restart("n1")
        check(len(ids) == 120 and len(set(ids)) == len(ids),
              f"{len(ids) - len(set(ids))} duplicate ids")
    finally:
        c.close()


def _broadcast_partitioned(root, args):
    """Five nodes in a line, split {n0,n1} | {n2,n3,n4}; values 1..5 via n0
    and 6..10 via n4 during the split; then healed. Returns the cluster
    (open) and the values."""
    c = Cluster("broadcast.py", args, 5, root)
    cl = c.client()
    topo = {n: [m for m in (f"n{i - 1}", f"n{i + 1}") if m in c.ids]
            for i, n in enumerate(c.ids)}
    for nid in c.ids:
        r = cl.call(nid, {"type": "topology", "topology": topo})
        check(r and r["type"] == "topology_ok", f"topology {r}")
    c.partition(["n0", "n1"], ["n2", "n3", "n4"])
    for v in range(1, 11):
        r = cl.call("n0" if v <= 5 else "n4", {"type": "broadcast",
                                               "message": v})
        check(r and r["type"] == "broadcast_ok", f"broadcast {v}: {r}")
    time.sleep(0.5)
    r = cl.call("n2", {"type": "read"})
    check(r and not set(r["messages"]) & set(range(1, 6)),
          f"n2 saw values across the partition: {r}")
    c.heal()
    return c, set(range(1, 11))


def check_broadcast_heals(root):
    """Values cut off by a partition reach every node after the heal."""
    c, values = _broadcast_partitioned(root, [])
    try:
        cl = c.client()

        def all_have():
            reads = [cl.call(n, {"type": "read"}) for n in c.ids]
            return all(r and set(r["messages"]) == values for r in reads)

        check(until(all_have, 5), "values missing 5 s after the heal")
        r = cl.call("n3", {"type": "add", "element": 99})
        check(r and r["type"] == "add_ok", f"g-set add {r}")
        check(until(lambda: 99 in cl.call("n0", {"type": "read"})["value"],
                    3), "g-set element 99 never reached n0")
        check(not c.errors, c.errors)
    finally:
        c.close()


def check_broadcast_survives_kill(root):
    """A killed node keeps what it acknowledged and passes it on after its
    restart; with --volatile it forgets."""
    for args, keeps in (([], True), (["--volatile"], False)):
        c = Cluster("broadcast.py", args, 3, os.path.join(root, str(keeps)))
        try:
            cl = c.client()
            topo = {"n0": ["n1"], "n1": ["n0", "n2"], "n2": ["n1"]}
            for nid in c.ids:
                cl.call(nid, {"type": "topology", "topology": topo})
            c.partition(["n1"], ["n0", "n2"])
            for v in (1, 2, 3):
                r = cl.call("n1", {"type": "broadcast", "message": v})
                check(r and r["type"] == "broadcast_ok", f"broadcast {r}")
            c.restart("n1")
            c.heal()

            def everywhere():
                reads = [cl.call(n, {"type": "read"}) for n in c.ids]
                return all(set(r["messages"]) == {1, 2, 3} for r in reads)
            got = until(everywhere, 3)
            check(bool(got) == keeps,
                  f"{args}: values everywhere after a kill: {bool(got)}")
        finally:
            c.close()


def check_broadcast_no_retry_loses(root):
    """With --no-retry, values cut off by a partition stay lost."""
    c, values = _broadcast_partitioned(root, ["--no-retry"])
    try:
        time.sleep(1.5)
        cl = c.client()
        r0 = cl.call("n0", {"type": "read"})
        r4 = cl.call("n4", {"type": "read"})
        check(set(r0["messages"]) == set(range(1, 6)),
              f"n0 has {r0['messages']}")
        check(set(r4["messages"]) == set(range(6, 11)),
              f"n4 has {r4['messages']}")
        # still lost after new traffic: only new values are sent
        cl.call("n0", {"type": "broadcast", "message": 11})
        time.sleep(0.5)
        r4 = cl.call("n4", {"type": "read"})
        check(set(r4["messages"]) == {6, 7, 8, 9, 10, 11},
              f"n4 has {r4['messages']}")
    finally:
        c.close()


def check_counter(root):
    """Concurrent adds (negative too) through a stale seq-kv sum up on
    every node; a bad delta gets error 12."""
    c = Cluster("counter.py", [], 3, root, seed=7)
    try:
        cl = c.client()
        r = cl.call("n1", {"type": "read"})
        check(r == {"type": "read_ok", "value": 0, "in_reply_to": 1},
              f"initial read {r}")
        total = [0]
        lock = threading.Lock()
        failures = []

        def adder(k):
            rng = random.Random(k)
            me = c.client()
            for i in range(15):
                d = rng.randint(-3, 5)
                nid = c.ids[(k + i) % 3]
                r = me.call(nid, {"type": "add", "delta": d}, timeout=6)
                if r and r["type"] == "add_ok":
                    with lock:
                        total[0] += d
                else:
                    failures.append((nid, d, r))
                # this node's own acknowledged adds are always visible
                r = me.call(nid, {"type": "read"}, timeout=6)
                if not (r and r["type"] == "read_ok"):
                    failures.append((nid, "read", r))

        threads = [threading.Thread(target=adder, args=(k,))
                   for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not failures, f"failed operations: {failures}")
        for nid in c.ids:
            r = cl.call(nid, {"type": "read"}, timeout=6)
            check(r and r.get("value") == total[0],
                  f"{nid} read {r}, acknowledged sum {total[0]}")
        r = cl.call("n0", {"type": "add", "delta": "x"})
        check(r and r["type"] == "error" and r["code"] == 12,
              f"bad delta answered {r}")
        check(not c.errors, c.errors)
    finally:
        c.close()


class RaftWatch:
    """Watches append_entries traffic: who leads in which term."""

    def __init__(self, cluster):
        self.leaders = {}  # term -> set of leader ids
        cluster.observers.append(self.see)

    def see(self, msg):
        b = msg["body"]
        if b["type"] == "append_entries":
            self.leaders.setdefault(b["term"], set()).add(msg["src"])

    def max_term(self):
        return max(self.leaders, default=0)

    def leader(self):
        terms = sorted(self.leaders)
        return next(iter(self.leaders[terms[-1]])) if terms else None


def write_somewhere(cluster, cl, key, value, timeout=8):
    """Write through any node until one says write_ok; the node, or None."""
    def attempt():
        for nid in list(cluster.procs):
            r = cl.call(nid, {"type": "write", "key": key, "value": value},
                        timeout=1.5)
            if r and r["type"] == "write_ok":
                return nid
        return None
    return until(attempt, timeout, step=0.2)


def check_raft_basic(root):
    """Election, reads and cas semantics, forwarding, a killed leader
    replaced, an isolated leader, convergence, one leader a term."""
    c = Cluster("raft_kv.py", [], 3, root)
    watch = RaftWatch(c)
    try:
        cl = c.client()
        check(write_somewhere(c, cl, "a", 1), "no write_ok within 8 s")
        for term, leaders in watch.leaders.items():
            check(len(leaders) == 1, f"term {term} leaders {leaders}")
        for nid in c.ids:
            r = cl.call(nid, {"type": "read", "key": "a"})
            check(r and r["type"] == "read_ok" and r["value"] == 1,
                  f"read a on {nid}: {r}")
        r = cl.call("n1", {"type": "read", "key": "missing"})
        check(r and r["type"] == "error" and r["code"] == 20,
              f"read missing {r}")
        r = cl.call("n2", {"type": "cas", "key": "missing", "from": 1,
                           "to": 2})
        check(r and r["type"] == "error" and r["code"] == 20,
              f"cas missing {r}")
        r = cl.call("n0", {"type": "cas", "key": "a", "from": 5, "to": 6})
        check(r and r["type"] == "error" and r["code"] == 22,
              f"cas mismatch {r}")
        r = cl.call("n1", {"type": "cas", "key": "a", "from": 1, "to": 7})
        check(r and r["type"] == "cas_ok", f"cas {r}")
        r = cl.call("n2", {"type": "read", "key": "a"})
        check(r and r.get("value") == 7, f"read after cas {r}")
        r = cl.call("n0", {"type": "write", "key": "a"})
        check(r and r["type"] == "error" and r["code"] == 12,
              f"write without value {r}")

        # kill the leader: another one takes over
        old = watch.leader()
        c.kill(old)
        check(write_somewhere(c, cl, "b", 2),
              "no write within 8 s of the leader's kill")
        check(watch.leader() != old, f"leader still {old}")
        c.start(old)
        r = until(lambda: (lambda r: r if r and r.get("value") == 2
                           else None)(cl.call(old, {"type": "read",
                                                    "key": "b"})), 5)
        check(r, f"restarted {old} never read b=2")

        # isolate the leader: the majority elects another and goes on
        old = watch.leader()
        rest = [n for n in c.ids if n != old]
        c.partition([old], rest)
        r = cl.call(old, {"type": "write", "key": "c", "value": "lost?"},
                    timeout=1.5)
        check(r is None or r["type"] == "error" and r["code"] in (0, 11, 13),
              f"isolated leader answered {r}")

        def majority_write():
            for nid in rest:
                r = cl.call(nid, {"type": "write", "key": "c",
                                  "value": "kept"}, timeout=1.5)
                if r and r["type"] == "write_ok":
                    return True
            return None
        check(until(majority_write, 8), "majority could not write")
        c.heal()
        for nid in c.ids:
            r = until(lambda: (lambda r: r if r and r.get("value") == "kept"
                               else None)(cl.call(nid, {"type": "read",
                                                        "key": "c"})), 6)
            check(r, f"{nid} did not converge on c=kept")
        for term, leaders in watch.leaders.items():
            check(len(leaders) == 1, f"term {term} leaders {leaders}")
        check(not c.errors, c.errors)
    finally:
        c.close()


def _raft_full_restart(root, args):
    """Write x=41 then x=42, kill and restart every node; returns (read
    reply after restart, max term before, max term seen after)."""
    c = Cluster("raft_kv.py", args, 3, root)
    watch = RaftWatch(c)
    try:
        cl = c.client()
        check(write_somewhere(c, cl, "x", 41), "no write_ok")
        check(write_somewhere(c, cl, "x", 42), "no write_ok")
        before = watch.max_term()
        watch.leaders.clear()
        for nid in c.ids:
            c.kill(nid)
        for nid in c.ids:
            c.start(nid)

        def read_x():
            for nid in c.ids:
                r = cl.call(nid, {"type": "read", "key": "x"}, timeout=1.5)
                if r and r["type"] in ("read_ok", "error") and \
                        r.get("code") != 11 and r.get("code") != 0:
                    return r
            return None
        r = until(read_x, 8)
        return r, before, watch.max_term()
    finally:
        c.close()


def check_raft_persists(root):
    """All three persistent nodes killed: data and term survive."""
    r, before, after = _raft_full_restart(root, [])
    check(r and r["type"] == "read_ok" and r["value"] == 42,
          f"after restarting all nodes read x gave {r}")
    check(after > before, f"term went from {before} to {after}")


def check_raft_volatile_forgets(root):
    """All three --volatile nodes killed: the data is gone."""
    r, before, after = _raft_full_restart(root, ["--volatile"])
    check(r and r["type"] == "error" and r["code"] == 20,
          f"volatile nodes still know x: {r}")
    check(after <= before, f"volatile terms {before} -> {after}")


def _txn(cl, nid, mops, timeout=3.0):
    """The micro-operations of `nid`'s txn_ok for `mops`, or the reply."""
    r = cl.call(nid, {"type": "txn", "txn": mops}, timeout=timeout)
    return r["txn"] if r and r["type"] == "txn_ok" else r


def _double_writes(args, root):
    """20 transactions on n0 each writing a key twice (2k, then 2k+1), with
    up to 20 ms of random delay between nodes; once n1 has a value for
    every key, returns what it reads."""
    c = Cluster("txn_rw_register.py", args, 2, root, latency_ms=20)
    try:
        cl = c.client()
        keys = range(100, 120)
        for k in keys:
            got = _txn(cl, "n0", [["w", k, 2 * k], ["w", k, 2 * k + 1],
                                  ["r", k, None]])
            check(got == [["w", k, 2 * k], ["w", k, 2 * k + 1],
                          ["r", k, 2 * k + 1]], f"txn answered {got}")
        reads = [["r", k, None] for k in keys]
        seen = until(lambda: (lambda t: t if isinstance(t, list) and all(
            m[2] is not None for m in t) else None)(_txn(cl, "n1", reads)), 5)
        check(seen, "n1 never had every key")
        time.sleep(0.3)  # every unit delivered
        check(not c.errors, c.errors)
        return {m[1]: m[2] for m in _txn(cl, "n1", reads)}
    finally:
        c.close()


def check_txn_rw_register_available_and_committed(root):
    """txn_rw_register answers on both sides of a partition, converges
    after it heals, refuses a malformed txn with 12, and other nodes see
    only each transaction's last write of a key."""
    c = Cluster("txn_rw_register.py", [], 3, root)
    try:
        cl = c.client()
        c.partition(["n0"], ["n1", "n2"])
        check(_txn(cl, "n0", [["w", 1, 10], ["r", 2, None]]) ==
              [["w", 1, 10], ["r", 2, None]], "n0 alone does not answer")
        check(_txn(cl, "n2", [["r", 1, None], ["w", 2, 20]]) ==
              [["r", 1, None], ["w", 2, 20]], "n2 sees n0's write")
        c.heal()
        want = [["r", 1, 10], ["r", 2, 20]]
        for nid in c.ids:
            got = until(lambda nid=nid: _txn(cl, nid, [["r", 1, None],
                                                       ["r", 2, None]])
                        == want, 3)
            check(got, f"{nid} did not converge")
        r = cl.call("n1", {"type": "txn", "txn": [["w", 3, 1], ["cas", 3]]})
        check(r and r["type"] == "error" and r["code"] == 12, f"got {r}")
        check(_txn(cl, "n1", [["r", 3, None]]) == [["r", 3, None]],
              "a refused txn was applied in part")
        check(not c.errors, c.errors)
    finally:
        c.close()
    finals = _double_writes([], root + "-double")
    check(all(v == 2 * k + 1 for k, v in finals.items()),
          f"intermediate writes visible: {finals}")


def check_txn_each_write_shows_intermediate_writes(root):
    """With --replicate-each-write and reordering delays, n1 is left with
    some transaction's intermediate write (G1b)."""
    finals = _double_writes(["--replicate-each-write"], root)
    check(any(v == 2 * k for k, v in finals.items()),
          f"no intermediate write left visible: {finals}")


def check_txn_list_append_serial_and_durable(root):
    """txn_list_append: txns through any node run on n0, in order; a
    killed and restarted n0 keeps what it acknowledged; with n0 down,
    nothing is answered."""
    c = Cluster("txn_list_append.py", [], 3, root)
    try:
        cl = c.client()
        check(_txn(cl, "n1", [["append", 7, 1], ["r", 7, None]]) ==
              [["append", 7, 1], ["r", 7, [1]]], "append via n1")
        check(_txn(cl, "n2", [["append", 7, 2], ["w", 8, 5]]) ==
              [["append", 7, 2], ["w", 8, 5]], "append via n2")
        c.restart("n0")
        check(_txn(cl, "n1", [["r", 7, None], ["r", 8, None]]) ==
              [["r", 7, [1, 2]], ["r", 8, 5]], "n0 forgot after a restart")
        c.kill("n0")
        check(_txn(cl, "n1", [["append", 7, 3]], timeout=1) is None,
              "answered with n0 down")
        c.start("n0")
        check(_txn(cl, "n2", [["r", 7, None]]) == [["r", 7, [1, 2]]],
              "n0 lost or invented an append")
        # A request re-sent to n0 keeps the client's src: not an error here.
        check(all("with src c" in e for e in c.errors), c.errors)
    finally:
        c.close()


CHECKS = [check_echo, check_unique_ids, check_broadcast_heals,
          check_broadcast_survives_kill, check_broadcast_no_retry_loses,
          check_counter, check_raft_basic, check_raft_persists,
          check_raft_volatile_forgets,
          check_txn_rw_register_available_and_committed,
          check_txn_each_write_shows_intermediate_writes,
          check_txn_list_append_serial_and_durable]


def on_alarm(*_):
    raise CheckFailed("self-check exceeded 150 s")


def main():
    global VERBOSE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", help="run only checks whose name has this")
    parser.add_argument("-v", action="store_true", help="print messages")
    parser.add_argument("--keep", action="store_true",
                        help="keep the node directories (stderr logs)")
    args = parser.parse_args()
    VERBOSE = args.v
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(150)
    root = tempfile.mkdtemp(prefix="maelstrom-selfcheck-")
    failed = 0
    start = time.monotonic()
    for fn in CHECKS:
        if args.k and args.k not in fn.__name__:
            continue
        t0 = time.monotonic()
        d = os.path.join(root, fn.__name__)
        try:
            fn(d)
            print(f"PASS {fn.__name__} ({time.monotonic() - t0:.1f}s)")
        except Exception as err:
            failed += 1
            print(f"FAIL {fn.__name__} ({time.monotonic() - t0:.1f}s): "
                  f"{err}")
            if not isinstance(err, CheckFailed):
                traceback.print_exc()
        sys.stdout.flush()
    print(f"{failed} failed, {time.monotonic() - start:.1f}s; node logs in "
          f"{root}" if args.keep or failed else
          f"{failed} failed, {time.monotonic() - start:.1f}s")
    if not (args.keep or failed):
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(failed)


if __name__ == "__main__":
    main()
