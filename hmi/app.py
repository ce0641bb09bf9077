"""The operator screen: a pure client of the station's API.

The app holds the client, the state mirror and the scan buffer, and routes the station's phase
(link / ready / running / verdict) to one screen each; screens and widgets live in their own
modules. Workers only post messages (``hmi.messages``); every handler here applies a message to
the state and repaints, so nothing but the event loop touches a widget.

Kiosk rules: no command palette, no text selection, no quit key for operators (a service key,
ctrl+backslash, exits), nothing focusable, and the scan path is this app's key handler, so a
keyboard-wedge scan lands wherever the last tap was and its Enter can never press a button.
"""

from __future__ import annotations

import gc
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.events import Key, Paste

from hmi.client import StationClient, StationRefused, StationTimedOut, StationUnreachable
from hmi.i18n import pick_language, t
from hmi.link import follow_station
from hmi.messages import (
    CommandFailed,
    CommandSettled,
    LinkDown,
    LinkUp,
    RunLoaded,
    StationEvent,
    TodayLoaded,
    TodayPlot,
)
from hmi.screens.confirm_abort import ConfirmAbort
from hmi.screens.link import LinkScreen
from hmi.screens.ready import ReadyScreen
from hmi.screens.run import RunScreen
from hmi.state import MeasurementView, Phase, StationState

# Today's view plots these measurements of this product over the day's boards.
PLOTTED = ("PowerBank-Foolish", ("period", "duty"))
# The screen of each phase: a board's live run and its verdict share one (see hmi.screens.run).
SCREEN_OF = {Phase.LINK: "link", Phase.READY: "ready", Phase.RUNNING: "run",
             Phase.VERDICT: "run"}
SCAN_MAX = 64  # longer than any serial: a stuck key or a pasted page is cut, not stored
SLOW_AFTER_S = 1.0  # a command still unanswered after this: the screen says the station is slow


