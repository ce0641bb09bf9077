"""The result store: every run, step and measurement in a local SQLite file, durable as it happens.

Modules, one job each:

* :mod:`~edge.store.db`: open the file (WAL, synchronous=FULL, foreign keys), migrate, errors;
* :mod:`~edge.store.migrations`: the schema, as ordered migrations;
* :mod:`~edge.store.codec`: exact storage of measured values and timestamps;
* :mod:`~edge.store.step_codec`: a step as one `step_results` row (attempts and measurements as
  compact exact JSON), the row layout that keeps a durable step to one page;
* :mod:`~edge.store.payload`: the ``pibench.run/1`` JSON shape (outbox snapshot, JSON export);
* :mod:`~edge.store.recorder`: :class:`RunRecorder`, the engine's writer;
* :mod:`~edge.store.recovery`: closing runs a crash left RUNNING;
* :mod:`~edge.store.last_words`: the cause of a run the database refused, kept for recovery;
* :mod:`~edge.store.history`: loading a run, lists, yield;
* :mod:`~edge.store.export`: CSV and JSON exports.

Station start-up, in order (``edge.station.Station.open``)::

    owner.acquire(...)                  # the station's owner lock (edge.owner): recovery is
                                        # only safe while no other process can be running
    conn = open_store(config.database)
    recover_interrupted(conn, datetime.now(UTC))
    recorder = RunRecorder(conn)        # then hand it to the engine
"""

from edge.store.db import (
    NotAResultStoreError,
    RunStateError,
    SchemaTooNewError,
    StoreError,
    StoreFullError,
    StoreLockedError,
    StoreReadOnlyError,
    StoreWriteError,
    UnknownRunError,
    open_store,
)
from edge.store.payload import SCHEMA, record_from_json, record_to_json
from edge.store.recorder import RunRecorder
from edge.store.recovery import INTERRUPTED_ERROR, STORE_FAILED_ERROR, recover_interrupted

# Reading runs back (lists, yield, one run) is for `history`, the API's reads and the end of a
# run; a station starting up needs none of it (its module and 3 NamedTuples: issue 14).
_HISTORY = frozenset({"ProductYield", "RunMeasurement", "RunSummary", "find_measurements",
                      "find_runs", "last_runs", "load_run", "runs_between", "runs_for_serial",
                      "runs_on_day", "yield_by_product"})


def __getattr__(name: str):
    # The exports (csv, tempfile) only for `pibench export` and the API's export route: loaded
    # on first use, not by every command that opens the store (`pibench run` included).
    if name in ("export_csv", "export_json"):
        from edge.store import export

        return getattr(export, name)
    if name in _HISTORY:
        from edge.store import history

        return getattr(history, name)
    raise AttributeError(f"module 'edge.store' has no attribute {name!r}")


__all__ = [
    "INTERRUPTED_ERROR",
    "SCHEMA",
    "STORE_FAILED_ERROR",
    "NotAResultStoreError",
    "ProductYield",
    "RunMeasurement",
    "RunRecorder",
    "RunStateError",
    "RunSummary",
    "SchemaTooNewError",
    "StoreError",
    "StoreFullError",
    "StoreLockedError",
    "StoreReadOnlyError",
    "StoreWriteError",
    "UnknownRunError",
    "export_csv",
    "export_json",
    "find_measurements",
    "find_runs",
    "last_runs",
    "load_run",
    "open_store",
    "record_from_json",
    "record_to_json",
    "recover_interrupted",
    "runs_between",
    "runs_for_serial",
    "runs_on_day",
    "yield_by_product",
]
