"""pibench hmi package.

Textual's frame cap is read once, when Textual is first imported, from ``TEXTUAL_FPS`` (its
documented setting; 60 by default). It is a ceiling, not a cadence: a frame is drawn only when
something changed, but a change waits for the next frame slot, up to 1/FPS. Here the HMI sets
its own default before any of its modules imports Textual, so the kiosk, ``pibench hmi`` in any
terminal and the benchmark run the same cap; an explicit ``TEXTUAL_FPS`` in the environment still
wins (textual-serve sets 60 for browser sessions). Why this value: docs/hmi.md, "Measured".
"""

import os

os.environ.setdefault("TEXTUAL_FPS", "120")
