#!/usr/bin/env python3
"""Maelstrom `lin-kv` workload node: a small Raft (stdlib only).

Client operations (answered only once the operation is committed and
applied, by the node the client asked):
    read  {key}            -> read_ok {value}   | error 20 (no such key)
    write {key, value}     -> write_ok
    cas   {key, from, to}  -> cas_ok            | error 22 (value differs)
                                                | error 20 (no such key)
Reads go through the log too, so every answer is linearizable.

Raft, as in the paper (Ongaro & Ousterhout, figure 2):
* leader election with randomised timeouts (uniform in [E, 2E] ms,
  `--election-ms E`, default 500); a candidate asks `request_vote`, voters
  grant one vote a term to candidates whose log is at least as up to date;
* replication with `append_entries` (heartbeats every `--heartbeat-ms`,
  default 100; a follower's reply carries a hint to back up a whole term at
  once); a new leader appends a no-op of its term;
* commit: the leader advances the commit index only to an entry of its
  current term stored on a majority (its own copy counts once it is
  fsynced: the leader sends new entries at once and fsyncs its own log on
  the next 10 ms tick, so proposals close in time share one fsync).

Requests reaching a follower are forwarded to the leader it knows
(`forward` {request}); the follower relays the leader's answer. Without a
known leader the client gets error 11 (temporarily unavailable: nothing was
done). A forwarded request whose leader does not answer within
`--forward-timeout-ms` (default 2000) gets error 0 (timeout, indefinite: it
may still commit). A leader that loses leadership keeps its pending requests
and answers them if the entries commit after all; otherwise they are never
answered (the client times out: indefinite). No client ever gets a definite
error for something that might have happened.

Persistence (default): the current term and vote are kept in
`raft-<node>-state.json` (written to a temporary file, fsynced, renamed,
directory fsynced) and the log in `raft-<node>-log.jsonl` (one entry a line,
appended, fsynced; rewritten the same atomic way when a conflicting suffix
is cut off), both in the working directory. Every message that depends on
them (a vote, a vote request, an `append_entries` answer) is sent only after
they are on disk, and a leader counts its own copy of an entry toward commit
only once it is on disk; the entries of one `append_entries` share one
fsync. On start the node reads
them back (a torn last log line, from a crash in the middle of a write, is
dropped); the key-value state is rebuilt by applying the log again once the
commit index is learnt.

Flag `--volatile`: term, vote and log live in memory only. A killed and
restarted node forgets whom it voted for and what it acknowledged, so a
`kill` nemesis can make two leaders in one term or lose committed writes:
this mode is meant to be caught.
"""

import argparse
import json
import os
import random
import sys
import time

sys.dont_write_bytecode = True  # keep the examples directory clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maelstrom_node import (  # noqa: E402
                            KEY_DOES_NOT_EXIST, MALFORMED_REQUEST,
                            PRECONDITION_FAILED, TEMPORARILY_UNAVAILABLE,
                            TIMEOUT, Node, RPCError, log)

MAX_BATCH = 64  # entries in one append_entries


