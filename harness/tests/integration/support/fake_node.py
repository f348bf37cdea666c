#!/usr/bin/env python3
"""A stand-in for faultline-node in harness tests: takes the node's command
line, serves GET /status (every node says n1 leads) and an in-memory
key-value store on --http-addr, and accepts peer connections on
--peer-addr. n1 holds the only copy of the data: the other nodes forward
every request to n1's HTTP port (from their own process, so partitions cut
them off). It is therefore linearizable under pauses and partitions, and
loses everything when n1 is killed. Good enough to exercise cluster
supervision, teardown and the recording of histories without the real
node."""
import ctypes
import json
import os
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
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
peers = dict(p.split("=") for p in args["--peers"].split(","))
leader_http = peers["n1"].rsplit(":", 1)[0] + ":" + port
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

    def forward(self, method):
        """Sends the request on to n1; True when this node is n1."""
        if node_id == "n1":
            return False
        n = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(n) if n else None
        req = urllib.request.Request("http://" + leader_http + self.path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=0.5) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        except Exception:
            self.reply(503, {"error": "leader-unreachable", "definite": False})
            return True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return True

    def do_GET(self):
        if self.path == "/status":
            role = "leader" if node_id == "n1" else "follower"
            return self.reply(200, {"id": node_id, "role": role, "term": 1, "leader": "n1",
                                    "commit_index": 0, "applied_index": 0, "last_log_index": 0})
        if self.forward("GET"):
            return
        key = self.path[len("/kv/"):]
        with lock:
            if key not in store:
                return self.reply(404)
            return self.reply(200, {"value": store[key]})

    def do_PUT(self):
        if self.forward("PUT"):
            return
        key = self.path[len("/kv/"):]
        with lock:
            store[key] = self.body()["value"]
        self.reply(200, {})

    def do_POST(self):
        if self.forward("POST"):
            return
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
