"""``python -m edge.sync.testing --kind inventree|generic --port N --state FILE``.

Prints ``LISTENING <port>`` once the socket is bound (the parent waits for that line), then serves
until killed.
"""

from __future__ import annotations

import argparse
import sys

from edge.sync.testing import fake_generic, fake_inventree
from edge.sync.testing.http_base import FakeHTTPServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m edge.sync.testing")
    parser.add_argument("--kind", choices=("inventree", "generic"), required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", required=True, help="SQLite file holding the server's data")
    args = parser.parse_args(argv)
    module = fake_inventree if args.kind == "inventree" else fake_generic
    server = FakeHTTPServer(args.port, module.make_app(args.state))
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
