"""The pure rules: Retry-After, status and exception classes, backoff, settings, mapping."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from edge.sync.backends.inventree_mapping import server_key
from edge.sync.backoff import Backoff
from edge.sync.http_classify import classify_exception, classify_status, parse_retry_after
from edge.sync.outcomes import OutcomeClass
from edge.sync.settings import SyncSettingsError, from_options

NOW = 1_800_000_000.0


def response(status: int, headers: dict | None = None, body: bytes = b"{}") -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    r._content = body
    return r


# ---- Retry-After -------------------------------------------------------------------------------

def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("120", NOW) == 120.0
    date = format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True)
    assert parse_retry_after(date, NOW) == pytest.approx(90.0)


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5e3", "Mon, 99 Foo 2026"])
def test_retry_after_garbage_is_ignored(value):
    assert parse_retry_after(value, NOW) is None


def test_retry_after_is_clamped_to_an_hour_and_never_negative():
    assert parse_retry_after("999999", NOW) == 3600.0
    past = format_datetime(datetime.fromtimestamp(NOW - 500, UTC), usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0


# ---- status codes ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("status", "sent", "cls", "committed"),
    [
        (401, True, OutcomeClass.AUTH, False),
        (403, True, OutcomeClass.AUTH, False),
        (502, True, OutcomeClass.AMBIGUOUS, True),
        (504, True, OutcomeClass.AMBIGUOUS, True),
        (502, False, OutcomeClass.TRANSIENT, False),
        (429, True, OutcomeClass.TRANSIENT, False),
        (503, True, OutcomeClass.TRANSIENT, False),
        (408, True, OutcomeClass.TRANSIENT, False),
        (425, True, OutcomeClass.TRANSIENT, False),
        (500, True, OutcomeClass.TRANSIENT, True),
        (400, True, OutcomeClass.PERMANENT, False),
        (404, True, OutcomeClass.PERMANENT, False),
        (413, True, OutcomeClass.PERMANENT, False),
        (301, True, OutcomeClass.PERMANENT, False),
        (599, True, OutcomeClass.TRANSIENT, True),
    ],
)
def test_every_status_has_one_class(status, sent, cls, committed):
    outcome = classify_status(response(status), NOW, "POST", sent_body=sent)
    assert outcome is not None
    assert (outcome.cls, outcome.may_have_committed) == (cls, committed)


def test_2xx_is_left_to_the_backend():
    assert classify_status(response(201), NOW, "POST", sent_body=True) is None


def test_retry_after_travels_with_the_outcome():
    outcome = classify_status(response(429, {"Retry-After": "30"}), NOW, "POST", True)
    assert outcome.retry_after_s == 30.0


# ---- exceptions against real sockets -----------------------------------------------------------

def test_connection_refused_is_nothing_sent():
    import socket

    with socket.socket() as s:  # bound, not listening: refused, and no one else can have it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(requests.RequestException) as caught:
            requests.post(f"http://127.0.0.1:{port}/", timeout=(1, 1))
    assert classify_exception(caught.value, "POST", True).cls is OutcomeClass.NOTHING_SENT


def test_read_timeout_after_send_is_ambiguous_and_transient_for_a_get():
    exc = requests.exceptions.ReadTimeout("read timed out")
    assert classify_exception(exc, "POST", True).cls is OutcomeClass.AMBIGUOUS
    assert classify_exception(exc, "GET", False).cls is OutcomeClass.TRANSIENT
    reset = requests.exceptions.ConnectionError("Connection aborted. RemoteDisconnected")
    assert classify_exception(reset, "POST", True).cls is OutcomeClass.AMBIGUOUS
    connect_timeout = requests.exceptions.ConnectTimeout("connect timed out")
    assert classify_exception(connect_timeout, "POST", True).cls is OutcomeClass.NOTHING_SENT


# ---- backoff -----------------------------------------------------------------------------------

def test_full_jitter_stays_under_the_exponential_ceiling_and_the_cap():
    b = Backoff(base_s=3, cap_s=900)
    rng = random.Random(1)
    for failures in range(1, 40):
        ceiling = min(900, 3 * 2 ** (failures - 1))
        for _ in range(50):
            assert b.floor_s <= b.delay(failures, rng) <= max(ceiling, b.floor_s)


def test_full_jitter_spreads_over_the_whole_range():
    b = Backoff(base_s=3, cap_s=900)
    rng = random.Random(2)
    draws = [b.delay(20, rng) for _ in range(2000)]
    assert min(draws) < 90 and max(draws) > 810  # not clustered: no synchronized retry storms


def test_retry_after_is_a_floor_and_huge_failure_counts_do_not_overflow():
    b = Backoff(base_s=3, cap_s=900)
    assert b.delay(1, random.Random(3), retry_after_s=120) >= 120
    assert b.delay(10_000, random.Random(4)) <= 900


# ---- settings ----------------------------------------------------------------------------------

def test_settings_defaults_and_timeout_tuple():
    s = from_options("generic", "https://shop.example/pibench", None, "TOKEN_VAR", {})
    assert s.timeout == (4.0, 20.0) and s.target == "inventory"
    assert s.backoff.base_s == 3.0 and s.backoff.cap_s == 900.0


def test_settings_status_names_and_parts():
    s = from_options("inventree", "https://inv.example", Path("/etc/tok"), None, {
        "parts": {"blinker": 42, "relay": "PB-RELAY"}, "fail_status": "rejected",
        "pass_status": 10, "templates": {"Power rails": "vcc"}})
    assert s.inventree.fail_status == 65 and s.inventree.pass_status == 10
    assert dict(s.inventree.parts) == {"blinker": 42, "relay": "PB-RELAY"}


@pytest.mark.parametrize(
    ("backend", "url", "options", "message"),
    [
        ("inventree", "https://x", {"fial_status": 65}, "unknown key"),
        ("generic", "https://x", {"parts": {}}, "unknown key"),
        ("generic", "ftp://x", {}, "http:// or https://"),
        ("generic", "https://x", {"read_timeout_s": "10"}, "number of seconds"),
        ("generic", "https://x", {"read_timeout_s": True}, "number of seconds"),
        ("generic", "https://x", {"poll_s": float("inf")}, "finite"),
        ("generic", "https://x", {"read_timeout_s": 2.5}, None),
        ("generic", "https://x", {"read_timeout_s": "ten"}, "number of seconds"),
        ("generic", "https://x", {"connect_timeout_s": 0}, "positive"),
        ("inventree", "https://x", {"fail_status": "BROKEN"}, "status code or one of"),
        ("generic", "https://x", {"backoff_base_s": 60, "backoff_cap_s": 10}, "at least"),
    ],
)
def test_settings_errors_name_the_key(backend, url, options, message):
    if message is None:
        from_options(backend, url, None, None, options)
        return
    with pytest.raises(SyncSettingsError, match=message):
        from_options(backend, url, None, None, options)


# ---- InvenTree mapping -------------------------------------------------------------------------

def test_server_key_matches_inventree_not_the_client():
    assert server_key("100 Percent Visual") == "_100percentvisual"
    assert server_key("Power rails (5 V)") == "powerrails5v"


