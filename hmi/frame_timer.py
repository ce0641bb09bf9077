"""The screens' frame timer, with Textual's skip of missed frames made exact.

Textual repaints a screen from one repeating timer per screen (``Screen._update_timer``), paused
when nothing changed and resumed when something did; a change waits for its next tick, at most
one frame (1/``TEXTUAL_FPS``). When ticks were missed (the timer was paused across them, or a
repaint with a layout pass ran past them), Textual 8.2.8's ``Timer._run`` means to skip to the
next frame but computes one frame too far: ``count = int((now - start) / interval + 1)`` then
``next = start + (count + 1) * interval``, so the next tick comes one to two frames later
instead of within one. On the HMI that is every first change after an idle moment or after a
board's start or verdict: measured, a change then waited for its repaint up to 15 ms at 120 fps
with the process idle (p90 10.4 ms), against up to 8.3 ms (p90 3–5 ms) with the skip exact, at
the same CPU per event (docs/hmi.md, "Measured").

Only the skip arithmetic differs from Textual's ``Timer._run`` (textual==8.2.8 is pinned
exactly; ``tests/hmi/test_frame_timer.py`` checks that its loop is still the one copied here).
The loop is adapted from Textual 8.2.8 (``textual/timer.py``, MIT License, Copyright (c) 2021
Will McGugan); the fix belongs upstream, and this file goes once Textual has it.
"""

from __future__ import annotations

from textual import _time
from textual._time import sleep
from textual.timer import EventTargetGone, Timer


class FrameTimer(Timer):
    async def _run(self) -> None:
        count = 0
        _repeat = self._repeat
        _interval = self._interval
        await self._active.wait()
        start = _time.get_time()

        while _repeat is None or count <= _repeat:
            next_timer = start + ((count + 1) * _interval)
            now = _time.get_time()
            if self._skip and next_timer < now:
                # Frames missed: the next one is the first still to come (Textual adds 1 here,
                # which skips that one too).
                count = int((now - start) / _interval)
                continue
            now = _time.get_time()
            wait_time = max(0, next_timer - now)
            await sleep(wait_time)
            count += 1
            await self._active.wait()
            if self._reset:
                start = _time.get_time()
                count = 0
                self._reset = False
                continue
            try:
                await self._tick(next_timer=next_timer, count=count)
            except EventTargetGone:
                break
