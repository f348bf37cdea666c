#!/usr/bin/env python3
"""A faultline `--system exec` client program for faultline-node (stdlib only).

Usage: faultline_node_client.py HTTP_ADDR

Reads one JSON request a line on stdin, performs it against the
faultline-node whose HTTP API is at HTTP_ADDR, and answers one JSON line on
stdout in Maelstrom's client vocabulary (see harness/src/system/exec.rs):

    read   {"key"}                  -> read_ok {"value"}   (error 20: never written)
    write  {"key","value"}          -> write_ok
    cas    {"key","from","to"}      -> cas_ok              (error 22: value differs)
    add    {"key","element"}        -> add_ok
    txn    [["append",k,v]]         -> txn_ok
    status                          -> status_ok {"role","term","leader",...}

The node's own error bodies {"error": CODE, "definite": BOOL} become
Maelstrom errors: definite ones 11 (temporarily-unavailable), 12, 20 or 22;
indefinite ones 0 (timeout) or 13 (crash). A refused connection (nothing
sent) is 11; a timeout is 0; a connection lost after sending is 13. The
program never retries: each request is sent exactly once.

The HTTP timeout is 90% of FAULTLINE_TIMEOUT_MS (default 1000), so the
program answers `timeout` before the harness gives up on it.
"""

import http.client
import json
import os
import socket
import sys

TIMEOUT = 0.9 * int(os.environ.get("FAULTLINE_TIMEOUT_MS", "1000")) / 1000.0


def error(code, text):
    return {"type": "error", "code": code, "text": text}


def node_error(status, body):
    """A Maelstrom error for one of the node's error answers."""
    code = body.get("error") if isinstance(body, dict) else None
    definite = bool(body.get("definite")) if isinstance(body, dict) else False
    text = "%s (HTTP %d)" % (code, status)
    if code == "not-found":
        return error(20, text)
    if code == "cas-mismatch":
        return error(22, text)
    if code == "bad-request":
        return error(12, text)
    if definite:
        return error(11, text)
    return error(0 if code == "timeout" else 13, text)


def call(conn_box, addr, method, path, body=None):
    """Sends one request; returns (status, json body) or a Maelstrom error."""
    conn = conn_box.get("conn")
    if conn is None:
        host, port = addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
        try:
            conn.connect()
        except ConnectionRefusedError as e:
            return error(11, "connect: %s" % e)
        except socket.timeout:
            return error(11, "connect timeout")
        except OSError as e:
            return error(11, "connect: %s" % e)
        conn_box["conn"] = conn
    payload = None if body is None else json.dumps(body)
    headers = {"content-type": "application/json"} if payload else {}
    try:
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    except socket.timeout:
        conn_box["conn"] = None
        conn.close()
        return error(0, "timeout")
    except (OSError, http.client.HTTPException) as e:
        conn_box["conn"] = None
        conn.close()
        return error(13, "connection lost: %s" % e)
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    return resp.status, data


def perform(conn_box, addr, req):
    kind = req.get("type")
    key = req.get("key")
    if kind == "txn":
        ops = req.get("txn") or []
        if len(ops) != 1 or ops[0][0] != "append":
            return error(10, "only single-append transactions are supported")
        _, key, value = ops[0]
        path, method, body, ok = "/kv/%s/append" % key, "POST", {"value": value}, "txn_ok"
    elif kind == "read":
        path, method, body, ok = "/kv/%s" % key, "GET", None, "read_ok"
    elif kind == "write":
        path, method, body, ok = "/kv/%s" % key, "PUT", {"value": req.get("value")}, "write_ok"
    elif kind == "cas":
        body = {"from": req.get("from"), "to": req.get("to")}
        path, method, ok = "/kv/%s/cas" % key, "POST", "cas_ok"
    elif kind == "add":
        path, method, body, ok = "/kv/%s/append" % key, "POST", {"value": req.get("element")}, "add_ok"
    elif kind == "status":
        path, method, body, ok = "/status", "GET", None, "status_ok"
    else:
        return error(10, "unsupported request type %r" % kind)
    answer = call(conn_box, addr, method, path, body)
    if isinstance(answer, dict):
        return answer
    status, data = answer
    if status != 200:
        return node_error(status, data)
    reply = {"type": ok}
    if kind == "read":
        reply["value"] = data.get("value") if isinstance(data, dict) else None
    elif kind == "status" and isinstance(data, dict):
        for field in ("role", "term", "leader", "last_log_index", "snapshot_index"):
            if field in data:
                reply[field] = data[field]
    return reply


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: faultline_node_client.py HTTP_ADDR\n")
        return 2
    addr = sys.argv[1]
    conn_box = {"conn": None}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        reply = perform(conn_box, addr, req)
        reply["in_reply_to"] = req.get("msg_id")
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
