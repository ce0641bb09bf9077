"""The live event stream of runs: what the API and HMI watch.

Every event carries a bus-wide, strictly increasing ``seq`` and the ``run_id`` it belongs to.
:class:`EventBus` fans events out to subscribers without ever blocking the engine:

* each subscriber has a bounded queue; when it is full, further events are dropped *for that
  subscriber only* and it later receives one :class:`Gap` marker saying which seqs it missed;
* the bus keeps the last ``replay_size`` events, so a client that reconnects subscribes with
  ``since=<last seq it saw>`` and catches up (or gets a :class:`Gap` if the buffer has moved on);
* a subscriber that gathers progress (a screen, an event stream) is, during a run, told of a
  run's progress events together, within ``PROGRESS_DELAY_S``, rather than once for each (see
  ``Event.progress``), and, while the run's verdict is being written, with the verdict (see
  ``EventBus.writing_verdict``).

Event order for a run: RunStarted, then per step attempt StepStarted, MeasurementTaken*, and per
step StepFinished (emitted after ``record_step`` returned), Log at any point, and RunFinished
(emitted after ``finish_run`` returned: the verdict is never shown before it is durable).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from edge import lazylog
from edge.records import Measurement, RunMeta, RunRecord, StepResult

# How an event's own __init__ fills its slots (its __setattr__ refuses: events are immutable).
_set = object.__setattr__


class Event:
    """What the engine tells its listeners, numbered in the order it happened.

    Events are immutable (they are shared between the engine's thread and every subscriber's):
    each class lists its fields in ``__slots__`` and fills them in its own ``__init__``; equality,
    hash and repr are over those fields, as the frozen dataclasses they were gave. Plain classes,
    not dataclasses: importing ``dataclasses`` (with ``inspect``, ``ast``, ``dis``) and compiling
    each class's methods cost every start ~5 ms (issue 14); an event is also made faster."""

    __slots__ = ("run_id", "seq")
    # A progress event (a step began, a value was measured, a step ended) is gathered, during a
    # run, for a subscriber that asks (a screen, an event stream, the service's run snapshot):
    # a reader collects them every PROGRESS_DELAY_S, or with the next other event (a log line,
    # the run's end), whichever comes first. An event stream's thread and its client woken
    # three times per step took CPU the engine's steps compete for on a small machine (issue
    # 14 goal 2); gathered, they wake once per PROGRESS_DELAY_S of fast steps, and a person
    # sees no difference (bench/bench_hmi.py: engine event to screen).
    progress = False
    # The fields in order: the base's, then each subclass's annotations, which name its slots.
    _fields: tuple[str, ...] = ("seq", "run_id")

    def __init__(self, seq: int, run_id: str) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # (inspect.get_annotations would import inspect, which a start no longer loads)
        own = tuple(cls.__dict__.get("__annotations__", ()))  # noqa: RUF063
        if set(own) != set(cls.__dict__.get("__slots__", ())):
            raise TypeError(f"{cls.__name__}: its annotations must name exactly its __slots__")
        cls._fields = (*cls.__mro__[1]._fields, *own)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: events are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: events are immutable")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"


class RunStarted(Event):
    """A run began: its metadata and the steps it will go through."""

    __slots__ = ("meta", "steps", "teardown")
    meta: RunMeta
    steps: tuple[str, ...]  # step names in order, then the teardown steps
    teardown: tuple[str, ...]

    def __init__(self, seq: int, run_id: str, meta: RunMeta, steps: tuple[str, ...],
                 teardown: tuple[str, ...]) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "meta", meta)
        _set(self, "steps", steps)
        _set(self, "teardown", teardown)


class StepStarted(Event):
    """A step (or one retry of it) began."""

    progress = True
    __slots__ = ("attempt", "critical", "index", "name", "teardown", "timeout_s")
    index: int
    name: str
    attempt: int  # 1-based; > 1 is a retry
    timeout_s: float
    critical: bool
    teardown: bool

    def __init__(self, seq: int, run_id: str, index: int, name: str, attempt: int,
                 timeout_s: float, critical: bool, teardown: bool) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "index", index)
        _set(self, "name", name)
        _set(self, "attempt", attempt)
        _set(self, "timeout_s", timeout_s)
        _set(self, "critical", critical)
        _set(self, "teardown", teardown)


class MeasurementTaken(Event):
    """A value was measured and judged, as it happened."""

    progress = True
    __slots__ = ("measurement", "step_index", "step_name")
    step_index: int
    step_name: str
    measurement: Measurement

    def __init__(self, seq: int, run_id: str, step_index: int, step_name: str,
                 measurement: Measurement) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "step_index", step_index)
        _set(self, "step_name", step_name)
        _set(self, "measurement", measurement)


class StepFinished(Event):
    """A step ended, with its result as stored."""

    progress = True
    __slots__ = ("result",)
    result: StepResult

    def __init__(self, seq: int, run_id: str, result: StepResult) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "result", result)


class RunFinished(Event):
    """A run ended, with its record as stored."""

    __slots__ = ("record",)
    record: RunRecord

    def __init__(self, seq: int, run_id: str, record: RunRecord) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "record", record)


