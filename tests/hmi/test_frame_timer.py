"""hmi/frame_timer.py copies Textual's ``Timer._run`` with one line changed (the skip of missed
frames). If a Textual upgrade changes that loop, the copy must be looked at again: this test says
so, rather than letting the screens run an old loop. And the HMI's screens do repaint from it."""

from __future__ import annotations

import ast
import asyncio
import inspect
import textwrap

from textual.app import App
from textual.timer import Timer

from hmi.frame_timer import FrameTimer
from hmi.screens.base import StationScreen
from hmi.state import StationState

TEXTUALS_SKIP = "count = int((now - start) / _interval + 1)"
EXACT_SKIP = "count = int((now - start) / _interval)"


def loop_of(source: str) -> str:
    """The function's statements, without its docstring, comments and bare expressions."""
    function = ast.parse(textwrap.dedent(source)).body[0]
    kept = [node for node in function.body
            if not isinstance(node, ast.Expr) or isinstance(node.value, ast.Await)]
    return "\n".join(ast.unparse(node) for node in kept)


def test_the_frame_timer_is_textuals_loop_with_the_skip_made_exact():
    textuals = inspect.getsource(Timer._run)
    assert TEXTUALS_SKIP in textuals, "Textual's loop changed: look at hmi/frame_timer.py again"
    assert loop_of(textuals.replace(TEXTUALS_SKIP, EXACT_SKIP)) == loop_of(
        inspect.getsource(FrameTimer._run))


class Bare(StationScreen):
    pass


class OneScreen(App):
    """What a StationScreen reads of the HMI app, with no station."""

    lang = "en"
    on_render = None

    def __init__(self) -> None:
        super().__init__()
        self.state = StationState()

    def on_mount(self) -> None:
        self.push_screen(Bare())


def test_the_hmis_screens_repaint_from_the_frame_timer():
    async def check() -> None:
        app = OneScreen()
        async with app.run_test() as pilot:
            await pilot.pause()
            assert isinstance(app.screen, Bare)
            assert isinstance(app.screen._update_timer, FrameTimer)
            assert app.screen._update_timer is app.screen._update_timer  # one, kept

    asyncio.run(check())
