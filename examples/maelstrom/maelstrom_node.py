"""Maelstrom protocol plumbing shared by the example nodes (stdlib only).

Written from Maelstrom's doc/protocol.md: one JSON object a line on stdin and
stdout, `{"src", "dest", "body"}`; `body.type` is required, `msg_id` is an
integer unique per sender, a reply carries `in_reply_to`. The first message
is `init` (`node_id`, `node_ids`), answered `init_ok` before anything else.
Stdout carries nothing but those lines (written whole under a lock, flushed);
logs go to stderr.

Message ids start at the process's start time in microseconds, so a node that
is killed and restarted never reuses an id of its previous life (a late reply
to the old process cannot be taken for a reply to the new one).

Handlers run one at a time under `Node.lock` (a re-entrant lock), as do
timers and reply callbacks, so a node's state needs no other locking. A
handler registered with `threaded=True` runs in its own thread *without* the
lock, so it may block in `Node.sync_rpc`; it takes `Node.lock` itself when it
touches shared state.
"""

import json
import sys
import threading
import time

# Definite error codes (the operation certainly did not happen).
NOT_SUPPORTED = 10
TEMPORARILY_UNAVAILABLE = 11
MALFORMED_REQUEST = 12
KEY_DOES_NOT_EXIST = 20
KEY_ALREADY_EXISTS = 21
PRECONDITION_FAILED = 22
TXN_CONFLICT = 30
# Indefinite error codes (the operation may or may not have happened).
TIMEOUT = 0
CRASH = 13


class RPCError(Exception):
    """A Maelstrom error: raised by handlers to answer `error`, and by
    `Node.sync_rpc` when the peer answered one (or did not answer)."""

    def __init__(self, code, text=""):
        super().__init__(f"error {code}: {text}")
        self.code = code
        self.text = text

    def body(self):
        """The error as a Maelstrom message body."""
        return {"type": "error", "code": self.code, "text": self.text}


def log(*args):
    """Write a line to stderr (the node's log)."""
    print(*args, file=sys.stderr, flush=True)


class Node:
    """One Maelstrom node: reads stdin, dispatches by `body.type`, writes
    replies and messages to stdout."""

    def __init__(self):
        self.node_id = None
        self.node_ids = []
        self.lock = threading.RLock()
        self._out_lock = threading.Lock()
        self._next_msg_id = time.time_ns() // 1000
        self._handlers = {}
        self._callbacks = {}  # msg_id -> (deadline or None, fn)
        self._init_hooks = []
        self._timers = []
        self._initialized = False

    # ---- registration -------------------------------------------------

    def on(self, msg_type, fn, threaded=False):
        """Handle messages of `msg_type` with `fn(msg)`; its return value, a
        body dict, is sent as the reply (None: no reply)."""
        self._handlers[msg_type] = (fn, threaded)

    def on_init(self, fn):
        """Run `fn()` after `init` set the ids, before `init_ok` is sent."""
        self._init_hooks.append(fn)

    def every(self, period, fn):
        """Call `fn()` every `period` seconds (under the lock) once the node
        is initialised."""
        self._timers.append((period, fn))

    # ---- sending ------------------------------------------------------

    def new_msg_id(self):
        """A fresh message id."""
        with self._out_lock:
            self._next_msg_id += 1
            return self._next_msg_id

    def send(self, dest, body):
        """Send `body` to `dest` as one JSON line on stdout."""
        self._write({"src": self.node_id, "dest": dest, "body": body})

    def resend(self, msg, dest):
        """Send the message `msg` on to `dest`, changing nothing else: its
        `src` stays the original sender's, so `dest` answers that sender
        directly. Maelstrom's network accepts any `src` naming a node or
        client; its tutorial Raft proxies client requests this way."""
        self._write(dict(msg, dest=dest))

    def _write(self, envelope):
        line = json.dumps(envelope, separators=(",", ":"))
        with self._out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def reply(self, msg, body):
        """Answer the request `msg` with `body` (adds `in_reply_to`)."""
        body = dict(body)
        if "msg_id" in msg["body"]:
            body["in_reply_to"] = msg["body"]["msg_id"]
        self.send(msg["src"], body)

    def rpc(self, dest, body, callback, timeout=None):
        """Send a request; `callback(reply_body)` runs under the lock when
        the reply arrives, or `callback(None)` after `timeout` seconds."""
        msg_id = self.new_msg_id()
        body = dict(body, msg_id=msg_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            self._callbacks[msg_id] = (deadline, callback)
        self.send(dest, body)
        return msg_id

    def sync_rpc(self, dest, body, timeout):
        """Send a request and wait for its reply body. Raises `RPCError`
        for an `error` reply, and `RPCError(TIMEOUT)` when nothing came
        back in `timeout` seconds. Call only from a threaded handler."""
        done = threading.Event()
        box = []

        def got(reply):
            box.append(reply)
            done.set()

        self.rpc(dest, body, got, timeout)
        done.wait()
        reply = box[0]
        if reply is None:
            raise RPCError(TIMEOUT, f"no reply from {dest} in {timeout}s")
        if reply.get("type") == "error":
            raise RPCError(reply.get("code"), reply.get("text", ""))
        return reply

    # ---- main loop ----------------------------------------------------

    def run(self):
        """Read and dispatch messages until stdin closes."""
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
                body = msg["body"]
                body["type"]
            except (ValueError, KeyError, TypeError) as err:
                log(f"malformed message {line!r}: {err}")
                continue
            self._dispatch(msg)

    def _dispatch(self, msg):
        body = msg["body"]
        if body["type"] == "init":
            self._handle_init(msg)
            return
        if "in_reply_to" in body:
            with self.lock:
                entry = self._callbacks.pop(body["in_reply_to"], None)
                if entry is not None:
                    self._guard(entry[1], body)
            return
        handler = self._handlers.get(body["type"])
        if handler is None:
            self.reply(msg, RPCError(NOT_SUPPORTED,
                                     f"unknown type {body['type']}").body())
            return
        fn, threaded = handler
        if threaded:
            threading.Thread(target=self._handle, args=(fn, msg),
                             daemon=True).start()
        else:
            with self.lock:
                self._handle(fn, msg)

    def _handle(self, fn, msg):
        try:
            out = fn(msg)
        except RPCError as err:
            out = err.body()
        except Exception as err:  # a bug in the handler: say so, indefinitely
            log(f"handler for {msg['body']['type']} failed: {err!r}")
            out = RPCError(CRASH, f"handler failed: {err!r}").body()
        if out is not None:
            self.reply(msg, out)

    def _guard(self, fn, *args):
        try:
            fn(*args)
        except Exception as err:
            log(f"callback failed: {err!r}")

    def _handle_init(self, msg):
        body = msg["body"]
        with self.lock:
            self.node_id = body["node_id"]
            self.node_ids = list(body["node_ids"])
            for hook in self._init_hooks:
                hook()
        self.reply(msg, {"type": "init_ok"})
        if not self._initialized:
            self._initialized = True
            for period, fn in self._timers:
                threading.Thread(target=self._timer_loop, args=(period, fn),
                                 daemon=True).start()
            threading.Thread(target=self._expire_loop, daemon=True).start()

    def _timer_loop(self, period, fn):
        while True:
            time.sleep(period)
            with self.lock:
                self._guard(fn)

    def _expire_loop(self):
        while True:
            time.sleep(0.05)
            now = time.monotonic()
            with self.lock:
                late = [mid for mid, (deadline, _) in self._callbacks.items()
                        if deadline is not None and deadline <= now]
                for mid in late:
                    _, fn = self._callbacks.pop(mid)
                    self._guard(fn, None)
