"""End to end with the real ``pibench station --no-console`` in a subprocess, driven over its
API: clients that die, stall or outlive the station never touch a run; security settings are
enforced by the real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from api_support import STEPS_DIR, make_plans

from edge.api.client import ApiClient, ApiUnavailable
from edge.console import EXIT_CONFIG

pytestmark = pytest.mark.slow
TOKEN = "e2e-token-0123456789abcdef"


def write_config(tmp: Path, api: str = 'listen = "127.0.0.1:0"', data: str = "data") -> Path:
    plans, _gate = make_plans(tmp)
    cfg = tmp / "station.toml"
    cfg.write_text(f"[station]\ndata_dir = '{data}'\nplans_dirs = ['{plans}', '{STEPS_DIR}']\n"
                   f"\n[api]\n{api}\n")
    return cfg


class Station:
    """A real station process; ``url`` once its API answers."""

    def __init__(self, cfg: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "--config", str(cfg), "--lang", "en",
             "station", "--no-console"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = None
        for line in self.proc.stdout:
            if line.strip().startswith("api: "):
                self.url = line.split("api: ", 1)[1].strip()
                break
        if self.url is None:
            raise AssertionError(f"station did not serve: {self.proc.stderr.read()}")

    def client(self, **kw) -> ApiClient:
        return ApiClient(self.url, **kw)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(60)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()
        return code


@pytest.fixture
def station(tmp_path):
    st = Station(write_config(tmp_path))
    yield st
    (tmp_path / "gate" / "open").write_text("")
    if st.proc.poll() is None:
        st.stop()


def _wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


CLIENT = """
import sys
from edge.api.client import ApiClient
client = ApiClient(sys.argv[1])
status, doc = client.post("/runs", {"product": "Gated-Board", "serial": "GTB-0042"})
print(doc["run_id"], flush=True)
for event in client.events():
    print(event.name, flush=True)
"""


def test_a_client_killed_mid_run_leaves_the_run_to_finish_and_be_stored(station, tmp_path):
    client = subprocess.Popen([sys.executable, "-c", CLIENT, station.url],
                              stdout=subprocess.PIPE, text=True)
    run_id = client.stdout.readline().strip()
    for line in client.stdout:
        if line.strip() == "resync":
            break
    assert _wait_for(lambda: station.client().get("/runs/current")[1]["state"] == "running")
    client.kill()  # SIGKILL: no goodbye
    client.wait(10)
    client.stdout.close()
    (tmp_path / "gate" / "open").write_text("")
    api = station.client()
    assert _wait_for(lambda: api.get("/runs/current")[1]["state"] == "idle")
    status, record = api.get(f"/runs/{run_id}")
    assert status == 200 and record["outcome"] == "PASS"
    assert [s["name"] for s in record["steps"]] == ["fixture check", "power on", "hold",
                                                    "power off"]


def _three_boards(api: ApiClient) -> list[list[float]]:
    durations = []
    for n in range(1, 4):
        status, started = api.post("/runs", {"product": "PowerBank-Foolish",
                                             "serial": f"PBF-00000{n}"})
        assert status == 202, started
        assert _wait_for(lambda: api.get("/runs/current")[1]["state"] == "idle")
        record = api.get(f"/runs/{started['run_id']}")[1]
        assert record["outcome"] == "PASS"
        durations.append([s["duration_s"] for s in record["steps"]])
    return durations


def test_the_station_gives_its_wal_room_before_the_first_board_and_writes_in_place(tmp_path):
    """edge.store.wal_room in the real process: once it serves, the WAL file grows to its room
    in the background; boards then overwrite it without growing it; a stop removes it as any
    clean close of SQLite's last connection does."""
    from edge.store.wal_room import room_bytes

    st = Station(write_config(tmp_path))
    wal = tmp_path / "data" / "results.sqlite3-wal"
    try:
        assert _wait_for(lambda: wal.exists() and wal.stat().st_size >= room_bytes(1024))
        size = wal.stat().st_size
        _three_boards(st.client())
        assert wal.stat().st_size == size
    finally:
        assert st.stop() == 0
    assert not wal.exists()


def test_a_client_that_stops_reading_does_not_change_a_runs_timing(tmp_path):
    """Step durations are on the simulated clock: any wait the stalled client imposed on the
    engine would show as a difference against the same boards tested with no client."""
    reference_station = Station(write_config(tmp_path / "a"))
    try:
        reference = _three_boards(reference_station.client())
    finally:
        reference_station.stop()
    stalled_station = Station(write_config(tmp_path / "b"))
    probe = stalled_station.client()
    sock = socket.create_connection((probe.host, probe.port))
    try:
        sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        # ...and never reads a byte.
        stalled = _three_boards(stalled_station.client())
    finally:
        sock.close()
        assert stalled_station.stop() == 0
    assert stalled == reference


