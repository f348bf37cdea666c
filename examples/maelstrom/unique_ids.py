#!/usr/bin/env python3
"""Maelstrom `unique-ids` workload node: `generate` -> `generate_ok` {id}.

An id is the string `NODE-BOOT-COUNTER`: the node id (unique in the
cluster), a boot token (the start time in nanoseconds plus 64 random bits,
fresh in each process, so a killed and restarted node never repeats an id of
its earlier life even though its counter starts again) and a counter
(unique within the process). Nothing is shared between nodes, so ids stay
unique under partitions. No flags.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import Node  # noqa: E402


def main():
    node = Node()
    boot = f"{time.time_ns():x}{os.urandom(8).hex()}"
    counter = [0]

    def generate(_msg):
        counter[0] += 1
        return {"type": "generate_ok",
                "id": f"{node.node_id}-{boot}-{counter[0]}"}

    node.on("generate", generate)
    node.run()


if __name__ == "__main__":
    main()
