"""The fake servers' outage keeps their port: refused while stopped, the same port on restart,
and no other process can be given it in between (the suite runs in parallel workers)."""

from __future__ import annotations

import errno
import socket

import pytest

from edge.sync.testing.process import FakeServerProcess


def test_a_stopped_fake_server_refuses_and_keeps_its_port_for_its_restart(workdir):
    server = FakeServerProcess("generic", workdir / "fake-generic.sqlite3").start()
    port = server.port
    try:
        server.stop()
        with socket.socket() as client:
            assert client.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
        with socket.socket() as other, pytest.raises(OSError) as taken:
            other.bind(("127.0.0.1", port))
        assert taken.value.errno == errno.EADDRINUSE
        server.start()
        assert server.port == port
        assert server.control("received")["stored"] == []
    finally:
        server.stop()
