"""What the service does so that the station's memory stays flat over its runs
(bench/bench_station_rss.py measures the process itself)."""

from __future__ import annotations

import gc
import threading


def test_each_run_starts_with_a_full_collection_in_the_run_thread(api, monkeypatch):
    """The interpreter's tuple free lists fill by a few tuples per run and are only emptied by
    a full collection: the service makes one at the start of every run, before the run shows
    (and before anything is powered), in the run thread."""
    seen: list[tuple[str, int, object]] = []
    real = gc.collect

    def collect(generation: int = 2) -> int:
        seen.append((threading.current_thread().name, generation, api.service.current()["run"]))
        return real(generation)

    monkeypatch.setattr(gc, "collect", collect)
    api.open_gate()
    for serial in ("GTB-0101", "GTB-0102"):
        status, _ = api.client.post("/runs", {"product": "Gated-Board", "serial": serial})
        assert status == 202
        assert api.service.wait_run(30).outcome.value == "PASS"
    in_run_thread = [(gen, run) for name, gen, run in seen if name.startswith("pibench-run")]
    assert in_run_thread == [(2, None), (2, None)]
