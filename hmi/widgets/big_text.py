"""Words in block letters, for the verdict: three rows per letter (six when the screen is wide
enough), so PASS / NON CONFORME reads from across the bench. Textual's ``Digits`` only draws
digits and a few hex letters, hence this small font of the letters the verdicts use; a word
with a letter it lacks is returned as None and shown in plain bold instead."""

from __future__ import annotations

_FONT = {
    "A": ("▄▀▄", "█▀█", "▀ ▀"), "B": ("█▀▄", "█▀▄", "▀▀ "), "C": ("█▀▀", "█  ", "▀▀▀"),
    "D": ("█▀▄", "█ █", "▀▀ "), "E": ("█▀▀", "█▀▀", "▀▀▀"), "F": ("█▀▀", "█▀▀", "▀  "),
    "G": ("█▀▀", "█ █", "▀▀▀"), "H": ("█ █", "█▀█", "▀ ▀"), "I": ("▀█▀", " █ ", "▀▀▀"),
    "K": ("█ █", "█▀▄", "▀ ▀"), "L": ("█  ", "█  ", "▀▀▀"), "M": ("█▄█", "█ █", "▀ ▀"),
    "N": ("█▀█", "█ █", "▀ ▀"), "O": ("█▀█", "█ █", "▀▀▀"), "P": ("█▀█", "█▀▀", "▀  "),
    "R": ("█▀█", "█▀▄", "▀ ▀"), "S": ("█▀▀", "▀▀█", "▀▀▀"), "T": ("▀█▀", " █ ", " ▀ "),
    "U": ("█ █", "█ █", "▀▀▀"), "V": ("█ █", "█ █", " ▀ "), "W": ("█ █", "█▄█", "▀ ▀"),
    "Y": ("█ █", "▀█▀", " ▀ "), "-": ("   ", "▀▀▀", "   "), " ": ("  ", "  ", "  "),
}
_ACCENTS = str.maketrans("ÉÈÊËÀÂÎÏÔÛÙÇ", "EEEEAAIIOUUC")
_TALL = {"▀": ("█", " "), "▄": (" ", "█"), "█": ("█", "█"), " ": (" ", " ")}


def render(word: str, max_width: int) -> str | None:
    """``word`` in block letters, as large as ``max_width`` columns allow (None: cannot)."""
    word = word.upper().translate(_ACCENTS)
    if any(c not in _FONT for c in word):
        return None
    for scale in (2, 1):
        rows = ["".join(_FONT[c][r] + " " for c in word).rstrip() for r in range(3)]
        if scale == 2:
            rows = ["".join(ch * 2 for ch in row) for row in rows]
            rows = ["".join(_TALL[ch][half] for ch in row) for row in rows for half in (0, 1)]
        while rows and not rows[-1].strip():
            rows.pop()  # the lower half of the last row of half blocks is empty
        if max(len(r) for r in rows) <= max_width:
            return "\n".join(rows)
    return None
