"""``pibench-hmi`` (also ``pibench hmi``): the operator screen in this terminal, or with
``--web`` served to browsers through textual-serve behind the API token."""

from __future__ import annotations

import argparse
import sys

from hmi.settings import HmiSettingsError, resolve


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pibench-hmi", description="pibench operator screen")
    p.add_argument("--url", help="the station's API (default: from station.toml, else "
                                 "http://127.0.0.1:8750)")
    p.add_argument("--token-file", help="file holding the API token (mode 0600)")
    p.add_argument("--config", help="the station's station.toml ([api] listen, token_file)")
    p.add_argument("--lang", choices=("fr", "en"), help="operator language (default French)")
    p.add_argument("--web", action="store_true",
                   help="serve the screen to browsers (textual-serve) instead of this terminal")
    p.add_argument("--host", default="127.0.0.1", help="--web: address to listen on")
    p.add_argument("--port", type=int, default=8760, help="--web: port (default 8760)")
    p.add_argument("--max-sessions", type=int, default=2,
                   help="--web: browser sessions at once (each is one HMI process)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = resolve(args.url, args.token_file, args.config)
    except HmiSettingsError as exc:
        print(f"pibench-hmi: {exc}", file=sys.stderr)
        return 78
    if args.web:
        from hmi.web import serve

        return serve(settings, host=args.host, port=args.port, lang=args.lang,
                     max_sessions=args.max_sessions, token_file=args.token_file,
                     config=args.config)
    from hmi.app import PibenchHMI
    from hmi.client import StationClient

    app = PibenchHMI(StationClient(settings.url, settings.token), lang=args.lang,
                     rediscover=settings.rediscover if settings.owner_dir else None)
    app.run()
    return 0
