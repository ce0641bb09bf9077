"""Helpers of the HMI tests: ``pibench station`` in a subprocess (simulated hardware; with
``--sim-pace`` when a test must act in the middle of a run), and waiting for what the screen
shows (never a fixed sleep, never a timing assert)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from screen_text import screen_text

from hmi.app import PibenchHMI
from hmi.client import StationClient

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def hold_port(port: int = 0) -> socket.socket:
    """A port bound but not listening: connections to it are refused, no other process can be
    given it, and a server binding it with SO_REUSEADDR (the station does) can listen there
    beside it. Tests run in parallel workers that open ports all the time: a port found free
    and released before the station binds it could be gone by then."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    return holder


class StationProcess:
    """``pibench``'s station service and API in a subprocess; start, kill, restart."""

    def __init__(self, data_dir: Path, *, pace: float = 0.0, start_on_scan: bool = False,
                 token_file: Path | None = None, sim_faults: list[str] = (),
                 scanner: str = "", listen: bool = True, plans_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        self.plans_dir = plans_dir  # a shop's plans, beside the built-in ones
        # Held from now until the station listens, and again while it is down (a restart comes
        # back on the same address, as the HMI expects).
        self._holder: socket.socket | None = hold_port() if listen else None
        self.port = self._holder.getsockname()[1] if self._holder else 0
        self.url = f"http://127.0.0.1:{self.port}"
        self.pace = pace
        self.start_on_scan = start_on_scan
        self.token_file = token_file
        self.sim_faults = list(sim_faults)
        self.scanner = scanner  # a serial port the station reads scans from
        self.listen = listen  # False: no [api] listen, the station picks its own address
        self.proc: subprocess.Popen | None = None

    def config(self) -> Path:
        """The station.toml of this test station (simulated hardware)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "station.toml"
        faults = ", ".join(f'"{f}"' for f in self.sim_faults)
        token = f'token_file = "{self.token_file}"\n' if self.token_file else ""
        path.write_text(
            f'[station]\nid = "banc-essai"\ndata_dir = "{self.data_dir / "data"}"\n'
            f"sim_faults = [{faults}]\n"
            + (f'plans_dirs = ["{self.plans_dir}"]\n' if self.plans_dir else "") + "\n"
            "[api]\n" + (f'listen = "127.0.0.1:{self.port}"\n' if self.listen else "")
            + f"{token}"
            f"start_on_scan = {'true' if self.start_on_scan else 'false'}\n"
            + (f'\n[scanner]\nurl = "{self.scanner}"\n' if self.scanner else ""))
        return path

    def start(self) -> StationProcess:
        cmd = [sys.executable, "-m", "edge.cli", "station", "--no-console",
               "--config", str(self.config())]
        if self.pace:
            cmd += ["--sim-pace", str(self.pace)]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=ROOT)
        out = ""
        try:
            while "api: " not in out:  # blocks until serving (or the process died)
                line = self.proc.stdout.readline()
                if not line:
                    self.proc.kill()
                    raise RuntimeError(f"station did not start: {out}{self.proc.stderr.read()}")
                out += line
        finally:
            self._release_port()
        self.url = out.split("api: ", 1)[1].split()[0].rstrip("/")  # where it really listens
        # Keep reading what it prints, so a full pipe can never stall the station.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
            if self.listen and self._holder is None:
                self._holder = hold_port(self.port)

    def _release_port(self) -> None:
        if self._holder is not None:
            self._holder.close()
            self._holder = None

    def close(self) -> None:
        """The end of the test: the station gone and its port released."""
        self.kill()
        self._release_port()

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def freeze(self) -> None:
        """SIGSTOP: a station that takes requests (the kernel accepts them) and answers none,
        as a station stuck on a slow disk or a loaded CPU does, until :meth:`thaw`."""
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)


def make_app(url: str, lang: str = "fr", *, client_options: dict | None = None,
             **kwargs) -> PibenchHMI:
    """``client_options``: StationClient's (shorter waits for a test of a slow station)."""
    return PibenchHMI(StationClient(url, **(client_options or {})), lang=lang, **kwargs)


# The ports held for dropped links, until restore_link: a port merely found free could be given
# to another test's server meanwhile, and the HMI would reconnect to that station.
_DROPPED: dict[int, socket.socket] = {}


async def drop_link(pilot) -> str:
    """Cut the HMI's link to a station that keeps running: the link worker is started again
    against an address where nothing listens (connections refused, as when the service is
    down). Returns the station's address for :func:`restore_link`."""
    app = pilot.app
    url = app.client.base_url
    holder = hold_port()
    _DROPPED[id(app)] = holder
    app.client.rebase(f"http://127.0.0.1:{holder.getsockname()[1]}")
    app.follow()  # exclusive: the worker holding the stream is cancelled
    await wait_text(pilot, "BANC INJOIGNABLE")
    return url


def restore_link(pilot, url: str) -> None:
    """The station answers again: the link's next retry (within 2 s) reconnects."""
    pilot.app.client.rebase(url)
    holder = _DROPPED.pop(id(pilot.app), None)
    if holder is not None:
        holder.close()


async def wait_for(pilot, predicate: Callable[[], bool], what: str,
                   timeout: float = 20.0) -> None:
    """Let the app run until ``predicate()`` holds; fail with the screen when it never does."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; screen:\n"
                                 f"{screen_text(pilot.app)}")
        await pilot.pause(0.02)


async def wait_text(pilot, text: str, timeout: float = 20.0) -> None:
    await wait_for(pilot, lambda: text in screen_text(pilot.app), repr(text), timeout)


async def type_scan(pilot, serial: str) -> None:
    """A keyboard-wedge scanner: the characters, then Enter."""
    await pilot.press(*serial, "enter")


async def scan_until_startable(pilot, serial: str) -> None:
    """The ready screen, a board scanned, and START usable for it."""
    await wait_ready(pilot)
    await type_scan(pilot, serial)
    await wait_for(pilot, lambda: pilot.app.state.can_start(), f"{serial} startable")




async def tap(pilot, selector: str, timeout: float = 20.0) -> None:
    """Tap a control once it is on the current screen and laid out (a screen just switched to
    has no regions yet, and a tap there would land on whatever was before)."""

    def ready() -> bool:
        found = pilot.app.screen.query(selector)
        return bool(found) and found.first().region.area > 0 and \
            not found.first().disabled

    await wait_for(pilot, ready, f"{selector} on screen", timeout)
    await pilot.click(selector)


async def wait_ready(pilot, timeout: float = 20.0) -> None:
    """The ready screen, connected to the station and painted."""
    from hmi.state import Phase

    await wait_for(pilot, lambda: pilot.app.state.phase is Phase.READY
                   and pilot.app.screen.id is None and "│" in screen_text(pilot.app)
                   and bool(pilot.app.screen.query("#start")), "the ready screen", timeout)


async def wait_stored(pilot, url: str, run_id: str, timeout: float = 30.0) -> None:
    """Until the station itself (asked by another client) has finished and stored ``run_id``."""
    client = StationClient(url)
    deadline = time.monotonic() + timeout
    try:
        while ((await client.current()).get("last_run") or {}).get("run_id") != run_id:
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} not finished at the station")
            await pilot.pause(0.05)
    finally:
        await client.aclose()
