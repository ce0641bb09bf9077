"""The token never leaves: searched for in every output after scenarios that make the official
client put it into exception text and log lines (401, 500 on its list calls)."""

from __future__ import annotations

import argparse
import io
import json
import logging
import random

import pytest
from sync_helpers import TOKEN, inventree_settings, recorder_at, write_run, write_token

from edge.store import open_store
from edge.sync.cli import sync_status
from edge.sync.secrets import (
    REDACTOR,
    RedactionFilter,
    TokenError,
    describe_error,
    install_redaction,
    load_token,
)
from edge.sync.status import read_status
from edge.sync.worker import SyncWorker


def all_db_bytes(db) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm"):
        path = db.with_name(db.name + suffix)
        if path.exists():
            data += path.read_bytes()
    return data


def test_token_appears_in_no_output(inventree, db, clock, workdir, caplog):
    early = io.StringIO()
    early_handler = logging.StreamHandler(early)  # exists before redaction is installed
    logging.getLogger().addHandler(early_handler)
    caplog.set_level(logging.DEBUG)
    try:
        recorder = recorder_at(db, clock.time)
        write_run(recorder, "PB-00001")
        write_run(recorder, "PB-00002")
        recorder.close()
        token_file = write_token(workdir / "inventree.token")
        settings = inventree_settings(inventree.base_url, token_file=token_file)
        # The client's list() answered with 500s first (it logs those with the request headers),
        # then the token expires (401s): both paths where the client leaks it.
        inventree.script({"action": "status", "status": 500, "method": "GET",
                          "path": "/api/part/", "times": 1})
        worker = SyncWorker(db, settings, clock=clock, rng=random.Random(9))
        worker.run(until_idle=True)
        late = io.StringIO()
        logging.getLogger("inventree").addHandler(logging.StreamHandler(late))  # added after
        inventree.control("config", {"tokens": {TOKEN: "expired"}})
        clock.advance(1000)
        worker.run(until_idle=True)
        # Straight through the client too, the way a future maintainer might call it.
        from inventree.api import InvenTreeAPI
        from inventree.part import Part

        api = InvenTreeAPI(inventree.base_url, token=TOKEN, connect=False, timeout=(1, 1))
        api.connected, api.api_version = True, 479
        try:
            Part.list(api, IPN="x", raise_error=True)
        except Exception as exc:
            assert TOKEN in str(exc)  # the client's own text does leak it...
            stored_text = describe_error(exc)  # ...which is why nothing stores raw exceptions
        logging.getLogger("pibench.test").error("client said: %s", exc_text := repr(stored_text))
        try:
            raise RuntimeError(f"boom with {TOKEN}")
        except RuntimeError:
            logging.getLogger("pibench.test").exception("traceback carrying the token")

        conn = open_store(db)
        status = read_status(conn, "inventory", "inventree", clock.time())
        conn.close()
        assert status.paused_for_auth
        cli_out = io.StringIO()
        config = workdir / "station.toml"
        config.write_text(
            f'[station]\ndata_dir = "{workdir}"\n[sync]\nbackend = "inventree"\n'
            f'url = "{inventree.base_url}"\ntoken_file = "{token_file}"\n')
        sync_status(argparse.Namespace(config=str(config), database=str(db), json=True,
                                       parked=True), cli_out)

        outputs = {
            "early handler": early.getvalue(),
            "late handler": late.getvalue(),
            "caplog": caplog.text + "".join(r.getMessage() for r in caplog.records),
            "status json": json.dumps(status.to_dict()),
            "cli": cli_out.getvalue(),
            "stored exception": stored_text + exc_text,
        }
        for name, text in outputs.items():
            assert TOKEN not in text, name
            assert TOKEN[4:20] not in text, name
        assert TOKEN.encode() not in all_db_bytes(db)
        # The leaks were there (the client's log lines reached both handlers) and were scrubbed.
        assert "Error during list request" in early.getvalue()
        assert "[REDACTED]" in early.getvalue() and "[REDACTED]" in caplog.text
        assert "401" in status.last_error and "Token has expired" in status.last_error
    finally:
        logging.getLogger().removeHandler(early_handler)


