"""``pibench station``: the station service, with a plain-terminal operator prompt.

The station owns the hardware and the database for as long as it runs. Until the touchscreen
HMI is in place, a technician can test from a terminal: pick the product once, then scan (or
type) serials; each run prints live and ends with a large verdict, then it is the next board's
turn. As a service (``--no-console``) it only keeps the database recovered and the inventory
sync running, until SIGTERM.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import TextIO

from edge import startup_gc
from edge.config import StationConfig
from edge.console import GuardedOutput, LiveOutput, banner
from edge.i18n import t


def _choose_product(products: list, lang: str, out: TextIO, read,
                    revisions) -> tuple[str, str | None] | None:
    """The product and, when it has plans for several revisions here (``revisions(product)``,
    the station's), the revision chosen: the operator says which board it is."""
    print(t("product_prompt", lang) + ":", file=out)
    for n, p in enumerate(products, 1):
        print(f"  [{n}] {p.product} (rev {p.revision})", file=out)
    while True:
        line = read("> ")
        if line is None or line.strip().lower() == "q":
            return None
        choice = line.strip()
        if choice.isdigit() and 1 <= int(choice) <= len(products):
            chosen = products[int(choice) - 1]
            several = len(revisions(chosen.product)) > 1
            return chosen.product, chosen.revision if several else None
        for p in products:
            if choice.lower() == p.product.lower() and len(revisions(p.product)) == 1:
                return p.product, None
        print(f"? {choice}", file=out)


class ScanInbox:
    """Every way a serial reaches the console, as one queue: lines typed on the terminal (a
    keyboard-wedge scanner types there too) and reads from a serial-port scanner. A read the
    scanner garbled arrives as its rejection, so the technician is told to scan again."""

    _EOF = object()

    def __init__(self, stream: TextIO) -> None:
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), name="pibench-stdin",
                         daemon=True).start()

    def _pump(self, stream: TextIO) -> None:
        for line in iter(stream.readline, ""):
            self._queue.put(line)
        self._queue.put(self._EOF)

    def close(self) -> None:
        """End of input from outside (SIGTERM): a waiting prompt returns None at once."""
        self._queue.put(self._EOF)

    def put_scan(self, read: object) -> None:  # SerialScanner's on_scan: str or SerialRejected
        self._queue.put(read)

    def read(self, out: TextIO, prompt: str) -> object:
        """The next line or scan; None at end of input."""
        print(prompt, end="", file=out, flush=True)
        item = self._queue.get()
        return None if item is self._EOF else item


