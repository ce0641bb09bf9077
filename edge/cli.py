"""``pibench``: the station's command line.

    pibench station                 start the station (simulated hardware unless configured)
    pibench run --product P --serial S   one headless run; exit code per outcome
    pibench products                the products this station can test
    pibench history / export        what was tested
    pibench hw scan                 which expanders answer on the I2C bus
    pibench sync status|retry-parked|now   inventory delivery
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import TextIO

from edge import lazylog
from edge.config import ConfigError, StationConfig, load_config
from edge.console import (
    EXIT_BAD_INPUT,
    EXIT_BUSY,
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_STORAGE,
    EXIT_USAGE,
    GuardedOutput,
    LiveOutput,
    banner,
)
from edge.errors import SettingsFileError
from edge.i18n import pick_language, t
from edge.records import Outcome


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (see ``_Formatter``)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, as wide as the terminal as before. argparse makes one at every
    ``add_argument`` (to check its metavar), and its own asks shutil for the width: importing
    shutil (fnmatch, bz2, lzma) cost ~2.5 ms of every command for a help text rarely shown."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # argparse exits 2, which means ERROR for `run`
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


class _WholeParserNeeded(Exception):
    pass


class _OneCommandParser(_Parser):
    """build_parser(only)'s: an error is said by the whole parser, whose usage lists every
    sub-command (``main`` parses again with it)."""

    def error(self, message: str) -> None:
        raise _WholeParserNeeded(message)


def _config(args: argparse.Namespace) -> StationConfig:
    from edge import tomlcache

    # Parsed TOML files are kept in the data directory (edge/tomlcache.py). station.toml may
    # name that directory, so it is itself cached only when the directory is known without it.
    tomlcache.use_data_dir(getattr(args, "data_dir", None) or os.environ.get("PIBENCH_DATA_DIR")
                           or None)
    config = load_config(Path(args.config) if args.config else None)
    if getattr(args, "data_dir", None):
        config = config._replace(data_dir=Path(args.data_dir))
    tomlcache.use_data_dir(config.data_dir)  # the plans' and fixtures' entries
    faults = getattr(args, "sim_fault", None)
    if faults:
        if not config.simulated:
            raise ConfigError("--sim-fault needs the simulated station (hardware = 'sim')")
        from edge.fixtures.sim_faults import parse_faults

        # Checked now, as `sim_faults` in station.toml is: a station must not start, show its
        # prompt, and only refuse once the operator scans the first board.
        parse_faults(faults)
        config = config._replace(sim_faults=tuple(faults))
    if getattr(args, "sim_pace", None) and not config.simulated:
        raise ConfigError("--sim-pace needs the simulated station (hardware = 'sim')")
    return config


# -- run ------------------------------------------------------------------------------------
def _storage_exit(exc: Exception) -> int:
    """A store or data-directory fault, said plainly: no traceback, its own exit code."""
    print(f"pibench: {exc}", file=sys.stderr)
    return EXIT_STORAGE


def _busy_exit(exc, lang: str) -> int:
    print(f"pibench: {exc.message(lang)}", file=sys.stderr)
    return EXIT_BUSY


def _hand_over(exc, args: argparse.Namespace, config: StationConfig, screen, lang: str,
               handover) -> int | None:
    """The running station tests the board (``edge/api/handover.py``); None when it cannot
    (no API, not answering, or this command asks for simulated faults the station lacks)."""
    from edge.api.client import ApiUnavailable
    from edge.api.handover import run_through_station
    from edge.api.settings import api_settings

    owner = exc.owner
    if owner is None or not owner.api or args.sim_fault or args.sim_pace:
        return None
    try:
        token = api_settings(config).token
        return run_through_station(owner.api, token, args, screen, lang, handover)
    except (ApiUnavailable, ConnectionError):
        return None


def _stop_reason(signal_name: str) -> str:
    return f"{signal_name} received: the station was told to stop"


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from drivers.scanner.serials import SerialRejected
    from edge.engine import InvalidSerial, StationError
    from edge.owner import StationBusyError
    from edge.station import Station, StationStopping
    from edge.stop_signals import StopSignals
    from edge.store import StoreError

    lang = pick_language(args.lang)
    screen = GuardedOutput(out)
    config = _config(args)
    station = Station(config, command="pibench run", sim_pace=args.sim_pace,
                      check_once_per_boot=True)
    # The Handover of a run handed to a running station, once the data directory is found owned
    # (edge.api.handover is imported only then: a run that tests its own board never needs it).
    handing: list = []

    def on_stop(signal_name: str) -> None:
        running = station.stop(_stop_reason(signal_name))  # first: nothing may stand in its way
        for handover in list(handing):  # a run handed to a running station
            handover.abort(_stop_reason(signal_name))
        handed = any(handover.client is not None for handover in handing)
        said = "stopping" if running or handed else "stopping_idle"
        with contextlib.suppress(Exception):  # a closed stderr (SIGHUP: the terminal is gone)
            print(f"pibench: {t(said, lang, signal=signal_name)}", file=sys.stderr, flush=True)

    # Signals are handled from before the station opens: a SIGTERM during start-up (recovery)
    # must not kill the process half-way either; it just means "do not start the run".
    with StopSignals(on_stop) as signals:
        try:
            station.open()
        except StationBusyError as exc:
            from edge.api.handover import Handover

            handover = Handover()
            handing.append(handover)
            if signals.received and not handover.aborts:  # one that came before it existed
                handover.abort(_stop_reason(signals.received))
            handed = _hand_over(exc, args, config, screen, lang, handover)
            return handed if handed is not None else _busy_exit(exc, lang)
        except StoreError as exc:
            return _storage_exit(exc)
        try:
            for run_id in station.recovered:
                print(f"note: run {run_id} was interrupted earlier; recorded as ABORTED",
                      file=screen)
            if signals.received:
                print(f"pibench: {signals.received} received before the run started; nothing "
                      "was tested", file=sys.stderr)
                return EXIT_CODES[Outcome.ABORTED]
            live = LiveOutput(station.events, screen, lang)
            try:
                record = station.run(args.product, args.serial, operator=args.operator,
                                     batch=args.batch)
            except SerialRejected as exc:
                print(exc.message(lang), file=sys.stderr)
                return EXIT_BAD_INPUT
            except InvalidSerial as exc:
                print(str(exc), file=sys.stderr)
                return EXIT_BAD_INPUT
            except StationStopping as exc:
                print(f"pibench: {exc}; nothing was tested", file=sys.stderr)
                return EXIT_CODES[Outcome.ABORTED]
            except StationError as exc:
                if isinstance(exc.__cause__, StoreError):  # the verdict could not be stored
                    return _storage_exit(exc)
                raise
            finally:
                live.close()
            print(banner(record, lang), file=screen)
            screen.flush()
            return EXIT_CODES.get(record.outcome, EXIT_CODES[Outcome.ERROR])
        finally:
            station.close()


# -- products, history, export -----------------------------------------------------------------
def cmd_products(args: argparse.Namespace, out: TextIO) -> int:
    """The products, then every plan file that does not load: exit 78 if there is one, since
    the products it could define cannot be tested until it is fixed."""
    from edge.products.catalog import list_products, read_catalog

    catalog = read_catalog(_config(args).plans_dirs)
    for p in list_products(catalog):
        blocked = f"  NOT TESTABLE: {p.blocked_by} is broken" if p.blocked_by else ""
        print(f"{p.product:<22} rev {p.revision:<4} serial like {p.example_serial:<16} "
              f"{p.plan_path}{blocked}", file=out)
    for broken in catalog.broken:
        print(f"BROKEN PLAN {broken.error}\n  -> {broken.could_define()}", file=out)
    return EXIT_CONFIG if catalog.broken else 0


def _open_existing_store(args: argparse.Namespace):
    """A reader's connection. No owner lock: reading beside a running station is fine (WAL)."""
    from edge.store import open_store
    from edge.store.db import open_store_read_only

    config = _config(args)
    if not config.database.exists():
        raise ConfigError(f"no result database at {config.database} yet: nothing was tested")
    # A read-only filesystem, or a technician reading through the pibench group.
    if (os.statvfs(config.database).f_flag & os.ST_RDONLY
            or not os.access(config.database, os.W_OK)):
        return open_store_read_only(config.database)
    return open_store(config.database)


