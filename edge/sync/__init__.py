"""Inventory sync: every finished run delivered exactly once, through outages of any length.

Modules, one job each:

* :mod:`~edge.sync.settings`: the ``[sync]`` settings, validated;
* :mod:`~edge.sync.secrets`: the token (0600 file or environment) and its redaction everywhere;
* :mod:`~edge.sync.outcomes` / :mod:`~edge.sync.http_classify`: every answer in one class;
* :mod:`~edge.sync.backoff`: capped exponential backoff with full jitter;
* :mod:`~edge.sync.outbox`: the store's outbox and per-target state, FIFO, never deleting;
* :mod:`~edge.sync.backends`: InvenTree (official client + own session) and generic JSON;
* :mod:`~edge.sync.runner`: one target's state machine (up, down + probes, paused);
* :mod:`~edge.sync.worker`: the thread/process that runs it, one per database;
* :mod:`~edge.sync.status` / :mod:`~edge.sync.cli`: what a technician sees and can do.

In the station process::

    worker = SyncWorker(config.database, from_station_config(config))
    worker.start()            # daemon thread; worker.wake() after each finished run

Nothing is imported here on purpose: the loopback fakes under :mod:`edge.sync.testing` start as
subprocesses and should not pay for ``requests``/``inventree`` imports they do not use.
"""
