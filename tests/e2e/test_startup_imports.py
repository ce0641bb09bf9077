"""What a command imports is what it uses (issue 14): no HTTP stack, inventory client, serial-port
library, hardware library (gpiozero included) or HMI toolkit for `pibench run` on the simulated
station nor for `pibench history`; the HTTP stack only for a sync command with a sync configured.
Each command runs in a fresh real process that dumps ``sys.modules`` on exit; nothing here
measures time."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

HTTP = {"requests", "urllib3", "inventree", "charset_normalizer", "idna", "certifi"}
# The standard library's HTTP client (with ssl and email): only to hand a run to a running station.
STDLIB_HTTP = {"http.client", "ssl"}
# The generic sync's own HTTP client (on http.client): only where a generic sync runs.
SYNC_TRANSPORT = "edge.sync.http_transport"
NEVER = {"serial", "textual", "rich"}  # pyserial: only with a scanner configured; HMI toolkit
# pibench's own modules a run without a sync does not use: the exports (csv, tempfile), the sync
# settings (only with a [sync] table, whose check they are), the API client (only to hand a run
# over to a running station).
NOT_FOR_A_RUN = {"edge.store.export", "edge.sync.settings", "edge.api.client",
                 "importlib.metadata",  # (the version recorded is edge.__version__)
                 # the hand-over to a running station: only when another one owns the data
                 "edge.api.handover",
                 # the standard library for one thing each: run ids (edge/run_ids.py), digests
                 # (edge/digest.py), the terminal's width for a help text (edge/cli.py), the
                 # signals' wake-up (a pipe: edge/stop_signals.py), the 555's summary
                 # (drivers/timing/exact_stats.py: statistics brings fractions and decimal)
                 "uuid", "hashlib", "shutil", "socket", "statistics", "fractions", "decimal",
                 # the abstract numbers, for a measured value that is no plain int or float
                 # (edge/store/codec.py)
                 "numbers"}
# pibench's own modules a station does not use until it is asked: reading runs back (lists,
# yield, a run's record: `history`, the API's reads, the end of a run).
NOT_AT_STATION_START = {"edge.store.history",
                        # Adafruit's expander wrapper: only for a fixture configured with it
                        "drivers.mcp23017.adafruit",
                        # the run thread's executor: made with the first run
                        "concurrent.futures"}
# The sync worker: only where a sync is configured (the status it shows does not need it).
SYNC_WORKER = "edge.sync.runner"
# `dataclasses` (with inspect, ast and dis; and one compiled class after another) cost a start
# ~10 ms: the classes on the run and station paths are NamedTuples or plain classes (issue 14).
NO_DATACLASSES = {"dataclasses", "inspect"}
# Hardware libraries: a simulated station needs none of them. Its Pi GPIO inputs are
# drivers/gpio/sim_lines.py's (gpiozero, and colorzero with it, is the real Pi's GPIO library,
# and what the tests run its devices on); its I2C bus is the simulator's, not smbus2.
HARDWARE = {"gpiozero", "colorzero", "lgpio", "smbus2", "spidev", "pigpio"}
# `logging` (with traceback, linecache, tokenize, textwrap: ~4-5 ms) only once a record is written
# at the configured level (WARNING; DEBUG with -v): none of these commands writes one when all
# goes well. edge/lazylog.py's loggers import it then (tests/edge/test_lazylog.py).
LOGGING = {"logging", "traceback"}
WATCHED = STDLIB_HTTP | NOT_FOR_A_RUN | NOT_AT_STATION_START | {SYNC_TRANSPORT, SYNC_WORKER}
# A value class of pibench's made by typing.NamedTuple (or collections.namedtuple: a tuple with
# its own _fields, of metaclass `type`), whose `__new__` is compiled from source for each class
# (~115 µs apiece): drivers/named_tuple.py's NamedTuple makes the same classes without it.
# Listed as "namedtuple <module>.<class>".
COMPILED = "namedtuple "
# Runs `pibench` as its console script does, then prints the top-level packages imported, and
# those of the modules above that were, and the compiled named tuples of pibench's modules.
DUMP = (
    f"EXACT = {sorted(WATCHED)!r}\n"
    "import atexit, json, sys\n"
    "def compiled():\n"
    "    for name, module in list(sys.modules.items()):\n"
    "        if name.split('.')[0] in ('edge', 'drivers'):\n"
    "            for value in list(vars(module).values()):\n"
    "                if (isinstance(value, type) and issubclass(value, tuple)\n"
    "                        and '_fields' in vars(value) and type(value) is type):\n"
    f"                    yield {COMPILED!r} + value.__module__ + '.' + value.__qualname__\n"
    "atexit.register(lambda: print('MODULES ' + json.dumps(sorted({m.split('.')[0]"
    " for m in sys.modules} | {m for m in sys.modules if m in EXACT} | set(compiled())))))\n"
    "from edge.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def imported(*argv: str, stdin: str = "", ready: Callable[[], bool] | None = None) -> set[str]:
    """The modules `pibench *argv` imported, given ``stdin`` once ``ready()`` says so (a station
    told 'q' only after something happened; None: at once)."""
    proc = subprocess.Popen([sys.executable, "-c", DUMP, *argv], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PIBENCH_DATA_DIR": ""})
    try:
        deadline = time.monotonic() + 60  # (a safety net for a slow machine, not a measure)
        while ready is not None and not ready():
            assert proc.poll() is None, f"exit {proc.returncode}: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "what the command was to wait for never came"
            time.sleep(0.05)
        out, err = proc.communicate(stdin, timeout=120)
    finally:
        proc.kill()
    # (after a prompt the dump shares its line: look for the marker anywhere)
    _, marker, dump = out.rpartition("MODULES ")
    assert marker, f"exit {proc.returncode}: {err[-2000:]}"
    return set(json.loads(dump.splitlines()[0]))


def _delivery_tries(data_dir: Path) -> int:
    """How many times the sync found its server down (its probe, before any result is sent)."""
    conn = sqlite3.connect(f"file:{data_dir / 'results.sqlite3'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT coalesce(sum(failures), 0) FROM sync_targets").fetchone()[0]
    except sqlite3.OperationalError:  # (the station has not made its tables yet)
        return 0
    finally:
        conn.close()


@pytest.fixture
def data(tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data"), "--lang", "en"]


def test_run_on_the_simulated_station_imports_no_http_serial_or_hmi_library(data):
    modules = imported(*data, "run", "--product", "PowerBank-Foolish", "--serial", "PBF-000001")
    assert "edge" in modules and "sqlite3" in modules  # it did run
    assert "edge.store.history" in modules  # (its end reads the run back: the dump sees it)
    unused = HTTP | NEVER | STDLIB_HTTP | NOT_FOR_A_RUN | HARDWARE | NO_DATACLASSES | LOGGING
    assert not modules & unused, sorted(modules & unused)
    assert not [m for m in modules if m.startswith(COMPILED)], sorted(modules)


def test_history_imports_no_hardware_http_or_serial_library(data):
    imported(*data, "run", "--product", "PowerBank-Foolish", "--serial", "PBF-000001")
    modules = imported(*data, "history")
    unused = HTTP | NEVER | HARDWARE | LOGGING
    assert not modules & unused, sorted(modules & unused)


def _sync_config(tmp_path: Path) -> Path:
    token = tmp_path / "inventory.token"
    token.write_text("t0k3n-for-import-test\n")
    token.chmod(0o600)
    cfg = tmp_path / "station.toml"
    cfg.write_text("[station]\nid = 'imports'\n[sync]\nbackend = 'generic'\n"
                   "url = 'http://127.0.0.1:9/pibench/results'\ntoken_file = 'inventory.token'\n")
    return cfg


def test_run_with_a_sync_configured_still_imports_no_http_stack(tmp_path, data):
    """`pibench run` queues its result; only the station's worker or `sync now` delivers."""
    modules = imported("--config", str(_sync_config(tmp_path)), *data, "run", "--product",
                       "PowerBank-Foolish", "--serial", "PBF-000002")
    unused = HTTP | NEVER | NO_DATACLASSES
    assert not modules & unused, sorted(modules & unused)


