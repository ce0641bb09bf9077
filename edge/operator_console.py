"""``pibench station``: the station service, with a plain-terminal operator prompt.

The station owns the hardware and the database for as long as it runs. Until the touchscreen
HMI is in place, a technician can test from a terminal: pick the product once, then scan (or
type) serials; each run prints live and ends with a large verdict, then it is the next board's
turn. As a service (``--no-console``) it only keeps the database recovered and the inventory
sync running, until SIGTERM.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
from typing import TextIO

from edge.config import StationConfig
from edge.console import LivePrinter, banner
from edge.i18n import t


def _choose_product(products: list, lang: str, out: TextIO, read) -> str | None:
    print(t("product_prompt", lang) + ":", file=out)
    for n, p in enumerate(products, 1):
        print(f"  [{n}] {p.product} (rev {p.revision})", file=out)
    while True:
        line = read("> ")
        if line is None or line.strip().lower() == "q":
            return None
        choice = line.strip()
        if choice.isdigit() and 1 <= int(choice) <= len(products):
            return products[int(choice) - 1].product
        for p in products:
            if choice.lower() == p.product.lower():
                return p.product
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
                product: str | None = None, stdin: TextIO | None = None) -> int:
    from edge.api.hosting import hosted
    from edge.api.settings import api_settings
    from edge.station import Station

    api = api_settings(config)  # a bad [api] table stops the station before it opens anything

    stop = threading.Event()
    inboxes: list[ScanInbox] = []

    def terminate(*_: object) -> None:  # systemd stop: finish the board under test, then exit
        stop.set()
        for inbox in inboxes:
            inbox.close()

    signal.signal(signal.SIGTERM, terminate)
    with Station(config) as station:
        mode = "simulated hardware" if config.simulated else "real hardware"
        print(f"pibench station '{config.station_id}' on {mode}; results in {config.database}",
              file=out)
        for run_id in station.recovered:
            print(f"  {t('recovered', lang)}: {run_id}", file=out)
        if station.start_sync():
            print(f"  inventory sync: {config.sync.backend} {config.sync.url}", file=out)
        with hosted(station, api, out) as service:
            if not console:
                stop.wait()
                if service.running():  # stopping the service aborts the board under test
                    service.station.abort("station stopping (SIGTERM)")
                return 0
            inbox = ScanInbox(stdin or sys.stdin)
            inboxes.append(inbox)
            # The station's serial-port scanner belongs to the service; its reads and its state
            # changes (unplugged, back) come here too.
            service.add_scan_listener(inbox.put_scan)
            service.add_scanner_status_listener(
                lambda st: print(f"\n[scanner] {st.message(lang)}", file=out, flush=True))
            return _console(service, inbox, out, lang, product, stop)


def _console(service, inbox: ScanInbox, out: TextIO, lang: str, product: str | None,
             stop: threading.Event) -> int:
    from drivers.scanner.serials import SerialRejected

    def read(prompt: str) -> str | None:
        item = inbox.read(out, prompt)
        while isinstance(item, SerialRejected):  # garbled on the serial line itself
            print(f"{t('rejected', lang)}: {item.message(lang)}", file=out)
            item = inbox.read(out, prompt)
        return item

    return _console_loop(service, read, out, lang, product, stop)


def _console_loop(service, read, out: TextIO, lang: str, product: str | None,
                  stop: threading.Event) -> int:
    """Pick the product once, then one board after another until 'q' or end of input. Runs go
    through the station service like any other client's; this thread prints them."""
    from drivers.scanner.serials import SerialRejected
    from edge.engine import InvalidSerial, StationError
    from edge.service import ServiceError

    products = service.station.products()
    if product not in {p.product for p in products}:
        product = _choose_product(products, lang, out, read)
    printer = LivePrinter(out, lang)
    while product is not None and not stop.is_set():
        line = read(t("scan_prompt", lang, product=product) + "\n> ")
        if line is None or line.strip().lower() == "q":
            break
        if line.strip().lower() == "p":
            product = _choose_product(products, lang, out, read)
            continue
        if not line.strip():
            continue
        try:
            record = _run_and_print(service, product, line, printer)
        except SerialRejected as exc:
            print(f"{t('rejected', lang)}: {exc.message(lang)}", file=out)
            continue
        except InvalidSerial as exc:
            print(f"{t('rejected', lang)}: {exc}", file=out)
            continue
        except (StationError, ServiceError) as exc:  # no bus, no GPIO, busy: nothing tested
            print(f"{t('ERROR', lang)}: {exc}", file=out)
            continue
        print(banner(record, lang), file=out)
        print(f"{t('next_board', lang)}.", file=out)
    return 0


def _run_and_print(service, product: str, serial: str, printer: LivePrinter):
    """Start the run through the service and print its events from this thread (a stuck or
    closed terminal never holds up the engine); the record once the verdict is stored."""
    from edge.engine import RunFinished, StationError

    sub = service.bus.subscribe()
    try:
        run_id = service.start_run(product, serial)["run_id"]
        while True:
            event = sub.get(timeout=0.5)
            if event is None:
                if not service.running():
                    break
                continue
            if event.run_id == run_id:
                printer(event)
                if isinstance(event, RunFinished):
                    break
    finally:
        sub.close()
    record = service.wait_run()
    if record is None:
        error = service.last_error
        raise StationError(str(error) if error else "the run ended without a verdict")
    return record