def _reports_storage_faults(command):
    """Store faults of a command (a damaged file, a read-only or full disk) end in a message
    and EXIT_STORAGE, not a traceback."""
    import functools

    @functools.wraps(command)
    def wrapper(args: argparse.Namespace, out: TextIO) -> int:
        from edge.store import StoreError

        try:
            return command(args, out)
        except StoreError as exc:
            return _storage_exit(exc)

    return wrapper


@_reports_storage_faults
def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    from edge.store import find_runs, yield_by_product

    conn = _open_existing_store(args)
    try:
        if args.yield_:
            for y in yield_by_product(conn, product=args.product, day=args.day).values():
                fpy = "-" if y.first_pass_yield is None else f"{y.first_pass_yield:.1%}"
                counts = ", ".join(f"{k} {v}" for k, v in sorted(y.outcomes.items()))
                print(f"{y.product:<22} runs {y.runs:<5} serials {y.serials:<5} "
                      f"first-pass yield {fpy:<7} ({counts})", file=out)
            return 0
        runs = find_runs(conn, serial=args.serial, product=args.product, day=args.day,
                         limit=args.last)
        for r in runs:
            m = r.meta
            duration = "" if r.duration_s is None else f"{r.duration_s:8.2f} s"
            retest = " retest" if m.retest else ""
            print(f"{m.started_utc[:19]}  {m.serial:<16} {m.product:<22} "
                  f"{r.outcome.value:<14} {duration}  {m.run_id}{retest}", file=out)
        if not runs:
            print("no runs match", file=out)
        return 0
    finally:
        conn.close()


