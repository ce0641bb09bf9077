"""A fake InvenTree server reproducing what a real InvenTree (1.4, API 479) was seen to do.

Covered: ``GET /api/`` without auth; token auth with 401 ``{"detail": ...}`` for missing, invalid
and expired tokens; bare-list vs paginated lists depending on ``limit``; parts by ``IPN``
(iexact) and by pk; test templates with ``key``, ``required``, ``requires_value``, ``choices``;
stock items by ``part`` and exact ``serial``; ``POST /api/stock/`` answering a list, ignoring
``serial``, rejecting a duplicate ``serial_numbers`` with 400; ``PATCH /api/stock/<pk>/`` status;
``POST /api/stock/test/`` with field-keyed validation errors, atomic list bodies answered with a
201 list, a server-set ``date`` and datetimes returned at minute precision, no de-duplication;
``DELETE /api/stock/test/<pk>/``; ``POST /api/part/test-template/`` (key derived from the name,
description required, testable parts only, one key per part).

Learned from the field (docs/sync.md): with ``config {"serial_race": true}`` stock creation skips
the serial check, as two stations creating one serial at the same moment both pass it on the real
server; a stock item sharing its serial then answers every ``PATCH`` with 400 ``{"serial":
["Serial number already exists"]}``. A deleted stock item (``/_control/delete-stock``) makes
results posted to its pk fail with 400 ``Invalid pk``. A token in state ``readonly`` reads but
gets 403 on every write, as a user without the needed roles.

Its ground truth for tests: ``/_control/results`` (every stored result with the POST batch it came
in) and ``/_control/marker-counts`` (how many POST batches carried each pibench marker).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

from edge.sync.testing.http_base import Reply, Request, json_reply

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (pk INTEGER PRIMARY KEY, name TEXT, ipn TEXT,
    trackable INTEGER, testable INTEGER);
CREATE TABLE IF NOT EXISTS templates (pk INTEGER PRIMARY KEY, part INTEGER, test_name TEXT,
    key TEXT, description TEXT, required INTEGER, requires_value INTEGER, choices TEXT,
    enabled INTEGER, requires_attachment INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS stock (pk INTEGER PRIMARY KEY AUTOINCREMENT, part INTEGER,
    serial TEXT, quantity REAL, status INTEGER, location INTEGER);
CREATE TABLE IF NOT EXISTS results (pk INTEGER PRIMARY KEY AUTOINCREMENT, batch INTEGER,
    stock_item INTEGER, template INTEGER, result INTEGER, value TEXT, notes TEXT, test_station TEXT,
    started TEXT, finished TEXT, date TEXT);
CREATE INDEX IF NOT EXISTS results_by_item ON results (stock_item);
CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, received TEXT);
"""

MARKER = re.compile(r"pibench:[^\s]+")


def server_key(name: str) -> str:
    """InvenTree's template key: lower case, non-identifier characters dropped, ``_`` prefix when
    it would start with a digit."""
    key = re.sub(r"[^a-z0-9_]", "", name.lower())
    if key and key[0].isdigit():
        key = "_" + key
    return key


def _minute(ts: str | None) -> str | None:
    """InvenTree returns datetimes as ``YYYY-MM-DD HH:MM`` in UTC, no offset."""
    if not ts:
        return None
    parsed = datetime.fromisoformat(ts)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