def test_a_station_loads_the_http_stack_only_when_a_sync_is_configured(tmp_path, data):
    """Started, shown its scan prompt, then told 'q': without a sync, no HTTP library; with
    the generic one, its worker's client on the standard library's http.client, and still no
    third-party HTTP stack (requests and urllib3 cost the station about 5 MiB: issue 14)."""
    station = ("station", "--product", "PowerBank-Foolish")
    without = imported(*data, *station, stdin="q\n")
    unused = (HTTP | NEVER | HARDWARE | NO_DATACLASSES | NOT_AT_STATION_START | LOGGING
              | {"shutil", "statistics"})  # (statvfs)
    assert "edge" in without and not without & unused, sorted(without & unused)
    # The API reads request headers itself (edge/api/http11.py) and checks a token with hmac
    # only when one is sent: no http.client, email, ssl nor OpenSSL's hashes at start; its
    # reason phrases (http.HTTPStatus) are imported at its first answer.
    api_unused = STDLIB_HTTP | {"email", "hmac", "_hashlib", "_ssl", "http"}
    assert "edge" in without and not without & api_unused, sorted(without & api_unused)
    assert SYNC_TRANSPORT not in without and SYNC_WORKER not in without
    # The worker starts once the station serves and delivers in the background: a station told
    # 'q' at once may stop it before it needed its client. So a result is waiting, and the
    # station is told 'q' once its worker has tried to deliver it (the server is down: port 9).
    config = ("--config", str(_sync_config(tmp_path)))
    imported(*config, *data, "run", "--product", "PowerBank-Foolish", "--serial", "PBF-000003")
    with_sync = imported(*config, *data, *station, stdin="q\n",
                         ready=lambda: _delivery_tries(Path(data[1])) > 0)
    assert {SYNC_TRANSPORT, SYNC_WORKER, "http.client"} <= with_sync, sorted(with_sync)
    unused = HTTP | NEVER | HARDWARE | NO_DATACLASSES | NOT_AT_STATION_START
    assert not with_sync & unused, sorted(with_sync & unused)


def test_once_its_toml_files_are_cached_a_start_imports_no_toml_parser(tmp_path, data):
    """Parsed TOML files are kept in the data directory (edge/tomlcache.py): a start whose
    station.toml, plans and fixture have not changed since imports no `tomllib` (its regular
    expressions and `string`, ~3 ms) and parses nothing."""
    Path(data[1]).mkdir()  # (the cache never makes a data directory: the store does)
    config = ("--config", str(_sync_config(tmp_path)))
    run = ("run", "--product", "PowerBank-Foolish", "--serial")
    station = ("station", "--product", "PowerBank-Foolish")
    # The first start parses, and keeps, what it reads (a station checks every fixture).
    assert "tomllib" in imported(*config, *data, *station, stdin="q\n")
    assert "tomllib" not in imported(*config, *data, *run, "PBF-000001")
    assert "tomllib" not in imported(*data, *station, stdin="q\n")
    assert "tomllib" not in imported(*config, *data, *station, stdin="q\n")
    # Changed, the file is parsed again.
    cfg = Path(config[1])
    cfg.write_text(cfg.read_text().replace("id = 'imports'", "id = 'imported'"))
    assert "tomllib" in imported(*config, *data, *run, "PBF-000002")
