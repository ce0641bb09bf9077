"""Run a fake server in a subprocess and talk to its control endpoint.

Stopping the process is the honest "connection refused": nothing listens on the port any more.
``start()`` again reuses the port and the state file, as a server coming back after an outage.

While stopped, the port stays bound (not listening) by this process: connections to it are still
refused, but no other process can be given it in the meantime, as a listening port or as the
local port of an outgoing connection (the test suite runs in parallel workers that start servers
and open connections all the time). The restarted server binds beside the holder (both with
SO_REUSEADDR, only one listening), and the holder is released once it listens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import weakref
from pathlib import Path
from typing import Any


class FakeServerProcess:
    def __init__(self, kind: str, state_path: Path) -> None:
        self.kind = kind
        self.state_path = Path(state_path)
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self._port_holder: socket.socket | None = None

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
        self._release_port()  # listening by now, or failed to
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
        self._hold_port()

    def _hold_port(self) -> None:
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", self.port))
        except OSError:  # already taken: the restart will say so
            holder.close()
            return
        self._port_holder = holder
        # A server object dropped while stopped (the end of a test) closes it, unwarned.
        self._holder_finalizer = weakref.finalize(self, holder.close)

    def _release_port(self) -> None:
        if self._port_holder is not None:
            self._port_holder.close()
            self._port_holder = None

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