def test_a_station_killed_and_restarted_makes_its_clients_resynchronise(tmp_path):
    cfg = write_config(tmp_path)
    first = Station(cfg)
    api = first.client()
    status, started = api.post("/runs", {"product": "Gated-Board", "serial": "GTB-0007"})
    assert status == 202
    seen = []
    stream_ended = threading.Event()

    def follow():
        try:
            for event in first.client().events(timeout=60):
                seen.append(event)
        except (OSError, ApiUnavailable):
            pass
        stream_ended.set()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    assert _wait_for(lambda: any(e.name == "resync" for e in seen))
    assert seen[0].data["current"]["state"] == "running"
    last_id = seen[-1].id
    first.proc.kill()  # the station dies mid-run (power cut, OOM)
    first.proc.wait(10)
    assert stream_ended.wait(30)
    second = Station(cfg)
    try:
        events = second.client().events(last_event_id=last_id, timeout=30)
        resync = next(events)
        events.close()
        assert resync.name == "resync" and resync.data["reason"] == "station_restarted"
        current = resync.data["current"]
        # Nothing of the dead process is shown as current: no live run, no verdict.
        assert current["state"] == "idle" and current["run"] is None
        assert current["last_run"] is None
        assert resync.id.split(":")[0] != last_id.split(":")[0]
        status, record = second.client().get(f"/runs/{started['run_id']}")
        assert record["outcome"] == "ABORTED"  # recovered at start-up, with its true cause
    finally:
        assert second.stop() == 0
        first.proc.stdout.close()
        first.proc.stderr.close()


def test_a_network_address_without_a_token_is_refused_at_start(tmp_path):
    cfg = write_config(tmp_path, 'listen = "0.0.0.0:8750"')
    proc = subprocess.run([sys.executable, "-m", "edge.cli", "--config", str(cfg),
                           "station", "--no-console"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == EXIT_CONFIG
    assert f"{cfg}:6: [api] listen:" in proc.stderr and "token_file" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "results.sqlite3").exists()  # nothing was opened


def test_wrong_token_and_foreign_origin_are_refused_by_the_real_station(tmp_path):
    token = tmp_path / "api-token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    st = Station(write_config(tmp_path, f'listen = "127.0.0.1:0"\ntoken_file = "{token}"'))
    try:
        assert st.client().get("/station")[0] == 401
        wrong = st.client(token="not-the-token-at-all")
        assert wrong.post("/runs", {"product": "PowerBank-Foolish",
                                    "serial": "PBF-000001"})[0] == 401
        evil = st.client(token=TOKEN, headers={"Origin": "http://evil.example"})
        assert evil.post("/runs", {"product": "PowerBank-Foolish",
                                   "serial": "PBF-000001"})[0] == 403
        good = st.client(token=TOKEN)
        status, current = good.get("/runs/current")
        assert status == 200 and current["last_run"] is None  # nothing was started
    finally:
        assert st.stop() == 0
    log = st.proc.args  # the command line never carries the token either
    assert TOKEN not in " ".join(log)


def _pibench_run(cfg: Path, serial: str, product: str = "PowerBank-Foolish", lang: str = "en",
                 **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "--config", str(cfg), "--lang", lang, "run",
         "--product", product, "--serial", serial],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, **kw)


def test_pibench_run_beside_a_running_station_hands_its_run_to_the_station(tmp_path):
    cfg = write_config(tmp_path)
    st = Station(cfg)
    try:
        run = _pibench_run(cfg, "PBF-000005")
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        assert "handed to it" in err and "Traceback" not in err
        # The same live output as an in-process run: steps, values against limits, banner.
        assert "-> pulse timing" in out and "ok period" in out and "PASS  /  CONFORME" in out
        history = st.client().get("/runs?serial=PBF-000005")[1]["runs"]
        assert [r["outcome"] for r in history] == ["PASS"]
        # Refusals keep their exit codes: a bad serial (65, reason in the operator's language)
        bad = _pibench_run(cfg, "PBF-12", lang="fr")
        out, err = bad.communicate(timeout=60)
        assert bad.returncode == 65 and "trop court" in err
        # ...and a station busy with another board (75).
        api = st.client()
        assert api.post("/runs", {"product": "Gated-Board", "serial": "GTB-0100"})[0] == 202
        busy = _pibench_run(cfg, "PBF-000006")
        out, err = busy.communicate(timeout=60)
        assert busy.returncode == 75 and "run is in progress" in err
        (tmp_path / "gate" / "open").write_text("")
        assert _wait_for(lambda: api.get("/runs/current")[1]["state"] == "idle")
    finally:
        assert st.stop() == 0


def test_a_signal_to_a_handed_over_run_aborts_it_on_the_station(tmp_path):
    cfg = write_config(tmp_path)
    st = Station(cfg)
    try:
        run = _pibench_run(cfg, "GTB-0200", product="Gated-Board")
        for line in run.stdout:
            if "-> hold" in line:
                break
        run.send_signal(signal.SIGTERM)
        _out, err = run.communicate(timeout=60)
        assert run.returncode == 3, err  # ABORTED, as for an in-process run
        record = st.client().get("/runs?serial=GTB-0200")[1]["runs"][0]
        assert record["outcome"] == "ABORTED" and "SIGTERM" in record["error"]
        full = st.client().get(f"/runs/{record['run_id']}")[1]
        assert full["steps"][-1]["name"] == "power off" and full["steps"][-1]["outcome"] == "PASS"
    finally:
        assert st.stop() == 0
