#!/usr/bin/env python3
"""A stand-in for faultline-node in harness tests: takes the node's command
line, serves GET /status (every node says n1 leads) and a per-process
in-memory key-value store on --http-addr, and accepts peer connections on
--peer-addr. Good enough to exercise cluster supervision and teardown
without the real node."""
import ctypes
import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The harness gives its direct child PR_SET_PDEATHSIG; an interpreter shim
# (pyenv) may stand between it and this process, so ask for it here too.
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() == 1:
    sys.exit(1)

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
node_id = args["--id"]
host, port = args["--http-addr"].rsplit(":", 1)
peer_host, peer_port = args["--peer-addr"].rsplit(":", 1)
store = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length", 0))
        return json.loads(self.rfile.read(n) or b"null")

    def do_GET(self):
        if self.path == "/status":
            role = "leader" if node_id == "n1" else "follower"
            return self.reply(200, {"id": node_id, "role": role, "term": 1, "leader": "n1",
                                    "commit_index": 0, "applied_index": 0, "last_log_index": 0})
        key = self.path[len("/kv/"):]
        with lock:
            if key not in store:
                return self.reply(404)
            return self.reply(200, {"value": store[key]})

    def do_PUT(self):
        key = self.path[len("/kv/"):]
        with lock:
            store[key] = self.body()["value"]
        self.reply(200, {})

    def do_POST(self):
        key, _, op = self.path[len("/kv/"):].partition("/")
        b = self.body()
        with lock:
            if op == "cas":
                if store.get(key) != b["from"]:
                    return self.reply(409, {"error": "value differs", "definite": True})
                store[key] = b["to"]
            else:
                store.setdefault(key, []).append(b["value"])
        self.reply(200, {})


def peers():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((peer_host, int(peer_port)))
    s.listen()
    while True:
        c, _ = s.accept()
        c.close()


threading.Thread(target=peers, daemon=True).start()
print(f"fake node {node_id} listening on {host}:{port}", flush=True)
ThreadingHTTPServer((host, int(port)), Handler).serve_forever()
