"""Stopping the API does not wait for its loop's next poll: ``stop()`` wakes the loop itself.

``socketserver``'s own loop only noticed ``shutdown()`` at its next ``poll_interval`` (a station
took half a second to exit after ``q`` or SIGTERM). With a poll interval of a minute, a stop that
relied on the poll would not end within the join timeouts below; no time is asserted."""

from __future__ import annotations

import socket
import threading

from api_support import running_api

from edge.api.http11 import Http11Handler, ThreadingHttpServer

LONG_POLL = 60.0  # longer than every timeout below: only the wake-up can end the loop in time
JOIN_TIMEOUT = 20.0


def _stop_in_thread(stop) -> threading.Thread:
    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    thread.join(JOIN_TIMEOUT)
    return thread


def test_stop_ends_an_idle_api_without_waiting_for_its_poll(tmp_path):
    with running_api(tmp_path, poll_interval=LONG_POLL) as api:
        status, _ = api.client.get("/station")
        assert status == 200  # it served before being stopped
        serving = api.server._thread
        stopper = _stop_in_thread(api.server.stop)
        assert not stopper.is_alive(), "stop() waited for the loop's poll"
        serving.join(JOIN_TIMEOUT)
        assert not serving.is_alive()
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(api.url.rsplit(":", 1)[1]))) != 0


class _Echo(Http11Handler):
    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=JOIN_TIMEOUT) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
    return data


def test_the_server_serves_again_after_a_shutdown_and_stops_again():
    server = ThreadingHttpServer(("127.0.0.1", 0), _Echo)
    port = server.server_address[1]
    try:
        for _ in range(2):  # the byte the first shutdown left in the pipe is drained, not a stop
            loop = threading.Thread(target=server.serve_forever, args=(LONG_POLL,), daemon=True)
            loop.start()
            assert _get(port).endswith(b"ok")
            assert _get(port).endswith(b"ok")
            stopper = _stop_in_thread(server.shutdown)
            assert not stopper.is_alive()
            loop.join(JOIN_TIMEOUT)
            assert not loop.is_alive()
    finally:
        server.server_close()
    server.server_close()  # twice is harmless