def test_redaction_patterns_catch_rotated_tokens_and_headers():
    text = ("{'AUTHORIZATION': 'Token inv-ffffeeee0000111122223333-20280101'} "
            "Authorization: Bearer abc.def-ghi_jkl X-Api-Key=sekrit123")
    clean = REDACTOR.redact(text)
    assert "inv-ffff" not in clean and "abc.def" not in clean and "sekrit123" not in clean


def test_filter_scrubs_tracebacks(caplog):
    REDACTOR.add_secret("hunter2-hunter2")
    handler_stream = io.StringIO()
    handler = logging.StreamHandler(handler_stream)
    handler.addFilter(RedactionFilter())
    log = logging.getLogger("pibench.test.filter")
    log.addHandler(handler)
    try:
        try:
            raise ValueError("password hunter2-hunter2")
        except ValueError:
            log.exception("failed with %s", "hunter2-hunter2")
    finally:
        log.removeHandler(handler)
    assert "hunter2-hunter2" not in handler_stream.getvalue()
    assert "ValueError" in handler_stream.getvalue()


def test_token_file_must_not_be_readable_by_others(workdir):
    path = write_token(workdir / "tok")
    assert load_token(path, None) == TOKEN
    path.chmod(0o644)
    with pytest.raises(TokenError, match=r"readable by other users \(mode 0644\).*chmod 600"):
        load_token(path, None)
    path.chmod(0o640)
    with pytest.raises(TokenError, match="chmod 600"):
        load_token(path, None)


def test_token_from_environment_and_clear_errors(workdir, monkeypatch):
    monkeypatch.setenv("PIBENCH_TEST_TOKEN", "  env-token-value-123 \n")
    assert load_token(None, "PIBENCH_TEST_TOKEN") == "env-token-value-123"
    monkeypatch.delenv("PIBENCH_TEST_TOKEN")
    with pytest.raises(TokenError, match="set PIBENCH_TEST_TOKEN"):
        load_token(None, "PIBENCH_TEST_TOKEN")
    with pytest.raises(TokenError, match="does not exist"):
        load_token(workdir / "missing", None)
    empty = write_token(workdir / "empty", "")
    with pytest.raises(TokenError, match="empty"):
        load_token(empty, None)


def test_unsafe_token_file_pauses_delivery_with_the_reason(inventree, db, clock, workdir):
    recorder = recorder_at(db, clock.time)
    write_run(recorder, "PB-00001")
    recorder.close()
    token_file = write_token(workdir / "tok")
    token_file.chmod(0o644)
    worker = SyncWorker(db, inventree_settings(inventree.base_url, token_file=token_file),
                        clock=clock)
    worker.run(until_idle=True)
    conn = open_store(db)
    status = read_status(conn, "inventory", "inventree", clock.time())
    conn.close()
    assert status.paused_for_auth and "chmod 600" in status.paused_reason
    assert status.queue_depth == 1
    token_file.chmod(0o600)
    clock.advance(301)
    worker.run(until_idle=True)
    assert len(inventree.control("marker-counts")) == 1


def test_handler_added_after_install_gets_scrubbed_tracebacks():
    install_redaction()
    REDACTOR.add_secret("late-secret-value-42")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # no filter: added after install_redaction
    log = logging.getLogger("pibench.test.late")
    log.addHandler(handler)
    try:
        try:
            raise RuntimeError("token late-secret-value-42 in the text")
        except RuntimeError:
            log.exception("failure: %s", "late-secret-value-42")
    finally:
        log.removeHandler(handler)
    assert "late-secret-value-42" not in stream.getvalue()
    assert "RuntimeError" in stream.getvalue()


def test_install_redaction_reaches_existing_handlers():
    handler = logging.StreamHandler(io.StringIO())
    logging.getLogger("pibench.test.existing").addHandler(handler)
    try:
        install_redaction()
        assert any(isinstance(f, RedactionFilter) for f in handler.filters)
        assert logging.getLogger("inventree").level == logging.WARNING
    finally:
        logging.getLogger("pibench.test.existing").removeHandler(handler)
