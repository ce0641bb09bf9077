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