class PibenchHMI(App, inherit_bindings=False):
    CSS_PATH = Path(__file__).parent / "styles" / "hmi.tcss"
    TITLE = "pibench"
    ENABLE_COMMAND_PALETTE = False
    ALLOW_SELECT = False
    AUTO_FOCUS = None
    BINDINGS: ClassVar = [Binding("ctrl+backslash", "service_quit", "Quit (service)", show=False,
                        priority=True)]

    def __init__(self, client: StationClient, *, lang: str | None = None,
                 on_render=None, connect: bool = True, rediscover=None) -> None:
        super().__init__()
        self.client = client
        self.lang = pick_language(lang)
        self.state = StationState()
        self.typing = ""  # keys received since the last Enter: the scan being typed
        self.command_error = ""  # the station's last refusal, in the operator's language
        self.aborting = False
        self._phase: Phase | None = None
        self._request_id: str | None = None  # one start per board, however often it is sent
        self._request_for: tuple[str, str, str] | None = None  # (product, revision, serial)
        # Commands sent and not answered yet (scan, start, abort) -> sequence number; those
        # unanswered for SLOW_AFTER_S are in ``slow`` (the screen says "station slow…").
        self.pending: dict[str, int] = {}
        self.slow: set[str] = set()
        self.scan_sent = ""  # the scan pending at the station
        self.slow_after_s = SLOW_AFTER_S
        self._sent_count = 0
        self._watching: str | None = None  # run id that was running when the link dropped
        self._dirty: list[tuple[str, int | None]] = []  # applied, not yet painted
        self._flush_pending = False
        self._switching = False
        self._unstamped: list[tuple[str, int | None]] = []
        self.on_render = on_render  # bench hook: called after each event has been painted
        self._connect = connect  # False: messages come from the caller (screenshot replays)
        self.rediscover = rediscover  # where the station says it is now (hmi.settings)
        trace = os.environ.get("PIBENCH_HMI_TRACE_SCREEN")
        self._trace = Path(trace) if trace and on_render is None else None
        if self._trace is not None:
            # Field diagnostics (and the browser test): the screen as text, after each change.
            self.on_render = lambda change, seq=None: write_screen_text(self, self._trace)

    # -- life cycle ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        for name, screen in (("link", LinkScreen()), ("ready", ReadyScreen()),
                             ("run", RunScreen())):
            self.install_screen(screen, name)
        self._phase = Phase.LINK
        # The run screen is composed now, while nobody waits for it: composed on the first
        # board instead, it held that board's first events back by 100-200 ms. Pushed, then
        # replaced by the link screen at once (an installed screen stays composed).
        self.push_screen("run")
        self.switch_screen("link")
        # Everything built so far (Textual, the screens, the stylesheet) lives as long as the
        # app: frozen out of the garbage collector's reach once painted, so its periodic full
        # collections no longer walk it (one took 29 ms in the middle of a board; docs/hmi.md).
        self.call_after_refresh(gc.freeze)

        if self._connect:
            self.follow()
        if self._trace is not None:
            # And twice a second: a write after a change can read the screen before the layout
            # pass that change needs (the verdict panel shown in place of the live one), and
            # then nothing writes it again (seen as a browser test stuck on a finished run).
            self.set_interval(0.5, lambda: write_screen_text(self, self._trace))

    @work(exclusive=True, group="link", exit_on_error=False, description="station link")
    async def follow(self) -> None:
        await follow_station(self.client, self.post_message, rediscover=self.rediscover)

    async def on_unmount(self) -> None:
        await self.client.aclose()

    def action_service_quit(self) -> None:
        self.exit()

    # -- routing ------------------------------------------------------------------------------
    def _route(self, change: str, seq: int | None = None) -> None:
        phase = self.state.phase
        name = SCREEN_OF[phase]
        if phase is not self._phase:
            self._close_overlays()
        if self._phase is None or name != SCREEN_OF[self._phase]:
            self._phase = phase
            self._switching = True  # painted when the new screen resumes
            self.switch_screen(name)  # its on_screen_resume repaints it whole
        else:
            self._phase = phase
            if change in ("scan", "run"):
                self._close_overlays()
            screen = self.get_screen(name)
            screen.show(self.state, change)  # type: ignore[attr-defined]
            if self.screen is not screen:
                self.screen.show(self.state, change) if hasattr(self.screen, "show") else None
        if self.on_render is not None and seq is None and change != "typing":
            self.call_after_refresh(self.on_render, change, seq)

    def _close_overlays(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    # -- messages from workers ---------------------------------------------------------------
    def on_link_up(self, message: LinkUp) -> None:
        watching = self._watching
        if self.state.link != "up":
            self.command_error = ""  # said about a station that was not answering: old news
            # A start retried after this is a new start: the station may have restarted (and
            # forgotten the id), or a run we never saw may have come and gone.
            self._request_id = self._request_for = None
        self.state.load_snapshot(message.snapshot)
        self.aborting = False
        run = self.state.run
        if watching and (run is None or run.run_id != watching):
            self.fetch_run(watching, while_away=True)
        self._watching = None
        self._route("all")

    def on_link_down(self, message: LinkDown) -> None:
        run = self.state.run
        if run is not None and run.running:
            self._watching = run.run_id
        first = self.state.link != "down"
        self.state.link_lost()
        if first or self._phase is not self.state.phase:
            self._route("all")

    def on_station_event(self, message: StationEvent) -> None:
        if message.kind == "run_started":
            self.aborting = False
            self.command_error = ""
            self._request_id = self._request_for = None
        change = self.state.apply(message.kind, message.data, message.seq)
        if message.kind == "run_finished":
            self.aborting = False
            self.command_error = ""  # said about the run that just ended: its verdict says all
        if change == "scan":
            self.command_error = ""
            if self.state.scan is not None and self.state.scan.raw == self.scan_sent:
                # The station's echo of the scan sent: the screen shows its truth now (the
                # answer still closes the command; until then no second scan goes out).
                self.scan_sent = ""
        if change != "none":
            # Paint once for every event already queued: a burst of steps (the I/O board sends
            # dozens within a millisecond) costs one repaint, not one each.
            self._dirty.append((change, message.seq))
            if not self._flush_pending:
                self._flush_pending = True
                self.call_later(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        dirty, self._dirty = self._dirty, []
        changes = list(dict.fromkeys(change for change, _ in dirty))
        if "run" in changes:
            changes = ["run"]  # a whole repaint covers every step
        self._switching = False
        with self.batch_update():
            for change in changes:
                self._route(change)
        if self.on_render is not None:
            self._unstamped.extend(dirty)
            if not self._switching:  # else the new screen stamps them once it has painted
                self.call_after_refresh(self.stamp_rendered)

    def stamp_rendered(self) -> None:
        """Tell ``on_render`` that these events are on screen now (bench, screen trace)."""
        stamped, self._unstamped = self._unstamped, []
        if self.on_render is not None:
            for change, seq in stamped:
                self.on_render(change, seq)

    def on_run_loaded(self, message: RunLoaded) -> None:
        if message.while_away:
            # Unless the technician has moved on (a new scan) or the snapshot said it already.
            if self.state.run is None and self.state.scan is None and self.state.link == "up":
                self.state.show_finished(message.record, seen_finish=False)
                self._route("run")
            return
        from hmi.screens.run_detail import RunDetail

        self.push_screen(RunDetail(message.record, self.lang))

    def on_command_failed(self, message: CommandFailed) -> None:
        if message.action == "start":
            self.state.starting = False
            if self.state.run is not None:
                # The run is on screen already (a retried start refused as "run in progress",
                # a start whose answer came after its run's events): not news, not an error.
                self._route("command")
                return
        self.command_error = message.reason.get(self.lang) or message.reason.get("en", "")
        if message.action == "abort":
            self.aborting = False
        self._route("command")

    # -- commands in flight: pending, then slow, then settled --------------------------------
    def _sent(self, action: str) -> None:
        self._sent_count += 1
        number = self.pending[action] = self._sent_count
        self.slow.discard(action)
        self.set_timer(self.slow_after_s, lambda: self._still_pending(action, number))

    def _still_pending(self, action: str, number: int) -> None:
        if self.pending.get(action) == number:
            self.slow.add(action)
            self._route("command")

    def on_command_settled(self, message: CommandSettled) -> None:
        self.pending.pop(message.action, None)
        self.slow.discard(message.action)
        if message.action == "scan":
            self.scan_sent = ""
        self._route("command")

    def on_today_plot(self, message: TodayPlot) -> None:
        from hmi.screens.today import TodayScreen

        if isinstance(self.screen, TodayScreen):
            self.screen.show_plot([(t("plot_title", self.lang, name=name), values, limits)
                                   for name, values, limits in message.series])

    def on_today_loaded(self, message: TodayLoaded) -> None:
        from hmi.screens.today import TodayScreen

        if isinstance(self.screen, TodayScreen):
            self.screen.fill(message.runs, message.yields)

    # -- the scan path ------------------------------------------------------------------------
    def on_key(self, event: Key) -> None:
        key = event.key
        if key == "enter":
            raw, self.typing = self.typing, ""
            if raw.strip():
                self.submit_scan(raw)
            else:
                self._repaint_scan()  # a lone Enter (a scanner's second suffix) does nothing
        elif key == "backspace":
            self.typing = self.typing[:-1]
            self._repaint_scan()
        elif key == "escape":
            self.typing = ""
            self._repaint_scan()
        elif event.is_printable and event.character and len(self.typing) < SCAN_MAX:
            self.typing += event.character
            self._repaint_scan()
        else:
            return
        event.stop()
        event.prevent_default()

    def on_paste(self, event: Paste) -> None:
        lines = [line for line in event.text.splitlines() if line.strip()]
        if lines:
            self.typing = ""
            self.submit_scan(lines[0][:SCAN_MAX])

    def _repaint_scan(self) -> None:
        screen = self.screen
        if hasattr(screen, "show"):
            screen.show(self.state, "typing")

    # -- operator actions -----------------------------------------------------------------------
    def submit_scan(self, raw: str) -> None:
        if self.state.phase is Phase.RUNNING:
            self.notify(t("run_in_progress", self.lang), severity="warning", timeout=3)
            self._repaint_scan()
            return
        if self.state.link != "up":  # a verdict may be on screen, the station is not
            self.notify(t("scan_not_sent", self.lang), severity="error", timeout=4)
            self._repaint_scan()
            return
        if "scan" in self.pending:
            # One scan at a time: a second one while the station has not answered the first
            # would be a double (with start-on-scan, a start refused as "run in progress").
            self.notify(t("scan_wait", self.lang), severity="warning", timeout=4)
            self._repaint_scan()
            return
        self.command_error = ""
        self.scan_sent = raw
        self._sent("scan")
        self._route("command")
        self._send_scan(raw)

    @work(group="commands", exit_on_error=False, description="scan")
    async def _send_scan(self, raw: str) -> None:
        try:
            result = await self.client.submit_scan(raw, self.state.scan_product(),
                                                   self.state.revision)
        except StationRefused as exc:
            self.post_message(StationEvent("scan", {"raw": raw, "ok": False,
                                                    "reason": exc.texts()}))
        except StationTimedOut:  # the station has it, but may never act on it: say so
            self.post_message(CommandFailed("scan", _texts("scan_timed_out", serial=raw)))
        except StationUnreachable:
            self.post_message(CommandFailed("scan", _texts("scan_not_sent")))
        else:
            scan = result.get("scan", result)
            scan.setdefault("raw", raw)
            self.post_message(StationEvent("scan", scan))
        finally:
            self.post_message(CommandSettled("scan"))

    def choose_product(self, name: str, revision: str = "") -> None:
        self.state.choose_product(name, revision)
        self._route("scan")

    def start_run(self) -> None:
        state = self.state
        if not state.can_start() or state.scan is None or not self.start_allowed():
            return
        state.starting = True
        self.command_error = ""
        # The same board started again (a retry after no answer) carries the same id, so the
        # station answers with the run it started instead of starting another one.
        board = (state.product, state.revision, state.scan.serial)
        if self._request_id is None or self._request_for != board:
            self._request_id, self._request_for = str(uuid.uuid4()), board
        self._sent("start")
        self._route("command")
        self._send_start(state.product, state.scan.serial, self._request_id, state.revision)

    def start_allowed(self) -> bool:
        """No start in flight, and no scan sent that the station has not shown yet (it may be
        another board's: START would start the serial on screen, not the one on the bench)."""
        return not self.scan_sent and "start" not in self.pending

    @work(group="commands", exit_on_error=False, description="start")
    async def _send_start(self, product: str, serial: str, request_id: str,
                          revision: str = "") -> None:
        try:
            await self.client.start(product, serial, request_id=request_id, revision=revision)
        except StationRefused as exc:
            self.post_message(CommandFailed("start", exc.texts()))
        except StationTimedOut:
            self.post_message(CommandFailed("start", _texts("start_timed_out")))
        except StationUnreachable:
            self.post_message(CommandFailed("start", _texts("start_not_sent")))
        finally:
            self.post_message(CommandSettled("start"))

    def confirm_abort(self) -> None:
        run = self.state.run
        if run is None or not run.running:
            return

        def answered(yes: bool | None) -> None:
            current = self.state.run
            if yes and current is not None and current.running and current.run_id == run.run_id:
                self.aborting = True
                self.command_error = ""
                self._sent("abort")
                self._route("command")
                self._send_abort()

        self.push_screen(ConfirmAbort(self.lang), answered)

    @work(group="commands", exit_on_error=False, description="abort")
    async def _send_abort(self) -> None:
        try:
            await self.client.abort()
        except StationRefused as exc:
            self.post_message(CommandFailed("abort", exc.texts()))
        except StationTimedOut:
            self.post_message(CommandFailed("abort", _texts("abort_timed_out")))
        except StationUnreachable:
            self.post_message(CommandFailed("abort", _texts("abort_not_sent")))
        finally:
            self.post_message(CommandSettled("abort"))

    # -- today and run detail ----------------------------------------------------------------------
    def open_today(self) -> None:
        from hmi.screens.today import TodayScreen

        self.push_screen(TodayScreen(self.lang))
        self.fetch_today()

    @work(exclusive=True, group="today", exit_on_error=False, description="today")
    async def fetch_today(self) -> None:
        day = datetime.now(UTC).date().isoformat()
        try:
            runs = await self.client.runs(day=day, limit=200)
            yields = await self.client.yield_(day=day)
        except (StationRefused, StationUnreachable):
            return
        items = runs.get("runs", runs.get("items", [])) if isinstance(runs, dict) else runs
        if isinstance(yields, dict):
            yields = yields.get("products", yields.get("items", list(yields.values())))
        self.post_message(TodayLoaded(list(items), list(yields)))
        await self._plot_today(day)

    async def _plot_today(self, day: str) -> None:
        """The period and duty cycle of today's PowerBank boards against their limits (the
        last 30 boards): one request per measurement name, not one per run."""
        product, names = PLOTTED
        values: dict[str, list[float]] = {name: [] for name in names}
        limits: dict[str, object] = {}
        for name in names:
            try:
                found = await self.client.measurements(product, day, name, limit=30)
            except (StationRefused, StationUnreachable):
                return
            for data in found:
                m = MeasurementView.from_wire(data)
                if isinstance(m.value, int | float) and not isinstance(m.value, bool):
                    values[name].append(float(m.value))
                    limits[name] = m
        if any(values.values()):
            self.post_message(TodayPlot([(name, values[name], limits.get(name))
                                         for name in names]))

    @work(group="runs", exit_on_error=False, description="run by id")
    async def fetch_run(self, run_id: str, while_away: bool = False) -> None:
        for delay in (0.0, 0.2, 0.5, 1.0):
            if delay:
                import asyncio

                await asyncio.sleep(delay)
            try:
                record = await self.client.run(run_id)
            except StationRefused:
                return
            except StationUnreachable:
                continue
            self.post_message(RunLoaded(record, while_away=while_away))
            return


def _texts(key: str, **fields: object) -> dict[str, str]:
    """An operator text in every language, for a message that the app renders in its own."""
    return {lang: t(key, lang, **fields) for lang in ("fr", "en")}


def screen_lines(app: App) -> str:
    """The current screen as plain text (what a technician would read on it)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


def write_screen_text(app: App, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(screen_lines(app), encoding="utf-8")
    tmp.replace(path)
