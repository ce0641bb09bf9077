"""What the run screen's two halves share: the app, the operator's language."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hmi.app import PibenchHMI


class Panel:
    @property
    def hmi(self) -> PibenchHMI:
        return self.app  # type: ignore[attr-defined, return-value]

    @property
    def lang(self) -> str:
        return self.hmi.lang
