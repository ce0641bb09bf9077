"""``pibench run`` beside a running station: the run is handed to that station over its API.

The station owns the fixture and the database, so a second process must not test; but a
script that calls ``pibench run`` should not have to know whether a station is running. When
the owner lock's record carries the owner's API address, ``pibench run`` starts the run there,
prints the station's live events exactly as it would have printed its own, and exits with the
same code per outcome. A stop signal asks the station to abort the run (its teardown powers
the board off), like a signal to an in-process run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from edge import lazylog
from edge.console import EXIT_BAD_INPUT, EXIT_BUSY, EXIT_CODES, EXIT_CONFIG, LivePrinter, banner
from edge.engine import Log, MeasurementTaken, RunStarted, StepFinished, StepStarted
from edge.records import Outcome, RunMeta
from edge.store.payload import _measurement_from_json, _step_from_json, record_from_json

if TYPE_CHECKING:
    from edge.api.client import ApiClient

_log = lazylog.getLogger("edge.api")

STREAM_TIMEOUT_S = 120.0  # the station sends a keep-alive every 15 s: silence this long is death


@dataclass
class Handover:
    """What a signal handler needs while a run is handed over: who to ask for an abort."""

    client: ApiClient | None = None
    aborts: list[str] = field(default_factory=list)

    def abort(self, reason: str) -> None:
        self.aborts.append(reason)
        if self.client is None:
            return
        try:
            self.client.post("/runs/current/abort", {"reason": reason})
        except OSError as exc:  # the station is gone: nothing left to abort here
            _log.warning("could not ask the station to abort: %s", exc)


def _engine_event(name: str, data: dict[str, Any]) -> Any:
    """The engine event a stream event stands for, so the terminal prints it as before."""
    seq, run_id = data["seq"], data["run_id"] or ""
    if name == "run_started":
        return RunStarted(seq, run_id, RunMeta(**data["meta"]), tuple(data["steps"]),
                          tuple(data["teardown"]))
    if name == "step_started":
        return StepStarted(seq, run_id, data["index"], data["name"], data["attempt"],
                           float(data["timeout_s"]), data["critical"], data["teardown"])
    if name == "measurement":
        return MeasurementTaken(seq, run_id, data["step_index"], data["step_name"],
                                _measurement_from_json(data["measurement"]))
    if name == "step_finished":
        return StepFinished(seq, run_id, _step_from_json(data["result"]))
    if name == "log":
        return Log(seq, run_id, data["level"], data["message"], data["step_index"])
    return None


def run_through_station(url: str, token: str | None, args: Any, out: TextIO, lang: str,
                        handover: Handover,
                        note: Callable[[str], None] = lambda text: print(text, file=sys.stderr)
                        ) -> int:
    """Start the run on the station at ``url`` and follow it to its verdict: the exit code."""
    # Imported here: `pibench run` builds a Handover on every run, and only a handed-over run
    # needs http.client (with ssl and email), ~20% of its start-up otherwise (issue 14).
    from edge.api.client import ApiClient, ApiUnavailable

    client = ApiClient(url, token=token, timeout=30)
    printer = LivePrinter(out, lang)
    stream = client.events(timeout=STREAM_TIMEOUT_S)
    try:
        next(stream)  # the resync: from here on, nothing of the run can be missed
    except StopIteration:
        raise ApiUnavailable("the station closed its event stream at once") from None
    except ConnectionError as exc:
        if " 401 " in str(exc):
            note("pibench: the running station refused this command's API token: set the "
                 "same [api] token_file as the station")
            return EXIT_CONFIG
        raise
    note(f"pibench: this station is already running; the run is handed to it ({url})")
    status, doc = client.post("/runs", {"product": args.product, "serial": args.serial,
                                        "operator": args.operator, "batch": args.batch})
    if status != 202:
        stream.close()
        return _refused(status, doc, lang, note)
    run_id = doc["run_id"]
    handover.client = client
    # A signal that came while the run was being started (a copy: abort() appends to it).
    for reason in list(handover.aborts):
        handover.abort(reason)
    try:
        for event in stream:
            data = event.data if isinstance(event.data, dict) else {}
            if event.name == "run_finished" and data.get("run_id") == run_id:
                record = record_from_json(data["record"])
                print(banner(record, lang), file=out)
                out.flush()
                return EXIT_CODES.get(record.outcome, EXIT_CODES[Outcome.ERROR])
            if data.get("run_id") == run_id:
                engine_event = _engine_event(event.name, data)
                if engine_event is not None:
                    printer(engine_event)
    except (OSError, ValueError) as exc:
        _log.info("event stream of %s ended: %s", url, exc)
    finally:
        handover.client = None
        stream.close()
    # The station went away mid-run: its recovery will store the run as ABORTED.
    note(f"pibench: the station stopped during run {run_id}; it is recorded as ABORTED when "
         "the station starts again")
    return EXIT_CODES[Outcome.ERROR]


def _refused(status: int, doc: Any, lang: str, note: Callable[[str], None]) -> int:
    doc = doc if isinstance(doc, dict) else {"message": str(doc)}
    messages = doc.get("messages") or {}
    text = messages.get(lang) or doc.get("message") or f"refused ({status})"
    note(f"pibench: {text}")
    if status in (404, 422):  # unknown product, rejected serial: nothing was tested
        return EXIT_BAD_INPUT
    if status == 409:  # testing another board right now
        return EXIT_BUSY
    if status == 401:
        return EXIT_CONFIG
    return EXIT_CODES[Outcome.ERROR]
