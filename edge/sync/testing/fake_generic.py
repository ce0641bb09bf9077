"""A fake generic JSON endpoint that behaves as docs/sync.md asks a shop's receiver to.

``POST /pibench/results`` with ``Idempotency-Key`` and ``Authorization: Bearer <token>``: the first
request for a key stores the body and answers 201 ``{"id": ...}``; a repeat with the same body
answers 409 (already delivered); a repeat with a different body answers 422 (a reused key).
``GET`` on any path answers (405 on the results path, 200 on ``/health``), which is what the
sync's probe needs. Ground truth: ``/_control/received`` (POSTs per key, stored order).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading

from edge.sync.testing.http_base import Reply, Request, json_reply

RESULTS_PATH = "/pibench/results"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stored (seq INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL,
    digest TEXT NOT NULL, serial TEXT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS posts (key TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""


class FakeGeneric:
    def __init__(self, state_path: str) -> None:
        self.db = sqlite3.connect(state_path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.executescript(_SCHEMA)
        self.lock = threading.Lock()

    def handle(self, r: Request) -> Reply:
        if r.path == "/health":
            return json_reply(200, {"ok": True})
        if r.path != RESULTS_PATH:
            return json_reply(404, {"error": "not found"})
        if r.method != "POST":
            return json_reply(405, {"error": "method not allowed"}, {"Allow": "POST"})
        with self.lock:
            header = r.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            row = self.db.execute("SELECT state FROM tokens WHERE token = ?", (token,)).fetchone()
            if scheme != "Bearer" or row is None or row[0] != "valid":
                return json_reply(401, {"error": "invalid or expired token"})
            key = r.headers.get("idempotency-key", "")
            if not key:
                return json_reply(400, {"error": "Idempotency-Key header is required"})
            ctype = r.headers.get("content-type", "")
            if not ctype.startswith("application/json"):
                return json_reply(415, {"error": "application/json expected"})
            try:
                doc = r.json()
            except ValueError:
                return json_reply(400, {"error": "body is not JSON"})
            if not isinstance(doc, dict) or doc.get("run_id") != key:
                return json_reply(422, {"error": "run_id must equal the Idempotency-Key"})
            digest = hashlib.sha256(r.body).hexdigest()
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO posts VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET "
                            "count = count + 1", (key,))
            existing = self.db.execute("SELECT seq, digest FROM stored WHERE key = ?",
                                       (key,)).fetchone()
            if existing is None:
                seq = self.db.execute(
                    "INSERT INTO stored (key, digest, serial, body) VALUES (?,?,?,?)",
                    (key, digest, str(doc.get("serial")), r.body.decode())).lastrowid
                self.db.execute("COMMIT")
                return json_reply(201, {"id": f"res-{seq}", "status": "stored"})
            self.db.execute("COMMIT")
            if existing[1] != digest:
                return json_reply(422, {"error": "Idempotency-Key reused with a different body"})
            return json_reply(409, {"id": f"res-{existing[0]}", "status": "duplicate"})

    def control(self, name: str, r: Request) -> Reply | None:
        with self.lock:
            if name == "config":
                for token, state in ((r.json() or {}).get("tokens") or {}).items():
                    self.db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?)", (token, state))
                return json_reply(200, {"ok": True})
            if name == "received":
                stored = [{"seq": s, "key": k, "serial": serial} for s, k, serial in
                          self.db.execute("SELECT seq, key, serial FROM stored ORDER BY seq")]
                posts = dict(self.db.execute("SELECT key, count FROM posts"))
                return json_reply(200, {"stored": stored, "posts": posts})
            if name == "stored-count":
                (n,) = self.db.execute("SELECT count(*) FROM stored").fetchone()
                return json_reply(200, {"stored": n})
        return None


def make_app(state_path: str) -> FakeGeneric:
    return FakeGeneric(state_path)
