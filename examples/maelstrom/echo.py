#!/usr/bin/env python3
"""Maelstrom `echo` workload node: answers `echo` with `echo_ok`, carrying
the same `echo` field back. No flags."""

import os
import sys

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import Node  # noqa: E402


def main():
    node = Node()
    node.on("echo", lambda msg: {"type": "echo_ok",
                                 "echo": msg["body"].get("echo")})
    node.run()


if __name__ == "__main__":
    main()
