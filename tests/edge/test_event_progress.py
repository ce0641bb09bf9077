"""Progress events (a step began, a value was measured, a step ended) do not wake a waiting
reader during a run: it collects them every PROGRESS_DELAY_S or with the next other event.

Whether a reader is woken is read off the subscription's condition (a spy counting notify()),
never off the clock; the only waits are for a thread to arrive where it is observed."""

from __future__ import annotations

import threading

import pytest

from edge.engine import events as events_module
from edge.engine.events import (
    EventBus,
    Log,
    MeasurementTaken,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)


class SpyCondition(threading.Condition):
    def __init__(self) -> None:
        super().__init__(threading.Lock())
        self.notified = 0
        self.waits = 0  # how many times a reader began to wait (each PROGRESS_DELAY_S tick)

    def notify(self, n: int = 1) -> None:
        self.notified += 1
        super().notify(n)

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(timeout)


def spied(sub):
    sub._cond = SpyCondition()
    return sub._cond


def step_started(bus: EventBus, index: int = 0) -> None:
    bus.emit(StepStarted, "r1", index, f"s{index}", 1, 5.0, True, False)


def measurement(bus: EventBus) -> None:
    bus.emit(MeasurementTaken, "r1", 0, "s0", None)  # (the bus carries it, never reads it)


def start_reader(sub, timeout: float | None = 30.0):
    got: list = []
    thread = threading.Thread(target=lambda: got.append(sub.get(timeout)), daemon=True)
    thread.start()
    while not sub._waiting:  # the reader is blocked in get(): what is observed below
        threading.Event().wait(0.001)
    return thread, got


def gathering_in_run(maxlen: int = 1024):
    """A bus in a run, and a subscriber gathering progress that has read the run's start."""
    bus = EventBus()
    sub = bus.subscribe(maxlen=maxlen, gather_progress=True)
    bus.emit(RunStarted, "r1", meta=None, steps=("s0", "s1"), teardown=())
    assert [type(e) for e in sub.drain()] == [RunStarted]
    return bus, sub


@pytest.fixture
def bus_in_run():
    return gathering_in_run()


def test_progress_events_in_a_run_do_not_wake_the_reader_the_next_other_event_does(bus_in_run,
                                                                                   monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 30.0)  # only a wake can deliver
    bus, sub = bus_in_run
    cond = spied(sub)
    thread, got = start_reader(sub)
    step_started(bus)
    measurement(bus)
    bus.emit(StepFinished, "r1", None)
    assert cond.notified == 0 and thread.is_alive()
    bus.emit(Log, "r1", level=20, message="a log line is shown at once")
    thread.join(10)
    assert cond.notified == 1
    # In order, nothing lost: the reader's first event, then the rest in one drain.
    assert [type(e).__name__ for e in got + sub.drain()] == [
        "StepStarted", "MeasurementTaken", "StepFinished", "Log"]


def test_a_reader_in_a_run_collects_progress_events_within_the_delay(bus_in_run, monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 0.01)
    bus, sub = bus_in_run
    cond = spied(sub)
    thread, got = start_reader(sub)
    step_started(bus, 1)  # a long step on real hardware: nothing else comes for a while
    thread.join(10)
    assert not thread.is_alive() and cond.notified == 0
    assert type(got[0]) is StepStarted and got[0].index == 1


def test_the_runs_end_wakes_the_reader_and_progress_events_wake_it_again_outside_a_run(
        bus_in_run, monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 30.0)
    bus, sub = bus_in_run
    cond = spied(sub)
    thread, got = start_reader(sub)
    step_started(bus)
    bus.emit(RunFinished, "r1", record=None)
    thread.join(10)
    assert cond.notified == 1 and [type(e) for e in got + sub.drain()] == [StepStarted,
                                                                            RunFinished]
    # No run in progress (an event outside the engine's order): nothing is held back.
    thread, got = start_reader(sub)
    step_started(bus)
    thread.join(10)
    assert cond.notified == 2 and type(got[0]) is StepStarted


def test_a_half_full_queue_wakes_its_reader_so_holding_back_never_costs_a_gap(monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 30.0)
    bus, sub = gathering_in_run(maxlen=8)
    cond = spied(sub)
    thread, got = start_reader(sub)
    for i in range(3):
        step_started(bus, i)
    assert cond.notified == 0
    step_started(bus, 3)  # the fourth of eight places
    thread.join(10)
    assert cond.notified == 1
    assert [e.index for e in got + sub.drain()] == [0, 1, 2, 3]


def test_a_reader_in_a_run_still_times_out_when_nothing_comes(bus_in_run, monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 0.005)
    _, sub = bus_in_run
    assert sub.get(timeout=0.02) is None


def test_closing_wakes_a_reader_waiting_in_a_run(bus_in_run, monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 30.0)
    _, sub = bus_in_run
    thread, got = start_reader(sub, timeout=None)
    sub.close()
    thread.join(10)
    assert got == [None]


def test_a_subscriber_that_resumes_in_the_middle_of_a_run_knows_it_is_in_one(monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 30.0)
    bus = EventBus()
    bus.emit(RunStarted, "r1", meta=None, steps=("s0",), teardown=())
    step_started(bus)
    # A client reconnecting with the run's first event seen:
    sub = bus.subscribe(since=1, gather_progress=True)
    assert [type(e) for e in sub.drain()] == [StepStarted]
    cond = spied(sub)
    thread, _ = start_reader(sub)
    measurement(bus)
    assert cond.notified == 0
    bus.emit(Log, "r1", level=20, message="end")
    thread.join(10)


