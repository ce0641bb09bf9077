"""Record what the real station sends during a few runs, for the HMI's screenshot tests (which
replay it, so the screenshots do not depend on this machine's clock or NTP state).

    .venv/bin/python tests/hmi/data/record_streams.py

Writes ``<name>.json`` beside this file: the station's snapshot before the run and every event
of the run, exactly as received.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from hmi_support import StationProcess  # noqa: E402

from hmi.client import StationClient  # noqa: E402

RUNS = [  # name, faults, product, serial
    ("powerbank-pass", [], "PowerBank-Foolish", "PBF-000123"),
    ("powerbank-fail", ["wrong-resistor"], "PowerBank-Foolish", "PBF-000124"),
    ("io-fail", ["stuck-output:LED3"], "HMI-IO-Board", "HIO-000042"),
    ("io-error", ["absent-expander"], "HMI-IO-Board", "HIO-000043"),
]


async def record(url: str, product: str, serial: str) -> dict:
    client = StationClient(url)
    snapshot = await client.snapshot()
    events: list[dict] = []
    done = asyncio.Event()

    async def follow() -> None:
        last = f"{snapshot['boot']}:{snapshot['seq']}"
        async for ev in client.events(last):
            events.append({"kind": ev.kind, "id": ev.id, "data": ev.data})
            if ev.kind == "run_finished":
                done.set()
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.3)
    await client.start(product, serial)
    await asyncio.wait_for(done.wait(), 60)
    await task
    await client.aclose()
    return {"snapshot": snapshot, "events": events}


def main() -> None:
    import tempfile

    for name, faults, product, serial in RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            station = StationProcess(Path(tmp), sim_faults=faults).start()
            try:
                doc = asyncio.run(record(station.url, product, serial))
            finally:
                station.close()
        (HERE / f"{name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        print(name, len(doc["events"]), "events")


if __name__ == "__main__":
    main()