class Storage:
    """Term, vote and log of one node: on disk, or nowhere (volatile)."""

    def __init__(self, node_id, volatile):
        self.volatile = volatile
        self.state_path = f"raft-{node_id}-state.json"
        self.log_path = f"raft-{node_id}-log.jsonl"
        self.log_file = None
        self.dirty = False

    def load(self):
        """(term, voted_for, entries) as saved; a fresh start if nothing
        was. Exits the process on a damaged file, naming it."""
        if self.volatile:
            return 0, None, []
        term, vote = 0, None
        if os.path.exists(self.state_path):
            try:
                with open(self.state_path) as f:
                    st = json.load(f)
                term, vote = int(st["term"]), st["voted_for"]
            except (ValueError, KeyError, TypeError) as err:
                sys.exit(f"{self.state_path}: damaged state file: {err}")
        entries = []
        torn = False
        if os.path.exists(self.log_path):
            with open(self.log_path) as f:
                lines = f.read().split("\n")
            # a complete file ends with "\n": the last piece is empty
            for i, line in enumerate(lines):
                last = i == len(lines) - 1
                if last and line == "":
                    break
                try:
                    e = json.loads(line)
                    int(e["term"])
                except (ValueError, KeyError, TypeError) as err:
                    if last:
                        torn = True
                        break
                    sys.exit(f"{self.log_path}:{i + 1}: damaged entry: {err}")
                if last:
                    torn = True  # parsed, but its newline never made it
                    break
                entries.append(e)
        if torn:
            log(f"{self.log_path}: dropping a torn last line")
            self.rewrite(entries)
        self.log_file = open(self.log_path, "a")
        return term, vote, entries

    def save_state(self, term, voted_for):
        """Make term and vote durable (before anything depending on them is
        sent)."""
        if self.volatile:
            return
        self._atomic_write(self.state_path, json.dumps(
            {"term": term, "voted_for": voted_for}) + "\n")

    def append(self, entries):
        """Append entries (durable at the next `sync`)."""
        if self.volatile or not entries:
            return
        self.log_file.write("".join(json.dumps(e, separators=(",", ":"))
                                    + "\n" for e in entries))
        self.dirty = True

    def sync(self):
        """Make every appended entry durable."""
        if self.volatile or not self.dirty:
            return
        self.log_file.flush()
        os.fsync(self.log_file.fileno())
        self.dirty = False

    def rewrite(self, entries):
        """Replace the whole log durably (after cutting a suffix off)."""
        if self.volatile:
            return
        if self.log_file is not None:
            self.log_file.close()
        self._atomic_write(self.log_path, "".join(
            json.dumps(e, separators=(",", ":")) + "\n" for e in entries))
        self.log_file = open(self.log_path, "a")
        self.dirty = False

    @staticmethod
    def _atomic_write(path, text):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _same(a, b):
    """JSON equality (Python's 1 == True must not make them equal)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


class Raft:
    """One Raft replica of the key-value store; every method runs under the
    node's lock."""

    def __init__(self, node, volatile, election_s, heartbeat_s, forward_s):
        self.node = node
        self.volatile = volatile
        self.election_s = election_s
        self.heartbeat_s = heartbeat_s
        self.forward_s = forward_s
        self.storage = None
        self.loaded = False
        self.term = 0
        self.voted_for = None
        self.log = [{"term": 0}]  # index 0 is a sentinel
        self.durable = 0  # last log index known fsynced here
        self.role = "follower"
        self.leader = None
        self.votes = set()
        self.commit = 0
        self.applied = 0
        self.kv = {}
        self.next_index = {}
        self.match_index = {}
        self.last_sent = {}
        self.inflight = {}
        self.pending = {}  # entry id -> (expiry, callback(result body))
        self.op_ids = 0
        self.boot = f"{time.time_ns():x}"
        self.deadline = 0.0

    # ---- lifecycle ----------------------------------------------------

    def on_init(self):
        if self.loaded:
            return
        self.loaded = True
        self.storage = Storage(self.node.node_id, self.volatile)
        self.term, self.voted_for, entries = self.storage.load()
        self.log.extend(entries)
        self.durable = len(self.log) - 1
        self.reset_deadline()
        mode = "volatile" if self.volatile else "persistent"
        log(f"{self.node.node_id}: term {self.term} vote {self.voted_for} "
            f"log {len(entries)} entries ({mode})")

    def peers(self):
        return [n for n in self.node.node_ids if n != self.node.node_id]

    def majority(self):
        return len(self.node.node_ids) // 2 + 1

    def reset_deadline(self):
        self.deadline = time.monotonic() + random.uniform(
            self.election_s, 2 * self.election_s)

    def tick(self):
        if not self.loaded:
            return
        now = time.monotonic()
        if self.role != "leader" and now >= self.deadline:
            self.start_election()
        self.sync_local()
        if self.role == "leader":
            for p in self.peers():
                if now - self.last_sent.get(p, 0) >= self.heartbeat_s:
                    self.send_append(p)
        for oid in [o for o, (exp, _) in self.pending.items() if exp < now]:
            del self.pending[oid]  # never committed in time: no answer

    # ---- terms and elections -----------------------------------------

    def set_term(self, term, voted_for):
        self.term, self.voted_for = term, voted_for
        self.storage.save_state(term, voted_for)

    def step_down(self, term):
        """A higher term was seen: become its follower."""
        if self.role == "leader":
            log(f"{self.node.node_id}: leader of term {self.term} steps "
                f"down for term {term}")
        self.set_term(term, None)
        self.role = "follower"
        self.leader = None

    def start_election(self):
        self.set_term(self.term + 1, self.node.node_id)
        self.role = "candidate"
        self.leader = None
        self.votes = {self.node.node_id}
        self.reset_deadline()
        if len(self.votes) >= self.majority():
            self.become_leader()
            return
        term = self.term
        body = {"type": "request_vote", "term": term,
                "last_log_index": len(self.log) - 1,
                "last_log_term": self.log[-1]["term"]}
        for p in self.peers():
            self.node.rpc(p, body, self._vote_reply(p, term),
                          timeout=self.election_s)

    def _vote_reply(self, peer, term):
        def got(reply):
            if reply is None or reply.get("type") != "request_vote_ok":
                return
            if reply["term"] > self.term:
                self.step_down(reply["term"])
                self.reset_deadline()
                return
            if self.role != "candidate" or self.term != term:
                return
            if reply.get("vote_granted"):
                self.votes.add(peer)
                if len(self.votes) >= self.majority():
                    self.become_leader()
        return got

    def request_vote(self, msg):
        b = msg["body"]
        cand = msg["src"]
        if b["term"] > self.term:
            self.step_down(b["term"])
        up_to_date = (b["last_log_term"], b["last_log_index"]) >= \
            (self.log[-1]["term"], len(self.log) - 1)
        grant = (b["term"] == self.term and up_to_date and
                 self.voted_for in (None, cand))
        if grant:
            if self.voted_for != cand:
                self.set_term(self.term, cand)
            self.reset_deadline()
        return {"type": "request_vote_ok", "term": self.term,
                "vote_granted": grant}

    def become_leader(self):
        log(f"{self.node.node_id}: leader of term {self.term}")
        self.role = "leader"
        self.leader = self.node.node_id
        for p in self.peers():
            self.next_index[p] = len(self.log)
            self.match_index[p] = 0
            self.last_sent[p] = 0
            self.inflight[p] = None
        self.append_local({"term": self.term, "op": None,
                           "id": self.new_op_id()})
        self.sync_local()  # a single-node cluster commits alone
        for p in self.peers():
            self.send_append(p)

    # ---- replication -------------------------------------------------

    def new_op_id(self):
        self.op_ids += 1
        return f"{self.node.node_id}-{self.boot}-{self.op_ids}"

    def append_local(self, entry):
        """Append to the leader's log; durable (and counted for commit)
        at the next `sync_local`, so proposals close in time share one
        fsync."""
        self.log.append(entry)
        self.storage.append([entry])

    def sync_local(self):
        if len(self.log) - 1 > self.durable:
            self.storage.sync()
            self.durable = len(self.log) - 1
            if self.role == "leader":
                self.advance_commit()

    def send_append(self, peer):
        ni = self.next_index[peer]
        prev = ni - 1
        entries = self.log[ni:ni + MAX_BATCH]
        body = {"type": "append_entries", "term": self.term,
                "prev_log_index": prev,
                "prev_log_term": self.log[prev]["term"],
                "entries": entries, "leader_commit": self.commit}
        now = time.monotonic()
        self.last_sent[peer] = now
        self.inflight[peer] = now
        self.node.rpc(peer, body,
                      self._append_reply(peer, self.term, prev, len(entries)),
                      timeout=self.election_s)

    def _append_reply(self, peer, term, prev, n):
        def got(reply):
            if reply is None or reply.get("type") != "append_entries_ok":
                self.inflight[peer] = None  # lost: the next send may go
                return
            if reply["term"] > self.term:
                self.step_down(reply["term"])
                self.reset_deadline()
                return
            if self.role != "leader" or self.term != term:
                return
            self.inflight[peer] = None
            if reply["success"]:
                match = prev + n
                if match > self.match_index[peer]:
                    self.match_index[peer] = match
                self.next_index[peer] = max(self.next_index[peer], match + 1)
                self.advance_commit()
                if self.next_index[peer] < len(self.log):
                    self.send_append(peer)
            else:
                hint = int(reply.get("hint", prev))
                self.next_index[peer] = max(1, min(hint, prev,
                                                   self.next_index[peer]))
                self.send_append(peer)
        return got

    def append_entries(self, msg):
        b = msg["body"]
        if b["term"] < self.term:
            return {"type": "append_entries_ok", "term": self.term,
                    "success": False}
        if b["term"] > self.term:
            self.step_down(b["term"])
        self.role = "follower"
        self.leader = msg["src"]
        self.reset_deadline()
        prev = b["prev_log_index"]
        if prev >= len(self.log):
            return {"type": "append_entries_ok", "term": self.term,
                    "success": False, "hint": len(self.log)}
        if self.log[prev]["term"] != b["prev_log_term"]:
            bad = self.log[prev]["term"]
            i = prev
            while i > 1 and self.log[i - 1]["term"] == bad:
                i -= 1
            return {"type": "append_entries_ok", "term": self.term,
                    "success": False, "hint": i}
        entries = b["entries"]
        for k, e in enumerate(entries):
            idx = prev + 1 + k
            if idx < len(self.log):
                if self.log[idx]["term"] == e["term"]:
                    continue
                if idx <= self.commit:
                    log(f"{self.node.node_id}: refusing to cut committed "
                        f"entry {idx}")
                    return {"type": "append_entries_ok", "term": self.term,
                            "success": False, "hint": idx}
                del self.log[idx:]
                self.storage.rewrite(self.log[1:])
            self.log.extend(entries[k:])
            self.storage.append(entries[k:])
            break
        self.storage.sync()
        self.durable = len(self.log) - 1
        last_new = prev + len(entries)
        # max: a late, reordered append_entries must not lower the index
        self.commit = max(self.commit, min(b["leader_commit"], last_new))
        self.apply()
        return {"type": "append_entries_ok", "term": self.term,
                "success": True}

    def advance_commit(self):
        for n in range(len(self.log) - 1, self.commit, -1):
            if self.log[n]["term"] != self.term:
                break
            acks = (1 if self.durable >= n else 0) + sum(
                1 for p in self.peers() if self.match_index.get(p, 0) >= n)
            if acks >= self.majority():
                self.commit = n
                self.apply()
                break

    # ---- the key-value state machine ---------------------------------

    def apply(self):
        while self.applied < self.commit:
            self.applied += 1
            entry = self.log[self.applied]
            result = self.execute(entry.get("op"))
            waiting = self.pending.pop(entry.get("id"), None)
            if waiting is not None:
                waiting[1](result)

    def execute(self, op):
        if op is None:
            return None
        key = json.dumps(op["key"], sort_keys=True)
        f = op["type"]
        if f == "read":
            if key not in self.kv:
                return RPCError(KEY_DOES_NOT_EXIST, "no such key").body()
            return {"type": "read_ok", "value": self.kv[key]}
        if f == "write":
            self.kv[key] = op["value"]
            return {"type": "write_ok"}
        if key not in self.kv:
            return RPCError(KEY_DOES_NOT_EXIST, "no such key").body()
        if not _same(self.kv[key], op["from"]):
            return RPCError(PRECONDITION_FAILED,
                            f"expected {op['from']!r}, had "
                            f"{self.kv[key]!r}").body()
        self.kv[key] = op["to"]
        return {"type": "cas_ok"}

    # ---- client requests ---------------------------------------------

    @staticmethod
    def parse_op(body):
        f = body.get("type")
        need = {"read": ("key",), "write": ("key", "value"),
                "cas": ("key", "from", "to")}.get(f)
        if need is None:
            raise RPCError(MALFORMED_REQUEST, f"not a lin-kv operation: {f}")
        missing = [k for k in need if k not in body]
        if missing:
            raise RPCError(MALFORMED_REQUEST,
                           f"{f} needs {', '.join(missing)}")
        return dict({k: body[k] for k in need}, type=f)

    def propose(self, op, answer):
        """Append op; `answer(result body)` once it is applied."""
        entry = {"term": self.term, "op": op, "id": self.new_op_id()}
        self.pending[entry["id"]] = (time.monotonic() + 10 * self.election_s
                                     + self.forward_s, answer)
        self.append_local(entry)
        for p in self.peers():
            if self.inflight.get(p) is None:
                self.send_append(p)

    def client_request(self, msg):
        op = self.parse_op(msg["body"])
        if self.role == "leader":
            self.propose(op, lambda result: self.node.reply(msg, result))
            return None
        if self.leader is None:
            raise RPCError(TEMPORARILY_UNAVAILABLE, "no leader known")

        def relay(reply):
            if reply is None:
                out = RPCError(TIMEOUT, f"leader {self.leader} did not "
                               "answer; the operation may still happen").body()
            else:
                out = {k: v for k, v in reply.items()
                       if k not in ("msg_id", "in_reply_to")}
            self.node.reply(msg, out)

        self.node.rpc(self.leader, {"type": "forward", "request": op}, relay,
                      timeout=self.forward_s)
        return None

    def forward(self, msg):
        if self.role != "leader":
            raise RPCError(TEMPORARILY_UNAVAILABLE,
                           f"{self.node.node_id} is not the leader")
        op = self.parse_op(msg["body"].get("request") or {})
        self.propose(op, lambda result: self.node.reply(msg, result))
        return None


def main(raft_class=Raft, doc=__doc__):
    """Run a node of `raft_class` (this file's Raft, or a subclass)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--volatile", action="store_true",
                        help="keep term, vote and log in memory only")
    parser.add_argument("--election-ms", type=int, default=500,
                        help="election timeout: uniform in [E, 2E] ms")
    parser.add_argument("--heartbeat-ms", type=int, default=100)
    parser.add_argument("--forward-timeout-ms", type=int, default=2000)
    args = parser.parse_args()
    node = Node()
    raft = raft_class(node, args.volatile, args.election_ms / 1000,
                args.heartbeat_ms / 1000, args.forward_timeout_ms / 1000)
    node.on_init(raft.on_init)
    for f in ("read", "write", "cas"):
        node.on(f, raft.client_request)
    node.on("forward", raft.forward)
    node.on("request_vote", raft.request_vote)
    node.on("append_entries", raft.append_entries)
    node.every(0.01, raft.tick)
    node.run()


if __name__ == "__main__":
    main()
