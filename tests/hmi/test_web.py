"""``pibench-hmi --web``: the same screen in Debian's chromium through textual-serve, behind the
API token, with a bounded number of sessions and no foreign origins."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hmi_support import ROOT, hold_port

pytestmark = [pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
TOKEN = "0123456789abcdef0123456789abcdef"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


@pytest.fixture
def token_file(tmp_path) -> Path:
    path = tmp_path / "api-token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def web(station_factory, token_file, tmp_path):
    station = station_factory(token_file=token_file, pace=0.02)
    # Held (refused, and given to no other process) until hmi --web listens there beside it.
    holder = hold_port()
    port = holder.getsockname()[1]
    trace = tmp_path / "screen.txt"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PIBENCH_HMI_TRACE_SCREEN=str(trace),
               TEXTUAL_ANIMATIONS="none")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hmi", "--web", "--port", str(port), "--url", station.url,
         "--token-file", str(token_file), "--max-sessions", "1"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                httpx.get(base + "/", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    raise RuntimeError("hmi --web did not start: "
                                       + proc.stderr.read().decode()) from None
                time.sleep(0.1)
    finally:
        holder.close()
    yield base, station, trace
    proc.terminate()
    proc.wait(10)


def test_the_token_guards_every_page(web):
    base, _, _ = web
    assert httpx.get(base + "/").status_code == 401
    assert httpx.get(base + "/static/js/textual.js").status_code == 401
    assert httpx.get(base + "/?token=wrong").status_code == 401
    answer = httpx.get(base + "/?token=" + TOKEN, follow_redirects=False)
    assert answer.status_code == 302 and "token" not in answer.headers["location"]
    cookie = answer.cookies.get("pibench_hmi")
    assert cookie and TOKEN not in cookie
    page = httpx.get(base + "/", cookies={"pibench_hmi": cookie})
    assert page.status_code == 200 and "fonts.googleapis" not in page.text


def test_foreign_origin_and_too_many_sessions_are_refused(web):
    import aiohttp

    base, _, _ = web
    cookie = httpx.get(base + "/?token=" + TOKEN, follow_redirects=False).cookies["pibench_hmi"]
    ws_url = base.replace("http", "ws") + "/ws?width=80&height=24"

    async def run() -> None:
        async with aiohttp.ClientSession(cookies={"pibench_hmi": cookie}) as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                await session.ws_connect(ws_url, headers={"Origin": "http://evil.example"})
            assert foreign.value.status == 403
            first = await session.ws_connect(ws_url, headers={"Origin": base})
            with pytest.raises(aiohttp.WSServerHandshakeError) as second:
                await session.ws_connect(ws_url, headers={"Origin": base})
            assert second.value.status == 503  # --max-sessions 1
            await first.close()

    asyncio.run(run())


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed")
def test_a_run_in_chromium(web):
    from playwright.sync_api import sync_playwright

    base, station, trace = web

    def screen() -> str:
        return trace.read_text(encoding="utf-8") if trace.exists() else ""

    def wait_screen(text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in screen():
            assert time.monotonic() < deadline, f"no {text!r} on the screen:\n{screen()}"
            time.sleep(0.05)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 480})
            page.goto(base + "/?token=" + TOKEN)
            wait_screen("banc connecté")
            terminal = page.locator("#terminal")
            terminal.click(position={"x": 10, "y": 10})  # the station name: nothing to press
            page.keyboard.type("PBF-000021")
            page.keyboard.press("Enter")
            wait_screen("Appuyez sur DÉMARRER")
            box = terminal.bounding_box()
            # START fills the middle of the screen, the whole width.
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.6)
            wait_screen("Carte bonne.")  # the verdict screen's "what to do" for PASS
            assert "CONFORME" in screen() and "PBF-000021" in screen()
        finally:
            browser.close()
    runs = httpx.get(station.url + "/api/v1/runs", params={"serial": "PBF-000021"},
                     headers={"Authorization": f"Bearer {TOKEN}"}).json()["runs"]
    assert [r["outcome"] for r in runs] == ["PASS"]


def test_a_network_address_without_the_token_is_refused():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PIBENCH_API_TOKEN_FILE", None)
    done = subprocess.run([sys.executable, "-m", "hmi", "--web", "--host", "0.0.0.0",
                           "--url", "http://127.0.0.1:9"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 78
    assert "needs the station's API token" in done.stderr
