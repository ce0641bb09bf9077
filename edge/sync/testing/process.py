"""Run a fake server in a subprocess and talk to its control endpoint.

Stopping the process is the honest "connection refused": nothing listens on the port any more.
``start()`` again reuses the port and the state file, as a server coming back after an outage.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any


class FakeServerProcess:
    def __init__(self, kind: str, state_path: Path) -> None:
        self.kind = kind
        self.state_path = Path(state_path)
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServerProcess:
        if self.proc is not None:
            raise RuntimeError("already running")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge.sync.testing", "--kind", self.kind,
             "--port", str(self.port), "--state", str(self.state_path)],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise RuntimeError(f"fake {self.kind} server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        """Kill the server: from now on connections to its port are refused."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> FakeServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def control(self, name: str, doc: Any = None) -> Any:
        data = None if doc is None else json.dumps(doc).encode()
        req = urllib.request.Request(
            f"{self.base_url}/_control/{name}", data=data, method="POST" if data else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read().decode())

    def script(self, *rules: dict) -> None:
        self.control("script", list(rules))