@_reports_storage_faults
def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    from edge.store import export_csv, export_json

    conn = _open_existing_store(args)
    try:
        export = export_csv if args.format == "csv" else export_json
        dest = args.output if args.output and args.output != "-" else out
        count = export(conn, dest, serial=args.serial, product=args.product, day=args.day)
    finally:
        conn.close()
    if dest is not out:
        print(f"{count} run(s) written to {args.output}", file=sys.stderr)
    return 0


# -- hardware ------------------------------------------------------------------------------------
def cmd_hw_scan(args: argparse.Namespace, out: TextIO) -> int:
    """List MCP23017 addresses answering on a real bus (the technician's i2cdetect)."""
    from drivers.i2c import I2CError, open_bus
    from drivers.mcp23017.driver import scan

    bus_arg = int(args.bus) if str(args.bus).isdigit() else args.bus
    try:
        bus = open_bus(bus_arg)
    except I2CError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CODES[Outcome.ERROR]
    try:
        found = scan(bus)
    finally:
        bus.close()
    print(f"{bus.name}: " + (", ".join(f"0x{a:02x}" for a in found) or "no MCP23017 answers"),
          file=out)
    return 0


# -- the station --------------------------------------------------------------------------------
def cmd_station(args: argparse.Namespace, out: TextIO) -> int:
    from edge.operator_console import run_station
    from edge.owner import StationBusyError
    from edge.store import StoreError

    lang = pick_language(args.lang)
    try:
        return run_station(_config(args), lang=lang, out=out, console=not args.no_console,
                           product=args.product, sim_pace=args.sim_pace)
    except StationBusyError as exc:
        return _busy_exit(exc, lang)
    except StoreError as exc:
        return _storage_exit(exc)


