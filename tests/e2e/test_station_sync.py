"""The whole path a result takes: a run on the station → the outbox → a real HTTP server on
127.0.0.1 (the fake generic endpoint, in a subprocess). Testing goes on while the server is
down; once it is back, every run arrives exactly once."""

from __future__ import annotations

import io
import json
from pathlib import Path

from edge.cli import main
from edge.sync.testing.process import FakeServerProcess

TOKEN = "e2e-secret-T0k3n-9f8e7d6c5b4a"


def _config(tmp_path: Path, url: str) -> Path:
    token = tmp_path / "inventory.token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    cfg = tmp_path / "station.toml"
    cfg.write_text(
        "[station]\nid = 'bench-e2e'\ndata_dir = 'data'\n"
        f"[sync]\nbackend = 'generic'\nurl = '{url}/pibench/results'\n"
        "token_file = 'inventory.token'\nconnect_timeout_s = 1\nread_timeout_s = 2\n"
    )
    return cfg


def cli(cfg: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["--config", str(cfg), "--lang", "en", *argv], out=out), out.getvalue()


def test_runs_made_while_the_server_is_down_arrive_once_when_it_is_back(tmp_path, capfd):
    server = FakeServerProcess("generic", tmp_path / "fake.sqlite3").start()
    server.control("config", {"tokens": {TOKEN: "valid"}})
    server.stop()  # the outage: its port now refuses connections; state and port are kept
    cfg = _config(tmp_path, server.base_url)

    codes = [cli(cfg, "run", "--product", "PowerBank-Foolish", "--serial", f"PBF-00000{i}")[0]
             for i in range(3)]
    assert codes == [0, 0, 0]  # testing never waits for the inventory
    code, out = cli(cfg, "sync", "now")
    code, out = cli(cfg, "sync", "status", "--json")
    status = json.loads(out)
    assert code == 3 and status["queue_depth"] == 3

    server.start()
    try:
        code, out = cli(cfg, "sync", "now")
        assert code == 0, out
        received = server.control("received")
        assert sorted(received["posts"].values()) == [1, 1, 1]
        assert len(received["stored"]) == 3
        code, out = cli(cfg, "sync", "status", "--json")
        assert code == 0 and json.loads(out)["queue_depth"] == 0
    finally:
        server.stop()
    captured = capfd.readouterr()
    db_bytes = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir() if p.is_file())
    assert TOKEN not in captured.out + captured.err and TOKEN.encode() not in db_bytes


INVENTREE_TOKEN = "inv-00112233445566778899aabbccddeeff00112233-20270601"


def test_a_real_run_reaches_inventree_one_result_per_measurement(tmp_path):
    """`pibench sync setup` prepares the part from the shipped plan; a simulated run of
    PowerBank-Foolish then lands in the fake InvenTree as one result per measurement plus the
    run's verdict, with operator, batch and plan in every result, in one bulk POST."""
    server = FakeServerProcess("inventree", tmp_path / "fake-inventree.sqlite3").start()
    try:
        server.control("config", {"tokens": {INVENTREE_TOKEN: "valid"}})
        server.control("seed", {"parts": [{"name": "PowerBank", "ipn": "PBF-B"}]})
        token = tmp_path / "inventory.token"
        token.write_text(INVENTREE_TOKEN + "\n")
        token.chmod(0o600)
        cfg = tmp_path / "station.toml"
        cfg.write_text(
            "[station]\nid = 'bench-e2e'\ndata_dir = 'data'\n"
            f"[sync]\nbackend = 'inventree'\nurl = '{server.base_url}'\n"
            "token_file = 'inventory.token'\nrun_template = 'pibenchrun'\n"
            "fail_status = 'REJECTED'\npass_status = 'OK'\n"
            "[sync.parts]\n'PowerBank-Foolish' = 'PBF-B'\n")
        code, out = cli(cfg, "sync", "setup")
        assert code == 0, out
        code, _ = cli(cfg, "run", "--product", "PowerBank-Foolish", "--serial", "PBF-000001",
                      "--operator", "amelie", "--batch", "B-12")
        assert code == 0
        before = server.control("server-stats")["requests"]
        code, out = cli(cfg, "sync", "now")
        assert code == 0, out
        requests = server.control("server-stats")["requests"] - before
        results = server.control("results")
    finally:
        server.stop()
    assert sorted(r["key"] for r in results) == sorted([
        "firstpulsefirst_pulse", "pulsetimingpulse_width", "pulsetiminggap",
        "pulsetimingperiod", "pulsetimingduty", "pibenchrun"])
    assert len({r["batch"] for r in results}) == 1  # one bulk POST for the whole run
    assert all(r["result"] for r in results)
    width = next(r for r in results if r["key"] == "pulsetimingpulse_width")
    assert width["value"].endswith(" s") and "limits" in width["notes"]
    for r in results:
        assert "operator amelie" in r["notes"] and "batch B-12" in r["notes"]
        assert "plan PowerBank-Foolish keep-alive v1.0" in r["notes"]
        assert r["test_station"] == "bench-e2e"
    # Once per worker: probe, part, templates. Per run: create the board (with its stock
    # status), look it up (a racing station's item), one bulk POST: 3, where a run cost 4.
    assert requests == 3 + 3, requests