def run_station(config: StationConfig, *, lang: str, out: TextIO, console: bool,
                product: str | None = None, stdin: TextIO | None = None,
                sim_pace: float | None = None) -> int:
    """Own the station until told to stop: 'q' or end of input at the console, or SIGTERM,
    SIGINT or SIGHUP (systemd's stop is a SIGTERM). A stop signal during a run aborts it
    through the engine: the board is powered off and the run stored ABORTED naming the
    signal, then the station exits 0. Raises StationBusyError if another process owns the
    station (nothing touched), StoreError subclasses for storage faults.

    The station serves its local API (``[api]``) and runs every run through its station
    service, whoever asks: this console is one client of that service among others."""
    from drivers.scanner.serials import SerialRejected
    from edge.api.hosting import hosted
    from edge.api.settings import api_settings
    from edge.station import Station
    from edge.stop_signals import StopSignals

    api = api_settings(config)  # the token file is read now: a bad one stops the start (78)
    stop = threading.Event()
    inboxes: list[ScanInbox] = []
    screen = GuardedOutput(out)
    station = Station(config, command="pibench station", sim_pace=sim_pace)

    def on_stop(signal_name: str) -> None:
        was_running = station.stop(f"{signal_name} received: the station was told to stop")
        stop.set()
        for inbox in inboxes:
            inbox.close()
        said = "stopping" if was_running else "stopping_idle"
        print(f"\n{t(said, lang, signal=signal_name)}", file=screen, flush=True)

    with StopSignals(on_stop), station:
        mode = "simulated hardware" if config.simulated else "real hardware"
        print(f"pibench station '{config.station_id}' on {mode}; results in {config.database}",
              file=screen, flush=True)
        for run_id in station.recovered:
            print(f"  {t('recovered', lang)}: {run_id}", file=screen)
        with hosted(station, api, screen,
                    on_url=lambda url: station.owner.advertise(api=url)) as service:
            startup_gc.release()  # started: a long-lived process from here on
            # The inventory sync starts once the station serves, and once what this start says
            # is written: its HTTP client's imports and first look at the queue then run in its
            # thread while the prompt is read. Started earlier, they took the interpreter's lock
            # at each line written and delayed the prompt by several ms. What the API says
            # about the sync comes from the database, whether the worker has started or not.
            if config.sync.enabled:
                print(f"  inventory sync: {config.sync.backend} {config.sync.url}", file=screen)
            screen.flush()
            station.start_sync()
            station.start_wal_room()  # after the start's lines too, for the same reason
            if not console:
                stop.wait()  # a stop signal has aborted the run in progress, if any
                return 0
            inbox = ScanInbox(stdin or sys.stdin)
            inboxes.append(inbox)
            if stop.is_set():  # a signal came while starting up
                inbox.close()
            # The station's serial-port scanner belongs to the service; its reads and its
            # state changes (unplugged, back) come to this prompt too.
            service.add_scan_listener(inbox.put_scan)
            service.add_scanner_status_listener(
                lambda st: print(f"\n[scanner] {st.message(lang)}", file=screen, flush=True))

            def read(prompt: str) -> str | None:
                item = inbox.read(screen, prompt)
                while isinstance(item, SerialRejected):  # garbled on the serial line itself
                    print(f"{t('rejected', lang)}: {item.message(lang)}", file=screen)
                    item = inbox.read(screen, prompt)
                return item

            return _console_loop(service, read, screen, lang, product, stop)


def _console_loop(service, read, out: TextIO, lang: str, product: str | None,
                  stop: threading.Event) -> int:
    """Pick the product once, then one board after another until 'q' or end of input. Each
    run goes through the station service, like any API client's."""
    from drivers.scanner.serials import SerialRejected
    from edge.engine import InvalidSerial, StationError
    from edge.service import ServiceError
    from edge.station import StationStopping

    products, revisions = service.station.products(), service.station.revisions
    chosen = ((product, None) if product is not None and len(revisions(product)) == 1
              else _choose_product(products, lang, out, read, revisions))
    while chosen is not None and not stop.is_set():
        product, revision = chosen
        shown = product if revision is None else f"{product} rev {revision}"
        line = read(t("scan_prompt", lang, product=shown) + "\n> ")
        if line is None or line.strip().lower() == "q":
            break
        if line.strip().lower() == "p":
            chosen = _choose_product(products, lang, out, read, revisions)
            continue
        if not line.strip():
            continue
        # Printed from a thread of its own: a slow or broken terminal never holds the engine.
        live = LiveOutput(service.bus, out, lang)
        try:
            record = service.run_and_wait(product, line, revision=revision)
        except SerialRejected as exc:
            print(f"{t('rejected', lang)}: {exc.message(lang)}", file=out)
            continue
        except InvalidSerial as exc:
            print(f"{t('rejected', lang)}: {exc}", file=out)
            continue
        except (StationError, ServiceError) as exc:  # no bus, no GPIO, busy: nothing tested
            if isinstance(exc, StationStopping) or isinstance(exc.__cause__, StationStopping):
                break
            print(f"{t('ERROR', lang)}: {exc}", file=out)
            continue
        finally:
            live.close()
        print(banner(record, lang), file=out)
        out.flush()
        if not stop.is_set():
            print(f"{t('next_board', lang)}.", file=out)
    return 0
