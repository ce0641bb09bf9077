"""``pibench station``: the station service, with a plain-terminal operator prompt.

The station owns the hardware and the database for as long as it runs. Until the touchscreen
HMI is in place, a technician can test from a terminal: pick the product once, then scan (or
type) serials; each run prints live and ends with a large verdict, then it is the next board's
turn. As a service (``--no-console``) it only keeps the database recovered and the inventory
sync running, until SIGTERM.
"""

from __future__ import annotations

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


def _reader(stream: TextIO, out: TextIO):
    def read(prompt: str) -> str | None:
        print(prompt, end="", file=out, flush=True)
        line = stream.readline()
        return None if line == "" else line

    return read


def run_station(config: StationConfig, *, lang: str, out: TextIO, console: bool,
                product: str | None = None, stdin: TextIO | None = None) -> int:
    from drivers.scanner.serials import SerialRejected
    from edge.engine import InvalidSerial
    from edge.station import Station

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Station(config) as station:
        mode = "simulated hardware" if config.simulated else "real hardware"
        print(f"pibench station '{config.station_id}' on {mode}; results in {config.database}",
              file=out)
        for run_id in station.recovered:
            print(f"  {t('recovered', lang)}: {run_id}", file=out)
        if station.start_sync():
            print(f"  inventory sync: {config.sync.backend} {config.sync.url}", file=out)
        if not console:
            stop.wait()
            return 0
        read = _reader(stdin or sys.stdin, out)
        products = station.products()
        names = {p.product for p in products}
        if product not in names:
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
            holder: dict = {}

            def ready(holder=holder) -> None:
                for event in holder["sub"].drain():
                    printer(event)

            holder["sub"] = station.events.subscribe(on_ready=ready)
            try:
                record = station.run(product, line)
            except SerialRejected as exc:
                print(f"{t('rejected', lang)}: {exc.message(lang)}", file=out)
                continue
            except InvalidSerial as exc:
                print(f"{t('rejected', lang)}: {exc}", file=out)
                continue
            finally:
                holder["sub"].close()
            print(banner(record, lang), file=out)
            station.wake_sync()
            print(f"{t('next_board', lang)}.", file=out)
    return 0
