#!/usr/bin/env python3
"""A longer lin-kv run against raft_kv.py with faults, written as a faultline
history (stdlib only; uses the self-check's router).

    python3 examples/maelstrom/tests/stress.py --out history.jsonl \\
        [--time 30] [--nemesis partition,pause,kill] [--seed 1] \\
        [--volatile] [--keep DIR]
    faultline check --model register history.jsonl

Clients (`--concurrency`, default 6) run read / write / cas on keys 0..2
with unique written values, one request in flight each, through a random
node; every `--interval` seconds the nemesis heals and resumes everything,
then picks one fault: a random partition into two groups, a SIGSTOP of one
node, or a SIGKILL and restart of one node (same directory). At the end
everything is healed and resumed and the clients stop. Answers map to
history events the way faultline's own clients do: `*_ok` -> ok; read error
20 -> ok null; cas error 20 or 22 -> fail without error (observed a
mismatch); error 11 and other definite codes -> fail with the error; no
answer, 0 or 13 -> info (and the process is replaced by a new one).
Exit code 0 when the run completed (the verdict is faultline check's).
"""

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import selfcheck  # noqa: E402

DEFINITE = {1, 10, 11, 12, 14, 21, 30}


class Recorder:
    """history.jsonl lines, index and time assigned under one lock."""

    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()
        self.index = 0
        self.t0 = time.monotonic_ns()

    def event(self, **fields):
        with self.lock:
            fields = dict(index=self.index,
                          time=time.monotonic_ns() - self.t0, **fields)
            self.index += 1
            self.f.write(json.dumps(fields) + "\n")
            self.f.flush()


def worker(cluster, rec, wid, concurrency, stop, seed, counter, stats,
           recent):
    rng = random.Random(seed * 1000 + wid)
    process = wid
    cl = cluster.client()
    while not stop.is_set():
        key = rng.randrange(3)
        f = rng.choice(["read", "write", "cas"])
        if f == "read":
            body, value = {"type": "read", "key": key}, None
        elif f == "write":
            v = next(counter)
            body, value = {"type": "write", "key": key, "value": v}, v
        else:
            seen = recent[key][-4:] or [0]
            frm, to = rng.choice(seen), next(counter)
            body = {"type": "cas", "key": key, "from": frm, "to": to}
            value = [frm, to]
        nid = rng.choice(cluster.ids)
        rec.event(process=process, type="invoke", f=f, key=key, value=value)
        r = cl.call(nid, body, timeout=2.0)
        code = None if r is None else r.get("code")
        if r is not None and r["type"].endswith("_ok"):
            seen = r["value"] if f == "read" else value
            rec.event(process=process, type="ok", f=f, key=key, value=seen)
            stats["ok"] += 1
            recent[key].append(seen[1] if f == "cas" else seen)
        elif r is not None and code == 20 and f == "read":
            rec.event(process=process, type="ok", f=f, key=key, value=None)
            stats["ok"] += 1
        elif r is not None and code in (20, 22) and f == "cas":
            rec.event(process=process, type="fail", f=f, key=key,
                      value=value)
            stats["fail"] += 1
        elif r is not None and code in DEFINITE:
            rec.event(process=process, type="fail", f=f, key=key,
                      value=value, error=f"error {code}")
            stats[f"error {code}"] = stats.get(f"error {code}", 0) + 1
            time.sleep(0.05)
        else:
            rec.event(process=process, type="info", f=f, key=key,
                      value=value, error="timeout" if r is None
                      else f"error {code}")
            stats["info"] += 1
            process += concurrency
            cl = cluster.client()


def nemesis(cluster, rec, kinds, interval, stop, rng):
    paused = []
    while not stop.wait(interval):
        heal(cluster, rec, paused)
        kind = rng.choice(kinds)
        if kind == "partition":
            ids = list(cluster.ids)
            rng.shuffle(ids)
            cut = rng.randrange(1, len(ids))
            groups = [sorted(ids[:cut]), sorted(ids[cut:])]
            cluster.partition(*groups)
            rec.event(process="nemesis", type="info", f="start-partition",
                      value=groups)
        elif kind == "pause":
            nid = rng.choice(cluster.ids)
            cluster.signal(nid, signal.SIGSTOP)
            paused.append(nid)
            rec.event(process="nemesis", type="info", f="pause", value=[nid])
        elif kind == "kill":
            nid = rng.choice(cluster.ids)
            rec.event(process="nemesis", type="info", f="kill", value=[nid])
            cluster.restart(nid)
    heal(cluster, rec, paused)


def heal(cluster, rec, paused):
    cluster.heal()
    for nid in paused:
        cluster.signal(nid, signal.SIGCONT)
    paused.clear()
    rec.event(process="nemesis", type="info", f="heal", value=None)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--time", type=float, default=30)
    p.add_argument("--nemesis", default="partition,pause,kill")
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--concurrency", type=int, default=6)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--volatile", action="store_true")
    p.add_argument("--latency", type=int, default=0,
                   help="node-to-node delay, uniform in [0, N] ms")
    p.add_argument("--keep", help="node directories here (default: temp)")
    args = p.parse_args()
    random.seed(args.seed)  # the nodes' timeouts are their own
    root = args.keep or tempfile.mkdtemp(prefix="maelstrom-stress-")
    node_args = ["--volatile"] if args.volatile else []
    cluster = selfcheck.Cluster("raft_kv.py", node_args, args.nodes, root,
                                seed=args.seed, latency_ms=args.latency)
    rec = Recorder(args.out)
    stop = threading.Event()
    stats = {"ok": 0, "fail": 0, "info": 0}
    counter = iter(range(10, 10 ** 9))
    lock = threading.Lock()

    def next_value(it=counter):
        with lock:
            return next(it)

    class Counter:
        def __next__(self):
            return next_value()

    recent = {k: [] for k in range(3)}
    kinds = [k for k in args.nemesis.split(",") if k]
    threads = [threading.Thread(target=worker, args=(
        cluster, rec, w, args.concurrency, stop, args.seed, Counter(), stats,
        recent))
        for w in range(args.concurrency)]
    if kinds:
        threads.append(threading.Thread(target=nemesis, args=(
            cluster, rec, kinds, args.interval, stop,
            random.Random(args.seed))))
    try:
        for t in threads:
            t.start()
        time.sleep(args.time)
    finally:
        stop.set()
        for t in threads:
            t.join()
        cluster.close()
    print(f"outcomes {json.dumps(stats)}; history {args.out}; "
          f"node directories {root}")


if __name__ == "__main__":
    main()