class Log(Event):
    """A line of the run's log, for the screens that show it."""

    __slots__ = ("level", "message", "step_index")
    level: int  # logging level number
    message: str
    step_index: int | None

    def __init__(self, seq: int, run_id: str, level: int, message: str,
                 step_index: int | None = None) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "level", level)
        _set(self, "message", message)
        _set(self, "step_index", step_index)


class Gap(Event):
    """Not a bus event: tells a subscriber it missed seqs ``first_missed..seq`` (its queue was
    full, or they left the replay buffer). Recover with ``bus.replay(first_missed - 1)``."""

    __slots__ = ("first_missed",)
    first_missed: int

    def __init__(self, seq: int, run_id: str, first_missed: int) -> None:
        _set(self, "seq", seq)
        _set(self, "run_id", run_id)
        _set(self, "first_missed", first_missed)


E = TypeVar("E", bound=Event)

_log = lazylog.getLogger("edge.engine.events")

# The longest a progress event waits for a reader during a run (see Event.progress). 50 ms
# made the HMI's engine-event-to-screen p99 miss its 50 ms goal; 10 ms keeps it under 30 ms.
PROGRESS_DELAY_S = 0.01
# While a run's verdict is being written (EventBus.writing_verdict), gathered events wait for it,
# but never longer than this: a disk that stalls must not freeze the screen's last values.
VERDICT_HOLD_MAX_S = 0.1


