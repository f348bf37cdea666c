#!/usr/bin/env python3
"""Acknowledged appends that no later read shows, in txn-list-append runs.

For each run folder given, every element whose append was acknowledged
(its transaction completed `ok`) is looked for in every successful read of
its key that began after that acknowledgement (the clients' reads and the
final reads). An element missing from all of them, with at least one such
read, was lost: the database said it committed, and nothing read it again.
An element missing from some later reads but not all was read stale (with
`wsrep_sync_wait=0` a node may answer before it applied what others
committed) and is only counted.

The transactional checker cannot see such a loss against a model without
real-time order (repeatable-read): the lost transaction can always be
placed after every read that missed it. This is the direct check.

Prints one line per run: `lost N of M` and the first lost elements
(key, element, acknowledged at seconds, later reads), and `stale K`.
Exit 1 when any run lost an element, else 0.
"""

import json
import sys


def check(run):
    """(acknowledged, lost, stale) of the run folder `run`."""
    invoked = {}
    acked = {}
    reads = {}
    with open(run + "/history.jsonl") as f:
        for line in f:
            e = json.loads(line)
            if e.get("f") != "txn":
                continue
            p = e["process"]
            if e["type"] == "invoke":
                invoked[p] = e["time"]
                continue
            if e["type"] != "ok":
                continue
            start = invoked.get(p, 0)
            for func, key, value in e["value"]:
                if func == "append":
                    acked[(key, value)] = e["time"]
                elif func == "r" and isinstance(value, list):
                    reads.setdefault(key, []).append((start, set(value)))
    lost = []
    stale = 0
    for (key, value), at in sorted(acked.items(), key=lambda kv: kv[1]):
        later = [seen for start, seen in reads.get(key, []) if start > at]
        missing = [seen for seen in later if value not in seen]
        if later and len(missing) == len(later):
            lost.append((key, value, round(at / 1e9, 3), len(later)))
        elif missing:
            stale += 1
    return len(acked), lost, stale


def main(runs):
    any_lost = False
    for run in runs:
        try:
            n, lost, stale = check(run.rstrip("/"))
        except OSError as e:
            print(f"{run}: {e}")
            continue
        any_lost = any_lost or bool(lost)
        shown = " ".join(f"{k}:{v}@{t}s/{r}" for k, v, t, r in lost[:5])
        print(f"{run}: lost {len(lost)} of {n} {shown}".rstrip() + f"; stale {stale}")
    return 1 if any_lost else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