class FakeInvenTree:
    def __init__(self, state_path: str) -> None:
        self.db = sqlite3.connect(state_path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")  # a fake: speed over durability
        self.db.executescript(_SCHEMA)
        self.lock = threading.Lock()

    # ---- helpers -------------------------------------------------------------------------------

    def _meta(self, key: str, default: str) -> str:
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return row[0] if row else default

    def _auth(self, request: Request) -> Reply | None:
        header = request.headers.get("authorization", "")
        if not header:
            return json_reply(401, {"detail": "Authentication credentials were not provided."})
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "token":
            return json_reply(401, {"detail": "Invalid token header."})
        row = self.db.execute("SELECT state FROM tokens WHERE token = ?", (token,)).fetchone()
        if row is None:
            return json_reply(401, {"detail": "Invalid token."})
        if row[0] == "expired":
            return json_reply(401, {"detail": "Token has expired"})
        if row[0] == "revoked":
            return json_reply(401, {"detail": "Token has been revoked"})
        if row[0] == "readonly" and request.method != "GET":
            return json_reply(403, {"detail": "You do not have permission to perform this "
                                              "action."})
        return None

    @staticmethod
    def _listing(request: Request, items: list[dict]) -> Reply:
        if "limit" in request.query:
            limit = int(request.query["limit"] or 0)
            offset = int(request.query.get("offset") or 0)
            page = items[offset: offset + limit] if limit else items[offset:]
            return json_reply(200, {"count": len(items), "next": None, "previous": None,
                                    "results": page})
        return json_reply(200, items)

    def _part(self, row: tuple) -> dict:
        pk, name, ipn, trackable, testable = row
        return {"pk": pk, "name": name, "IPN": ipn, "trackable": bool(trackable),
                "testable": bool(testable), "active": True}

    def _template(self, row: tuple) -> dict:
        pk, part, name, key, desc, required, requires_value, choices, enabled, attach = row
        return {"pk": pk, "part": part, "test_name": name, "key": key, "description": desc,
                "required": bool(required), "requires_value": bool(requires_value),
                "requires_attachment": bool(attach), "choices": choices, "enabled": bool(enabled)}

    def _stock(self, row: tuple) -> dict:
        pk, part, serial, quantity, status, location = row
        return {"pk": pk, "part": part, "serial": serial, "quantity": quantity,
                "status": status, "location": location}

    def _result(self, row: tuple) -> dict:
        pk, _batch, item, template, result, value, notes, station, started, finished, date = row
        return {"pk": pk, "stock_item": item, "template": template, "result": bool(result),
                "value": value, "notes": notes, "test_station": station,
                "started_datetime": _minute(started), "finished_datetime": _minute(finished),
                "date": _minute(date), "attachment": None, "user": 1}

    # ---- API -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        with self.lock:
            return self._handle(request)

    def _handle(self, r: Request) -> Reply:
        path, method = r.path, r.method
        if path == "/api/" and method == "GET":
            return json_reply(200, {
                "server": "InvenTree", "version": "1.4.0 dev (fake)",
                "apiVersion": int(self._meta("api_version", "479")), "instance": "pibench-fake",
                "worker_running": False})
        denied = self._auth(r)
        if denied is not None:
            return denied
        if path == "/api/user/me/" and method == "GET":
            return json_reply(200, {"pk": 1, "username": "station"})
        m = re.fullmatch(r"/api/part/(\d+)/", path)
        if m and method == "GET":
            row = self.db.execute("SELECT * FROM parts WHERE pk = ?", (int(m[1]),)).fetchone()
            if row is None:
                return json_reply(404, {"detail": "No Part matches the given query."})
            return json_reply(200, self._part(row))
        if path == "/api/part/" and method == "GET":
            sql, args = "SELECT * FROM parts", []
            if "IPN" in r.query:
                sql += " WHERE lower(ipn) = lower(?)"
                args.append(r.query["IPN"])
            return self._listing(r, [self._part(x) for x in self.db.execute(sql + " ORDER BY pk",
                                                                             args)])
        if path == "/api/part/test-template/" and method == "GET":
            sql, args = "SELECT * FROM templates WHERE 1", []
            if "part" in r.query:
                sql += " AND part = ?"
                args.append(int(r.query["part"]))
            if "key" in r.query:
                sql += " AND key = ?"
                args.append(r.query["key"])
            rows = self.db.execute(sql + " ORDER BY pk", args)
            return self._listing(r, [self._template(x) for x in rows])
        if path == "/api/part/test-template/" and method == "POST":
            return self._create_template(r.json() or {})
        if path == "/api/stock/" and method == "GET":
            sql, args = "SELECT * FROM stock WHERE 1", []
            if "part" in r.query:
                sql += " AND part = ?"
                args.append(int(r.query["part"]))
            if "serial" in r.query:
                sql += " AND serial = ?"  # exact and case-sensitive, as observed
                args.append(r.query["serial"])
            rows = self.db.execute(sql + " ORDER BY pk", args)
            return self._listing(r, [self._stock(x) for x in rows])
        if path == "/api/stock/" and method == "POST":
            return self._create_stock(r.json() or {})
        m = re.fullmatch(r"/api/stock/(\d+)/", path)
        if m and method == "PATCH":
            return self._patch_stock(int(m[1]), r.json() or {})
        if path == "/api/stock/test/" and method == "POST":
            return self._create_results(r.json())
        m = re.fullmatch(r"/api/stock/test/(\d+)/", path)
        if m and method == "DELETE":
            cur = self.db.execute("DELETE FROM results WHERE pk = ?", (int(m[1]),))
            if not cur.rowcount:
                return json_reply(404, {"detail": "No StockItemTestResult matches the given "
                                                  "query."})
            return Reply(204)
        if path == "/api/stock/test/" and method == "GET":
            sql, args = "SELECT * FROM results WHERE 1", []
            for field_name in ("stock_item", "template"):
                if field_name in r.query:
                    sql += f" AND {field_name} = ?"
                    args.append(int(r.query[field_name]))
            rows = self.db.execute(sql + " ORDER BY pk", args)
            return self._listing(r, [self._result(x) for x in rows])
        return json_reply(404, {"detail": "Not found."})

    def _create_template(self, doc: dict) -> Reply:
        prow = self.db.execute("SELECT testable FROM parts WHERE pk = ?",
                               (doc.get("part"),)).fetchone()
        if prow is None:
            return json_reply(400, {"part": [f'Invalid pk "{doc.get("part")}" - object does not '
                                             'exist.']})
        if not prow[0]:
            return json_reply(400, {"part": ["Test templates can only be created for testable "
                                             "parts"]})
        name = str(doc.get("test_name") or "").strip()
        errors = {}
        if not name:
            errors["test_name"] = ["This field may not be blank."]
        if not str(doc.get("description") or "").strip():
            errors["description"] = ["This field cannot be blank."]
        key = server_key(name)
        if name and self.db.execute("SELECT 1 FROM templates WHERE part = ? AND key = ?",
                                    (doc["part"], key)).fetchone():
            errors["key"] = ["Test template with the same key already exists for part"]
        if errors:
            return json_reply(400, errors)
        cur = self.db.execute(
            "INSERT INTO templates (part, test_name, key, description, required, "
            "requires_value, choices, enabled, requires_attachment) VALUES (?,?,?,?,?,?,?,?,?)",
            (doc["part"], name, key, doc["description"], int(doc.get("required", True)),
             int(doc.get("requires_value", False)), str(doc.get("choices") or ""),
             int(doc.get("enabled", True)), int(doc.get("requires_attachment", False))))
        row = self.db.execute("SELECT * FROM templates WHERE pk = ?",
                              (cur.lastrowid,)).fetchone()
        return json_reply(201, self._template(row))

    def _create_stock(self, doc: dict) -> Reply:
        try:
            part = int(doc.get("part"))
        except (TypeError, ValueError):
            return json_reply(400, {"part": ["This field is required."]})
        prow = self.db.execute("SELECT trackable FROM parts WHERE pk = ?", (part,)).fetchone()
        if prow is None:
            return json_reply(400, {"part": [f'Invalid pk "{part}" - object does not exist.']})
        quantity = float(doc.get("quantity", 1))
        serials_text = str(doc.get("serial_numbers") or "").strip()
        # 'serial' is silently ignored on create (observed): only serial_numbers serializes.
        serials = [s for s in re.split(r"[,\s]+", serials_text) if s] if serials_text else []
        if serials:
            if not prow[0]:
                return json_reply(400, {"serial_numbers": ["Serial numbers cannot be assigned "
                                                           "to a non-trackable part"]})
            if len(serials) != int(quantity):
                return json_reply(400, {"serial_numbers": [
                    f"Number of unique serial numbers ({len(serials)}) must match quantity "
                    f"({int(quantity)})"]})
            taken = [s for s in serials if self.db.execute(
                "SELECT 1 FROM stock WHERE part = ? AND serial = ?", (part, s)).fetchone()]
            # Two creations at the same moment both pass this check on the real server.
            if taken and self._meta("serial_race", "0") != "1":
                return json_reply(400, {"serial_numbers": [
                    "The following serial numbers already exist or are invalid : "
                    + ",".join(taken)]})
        created = []
        self.db.execute("BEGIN")
        for serial in serials or [None]:
            cur = self.db.execute(
                "INSERT INTO stock (part, serial, quantity, status, location) VALUES (?,?,?,?,?)",
                (part, serial, 1.0 if serial else quantity, int(doc.get("status", 10)),
                 doc.get("location")))
            created.append(self._stock(self.db.execute(
                "SELECT * FROM stock WHERE pk = ?", (cur.lastrowid,)).fetchone()))
        self.db.execute("COMMIT")
        return json_reply(201, created)

    def _patch_stock(self, pk: int, doc: dict) -> Reply:
        row = self.db.execute("SELECT * FROM stock WHERE pk = ?", (pk,)).fetchone()
        if row is None:
            return json_reply(404, {"detail": "No StockItem matches the given query."})
        # Saving validates the whole item: one sharing its serial with another fails.
        if row[2] and self.db.execute("SELECT 1 FROM stock WHERE part = ? AND serial = ? AND "
                                      "pk <> ?", (row[1], row[2], pk)).fetchone():
            return json_reply(400, {"serial": ["Serial number already exists"]})
        if "status" in doc:
            if int(doc["status"]) not in (10, 50, 55, 60, 65, 70, 75, 85):
                return json_reply(400, {"status": [f'"{doc["status"]}" is not a valid choice.']})
            self.db.execute("UPDATE stock SET status = ? WHERE pk = ?", (int(doc["status"]), pk))
        if "quantity" in doc and row[2] and float(doc["quantity"]) != 1:
            return json_reply(400, {"quantity": ["Quantity must be 1 for item with a serial "
                                                 "number"]})
        return json_reply(200, self._stock(self.db.execute(
            "SELECT * FROM stock WHERE pk = ?", (pk,)).fetchone()))

    def _validate_result(self, doc: Any) -> tuple[dict, tuple | None]:
        if not isinstance(doc, dict):
            return {"non_field_errors": ["Invalid data. Expected a dictionary"]}, None
        errors: dict[str, list[str]] = {}
        item = doc.get("stock_item")
        irow = None
        with contextlib.suppress(TypeError, ValueError):
            irow = self.db.execute("SELECT part FROM stock WHERE pk = ?", (int(item),)).fetchone()
        if irow is None:
            errors["stock_item"] = [f'Invalid pk "{item}" - object does not exist.']
            return errors, None
        trow = None
        if doc.get("template") is not None:
            trow = self.db.execute("SELECT * FROM templates WHERE pk = ? AND part = ?",
                                   (doc["template"], irow[0])).fetchone()
            if trow is None:
                errors["template"] = [f'Invalid pk "{doc["template"]}" - object does not exist.']
        elif doc.get("test"):
            trow = self.db.execute("SELECT * FROM templates WHERE key = ? AND part = ?",
                                   (server_key(str(doc["test"])), irow[0])).fetchone()
            if trow is None:
                errors["test"] = ["No matching test found for this part"]
        else:
            errors["template"] = ["This field is required."]
        if not isinstance(doc.get("result"), bool):
            errors["result"] = ["Must be a valid boolean."]
        value = doc.get("value") or ""
        for name in ("value", "notes", "test_station"):
            if len(str(doc.get(name) or "")) > 500:
                errors[name] = ["Ensure this field has no more than 500 characters."]
        if trow is not None:
            if trow[6] and not value:
                errors["value"] = ["Value must be provided for this test"]
            choices = [c.strip() for c in (trow[7] or "").split(",") if c.strip()]
            if choices and value not in choices:
                errors["value"] = ["Invalid value for this test"]
        started, finished = doc.get("started_datetime"), doc.get("finished_datetime")
        try:
            if started and finished and datetime.fromisoformat(finished) < datetime.fromisoformat(
                started
            ):
                errors["finished_datetime"] = ["Finish time must be after start time"]
        except ValueError:
            errors["started_datetime"] = ["Datetime has wrong format."]
        if errors:
            return errors, None
        return {}, (int(item), trow[0], bool(doc["result"]), value, doc.get("notes") or "",
                    doc.get("test_station") or "", started, finished)

    def _create_results(self, body: Any) -> Reply:
        docs = body if isinstance(body, list) else [body]
        checked = [self._validate_result(d) for d in docs]
        if any(errors for errors, _ in checked):
            errs = [errors for errors, _ in checked]
            return json_reply(400, errs if isinstance(body, list) else errs[0])
        now = datetime.now(UTC).isoformat()
        self.db.execute("BEGIN")  # a list is one transaction: all rows or none (v382)
        batch = self.db.execute("INSERT INTO batches (received) VALUES (?)", (now,)).lastrowid
        out = []
        for _, row in checked:
            cur = self.db.execute(
                "INSERT INTO results (batch, stock_item, template, result, value, notes, "
                "test_station, started, finished, date) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (batch, *row, now))
            out.append(self._result(self.db.execute(
                "SELECT * FROM results WHERE pk = ?", (cur.lastrowid,)).fetchone()))
        self.db.execute("COMMIT")
        return json_reply(201, out if isinstance(body, list) else out[0])

    # ---- control -------------------------------------------------------------------------------

    def control(self, name: str, request: Request) -> Reply | None:
        with self.lock:
            return self._control(name, request)

    def _control(self, name: str, r: Request) -> Reply | None:
        doc = r.json() if r.method == "POST" else None
        if name == "config":
            if "api_version" in doc:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('api_version', ?)",
                                (str(int(doc["api_version"])),))
            if "serial_race" in doc:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('serial_race', ?)",
                                ("1" if doc["serial_race"] else "0",))
            for token, state in (doc.get("tokens") or {}).items():
                self.db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?)", (token, state))
            return json_reply(200, {"ok": True})
        if name == "delete-stock":
            self.db.execute("DELETE FROM stock WHERE pk = ?", (int(doc["pk"]),))
            return json_reply(200, {"ok": True})
        if name == "add-stock":
            cur = self.db.execute("INSERT INTO stock (part, serial, quantity, status) "
                                  "VALUES (?, ?, 1, 10)", (doc["part"], doc["serial"]))
            return json_reply(200, {"pk": cur.lastrowid})
        if name == "templates":
            return json_reply(200, [self._template(x) for x in self.db.execute(
                "SELECT * FROM templates ORDER BY pk")])
        if name == "seed":
            ids: dict[str, Any] = {"parts": {}, "templates": {}}
            for part in doc.get("parts", []):
                cur = self.db.execute(
                    "INSERT INTO parts (name, ipn, trackable, testable) VALUES (?,?,?,?)",
                    (part["name"], part.get("ipn"), int(part.get("trackable", True)),
                     int(part.get("testable", True))))
                ids["parts"][part["name"]] = cur.lastrowid
                for t in part.get("templates", []):
                    tcur = self.db.execute(
                        "INSERT INTO templates (part, test_name, key, description, required, "
                        "requires_value, choices, enabled, requires_attachment) "
                        "VALUES (?,?,?,?,?,?,?,1,?)",
                        (cur.lastrowid, t["name"], server_key(t["name"]),
                         t.get("description", t["name"]), int(t.get("required", True)),
                         int(t.get("requires_value", False)), t.get("choices", ""),
                         int(t.get("requires_attachment", False))))
                    ids["templates"][f'{part["name"]}/{t["name"]}'] = tcur.lastrowid
            return json_reply(200, ids)
        if name == "results":
            rows = self.db.execute(
                "SELECT r.pk, r.batch, r.stock_item, s.serial, t.key, r.result, r.value, r.notes, "
                "r.test_station FROM results r JOIN stock s ON s.pk = r.stock_item "
                "JOIN templates t ON t.pk = r.template ORDER BY r.pk").fetchall()
            keys = ("pk", "batch", "stock_item", "serial", "key", "result", "value", "notes",
                    "test_station")
            docs = [dict(zip(keys, row, strict=True)) for row in rows]
            for d in docs:
                d["result"] = bool(d["result"])
            return json_reply(200, docs)
        if name == "marker-counts":
            counts: dict[str, set[int]] = {}
            for batch, notes in self.db.execute("SELECT batch, notes FROM results"):
                for marker in MARKER.findall(notes or ""):
                    counts.setdefault(marker, set()).add(batch)
            return json_reply(200, {m: len(b) for m, b in counts.items()})
        if name == "stock":
            rows = self.db.execute("SELECT * FROM stock ORDER BY pk").fetchall()
            return json_reply(200, [self._stock(x) for x in rows])
        if name == "add-template":
            cur = self.db.execute(
                "INSERT INTO templates (part, test_name, key, description, required, "
                "requires_value, choices, enabled) VALUES (?,?,?,?,1,0,'',1)",
                (doc["part"], doc["name"], server_key(doc["name"]), doc["name"]))
            return json_reply(200, {"pk": cur.lastrowid})
        return None


def make_app(state_path: str) -> FakeInvenTree:
    return FakeInvenTree(state_path)


def marker_of(notes: str) -> str | None:
    found = MARKER.search(notes or "")
    return found.group(0) if found else None


__all__ = ["FakeInvenTree", "make_app", "marker_of", "server_key"]