class Subscription:
    """A subscriber's bounded queue. Read it from any thread; never blocks the publisher."""

    def __init__(self, bus: EventBus, maxlen: int, on_ready: Callable[[], None] | None,
                 gather_progress: bool = False):
        if maxlen < 2:
            raise ValueError("a subscription queue needs room for at least 2 events")
        self._bus = bus
        self._maxlen = maxlen
        self._queue: deque[Event] = deque()
        self._gap: list[int] | None = None  # [first missed, last missed] not yet reported
        self._cond = threading.Condition(threading.Lock())
        self._waiting = 0  # readers blocked in get(): notify only then (notify isn't free)
        # Called in the publisher's (engine's) thread, outside locks, after events arrive. It
        # must not block: a subscriber that does I/O (a screen, a socket) reads with get() from
        # its own thread instead. An exception it raises is logged and goes no further.
        self.on_ready = on_ready
        # During a run, a progress event neither wakes a reader nor calls on_ready (see
        # Event.progress): a reader finds it within PROGRESS_DELAY_S, on_ready's subscriber
        # with the next other event or when it drains. Off: every event, at once.
        self.gather_progress = gather_progress
        self.closed = False

    def _offer(self, event: Event) -> bool:
        """Called by the bus with its lock held. True if the subscriber is to be told now (its
        on_ready called): it got something new, and not a progress event it gathers."""
        queue = self._queue
        # What a run's steps mostly give a screen or a stream: a progress event it gathers, into
        # a queue far from half full, no Gap pending. That wakes no one, so it is appended
        # without the condition's lock (twice per step and subscriber: issue 14 goal 2). Safe:
        # only the publisher, under the bus's lock, appends or sets a Gap (a reader only clears
        # one), and a deque's append and popleft are atomic. The same result as below.
        if (event.progress and self.gather_progress and self._gap is None
                and 2 * len(queue) + 2 < self._maxlen and self._bus.in_run):
            queue.append(event)
            return False
        with self._cond:
            if self._gap is not None:
                if len(queue) + 2 > self._maxlen:
                    self._gap[1] = event.seq
                    return False
                queue.append(Gap(self._gap[1], "", self._gap[0]))
                self._gap = None
            if len(queue) >= self._maxlen:
                self._gap = [event.seq, event.seq]
                return False
            queue.append(event)
            # (a queue half full tells its subscriber anyway: gathering never costs a Gap)
            if (event.progress and self.gather_progress and self._bus.in_run
                    and 2 * len(queue) < self._maxlen):
                return False
            if self._waiting:
                self._cond.notify()
            return True

    def _pop(self) -> Event | None:
        if self._queue:
            return self._queue.popleft()
        if self._gap is not None:
            first, last = self._gap
            self._gap = None
            return Gap(last, "", first)
        return None

    def get(self, timeout: float | None = None) -> Event | None:
        """Next event, waiting up to ``timeout`` s (None: until one comes or the subscription
        is closed). None when nothing arrived."""
        with self._cond:
            if not self._queue and self._gap is None and timeout != 0:
                self._waiting += 1
                try:
                    self._wait(timeout)
                finally:
                    self._waiting -= 1
            return self._pop()

    def _held(self) -> bool:
        """Whether this reader leaves what it gathered queued for now: the run's verdict is
        being written (see :meth:`EventBus.writing_verdict`) and the queue is less than half
        full (so holding never costs a Gap either)."""
        since = self._bus.verdict_since
        return (self.gather_progress and since is not None
                and 2 * len(self._queue) < self._maxlen
                and time.monotonic() - since < VERDICT_HOLD_MAX_S)

    def _wait(self, timeout: float | None) -> None:
        """Wait (the lock held) until something is queued, the subscription closes or
        ``timeout`` passes. During a run, gathered progress events arrive without a wake-up:
        look for them every PROGRESS_DELAY_S (unless the verdict is being written)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not ((self._queue and not self._held()) or self._gap is not None or self.closed):
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return
            if (self.gather_progress and self._bus.in_run
                    and (wait is None or wait > PROGRESS_DELAY_S)):
                wait = PROGRESS_DELAY_S
            self._cond.wait(wait)

    def drain(self) -> list[Event]:
        """Everything queued now (including a pending Gap marker), without waiting."""
        with self._cond:
            out = []
            while (event := self._pop()) is not None:
                out.append(event)
            return out

    def close(self) -> None:
        self._bus._unsubscribe(self)
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class EventBus:
    """Thread-safe publish/subscribe with sequence numbers and a replay buffer."""

    # A reconnecting client needs the run in progress and the verdicts just before it. Each
    # RunFinished holds a whole RunRecord: 4096 events kept ~290 finished runs of the shipped
    # plans alive, 2.5 MiB of the station's 40 MiB budget (issue 14); 1024 still holds several
    # runs of a 100-step plan.
    def __init__(self, replay_size: int = 1024) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._replay: deque[Event] = deque(maxlen=replay_size)
        self._subscribers: tuple[Subscription, ...] = ()  # replaced, never mutated: cheap loop
        # Between a RunStarted and its RunFinished (see Event.progress); written under the lock.
        self.in_run = False
        # When the verdict now being written began (monotonic s), None when none is; how many
        # are (each fixture's runner has its own run).
        self.verdict_since: float | None = None
        self._verdicts = 0

    @property
    def last_seq(self) -> int:
        return self._seq

    def emit(self, cls: type[E], run_id: str, *args: Any, **fields: Any) -> E:
        """Create the event with the next seq and deliver it. Never blocks on a subscriber.
        Its fields are given by name, or in order (``cls``'s after seq and run_id): cheaper for
        the engine's events of every step (issue 14 goal 2)."""
        with self._lock:
            self._seq = seq = self._seq + 1
            event = cls(seq, run_id, *args, **fields)
            self._replay.append(event)
            if cls is RunStarted:
                self.in_run = True
            elif cls is RunFinished:
                self.in_run = False
            subscribers = self._subscribers
            if not subscribers:
                # Nobody listening (a station without a screen or API client, the bench): the
                # replay buffer is all there is to do, three times per step (issue 14 goal 2).
                return event
            ready = [sub.on_ready for sub in subscribers
                     if sub._offer(event) and sub.on_ready is not None]
        for callback in ready:
            # A subscriber's failure is its own: it must never reach the engine, which emits
            # in the middle of a run and, worse, of the teardown that powers the board off.
            try:
                callback()
            except Exception:
                _log.exception("event subscriber callback %r failed on event %d; the run goes "
                               "on", callback, event.seq)
        return event

    @contextmanager
    def writing_verdict(self) -> Iterator[None]:
        """The engine writes a run's verdict inside this: a reader that gathers progress (a
        stream, a screen) leaves what it gathered queued until the verdict's RunFinished (or
        VERDICT_HOLD_MAX_S), then takes it all at once. The verdict's commit (reading the run
        back, its delivery payload, the fsync) is the one moment a stream's thread serialising a
        batch of progress competes with the engine for the interpreter: measured on the real
        station, it made the commit of a 50-step run's verdict 0.5-0.7 ms longer (issue 14
        goal 2). A screen sees the run's last values with its verdict, a few ms later."""
        with self._lock:
            self._verdicts += 1
            if self._verdicts == 1:
                self.verdict_since = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._verdicts -= 1
                if not self._verdicts:
                    self.verdict_since = None

    def replay(self, since: int) -> list[Event]:
        """Buffered events after seq ``since``, led by a Gap if some are no longer buffered.
        A ``since`` beyond the last seq (a client of an earlier process) replays everything."""
        with self._lock:
            return self._replay_locked(since)

    def _replay_locked(self, since: int) -> list[Event]:
        if since > self._seq:
            since = 0
        events: list[Event] = [e for e in self._replay if e.seq > since]
        oldest = self._replay[0].seq if self._replay else self._seq + 1
        if since + 1 < oldest and since < self._seq:
            events.insert(0, Gap(oldest - 1, "", since + 1))
        return events

    def subscribe(
        self,
        since: int | None = None,
        maxlen: int = 1024,
        on_ready: Callable[[], None] | None = None,
        gather_progress: bool = False,
    ) -> Subscription:
        """Live events from now on; with ``since``, first the buffered ones after that seq
        (atomically: nothing is missed or duplicated between the replay and the live stream).
        ``gather_progress``: see Subscription (for a screen or a stream, not a test's hook)."""
        sub = Subscription(self, maxlen, on_ready, gather_progress)
        with self._lock:
            if since is not None:
                for event in self._replay_locked(since):
                    if isinstance(event, Gap):
                        sub._gap = [event.first_missed, event.seq]
                    else:
                        sub._offer(event)
            self._subscribers = (*self._subscribers, sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not sub)
