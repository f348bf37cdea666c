#!/usr/bin/env python3
"""An `echo` node that breaks the Maelstrom protocol in one chosen way, for
testing that a harness names the node and the offending line instead of
hanging or passing.

    bad_node.py MODE

MODE, what happens (everything else is a correct echo node):
    no-init         never answers `init` (nor anything else)
    non-json        answers the first `echo` with a line that is not JSON
    unknown-dest    on the first `echo`, also sends a message to node `n99`
    no-src          answers the first `echo` without `src`
    no-in-reply-to  answers the first `echo` without `in_reply_to`
    exit            exits with status 3 on the first `echo`
"""

import json
import sys

MODES = ("no-init", "non-json", "unknown-dest", "no-src", "no-in-reply-to",
         "exit")


def out(obj):
    """Print one line on stdout (a JSON object or, for non-json, text)."""
    sys.stdout.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
    sys.stdout.flush()


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: bad_node.py {{{'|'.join(MODES)}}}")
    mode = sys.argv[1]
    me = None
    broken = False
    for line in sys.stdin:
        msg = json.loads(line)
        body = msg["body"]
        if body["type"] == "init":
            me = body["node_id"]
            if mode != "no-init":
                out({"src": me, "dest": msg["src"], "body": {
                    "type": "init_ok", "in_reply_to": body["msg_id"]}})
            continue
        if body["type"] != "echo" or mode == "no-init":
            continue
        reply = {"src": me, "dest": msg["src"],
                 "body": {"type": "echo_ok", "echo": body.get("echo"),
                          "in_reply_to": body["msg_id"]}}
        if not broken:
            broken = True
            print(f"bad_node {me}: misbehaving ({mode})", file=sys.stderr,
                  flush=True)
            if mode == "non-json":
                out("this line is not JSON")
                continue
            if mode == "unknown-dest":
                out({"src": me, "dest": "n99",
                     "body": {"type": "echo", "msg_id": 1, "echo": "hi"}})
            elif mode == "no-src":
                del reply["src"]
            elif mode == "no-in-reply-to":
                del reply["body"]["in_reply_to"]
            elif mode == "exit":
                sys.exit(3)
        out(reply)


if __name__ == "__main__":
    main()
