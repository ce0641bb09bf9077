"""Scripted misbehaviour shared by the fake servers: what proxies and DDoS shields do to requests.

A rule matches a method and a path prefix and applies an action a number of times:

* ``status``: answer ``status`` with ``body`` (JSON unless ``content_type`` says otherwise) and an
  optional ``retry_after`` header (seconds or an HTTP-date, passed through verbatim);
* ``html200``: a 200 with an HTML page (a captive portal or WAF page) instead of JSON;
* ``commit_then_sleep``: handle the request normally (the row is committed) and only then sleep
  ``sleep_s`` before answering, past the client's read timeout;
* ``commit_then_drop``: commit, then close the socket without an answer (a reset after send);
* ``sleep_then_handle``: a slow server that commits after ``sleep_s``;
* ``commit_late``: the same, named for what it does to a client whose read timeout is shorter
  than ``sleep_s``: it gives up, and the server commits the request afterwards (an overloaded
  proxy or DDoS shield holding the request).

Separately, :class:`Latency` rules model a real server's time per request (a uniform delay in
``[low_ms, high_ms]`` before handling, for requests whose method and path match ``pattern``).
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass


@dataclass
class Rule:
    action: str
    method: str = "*"
    path: str = "/"
    times: int = 1  # -1: forever
    status: int = 500
    body: str = ""
    content_type: str = "application/json"
    retry_after: str | None = None
    sleep_s: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and path.startswith(self.path)


ACTIONS = {"status", "html200", "commit_then_sleep", "commit_then_drop", "sleep_then_handle",
           "commit_late"}


@dataclass
class Latency:
    method: str
    pattern: str  # a regular expression the whole path must match
    low_ms: float
    high_ms: float

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and re.fullmatch(self.pattern, path) is not None


class Script:
    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._latency: list[Latency] = []
        self._rng = random.Random(1)
        self._lock = threading.Lock()

    def set_latency(self, specs: list[dict]) -> None:
        with self._lock:
            self._latency = [Latency(**spec) for spec in specs]

    def delay_s(self, method: str, path: str) -> float:
        """The modelled server time for this request (0 when no rule matches)."""
        with self._lock:
            for rule in self._latency:
                if rule.matches(method, path):
                    return self._rng.uniform(rule.low_ms, rule.high_ms) / 1000
        return 0.0

    def add(self, spec: dict) -> None:
        rule = Rule(**spec)
        if rule.action not in ACTIONS:
            raise ValueError(f"unknown action {rule.action!r}")
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Rule | None:
        """The first matching rule, consuming one of its uses."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.times > 0:
                        rule.times -= 1
                        if rule.times == 0:
                            self._rules.remove(rule)
                    return rule
        return None
