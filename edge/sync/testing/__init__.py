"""Loopback fakes of the inventory servers, for tests and benchmarks (never used in production).

Both run as real HTTP servers on 127.0.0.1 in a subprocess (:mod:`.process`), keep their state in
a SQLite file so a stop/start (the "connection refused" outage) loses nothing, count what they
stored (the ground truth for "exactly once"), and take scripted hostile behaviours through a
control endpoint (:mod:`.scripting`).
"""