def test_on_ready_is_called_for_gathered_progress_only_with_the_next_other_event():
    bus = EventBus()
    calls: list[int] = []
    gathering = bus.subscribe(on_ready=lambda: calls.append(len(gathering._queue)),
                              gather_progress=True)
    every: list[int] = []
    plain = bus.subscribe(on_ready=lambda: every.append(1))  # a test's hook: every event
    bus.emit(RunStarted, "r1", meta=None, steps=("s0",), teardown=())
    step_started(bus)
    measurement(bus)
    bus.emit(StepFinished, "r1", None)
    assert calls == [1]  # RunStarted only
    bus.emit(RunFinished, "r1", record=None)
    assert calls == [1, 5]  # the run's end, with its progress queued before it, in order
    assert [type(e) for e in gathering.drain()][-4:] == [StepStarted, MeasurementTaken,
                                                          StepFinished, RunFinished]
    assert len(every) == 5 and len(plain.drain()) == 5


def wait_for_ticks(cond: SpyCondition, n: int, reader: threading.Thread) -> None:
    """Until the reader has looked at its queue ``n`` more times (each tick of its delay), or
    has stopped waiting."""
    target = cond.waits + n
    while cond.waits < target and reader.is_alive():
        threading.Event().wait(0.001)


def test_while_the_verdict_is_written_the_reader_leaves_gathered_events_queued(bus_in_run,
                                                                               monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 0.001)
    bus, sub = bus_in_run
    cond = spied(sub)
    thread, got = start_reader(sub)
    with bus.writing_verdict():
        step_started(bus)
        measurement(bus)
        wait_for_ticks(cond, 5, thread)  # five looks at a queue with two events in it, none taken
        assert thread.is_alive() and got == []
    bus.emit(RunFinished, "r1", record=None)
    thread.join(10)
    # With the verdict, in order, nothing lost.
    assert [type(e) for e in got + sub.drain()] == [StepStarted, MeasurementTaken, RunFinished]
    assert bus.verdict_since is None


def test_a_verdict_that_takes_too_long_holds_nothing_back(bus_in_run, monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 0.001)
    monkeypatch.setattr(events_module, "VERDICT_HOLD_MAX_S", 0.0)  # (a disk that stalls)
    bus, sub = bus_in_run
    thread, got = start_reader(sub)
    with bus.writing_verdict():
        step_started(bus)
        thread.join(10)
        assert type(got[0]) is StepStarted  # within the delay, the verdict still unwritten


def test_a_half_full_queue_is_taken_even_while_the_verdict_is_written(monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 30.0)
    bus, sub = gathering_in_run(maxlen=8)
    thread, got = start_reader(sub)
    with bus.writing_verdict():
        for i in range(4):
            step_started(bus, i)
        thread.join(10)
    assert [e.index for e in got + sub.drain()] == [0, 1, 2, 3]


def test_a_plain_subscription_is_never_held_back(monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 30.0)
    bus = EventBus()
    plain = bus.subscribe()  # a test's hook: every event at once
    bus.emit(RunStarted, "r1", meta=None, steps=("s0",), teardown=())
    plain.drain()
    thread, got = start_reader(plain)
    with bus.writing_verdict():
        step_started(bus)
        thread.join(10)
    assert type(got[0]) is StepStarted


def test_verdicts_written_at_once_hold_until_the_last_is_written():
    bus = EventBus()
    with bus.writing_verdict():
        since = bus.verdict_since
        with bus.writing_verdict():  # a second fixture's run
            assert bus.verdict_since == since
        assert bus.verdict_since == since
    assert bus.verdict_since is None


def test_a_reader_racing_the_publisher_gets_every_event_once_in_order_or_a_gap(monkeypatch):
    # Gathered progress events are appended without the condition's lock (see
    # Subscription._offer): a reader taking events while the publisher appends them, with the
    # queue filling now and then, must still get each event once and in order, or be told of it
    # by a Gap.
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 0.0005)
    bus = EventBus()
    sub = bus.subscribe(maxlen=16, gather_progress=True)
    got: list = []
    published = threading.Event()

    def read() -> None:  # until the publisher is done and nothing is left
        while (event := sub.get(timeout=0.05)) is not None or not published.is_set():
            if event is not None:
                got.append(event)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    bus.emit(RunStarted, "r1", meta=None, steps=("s0",), teardown=())
    for i in range(20_000):
        if i % 97 == 0:
            bus.emit(Log, "r1", level=20, message="now and then, an event that wakes")
        else:
            step_started(bus, i)
    bus.emit(RunFinished, "r1", record=None)
    published.set()
    reader.join(30)
    assert not reader.is_alive()
    # Every seq once, in order: an event's own, or within the Gap that stands in its place.
    told = [seq for e in got for seq in (range(e.first_missed, e.seq + 1)
                                         if isinstance(e, events_module.Gap) else (e.seq,))]
    assert told == list(range(1, bus.last_seq + 1))
    assert any(isinstance(e, events_module.Gap) for e in got)  # (the queue did fill)


def test_an_event_after_a_gap_comes_after_the_gaps_marker(monkeypatch):
    monkeypatch.setattr(events_module, "PROGRESS_DELAY_S", 30.0)
    bus, sub = gathering_in_run(maxlen=8)  # (the run's start is seq 1)
    for i in range(10):  # eight fit, the last two are missed
        step_started(bus, i)
    taken = [sub.get(timeout=0) for _ in range(7)]  # the reader catches up, one left
    step_started(bus, 10)  # into a queue far from full, its Gap still to be told
    rest = sub.drain()
    assert [e.seq for e in taken + rest[:1]] == list(range(2, 10))
    assert isinstance(rest[1], events_module.Gap) and (rest[1].first_missed, rest[1].seq) == (
        10, 11)
    assert [type(e) for e in rest[2:]] == [StepStarted] and rest[2].seq == 12