def _sim_pace(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def _common_options(default: object) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
    common.add_argument("--config", default=default,
                        help="station.toml (default: a simulated station)")
    common.add_argument("--data-dir", default=default, help="where the result database lives")
    common.add_argument("--lang", default=default, choices=("fr", "en"),
                        help="operator language (default: from LANG, else French)")
    common.add_argument("-v", "--verbose", action="store_true", default=default)
    return common


SIM_PACE_HELP = ("simulated station only: let simulated time pass in real time too, FACTOR real "
                 "seconds per simulated second (1: as long as on the bench; default: instant)")


def cmd_hmi(args: argparse.Namespace, out: TextIO) -> int:
    """``pibench hmi ...`` is ``pibench-hmi ...``: a separate process, a client of this API."""
    import os

    os.execv(sys.executable, [sys.executable, "-m", "hmi", *args.hmi_args])
    return 0  # not reached


# The sub-commands build_parser() defines itself (the sync and appliance ones come from their
# modules), and the options accepted before a sub-command, with whether each takes a value.
_OWN_COMMANDS = ("station", "run", "products", "history", "export", "hw", "hmi")
_LEADING_OPTIONS = {"--config": True, "--data-dir": True, "--lang": True, "-v": False,
                    "--verbose": False}


def command_named(argv: list[str]) -> str | None:
    """The sub-command ``argv`` names, if it is one of build_parser()'s own and every option
    before it is spelled in full; else None (help, abbreviations, errors: the whole parser)."""
    expect_value = False
    for arg in argv:
        if expect_value:
            expect_value = False
        elif arg.startswith("-"):
            name, eq, _ = arg.partition("=")
            if name not in _LEADING_OPTIONS or (eq and not _LEADING_OPTIONS[name]):
                return None
            expect_value = _LEADING_OPTIONS[name] and not eq
        else:
            return arg if arg in _OWN_COMMANDS else None
    return None


def _add_sim_options(p: argparse.ArgumentParser) -> None:
    """The simulated station's options, the same for ``station`` and ``run``."""
    p.add_argument("--sim-fault", action="append", default=None, metavar="FAULT",
                   help="simulated station only: carry a fault (e.g. wrong-resistor)")
    p.add_argument("--sim-pace", type=_sim_pace, default=None, metavar="FACTOR",
                   help=SIM_PACE_HELP)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``only`` (a name from ``command_named``), with that one
    sub-command alone: argparse builds a parser per sub-command (and asks gettext for its
    titles), ~5 ms of every command here for sub-commands it does not run. What ``only``'s
    parser accepts and how it parses are the same (``tests/edge/test_cli_parser.py``)."""

    def wanted(name: str) -> bool:
        return only is None or only == name

    parser_class = _Parser if only is None else _OneCommandParser

    # The options are accepted before or after the sub-command. Sub-parsers use SUPPRESS as
    # their default, or argparse would overwrite a value given before the sub-command.
    parser = parser_class(prog="pibench", description="pibench bench test station",
                     parents=[_common_options(None)])
    parser.set_defaults(verbose=False)
    common = _common_options(argparse.SUPPRESS)
    # ``prog`` given: argparse would otherwise format a usage line (and import shutil for the
    # terminal width) for every sub-parser group just to name it, on every command.
    sub = parser.add_subparsers(dest="command", required=True, parser_class=parser_class,
                                prog="pibench")

    if wanted("station"):
        p = sub.add_parser("station", parents=[common], help="start the station")
        p.add_argument("--no-console", action="store_true",
                       help="no operator prompt (as a service; operators use the HMI)")
        p.add_argument("--product", default=None, help="product to start with")
        _add_sim_options(p)
        p.set_defaults(func=cmd_station)

    if wanted("run"):
        p = sub.add_parser("run", parents=[common], help="test one board, headless")
        p.add_argument("--product", required=True)
        p.add_argument("--serial", required=True)
        p.add_argument("--operator", default="")
        p.add_argument("--batch", default="")
        _add_sim_options(p)
        p.set_defaults(func=cmd_run)

    if wanted("products"):
        p = sub.add_parser("products", parents=[common], help="products this station can test")
        p.set_defaults(func=cmd_products)

    if wanted("history"):
        p = sub.add_parser("history", parents=[common], help="runs on record")
        p.add_argument("--serial")
        p.add_argument("--product")
        p.add_argument("--day", help="UTC day, YYYY-MM-DD")
        p.add_argument("--last", type=int, default=50)
        p.add_argument("--yield", dest="yield_", action="store_true", help="yield per product")
        p.set_defaults(func=cmd_history)

    if wanted("export"):
        p = sub.add_parser("export", parents=[common], help="runs as CSV or JSON")
        p.add_argument("--format", choices=("csv", "json"), default="csv")
        p.add_argument("--serial")
        p.add_argument("--product")
        p.add_argument("--day", help="UTC day, YYYY-MM-DD")
        p.add_argument("-o", "--output", default="-", help="file (default: standard output)")
        p.set_defaults(func=cmd_export)

    if wanted("hw"):
        hw = sub.add_parser("hw", parents=[common], help="hardware diagnostics")
        hw_sub = hw.add_subparsers(dest="hw_command", required=True, parser_class=parser_class,
                                   prog="pibench hw")
        p = hw_sub.add_parser("scan", parents=[common], help="MCP23017s answering on a bus")
        p.add_argument("--bus", default="1", help="bus number or /dev/i2c-N path (default 1)")
        p.set_defaults(func=cmd_hw_scan)

    if only is None:  # their sub-commands are not among _OWN_COMMANDS
        from edge.sync.cli import add_arguments as add_sync

        add_sync(sub, parents=(common,))
        from edge.appliance_cli import add_arguments as add_appliance  # doctor, backup, retention

        add_appliance(sub, parents=(common,))
    if wanted("hmi"):
        # The operator screen is its own program (edge never imports hmi): hand it every argument.
        p = sub.add_parser("hmi", help="the operator screen (pibench-hmi --help)", add_help=False,
                           prefix_chars="\x00")
        p.add_argument("hmi_args", nargs=argparse.REMAINDER)
        p.set_defaults(func=cmd_hmi)
    return parser


def parse_command_line(argv: list[str] | None) -> argparse.Namespace:
    only = command_named(sys.argv[1:] if argv is None else argv)
    if only is not None:
        with contextlib.suppress(_WholeParserNeeded):
            return build_parser(only).parse_args(argv)
    return build_parser().parse_args(argv)  # (and any error, said with the whole usage)


def _raised(exc: BaseException, module: str, name: str) -> bool:
    """Whether ``exc`` is ``module.name``, without importing ``module`` for commands that never
    did: an exception class whose module was never imported cannot have been raised."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, getattr(loaded, name))


def _install_redaction() -> None:
    from edge.sync.secrets import install_redaction

    install_redaction()


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = parse_command_line(argv)
    # logging.basicConfig(...) and the secrets' redaction, as logging is imported: at the first
    # record at or above this level, or when anything else imports it (edge/lazylog.py).
    lazylog.configure(
        lazylog.DEBUG if args.verbose else lazylog.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The secrets' redaction, before anything could log a token: installed as logging is
    # imported, so a command that writes no record does not read edge.sync.secrets either.
    lazylog.when_imported(_install_redaction)
    out = out or sys.stdout
    try:
        code = args.func(args, out)
        out.flush()  # a closed pipe shows here, inside the handler below, not at interpreter exit
        return code
    except BrokenPipeError:
        # The reader went away (`pibench export | head -1`): what it wanted, it has. (`pibench
        # run` never gets here: its screen is a GuardedOutput.) Send the rest nowhere, so the
        # interpreter's final flush cannot raise again, and say nothing.
        if out is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return 0
    except SettingsFileError as exc:  # config, plan, fixture, sync settings: a person must fix it
        print(f"pibench: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_CODES[Outcome.ABORTED]
    except Exception as exc:
        if _raised(exc, "edge.products.catalog", "UnknownProduct"):
            print(f"pibench: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if _raised(exc, "edge.engine.context", "StationError"):
            # the station could not even start the run: its own fault
            print(f"pibench: {exc}", file=sys.stderr)
            return EXIT_CODES[Outcome.ERROR]
        raise


def console_main() -> None:
    """The ``pibench`` command (its console script, and ``python -m edge.cli``): :func:`main`,
    then out of the process without the interpreter's finalization.

    Tearing down the few hundred modules a run loads cost as much as 30 ms of a 200 ms
    ``pibench run`` (measured), after everything the command does is finished: the store is
    closed by the command itself (every step was durable at its commit anyway), the fixture is
    powered off and closed by ``Station.close``. So once ``main`` has returned, the exit
    handlers run (logging's flush; on a real Pi, gpiozero's device close), the standard
    streams are flushed, and the process ends. Whenever another non-daemon thread is still
    alive, the ordinary exit runs instead, which waits for it. An exception or ``sys.exit``
    from inside (usage errors, ``--help``) takes the ordinary way too.
    """
    code = main()
    code = code if isinstance(code, int) else 0  # as sys.exit(None) would: os._exit wants an int
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone, or a closed stream: nothing to keep
            code = code or 120  # what the interpreter's own failed flush exits with
    os._exit(code)


if __name__ == "__main__":
    console_main()
