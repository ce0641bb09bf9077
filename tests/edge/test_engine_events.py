"""EventBus: sequence numbers, fan-out, replay after reconnect, slow subscribers never block."""

from __future__ import annotations

import threading

import pytest

from edge.engine.events import EventBus, Gap, Log


def log(bus: EventBus, n: int, run_id: str = "r1") -> None:
    for i in range(n):
        bus.emit(Log, run_id, level=20, message=f"m{i}")


def seqs(events) -> list[int]:
    return [e.seq for e in events]


def test_seq_strictly_increasing_and_every_subscriber_gets_every_event():
    bus = EventBus()
    a, b = bus.subscribe(), bus.subscribe()
    log(bus, 5)
    assert seqs(a.drain()) == [1, 2, 3, 4, 5]
    assert seqs(b.drain()) == [1, 2, 3, 4, 5]
    assert bus.last_seq == 5


def test_emit_returns_the_event_with_its_run_id():
    bus = EventBus()
    event = bus.emit(Log, "run-9", level=30, message="hello", step_index=2)
    assert (event.seq, event.run_id, event.message, event.step_index) == (1, "run-9", "hello", 2)


def test_replay_since_n_for_a_reconnecting_client():
    bus = EventBus()
    log(bus, 10)
    assert seqs(bus.replay(7)) == [8, 9, 10]
    late = bus.subscribe(since=7)
    log(bus, 2)
    assert seqs(late.drain()) == [8, 9, 10, 11, 12]  # no gap, no duplicate at the seam


def test_replay_beyond_the_buffer_starts_with_a_gap():
    bus = EventBus(replay_size=4)
    log(bus, 10)
    replay = bus.replay(2)
    assert isinstance(replay[0], Gap) and (replay[0].first_missed, replay[0].seq) == (3, 6)
    assert seqs(replay[1:]) == [7, 8, 9, 10]
    sub = bus.subscribe(since=2)
    got = sub.drain()
    assert isinstance(got[0], Gap) and seqs(got[1:]) == [7, 8, 9, 10]


def test_since_from_an_earlier_process_replays_everything_buffered():
    bus = EventBus()
    log(bus, 3)
    assert seqs(bus.replay(500)) == [1, 2, 3]


def test_slow_subscriber_gets_a_gap_marker_and_never_blocks_the_publisher():
    bus = EventBus()
    slow = bus.subscribe(maxlen=3)
    fast = bus.subscribe(maxlen=10_000)
    log(bus, 1000)  # returns although `slow` reads nothing: its queue is bounded
    assert len(fast.drain()) == 1000
    got = slow.drain()
    assert seqs(got[:3]) == [1, 2, 3]
    gap = got[3]
    assert isinstance(gap, Gap) and (gap.first_missed, gap.seq) == (4, 1000)
    assert len(got) == 4
    # It recovers what it missed from the replay buffer, then continues live.
    assert seqs(bus.replay(gap.first_missed - 1))[:2] == [4, 5]
    log(bus, 1)
    assert seqs(slow.drain()) == [1001]


def test_gap_marker_is_delivered_in_order_once_the_subscriber_catches_up():
    bus = EventBus()
    sub = bus.subscribe(maxlen=3)
    log(bus, 5)  # 1..3 queued, 4..5 dropped
    assert sub.get(timeout=0).seq == 1
    assert sub.get(timeout=0).seq == 2
    log(bus, 1)  # 6: there is room again, so the gap marker goes in first, then 6
    got = sub.drain()
    assert seqs(got) == [3, 5, 6]  # a Gap's seq is the last one it stands for
    assert isinstance(got[1], Gap) and got[1].first_missed == 4
    log(bus, 1)
    assert seqs(sub.drain()) == [7]


def test_get_blocks_until_an_event_arrives_from_another_thread():
    bus = EventBus()
    sub = bus.subscribe()
    publisher = threading.Thread(target=log, args=(bus, 1))
    publisher.start()
    event = sub.get(timeout=10)
    publisher.join()
    assert event is not None and event.seq == 1
    assert sub.get(timeout=0) is None


def test_on_ready_callback_and_close():
    bus = EventBus()
    calls = []
    sub = bus.subscribe(on_ready=lambda: calls.append(1))
    log(bus, 2)
    assert calls == [1, 1]
    sub.close()
    log(bus, 1)
    assert seqs(sub.drain()) == [1, 2]
    assert sub.get() is None  # closed: returns instead of waiting forever


def test_queue_must_hold_an_event_and_a_gap_marker():
    with pytest.raises(ValueError):
        EventBus().subscribe(maxlen=1)


def test_events_are_immutable_values_with_fields_in_order():
    """Plain classes since issue 14 (no dataclasses at start): still frozen, compared, hashed
    and shown by their fields, as the frozen dataclasses they replaced were."""
    from edge.service.events import ScanRead

    log = Log(3, "run", level=20, message="hello")
    assert log == Log(3, "run", 20, "hello", None) and hash(log) == hash(Log(3, "run", 20, "hello"))
    assert log != Log(3, "run", 20, "hello", 1) and log != Gap(3, "run", 20)
    assert repr(log) == "Log(seq=3, run_id='run', level=20, message='hello', step_index=None)"
    with pytest.raises(AttributeError):
        log.seq = 4  # type: ignore[misc]
    with pytest.raises(AttributeError):
        log.other = 1  # type: ignore[attr-defined]
    scan = ScanRead(1, "", "client", " X ", "X", "P", True)
    assert scan._fields[:4] == ("seq", "run_id", "source", "raw") and scan.reason is None
